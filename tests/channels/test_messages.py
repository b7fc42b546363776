"""What a waiter receives: templates, language, links, unsubscribe headers, batch email."""

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import override_settings

from restock_waitlist import dispatch, tokens
from restock_waitlist.models import Notification
from tests import factories
from tests.testshop.models import StockLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(variant):
    StockLevel.objects.filter(variant=variant).update(quantity=5)
    return factories.RestockEventFactory(variant=variant, quantity=5)


def send(event, entries):
    """Claim ``entries`` for wave 1 of ``event`` and send them, as a wave does."""
    dispatch.create_notifications(event, 1, dispatch.claim_entries(event, entries))
    return dispatch.send_span(event.pk, 1, 2**62)


def test_email_names_the_item_and_carries_signed_links_and_one_click_unsubscribe(variant, event):
    entry = factories.EntryFactory(variant=variant)
    send(event, [entry])
    message = mail.outbox[0]
    item = f"{variant.product} – {variant}"
    assert message.subject == f"{item} is back in stock"
    assert item in message.body
    purchase = next(line for line in message.body.splitlines() if "/waitlist/r/" in line)
    assert purchase.startswith("https://shop.example/waitlist/r/")
    token = urlsplit(purchase).path.split("/")[-2]
    notification = Notification.objects.get(entry=entry)
    assert tokens.notification_id_from_token(token) == notification.pk
    html = message.alternatives[0][0]
    assert purchase in html
    unsubscribe = message.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://shop.example/waitlist/unsubscribe/")
    assert unsubscribe[1:-1] in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_product_wide_waiters_hear_which_variant_came_back(variant, event):
    entry = factories.EntryFactory(variant=variant, variant_key="")
    send(event, [entry])
    assert str(variant) in mail.outbox[0].subject


def test_messages_are_in_the_waiters_language(variant, event):
    entry = factories.EntryFactory(variant=variant, locale="ko")
    send(event, [entry])
    assert "재입고" in mail.outbox[0].subject
    assert "재입고" in mail.outbox[0].body


def test_templates_can_be_overridden(settings, tmp_path, variant, event):
    (tmp_path / "restock_waitlist" / "messages").mkdir(parents=True)
    (tmp_path / "restock_waitlist" / "messages" / "email_subject.txt").write_text(
        "Hurry: {{ item_name }}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    send(event, [factories.EntryFactory(variant=variant)])
    assert mail.outbox[0].subject == f"Hurry: {variant.product} – {variant}"


ANYMAIL_BATCH = {
    "BACKEND": "restock_waitlist.channels.email.EmailChannel",
    "OPTIONS": {
        "EMAIL_BACKEND": "anymail.backends.test.EmailBackend",
        "MERGE_FIELD": "{{KEY}}",
        "BATCH_SIZE": 3,
    },
}


def with_email_channel(settings, config):
    channels = {**settings.RESTOCK_WAITLIST["CHANNELS"], "email": config}
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}


def test_anymail_batch_sends_many_waiters_per_call_with_merge_data(settings, variant, event):
    with_email_channel(settings, ANYMAIL_BATCH)
    entries = [factories.EntryFactory(variant=variant) for _ in range(4)]
    entries.append(factories.EntryFactory(variant=variant, locale="ko"))
    assert send(event, entries) == 5
    assert len(mail.outbox) == 3  # English: 3 + 1 (BATCH_SIZE 3), Korean: 1
    first = mail.outbox[0]
    params = first.anymail_test_params
    assert params["is_batch_send"] is True
    assert len(params["to"]) == 3
    assert "{{PURCHASE_URL}}" in first.body
    address = entries[0].user.email
    merge = params["merge_data"][address]
    assert merge["PURCHASE_URL"].startswith("https://shop.example/waitlist/r/")
    assert "/waitlist/unsubscribe/" in merge["UNSUBSCRIBE_URL"]
    assert "/waitlist/unsubscribe-all/" in merge["UNSUBSCRIBE_ALL_URL"]
    assert "{{UNSUBSCRIBE_ALL_URL}}" in first.body
    headers = params["merge_headers"][address]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert Notification.objects.filter(provider_message_id="").count() == 0


def test_batch_keeps_each_address_once_per_call(settings, variant, event):
    with_email_channel(settings, ANYMAIL_BATCH)
    guest = factories.EntryFactory(variant=variant, user=None, email="same@example.com")
    user = factories.UserFactory(email="same@example.com")
    account = factories.EntryFactory(variant=variant, user=user)
    assert send(event, [guest, account]) == 2
    assert [m.anymail_test_params["to"][0].addr_spec for m in mail.outbox] == [
        "same@example.com",
        "same@example.com",
    ]


def test_without_a_merge_field_anymail_sends_one_message_each(settings, variant, event):
    with_email_channel(
        settings,
        {**ANYMAIL_BATCH, "OPTIONS": {"EMAIL_BACKEND": "anymail.backends.test.EmailBackend"}},
    )
    send(event, [factories.EntryFactory(variant=variant) for _ in range(2)])
    assert len(mail.outbox) == 2
    assert not mail.outbox[0].anymail_test_params["is_batch_send"]


@override_settings(DEFAULT_FROM_EMAIL="shop@example.com")
def test_from_address_defaults_to_django_setting(variant, event):
    send(event, [factories.EntryFactory(variant=variant)])
    assert mail.outbox[0].from_email == "shop@example.com"


def test_restock_email_can_cancel_every_alert_to_the_address(client, variant, event):
    from restock_waitlist.models import StockWaitlist

    entry = factories.EntryFactory(variant=variant)
    other = factories.EntryFactory(user=entry.user)
    send(event, [entry])
    link = next(
        line.split()[-1] for line in mail.outbox[0].body.splitlines() if "/unsubscribe-all/" in line
    )
    assert link.startswith("https://shop.example/waitlist/unsubscribe-all/")
    client.post(link.removeprefix("https://shop.example"))
    assert StockWaitlist.objects.get(pk=other.pk).status == StockWaitlist.Status.CANCELLED
