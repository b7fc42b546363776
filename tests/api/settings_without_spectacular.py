"""The test settings as a project without drf-spectacular would have them."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "drf_spectacular"]  # noqa: F405
REST_FRAMEWORK = {}
ROOT_URLCONF = "tests.api.urls_without_spectacular"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
