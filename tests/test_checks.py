from datetime import timedelta

import pytest

from restock_waitlist.checks import check_queue_tally, check_settings
from tests import settings as test_settings


def ids_and_messages(settings_dict, settings):
    settings.RESTOCK_WAITLIST = settings_dict
    return [(e.id, e.msg) for e in check_settings()]


def test_shipped_test_settings_are_clean():
    assert check_settings() == []


def test_gadget_settings_are_clean(gadget_settings):
    assert check_settings() == []


@pytest.mark.parametrize(
    ("override", "error_id", "key"),
    [
        ({"PRODUCT_MODEL": None}, "restock_waitlist.E001", "PRODUCT_MODEL"),
        ({"PRODUCT_MODEL": "testshop.Nope"}, "restock_waitlist.E001", "PRODUCT_MODEL"),
        ({"VARIANT_MODEL": "nope"}, "restock_waitlist.E002", "VARIANT_MODEL"),
        ({"STOCK_MODEL": "other.Stock"}, "restock_waitlist.E003", "STOCK_MODEL"),
        ({"STOCK_PRODUCT": "variant.nothing"}, "restock_waitlist.E004", "STOCK_PRODUCT"),
        ({"STOCK_PRODUCT": "variant"}, "restock_waitlist.E004", "STOCK_PRODUCT"),
        ({"STOCK_PRODUCT": "warehouse"}, "restock_waitlist.E004", "STOCK_PRODUCT"),
        ({"STOCK_VARIANT": "variant.product"}, "restock_waitlist.E005", "STOCK_VARIANT"),
        ({"VARIANT_MODEL": None}, "restock_waitlist.E005", "STOCK_VARIANT"),
        ({"STOCK_AVAILABLE": "num_available"}, "restock_waitlist.E006", "STOCK_AVAILABLE"),
        (
            {"STOCK_AVAILABLE": "tests.testshop.models.missing"},
            "restock_waitlist.E006",
            "STOCK_AVAILABLE",
        ),
        ({"VARIANT_PRODUCT": "name"}, "restock_waitlist.E007", "VARIANT_PRODUCT"),
        ({"CHANNELS": {"fax": {}}}, "restock_waitlist.E008", "CHANNELS"),
        ({"CHANNEL_ORDER": ["email", "pigeon"]}, "restock_waitlist.E008", "CHANNEL_ORDER"),
        ({"DEFAULT_CHANNELS": ["telegram"]}, "restock_waitlist.E008", "DEFAULT_CHANNELS"),
        ({"CHANNEL_STRATEGY": "random"}, "restock_waitlist.E009", "CHANNEL_STRATEGY"),
        ({"PRIORITY": "tests.nowhere.tier"}, "restock_waitlist.E010", "PRIORITY"),
        ({"ADAPTER": "tests.nowhere.Adapter"}, "restock_waitlist.E010", "ADAPTER"),
        ({"POLICY": "tests.nowhere.Policy"}, "restock_waitlist.E010", "POLICY"),
        ({"OVERSUBSCRIPTION": 0}, "restock_waitlist.E011", "OVERSUBSCRIPTION"),
        ({"OVERSUBSCRIPTION": "3"}, "restock_waitlist.E011", "OVERSUBSCRIPTION"),
        ({"CHUNK_SIZE": 0}, "restock_waitlist.E011", "CHUNK_SIZE"),
        ({"WAVE_INTERVAL": 3600}, "restock_waitlist.E012", "WAVE_INTERVAL"),
    ],
)
def test_misconfiguration_names_the_key(settings, override, error_id, key):
    found = ids_and_messages({**settings.RESTOCK_WAITLIST, **override}, settings)
    assert any(i == error_id and f"['{key}']" in msg for i, msg in found), found


def test_unknown_key_is_a_warning(settings):
    found = ids_and_messages({**settings.RESTOCK_WAITLIST, "OVERSUBSCRIBE": 2}, settings)
    assert (
        "restock_waitlist.W001",
        "RESTOCK_WAITLIST['OVERSUBSCRIBE'] is not a setting of restock_waitlist and is ignored.",
    ) in found


def test_setting_must_be_a_dict(settings):
    settings.RESTOCK_WAITLIST = ["PRODUCT_MODEL"]
    assert [e.id for e in check_settings()] == ["restock_waitlist.E000"]


