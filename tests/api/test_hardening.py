"""Hostile input to the API: bodies, CSRF, consent, addresses, numbers and priorities."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from restock_waitlist.models import StockWaitlist
from tests import factories
from tests.api.conftest import url

pytestmark = pytest.mark.django_db


def guest_body(variant, **fields):
    return {"product": variant.product_id, "email": "guest@example.com", "consent": True, **fields}


def post_json(client, text):
    return client.post(url("entry-list"), text, content_type="application/json")


class TestBodies:
    def test_deeply_nested_json_is_a_400_not_a_recursion_error(self, api, db):
        """Issue #12: 100,000 levels of ``[`` answered 500 (RecursionError in the parser)."""
        response = post_json(api, "[" * 100_000 + "]" * 100_000)
        assert response.status_code == 400
        # Within the size cap, the parser's own RecursionError is a 400 too.
        response = post_json(api, "[" * 20_000 + "]" * 20_000)
        assert response.status_code == 400
        assert response.json() == {"detail": "The JSON body is nested too deeply."}

    def test_nesting_is_capped_even_below_the_recursion_limit(self, api, db):
        nested = {"product": 1, "channels": ["email"]}
        for _level in range(40):
            nested = {"product": [nested]}
        response = post_json(api, json.dumps(nested))
        assert response.status_code == 400

    def test_an_oversized_body_is_a_400(self, api, variant):
        body = json.dumps(guest_body(variant, padding="x" * 70_000))
        assert post_json(api, body).status_code == 400
        form = api.post(url("entry-list"), guest_body(variant, padding="x" * 70_000))
        assert form.status_code == 400
        assert not StockWaitlist.objects.exists()

    def test_an_ordinary_body_passes(self, api, variant):
        assert post_json(api, json.dumps(guest_body(variant))).status_code == 202


class TestCsrf:
    """Issue #12: anonymous form-encoded posts needed no CSRF token, so any web page could
    make its visitors' browsers join (and pay the per-IP limit with their addresses)."""

    @pytest.mark.parametrize("fmt", ["multipart", None])
    def test_an_anonymous_form_post_needs_the_token(self, variant, fmt):
        api = APIClient(enforce_csrf_checks=True)
        if fmt is None:
            response = api.post(
                url("entry-list"),
                "product=1&email=a%40example.com&consent=true",
                content_type="application/x-www-form-urlencoded",
            )
        else:
            response = api.post(url("entry-list"), guest_body(variant), format=fmt)
        assert response.status_code == 403
        assert response.json()["detail"].startswith("CSRF Failed")
        assert not StockWaitlist.objects.exists()

    def test_a_form_post_with_the_token_passes(self, variant):
        api = APIClient(enforce_csrf_checks=True)
        token = "a" * 32
        api.cookies["csrftoken"] = token
        response = api.post(url("entry-list"), guest_body(variant), HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 202

    def test_json_needs_no_token(self, variant):
        """A cross-site page cannot send JSON without a CORS preflight; apps send JSON."""
        api = APIClient(enforce_csrf_checks=True)
        assert api.post(url("entry-list"), guest_body(variant), format="json").status_code == 202


class TestConsent:
    @pytest.mark.parametrize("consent", [None, False, "false"])
    def test_a_guest_join_without_consent_is_refused_naming_consent(self, api, variant, consent):
        """Issue #12: the API answered 202 to a guest join with no consent at all."""
        body = guest_body(variant)
        if consent is None:
            del body["consent"]
        else:
            body["consent"] = consent
        response = api.post(url("entry-list"), body, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["consent"]
        assert not StockWaitlist.objects.exists()

    def test_the_api_records_api_unless_a_form_is_named(self, api, variant):
        api.post(url("entry-list"), guest_body(variant), format="json")
        api.post(
            url("entry-list"),
            guest_body(variant, email="other@example.com", source="product_page"),
            format="json",
        )
        records = StockWaitlist.objects.order_by("created_at").values_list(
            "consent_source", "consent_version"
        )
        assert list(records) == [("api", "1"), ("product_page", "1")]

    def test_a_source_that_is_not_a_name_is_refused(self, api, variant):
        response = api.post(
            url("entry-list"), guest_body(variant, source="<script>"), format="json"
        )
        assert list(response.json()) == ["source"]

    def test_signed_in_shoppers_need_no_consent_box(self, shopper_api, variant):
        body = {"product": variant.product_id}
        assert shopper_api.post(url("entry-list"), body, format="json").status_code == 201


class TestAddressesAndNumbers:
    @pytest.mark.parametrize("typed", ["+８２ １０-１２３４-５６７８", "+٨٢١٠١٢٣٤٥٦٧٨"])
    def test_phone_numbers_in_other_digits_are_stored_in_e164(self, api, variant, typed):
        """Issue #12: full-width and Arabic-Indic digits were stored as given."""
        body = guest_body(variant, channels=["email", "sms"], phone=typed)
        assert api.post(url("entry-list"), body, format="json").status_code == 202
        assert StockWaitlist.objects.get().phone == "+821012345678"

    def test_a_right_to_left_override_in_the_domain_is_refused(self, api, variant):
        """Issue #12: ``jisoo@exa\u202emple.com`` was accepted."""
        body = guest_body(variant, email="jisoo@exa\u202emple.com")
        response = api.post(url("entry-list"), body, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["email"]

    def test_national_numbers_with_the_shops_region(self, api, variant, settings):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "PHONE_REGION": "KR"}
        body = guest_body(variant, channels=["sms"], phone="010-1234-5678")
        assert api.post(url("entry-list"), body, format="json").status_code == 202
        assert StockWaitlist.objects.get().phone == "+821012345678"


class TestPriority:
    @pytest.mark.parametrize(
        "priority", ["tests.testshop.priority.broken", "tests.testshop.priority.too_high"]
    )
    def test_a_failing_priority_logs_and_gives_the_default_tier(
        self, shopper_api, variant, settings, caplog, priority
    ):
        """Issue #12: a PRIORITY that raised, or returned 100000, was a 500 at join time."""
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "PRIORITY": priority}
        with caplog.at_level(logging.ERROR, logger="restock_waitlist"):
            response = shopper_api.post(
                url("entry-list"), {"product": variant.product_id}, format="json"
            )
        assert response.status_code == 201
        assert StockWaitlist.objects.get().tier == 0
        [record] = [r for r in caplog.records if r.name == "restock_waitlist"]
        assert "RESTOCK_WAITLIST['PRIORITY']" in record.getMessage()

    def test_tiers_in_range_are_kept(self, api, vip, variant):
        api.force_login(vip)
        api.post(url("entry-list"), {"product": variant.product_id}, format="json")
        assert StockWaitlist.objects.get().tier == 1


def test_factories_still_make_guest_entries(db):
    assert factories.EntryFactory(user=None, email="g@example.com").subscriber_key == (
        "email:g@example.com"
    )
