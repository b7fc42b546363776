import pytest

from restock_waitlist.checks import check_settings


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