# Issue #12: misconfigurations found only when a message was sent -----------------------


def found_ids(settings, **override):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **override}
    return {(e.id, e.msg.split(":", 1)[0]) for e in check_settings()}


@pytest.mark.parametrize(
    ("site_url", "error_id"),
    [
        (None, "restock_waitlist.E050"),
        ("", "restock_waitlist.E050"),
        ("/shop", "restock_waitlist.E051"),
        ("shop.example", "restock_waitlist.E051"),
        ("//shop.example", "restock_waitlist.E051"),
        ("ftp://shop.example", "restock_waitlist.E051"),
        ("https://", "restock_waitlist.E051"),
        ("https://shop.example/?utm=1", "restock_waitlist.E051"),
    ],
)
def test_site_url_must_be_an_absolute_url(settings, site_url, error_id):
    assert (error_id, "RESTOCK_WAITLIST['SITE_URL']") in found_ids(settings, SITE_URL=site_url)


def test_manage_py_check_fails_without_site_url(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "SITE_URL": None}
    with pytest.raises(SystemCheckError, match=r"restock_waitlist\.E050"):
        call_command("check")


@pytest.mark.parametrize(("debug", "warned"), [(False, True), (True, False)])
def test_plain_http_site_url_is_a_warning_in_production(settings, debug, warned):
    settings.DEBUG = debug
    ids = {error_id for error_id, _key in found_ids(settings, SITE_URL="http://shop.example")}
    assert ("restock_waitlist.W050" in ids) is warned


def test_local_http_site_url_is_fine(settings):
    assert found_ids(settings, SITE_URL="http://127.0.0.1:8000") == set()


def test_the_apps_urls_must_be_mounted(settings):
    settings.ROOT_URLCONF = "tests.urls_without_app"
    [error] = [e for e in check_settings() if e.id == "restock_waitlist.E052"]
    assert "restock_waitlist.urls" in error.hint


@pytest.mark.parametrize(
    ("key", "value", "error_id"),
    [
        ("ADAPTER", "tests.nowhere.Adapter", "E010"),
        ("ADAPTER", "tests.testshop.priority.NOT_CALLABLE", "E053"),
        ("POLICY", "tests.nowhere.Policy", "E010"),
        ("POLICY", "tests.testshop.priority.NOT_CALLABLE", "E053"),
        ("PRIORITY", "tests.nowhere.tier", "E010"),
        ("PRIORITY", "tests.testshop.priority.NOT_CALLABLE", "E053"),
        ("CONTACT_RESOLVER", "tests.nowhere.resolve", "E015"),
        ("CONTACT_RESOLVER", "tests.testshop.priority.NOT_CALLABLE", "E015"),
        ("STOCK_AVAILABLE", "tests.nowhere.available", "E006"),
        ("STOCK_AVAILABLE", "tests.testshop.priority.NOT_CALLABLE", "E006"),
    ],
)
def test_every_dotted_path_must_import_and_be_callable(settings, key, value, error_id):
    assert (f"restock_waitlist.{error_id}", f"RESTOCK_WAITLIST['{key}']") in found_ids(
        settings, **{key: value}
    )


@pytest.mark.parametrize(
    "backend", ["tests.nowhere.Channel", "tests.testshop.priority.NOT_CALLABLE"]
)
def test_channel_backends_must_import_and_be_channels(settings, backend):
    channels = {"email": {"BACKEND": backend}}
    found = found_ids(settings, CHANNELS=channels, DEFAULT_CHANNELS=["email"])
    assert ("restock_waitlist.E013", "RESTOCK_WAITLIST['CHANNELS']") in found


@pytest.mark.parametrize(
    ("key", "value", "error_id"),
    [
        ("PHONE_REGION", "XX", "E054"),
        ("PHONE_REGION", 82, "E054"),
        ("TRUSTED_PROXY_COUNT", -1, "E055"),
        ("TRUSTED_PROXY_COUNT", "1", "E055"),
        ("MAX_PENDING_PER_ADDRESS", 0, "E056"),
        ("RETENTION", 730, "E057"),
        ("RETENTION", timedelta(0), "E057"),
        ("THROTTLE_RATES", {"restock_waitlist_address": "often"}, "E030"),
    ],
)
def test_safety_settings_name_the_key(settings, key, value, error_id):
    assert (f"restock_waitlist.{error_id}", f"RESTOCK_WAITLIST['{key}']") in found_ids(
        settings, **{key: value}
    )


