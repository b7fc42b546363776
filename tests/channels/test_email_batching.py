"""Email at scale: a chunk through one connection, templates looked up once per chunk, and
batch sending with anymail on by default where the ESP merges per recipient."""

import pytest
from anymail.backends.mailgun import EmailBackend as MailgunBackend
from django.core import checks, mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from restock_waitlist import tokens
from restock_waitlist.channels import base
from restock_waitlist.channels.base import Outgoing
from restock_waitlist.channels.email import EmailChannel
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
TEST_ESP = "anymail.backends.test.EmailBackend"


class CountingBackend(LocmemBackend):
    """Django's locmem backend, counting the connections opened."""

    opened = 0

    def open(self):
        type(self).opened += 1
        return super().open()


class ShopMailgunBackend(MailgunBackend):
    """A project's own subclass of an ESP backend."""


def outgoing(variant, count):
    """``count`` restock alerts for guests, unsaved: what dispatch hands a channel."""
    event = factories.RestockEventFactory(variant=variant, quantity=5)
    return [
        Outgoing(
            number,
            StockWaitlist(
                product_key=str(variant.product_id),
                variant_key=str(variant.pk),
                email=f"waiter{number}@example.com",
            ),
            event,
            f"waiter{number}@example.com",
        )
        for number in range(1, count + 1)
    ]


def test_a_chunk_goes_through_one_connection(variant):
    CountingBackend.opened = 0
    channel = EmailChannel("email", EMAIL_BACKEND=f"{__name__}.CountingBackend")
    results = channel.send_batch(outgoing(variant, 20))
    assert {result.outcome for result in results.values()} == {"sent"}
    assert len(mail.outbox) == 20
    assert CountingBackend.opened == 1


def test_templates_are_looked_up_once_per_chunk(monkeypatch, variant):
    looked_up = []

    def select_template(names):
        looked_up.append(names[0])
        return original(names)

    original = base.select_template
    monkeypatch.setattr(base, "select_template", select_template)
    EmailChannel("email").send_batch(outgoing(variant, 10))
    assert len(mail.outbox) == 10
    assert sorted(looked_up) == [
        "restock_waitlist/messages/email.html",
        "restock_waitlist/messages/email.txt",
        "restock_waitlist/messages/email_subject.txt",
    ]


def test_a_thousand_waiters_take_two_api_calls_with_a_batching_esp(variant):
    channel = EmailChannel("email", EMAIL_BACKEND=TEST_ESP, MERGE_FIELD="{{KEY}}")
    results = channel.send_batch(outgoing(variant, 1000))
    assert len(results) == 1000
    assert {result.outcome for result in results.values()} == {"sent"}
    assert len(mail.outbox) == 2  # anymail's test backend: one message per API call
    assert [len(message.to) for message in mail.outbox] == [500, 500]


def test_batching_is_the_default_for_esps_that_merge_per_recipient():
    assert EmailChannel("email").merge_field(MailgunBackend) == "%recipient.KEY%"
    assert EmailChannel("email").merge_field(ShopMailgunBackend) == "%recipient.KEY%"
    assert EmailChannel("email", MERGE_FIELD="").merge_field(MailgunBackend) == ""
    assert EmailChannel("email", MERGE_FIELD="-KEY-").merge_field(MailgunBackend) == "-KEY-"
    assert EmailChannel("email").merge_field(LocmemBackend) == ""
    assert EmailChannel("email", MERGE_FIELD="{{KEY}}").merge_field(LocmemBackend) == ""


def with_email_options(settings, **options):
    email = {"BACKEND": "restock_waitlist.channels.email.EmailChannel", "OPTIONS": options}
    channels = {**settings.RESTOCK_WAITLIST["CHANNELS"], "email": email}
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"MERGE_FIELD": "{{KEY}}"}, ["restock_waitlist.W045"]),  # settings: locmem
        ({"MERGE_FIELD": "{{KEY}}", "EMAIL_BACKEND": TEST_ESP}, []),
        ({"MERGE_FIELD": "{{NAME}}", "EMAIL_BACKEND": TEST_ESP}, ["restock_waitlist.W046"]),
        ({"MERGE_FIELD": ""}, []),
        ({}, []),
    ],
)
def test_a_merge_field_that_would_be_ignored_is_named_at_start_up(settings, options, expected):
    with_email_options(settings, **options)
    ids = ("restock_waitlist.W045", "restock_waitlist.W046")
    found = [message for message in checks.run_checks() if message.id in ids]
    assert [m.id for m in found] == expected
    assert all("['email']['OPTIONS']['MERGE_FIELD']" in m.msg for m in found)


@pytest.mark.parametrize("options", [{}, {"EMAIL_BACKEND": TEST_ESP, "MERGE_FIELD": "{{KEY}}"}])
def test_each_link_is_signed_once_per_message(monkeypatch, variant, options):
    """The unsubscribe header carries the link the text carries, not a second signing."""
    signed = []
    original = tokens._dumps
    monkeypatch.setattr(
        tokens, "_dumps", lambda payload: signed.append(payload) or original(payload)
    )
    EmailChannel("email", **options).send_batch(outgoing(variant, 10))
    assert len(signed) == 30  # purchase, unsubscribe, unsubscribe-all
    assert len(mail.outbox) == (1 if options else 10)
