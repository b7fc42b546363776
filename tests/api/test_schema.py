"""The OpenAPI schema is valid and warning-free; the API runs without drf-spectacular."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def test_schema_is_valid_and_warning_free(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    entries = paths["/api/waitlist/entries/"]
    assert set(entries["post"]["responses"]) == {
        "200",
        "201",
        "202",
        "400",
        "401",
        "403",
        "404",
        "429",
    }
    item = paths["/api/waitlist/entries/{id}/"]
    assert {p["name"] for p in item["get"]["parameters"]} == {"id", "token", "X-Waitlist-Token"}
    export = paths["/api/waitlist/merchant/entries/export/"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    summary = {
        p["name"] for p in paths["/api/waitlist/merchant/entries/summary/"]["get"]["parameters"]
    }
    assert {"by", "product", "variant", "status", "tier", "created_after", "page_size"} <= summary


@pytest.mark.django_db
def test_product_and_variant_keys_take_the_shop_models_types(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert schema["Entry"]["properties"]["product"]["type"] == "integer"  # testshop.Product
    assert schema["Entry"]["properties"]["variant"]["format"] == "uuid"  # testshop.Variant
    assert schema["Entry"]["properties"]["variant"]["nullable"] is True


WITHOUT_SPECTACULAR = """
import sys
sys.modules["drf_spectacular"] = None  # as if the optional extra were not installed
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
from restock_waitlist.api import schema
assert not schema.HAS_SPECTACULAR
response = Client().post("/api/waitlist/entries/", {"product": "1"}, "application/json")
assert response.status_code == 400, response.content
print(sorted(response.json()))
"""


def test_api_works_without_drf_spectacular():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.api.settings_without_spectacular",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SPECTACULAR],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['email']"