def test_a_dummy_cache_is_a_warning(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert ("restock_waitlist.W051", "RESTOCK_WAITLIST['THROTTLE_RATES']") in found_ids(settings)


@pytest.mark.parametrize(
    "override",
    [
        {"PHONE_REGION": "KR"},
        {"TRUSTED_PROXY_COUNT": 2},
        {"MAX_PENDING_PER_ADDRESS": None},
        {"RETENTION": None},
    ],
)
def test_good_safety_settings_pass(settings, override):
    assert found_ids(settings, **override) == set()


ORDER = test_settings.ORDER_SETTINGS


def test_order_settings_are_clean(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **ORDER}
    assert check_settings() == []


@pytest.mark.parametrize(
    ("override", "error_id", "key"),
    [
        ({"ATTRIBUTION_WINDOW": 7}, "E070", "ATTRIBUTION_WINDOW"),
        ({"ATTRIBUTION_WINDOW": timedelta(0)}, "E070", "ATTRIBUTION_WINDOW"),
        ({"FORECAST_MIN_SAMPLE": 0}, "E071", "FORECAST_MIN_SAMPLE"),
        ({"FORECAST_MIN_SAMPLE": 2.5}, "E071", "FORECAST_MIN_SAMPLE"),
        ({"DEFAULT_CVR": 0}, "E072", "DEFAULT_CVR"),
        ({"DEFAULT_CVR": 35}, "E072", "DEFAULT_CVR"),
        ({"SAFETY_MARGIN": -0.1}, "E073", "SAFETY_MARGIN"),
        ({"SAFETY_MARGIN": "20%"}, "E073", "SAFETY_MARGIN"),
        ({"OVERSUBSCRIPTION_MAX": 0.5}, "E074", "OVERSUBSCRIPTION_MAX"),
        ({"FORECAST_SCHEDULE": "every day at six"}, "E075", "FORECAST_SCHEDULE"),
        ({"FORECAST_SCHEDULE": "0 25 * * *"}, "E075", "FORECAST_SCHEDULE"),
        ({"REPORT_RECIPIENTS": "buyer@shop.example"}, "E076", "REPORT_RECIPIENTS"),
        ({"REPORT_RECIPIENTS": ["buyer@shop.example", "ops"]}, "E076", "REPORT_RECIPIENTS"),
        ({**ORDER, "ORDER_MODEL": "testshop.Nope"}, "E077", "ORDER_MODEL"),
        ({**ORDER, "ORDER_PRODUCT": "variant"}, "E078", "ORDER_PRODUCT"),
        ({**ORDER, "ORDER_VARIANT": "customer"}, "E079", "ORDER_VARIANT"),
        ({**ORDER, "VARIANT_MODEL": None, "STOCK_VARIANT": None}, "E079", "ORDER_VARIANT"),
        ({**ORDER, "ORDER_USER": "email"}, "E080", "ORDER_USER"),
        ({**ORDER, "ORDER_REF": "reference"}, "E081", "ORDER_REF"),
        ({**ORDER, "ORDER_REF": None}, "E081", "ORDER_REF"),
        ({**ORDER, "ORDER_EMAIL": "customer.mail"}, "E081", "ORDER_EMAIL"),
        ({**ORDER, "ORDER_QUANTITY": "variant.product.qty"}, "E081", "ORDER_QUANTITY"),
    ],
)
def test_demand_misconfiguration_names_the_key(settings, override, error_id, key):
    found = ids_and_messages({**settings.RESTOCK_WAITLIST, **override}, settings)
    assert any(i == f"restock_waitlist.{error_id}" and f"['{key}']" in msg for i, msg in found), (
        found
    )


def test_no_daily_reports_is_allowed(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "FORECAST_SCHEDULE": None}
    assert check_settings() == []


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_missing_queue_tally_triggers_are_a_warning():
    from django.db import connection

    assert check_queue_tally(databases=["default"]) == []
    with connection.cursor() as cursor:  # as a faked migration leaves it; rolled back
        cursor.execute(
            "DROP TRIGGER restock_waitlist_tally_update ON restock_waitlist_stockwaitlist"
        )
    assert [w.id for w in check_queue_tally(databases=["default"])] == ["restock_waitlist.W090"]
