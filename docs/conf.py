import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

project = "restock_waitlist"
author = "restock_waitlist contributors"
copyright = "2026, restock_waitlist contributors"
release = "0.1.0"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
autodoc_typehints = "none"
intersphinx_mapping = {}
html_theme = "furo"
html_title = "restock_waitlist"
exclude_patterns = ["_build"]
nitpicky = False
