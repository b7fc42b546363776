"""Abuse limits: nobody can mail-bomb a third party through the waitlist, on any path.

The reproduction of issue #12: one IP, one victim address, one join per product on the
no-JavaScript form sent 40 confirmation emails. Now an address receives at most
``MAX_PENDING_PER_ADDRESS`` of them, and the guest cannot tell a held-back join from a new one.
"""

import threading
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.cache import cache
from django.test import Client

from restock_waitlist import limits
from restock_waitlist.conf import DEFAULTS
from restock_waitlist.models import StockWaitlist
from tests import factories
from tests.api.conftest import url

pytestmark = pytest.mark.django_db

JOIN = "/waitlist/join/"
VICTIM = "jisoo.private@example.com"


def configure(settings, **values):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **values}


def rates(settings, **scopes):
    configure(settings, THROTTLE_RATES={**DEFAULTS["THROTTLE_RATES"], **scopes})


def sold_out(count):
    return [factories.StockLevelFactory(quantity=0).variant for _ in range(count)]


def guest_form(variant, email=VICTIM, **fields):
    return {
        "product": str(variant.product_id),
        "variant": str(variant.pk),
        "channels": ["email"],
        "email": email,
        "consent": "1",
        "locale": "en",
        "next": f"/products/{variant.product_id}/",
        **fields,
    }


