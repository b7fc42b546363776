"""A channel the app has never heard of, added by settings alone, works end to end: the
storefront offers it, the API accepts it, dispatch sends it, quiet hours hold it, and a
permanent failure falls back along ``CHANNEL_ORDER``."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from restock_waitlist.checks import check_settings
from restock_waitlist.models import Notification, StockWaitlist
from tests import factories
from tests.api.conftest import url
from tests.test_templatetags import channel_choices, render_button
from tests.testshop import channels as test_channels

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_succeed")]

PAGER = "tests.testshop.channels.PagerChannel"
NUMBER = "+821055550000"


@pytest.fixture
def pager(settings):
    test_channels.pages.clear()
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "CHANNELS": {
            **settings.RESTOCK_WAITLIST["CHANNELS"],
            "pager": {"BACKEND": PAGER, "OPTIONS": {"UNREACHABLE": ["+821099999999"]}},
        },
        "CHANNEL_ORDER": ("push", "pager", "email", "sms"),
    }
    yield
    test_channels.pages.clear()


def test_the_settings_pass_the_system_checks(pager):
    assert check_settings() == []


def test_the_storefront_offers_it_by_its_label(pager, variant):
    html = render_button(variant)
    assert channel_choices(html) == ["pager", "email", "sms"]
    assert '<input type="checkbox" name="channels" value="pager"> Pager' in html
    assert 'name="phone"' in html  # a phone channel is offered: the form asks for the number


def test_the_api_accepts_it_and_asks_for_its_contact(pager, variant, client, user):
    client.force_login(user)
    body = {"product": variant.product_id, "variant": str(variant.pk), "channels": ["pager"]}
    missing = client.post(url("entry-list"), body, content_type="application/json")
    assert missing.status_code == 400
    assert list(missing.json()) == ["phone"]
    joined = client.post(
        url("entry-list"), {**body, "phone": NUMBER}, content_type="application/json"
    )
    assert joined.status_code == 201
    assert joined.json()["channels"] == ["pager"]


def test_dispatch_sends_it(pager, variant, restock):
    entry = factories.EntryFactory(variant=variant, channels=["email", "pager"], phone=NUMBER)
    restock(variant, 1)
    [page] = test_channels.pages
    assert page["number"] == NUMBER and str(variant.product) in page["text"]
    sent = Notification.objects.get(entry=entry)
    assert (sent.channel, sent.status, sent.provider_message_id) == ("pager", "sent", "page-1")
    assert mail.outbox == []  # first_success: the pager comes first in CHANNEL_ORDER


def test_quiet_hours_hold_it(pager, variant, restock, settings, monkeypatch):
    seoul = ZoneInfo("Asia/Seoul")
    night = datetime(2026, 12, 1, 23, 30, tzinfo=seoul)
    monkeypatch.setattr(timezone, "now", lambda: night)
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "QUIET_HOURS": ("21:00", "08:00")}
    entry = factories.EntryFactory(
        variant=variant, channels=["pager"], phone=NUMBER, time_zone="Asia/Seoul"
    )
    restock(variant, 1)
    held = Notification.objects.get(entry=entry)
    assert held.status == Notification.Status.QUEUED
    assert held.next_attempt_at == datetime(2026, 12, 2, 8, 0, tzinfo=seoul)
    assert test_channels.pages == []


def test_a_permanent_failure_falls_back_along_channel_order(pager, variant, restock):
    entry = factories.EntryFactory(
        variant=variant, channels=["pager", "email"], phone="+821099999999"
    )
    restock(variant, 1)
    rows = dict(Notification.objects.filter(entry=entry).values_list("channel", "status"))
    assert rows == {"pager": "failed", "email": "sent"}
    assert len(mail.outbox) == 1
    assert StockWaitlist.objects.get(pk=entry.pk).status == StockWaitlist.Status.NOTIFIED
