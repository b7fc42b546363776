"""Joins and guest-token requests are throttled at rates read from our settings per request."""

import pytest

from restock_waitlist import tokens
from restock_waitlist.checks import check_settings
from tests import factories
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**scopes):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "THROTTLE_RATES": scopes}

    return set_rates


def test_joins_are_throttled(shopper_api, variant, rates):
    rates(restock_waitlist_join="2/hour")
    body = {"product": variant.product_id, "variant": str(variant.pk)}
    codes = [shopper_api.post(url("entry-list"), body).status_code for _ in range(3)]
    assert codes == [201, 200, 429]
    assert shopper_api.get(url("entry-list")).status_code == 200  # reading is not a join


def test_guest_joins_are_throttled_per_client_ip(api, variant, rates):
    rates(restock_waitlist_join="1/minute")
    body = {"product": variant.product_id, "email": "g@example.com", "consent": True}
    assert api.post(url("entry-list"), body).status_code == 202
    throttled = api.post(url("entry-list"), body)
    assert throttled.status_code == 429
    assert "Retry-After" in throttled


def test_guest_token_requests_are_throttled(api, rates):
    rates(restock_waitlist_guest="1/day")
    entry = factories.EntryFactory(user=None, email="g@example.com")
    token = tokens.entry_token(entry, tokens.MANAGE)
    assert api.get(url("entry-detail", entry.pk), {"token": token}).status_code == 200
    assert api.get(url("entry-detail", entry.pk), {"token": token}).status_code == 429


def test_a_scope_set_to_none_is_not_throttled(shopper_api, variant, rates):
    rates(restock_waitlist_join=None)
    body = {"product": variant.product_id}
    codes = {shopper_api.post(url("entry-list"), body).status_code for _ in range(25)}
    assert codes == {201, 200}


def test_default_rates_apply(shopper_api, variant):
    body = {"product": variant.product_id}
    codes = [shopper_api.post(url("entry-list"), body).status_code for _ in range(21)]
    assert codes[-2:] == [200, 429]  # 20/hour


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ("20/hour", "restock_waitlist.E030"),
        ({"restock_waitlist_join": "lots"}, "restock_waitlist.E030"),
        ({"restock_waitlist_join": 20}, "restock_waitlist.E030"),
        ({"restock_waitlist_joins": "20/hour"}, "restock_waitlist.W030"),
    ],
)
def test_bad_rates_are_reported_by_key(settings, value, check_id):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "THROTTLE_RATES": value}
    errors = [error for error in check_settings() if error.id.endswith("030")]
    assert [error.id for error in errors] == [check_id]
    assert "THROTTLE_RATES" in errors[0].msg


@pytest.mark.parametrize(
    "value", [None, {}, {"restock_waitlist_guest": None}, {"restock_waitlist_join": "5/min"}]
)
def test_good_rates_pass(settings, value):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "THROTTLE_RATES": value}
    assert not [error for error in check_settings() if error.id.endswith("030")]