def flashed(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def bomb(client, variants, capture, email=VICTIM):
    """One join per product for one address from one client, every on-commit task run."""
    responses = []
    for variant in variants:
        with capture(execute=True):
            responses.append(client.post(JOIN, guest_form(variant, email)))
    return responses


class TestMailBombing:
    def test_forty_products_one_victim_one_ip_sends_at_most_the_pending_cap(
        self, client, django_capture_on_commit_callbacks
    ):
        bomb(client, sold_out(40), django_capture_on_commit_callbacks)
        assert [m.to for m in mail.outbox] == [[VICTIM]] * 3  # MAX_PENDING_PER_ADDRESS
        assert StockWaitlist.objects.count() == 3

    def test_without_any_rate_the_pending_cap_still_holds(
        self, client, settings, django_capture_on_commit_callbacks
    ):
        configure(settings, THROTTLE_RATES=dict.fromkeys(limits.SCOPES))
        bomb(client, sold_out(40), django_capture_on_commit_callbacks)
        assert len(mail.outbox) == 3

    def test_the_address_rate_bounds_what_the_cap_lets_through(
        self, client, settings, django_capture_on_commit_callbacks
    ):
        configure(settings, MAX_PENDING_PER_ADDRESS=None)
        rates(settings, restock_waitlist_join=None, restock_waitlist_address="5/day")
        bomb(client, sold_out(12), django_capture_on_commit_callbacks)
        assert len(mail.outbox) == 5

    def test_confirming_frees_a_place_under_the_cap(
        self, client, django_capture_on_commit_callbacks
    ):
        from restock_waitlist import services

        variants = sold_out(5)
        bomb(client, variants[:3], django_capture_on_commit_callbacks, "kim@example.com")
        services.confirm_entry(StockWaitlist.objects.first().pk)
        bomb(client, variants[3:], django_capture_on_commit_callbacks, "kim@example.com")
        assert len(mail.outbox) == 4

    def test_a_held_back_join_reads_exactly_like_a_new_one(
        self, client, django_capture_on_commit_callbacks
    ):
        variants = sold_out(5)
        bomb(client, variants[:3], django_capture_on_commit_callbacks)
        held_back = Client().post(JOIN, guest_form(variants[3]))
        fresh = Client().post(JOIN, guest_form(variants[3], email="someone@example.com"))
        assert (held_back.status_code, held_back["Location"]) == (
            fresh.status_code,
            fresh["Location"],
        )
        assert flashed(held_back) == flashed(fresh)
        assert flashed(fresh)[0][1].startswith("Check your inbox")

    def test_the_api_holds_back_the_same_way_with_the_same_answer(
        self, django_capture_on_commit_callbacks
    ):
        from rest_framework.test import APIClient

        api = APIClient()
        answers = []
        for variant in sold_out(6):
            body = {"product": variant.product_id, "email": VICTIM, "consent": True}
            with django_capture_on_commit_callbacks(execute=True):
                answers.append(api.post(url("entry-list"), body, format="json"))
        assert {(a.status_code, str(a.json())) for a in answers} == {(202, str(answers[0].json()))}
        assert len(mail.outbox) == 3


class TestClientAddress:
    def test_the_api_ignores_a_client_sent_forwarded_for(self, settings, db):
        """DRF's default trusted X-Forwarded-For: a new value per request was a new bucket."""
        from rest_framework.test import APIClient

        rates(settings, restock_waitlist_join="3/hour")
        variant = sold_out(1)[0]
        api = APIClient()
        codes = [
            api.post(
                url("entry-list"),
                {"product": variant.product_id, "email": f"g{n}@example.com", "consent": True},
                format="json",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            ).status_code
            for n in range(5)
        ]
        assert codes == [202, 202, 202, 429, 429]

    @pytest.mark.parametrize(
        ("proxies", "forwarded", "remote", "client_ip"),
        [
            (0, "203.0.113.9", "10.0.0.1", "10.0.0.1"),
            (1, "203.0.113.9", "10.0.0.1", "203.0.113.9"),
            (1, "6.6.6.6, 203.0.113.9", "10.0.0.1", "203.0.113.9"),  # the client's own entry
            (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "10.0.0.1", "203.0.113.9"),
            (2, "203.0.113.9", "10.0.0.1", "10.0.0.1"),  # fewer hops than proxies: not trusted
        ],
    )
    def test_trusted_proxy_count(self, rf, settings, proxies, forwarded, remote, client_ip):
        configure(settings, TRUSTED_PROXY_COUNT=proxies)
        request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
        assert limits.client_ip(request) == client_ip

    def test_behind_a_proxy_each_client_has_its_own_bucket(self, settings, db):
        configure(settings, TRUSTED_PROXY_COUNT=1)
        rates(settings, restock_waitlist_join="1/hour")
        variant = sold_out(1)[0]

        def post(forwarded):
            return Client().post(
                JOIN,
                guest_form(variant, f"{forwarded}@example.com".replace(" ", "")),
                HTTP_X_FORWARDED_FOR=forwarded,
                REMOTE_ADDR="10.0.0.1",
            )

        assert flashed(post("203.0.113.9"))[0][0] == "success"
        assert flashed(post("1.1.1.1, 203.0.113.9"))[0][0] == "error"  # same client
        assert flashed(post("203.0.113.10"))[0][0] == "success"

    @pytest.mark.parametrize(
        ("address", "bucket"),
        [
            ("192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("192.0.2.1:51234", "192.0.2.1"),  # a port some proxies append
            ("[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),
            ("not an ip", "not an ip"),
        ],
    )
    def test_ipv6_clients_are_counted_per_64(self, address, bucket):
        assert limits.ip_bucket(address) == bucket


class TestJoinRate:
    def test_the_no_js_form_is_throttled_per_ip(self, settings):
        rates(settings, restock_waitlist_join="2/hour")
        variants = sold_out(3)
        responses = [
            Client().post(JOIN, guest_form(v, f"g{n}@example.com")) for n, v in enumerate(variants)
        ]
        assert [flashed(r)[0][0] for r in responses] == ["success", "success", "error"]
        assert flashed(responses[2]) == [
            ("error", "Too many requests from this connection. Please try again later.")
        ]
        assert StockWaitlist.objects.count() == 2

    def test_views_and_api_share_one_budget(self, client, settings):
        rates(settings, restock_waitlist_join="2/hour")
        variants = sold_out(3)
        client.post(JOIN, guest_form(variants[0], "a@example.com"))
        body = {"product": variants[1].product_id, "email": "b@example.com", "consent": True}
        assert (
            client.post(url("entry-list"), body, content_type="application/json").status_code == 202
        )
        body["product"] = variants[2].product_id
        assert (
            client.post(url("entry-list"), body, content_type="application/json").status_code == 429
        )

    def test_signed_in_shoppers_count_per_account(self, settings):
        rates(settings, restock_waitlist_join="1/hour")
        variant = sold_out(1)[0]
        for username in ("ann", "ben"):
            client = Client()
            client.force_login(factories.UserFactory(username=username))
            response = client.post(JOIN, {**guest_form(variant), "email": ""})
            assert flashed(response)[0][0] == "success"


class TestCounters:
    def test_counting_is_atomic_under_concurrency(self, settings):
        rates(settings, restock_waitlist_address="5/hour")
        verdicts, start = [], threading.Barrier(20)

        def hit():
            start.wait()
            verdicts.append(limits.hit(limits.ADDRESS, "email:kim@example.com").allowed)

        threads = [threading.Thread(target=hit) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert verdicts.count(True) == 5

    def test_the_cache_holds_no_address_or_ip(self, client, django_capture_on_commit_callbacks):
        bomb(client, sold_out(1), django_capture_on_commit_callbacks)
        keys = " ".join(cache._cache)  # the local-memory cache's own keys
        assert "restock_waitlist:limit:" in keys
        assert "example.com" not in keys and "127.0.0.1" not in keys

    def test_within_a_window_a_hit_is_one_cache_call(self, settings):
        rates(settings, restock_waitlist_join="5/minute")
        limits.hit(limits.JOIN, "ip:192.0.2.1")  # starts the window
        with mock.patch.object(limits, "cache", wraps=cache) as counted:
            assert limits.hit(limits.JOIN, "ip:192.0.2.1").allowed
        assert [call[0] for call in counted.method_calls] == ["incr"]

    def test_a_throttled_answer_says_when_to_retry(self, settings):
        rates(settings, restock_waitlist_join="1/minute")
        assert limits.hit(limits.JOIN, "ip:192.0.2.1").allowed
        verdict = limits.hit(limits.JOIN, "ip:192.0.2.1")
        assert not verdict.allowed and 1 <= verdict.retry_after <= 60

    def test_a_scope_left_out_keeps_its_default_and_none_turns_it_off(self, settings):
        configure(settings, THROTTLE_RATES={"restock_waitlist_join": None})
        assert limits.rate(limits.JOIN) is None
        assert limits.rate(limits.ADDRESS) == (10, 86400)
