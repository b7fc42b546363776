"""Links are signed cheaply (the HMAC key derived once, the URL reversed once) and stay the
tokens and URLs Django's own ``signing.dumps`` and ``reverse`` would make."""

import time

import pytest
from django.core import signing
from django.urls import reverse, set_script_prefix

from restock_waitlist import links, tokens
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen_time(monkeypatch):
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)


@pytest.mark.parametrize(
    "payload", [{"n": 12345, "p": tokens.PURCHASE}, {"e": "ab" * 16, "p": tokens.MANAGE}]
)
def test_a_token_is_the_one_django_signing_makes(frozen_time, payload):
    assert tokens._dumps(payload) == signing.dumps(payload, salt=tokens.SALT)


def test_tokens_follow_a_new_secret_key_and_verify_with_the_old_one(settings, variant):
    entry = factories.EntryFactory(variant=variant)
    old = tokens.entry_token(entry, tokens.MANAGE)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret", [settings.SECRET_KEY]
    new = tokens.entry_token(entry, tokens.MANAGE)
    assert old.rsplit(":", 1)[1] != new.rsplit(":", 1)[1]
    for token in (old, new):
        assert tokens.entry_id_from_token(token, tokens.MANAGE) == entry.pk
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(tokens.BadToken):
        tokens.entry_id_from_token(old, tokens.MANAGE)


def test_a_tampered_or_misused_token_is_refused():
    token = tokens.notification_token(7)
    assert tokens.notification_id_from_token(token) == 7
    forged = tokens.notification_token(8).rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    with pytest.raises(tokens.BadToken):
        tokens.notification_id_from_token(forged)
    with pytest.raises(tokens.BadToken):
        tokens.entry_id_from_token(token, tokens.MANAGE)


@pytest.mark.parametrize(
    ("view_name", "link"),
    [
        ("restock_waitlist:unsubscribe", links.unsubscribe_url),
        ("restock_waitlist:unsubscribe_all", links.unsubscribe_all_url),
        ("restock_waitlist:confirm", links.confirm_url),
    ],
)
def test_links_are_the_urls_reverse_makes(settings, variant, frozen_time, view_name, link):
    entry = factories.EntryFactory(variant=variant)
    token = link(entry).rstrip("/").rsplit("/", 1)[1]
    assert link(entry) == links.absolute(reverse(view_name, args=[token]))
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "SITE_URL": "https://b.example/"}
    set_script_prefix("/shop/")
    try:
        assert link(entry) == links.absolute(reverse(view_name, args=[token]))
        assert link(entry).startswith("https://b.example/shop/waitlist/")
    finally:
        set_script_prefix("/")
    assert link(entry).startswith("https://b.example/waitlist/")


def test_the_purchase_link_counts_its_click(client):
    url = links.click_url(42)
    assert url.startswith("https://shop.example/waitlist/r/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert tokens.notification_id_from_token(token) == 42


def test_inside_a_fixed_configuration_links_keep_the_configuration_they_started_with(
    settings, variant, frozen_time
):
    entry = factories.EntryFactory(variant=variant)
    outside = links.unsubscribe_url(entry)
    with links.fixed_configuration():
        assert links.unsubscribe_url(entry) == outside
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "SITE_URL": "https://b.example/"}
        assert links.unsubscribe_url(entry) == outside  # read once, at the view's first link
        assert links.click_url(42).startswith("https://b.example/waitlist/r/")
        with links.fixed_configuration():  # nested: the same links
            assert links.unsubscribe_url(entry) == outside
    assert links.unsubscribe_url(entry).startswith("https://b.example/waitlist/")
