from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from restock_waitlist import services, tasks, tokens
from restock_waitlist.channels import locmem
from restock_waitlist.channels.base import ChannelError, Result
from restock_waitlist.channels.email import EmailChannel
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status


def confirm_link(message):
    return next(line for line in message.body.splitlines() if "/confirm/" in line).strip()


def test_guest_entry_is_pending_and_confirmation_mailed(
    variant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry, created = services.join_waitlist(
            variant.product, variant, email="kim@example.com", consent=True
        )
    assert created and entry.status == Status.PENDING
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["kim@example.com"]
    assert str(variant.product) in message.subject
    assert confirm_link(message).startswith("https://shop.example/waitlist/confirm/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A pending entry already knows the place it will take.
    assert services.waitlist_position(entry) == 1


def test_confirmation_mail_in_the_guests_language(variant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.join_waitlist(
            variant.product, variant, email="lee@example.com", locale="ko", consent=True
        )
    assert "재입고" in mail.outbox[0].subject


def test_users_skip_confirmation(user, variant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry, _ = services.join_waitlist(variant.product, variant, user=user)
    assert entry.status == Status.WAITING
    assert mail.outbox == []


def test_setting_turns_double_opt_in_off(variant, settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "GUEST_DOUBLE_OPT_IN": False}
    entry, _ = services.join_waitlist(
        variant.product, variant, email="kim@example.com", consent=True
    )
    assert entry.status == Status.WAITING


def test_confirm_and_confirm_again(variant):
    entry, _ = services.join_waitlist(
        variant.product, variant, email="kim@example.com", consent=True
    )
    assert services.confirm_entry(entry.pk).status == Status.WAITING
    confirmed_at = StockWaitlist.objects.get(pk=entry.pk).confirmed_at
    assert services.confirm_entry(entry.pk).confirmed_at == confirmed_at


def test_late_confirmation_expires_the_entry(variant):
    entry, _ = services.join_waitlist(
        variant.product, variant, email="kim@example.com", consent=True
    )
    StockWaitlist.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert services.confirm_entry(entry.pk).status == Status.EXPIRED


def test_expire_unconfirmed(variant):
    old = factories.EntryFactory(
        variant=variant,
        user=None,
        email="a@example.com",
        status=Status.PENDING,
        created_at=timezone.now() - timedelta(days=3),
    )
    fresh = factories.EntryFactory(
        variant=variant, user=None, email="b@example.com", status=Status.PENDING
    )
    assert services.expire_unconfirmed() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (Status.EXPIRED, Status.PENDING)


class TestConfirmView:
    def test_get_asks_post_confirms(self, client, variant):
        entry, _ = services.join_waitlist(
            variant.product, variant, email="kim@example.com", consent=True
        )
        url = f"/waitlist/confirm/{tokens.entry_token(entry, tokens.CONFIRM)}/"
        response = client.get(url)
        assert response.status_code == 200 and b"<form" in response.content
        entry.refresh_from_db()
        assert entry.status == Status.PENDING  # a link scanner's GET confirms nothing
        response = client.post(url)
        assert response.status_code == 200 and b"#1 in line" in response.content
        entry.refresh_from_db()
        assert entry.status == Status.WAITING

    def test_token_of_another_purpose_or_tampered(self, client, variant):
        entry, _ = services.join_waitlist(
            variant.product, variant, email="kim@example.com", consent=True
        )
        for token in (
            tokens.entry_token(entry, tokens.MANAGE),
            "x" + tokens.entry_token(entry, tokens.CONFIRM),
        ):
            response = client.post(f"/waitlist/confirm/{token}/")
            assert response.status_code == 400
        entry.refresh_from_db()
        assert entry.status == Status.PENDING


class TestUnsubscribeViews:
    def test_one_click_post_without_csrf_or_login(self, variant):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        entry = factories.EntryFactory(variant=variant)
        url = f"/waitlist/unsubscribe/{tokens.entry_token(entry, tokens.MANAGE)}/"
        assert client.get(url).status_code == 200
        entry.refresh_from_db()
        assert entry.status == Status.WAITING
        response = client.post(url, {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED

    def test_token_is_scoped_to_one_entry(self, client, variant):
        mine = factories.EntryFactory(variant=variant)
        other = factories.EntryFactory(variant=variant)
        client.post(f"/waitlist/unsubscribe/{tokens.entry_token(mine, tokens.MANAGE)}/")
        other.refresh_from_db()
        assert other.status == Status.WAITING

    def test_bad_token(self, client):
        assert client.post("/waitlist/unsubscribe/nonsense/").status_code == 400

    def test_unsubscribe_all_for_an_email(self, client, variant):
        user = factories.UserFactory(email="kim@example.com")
        as_user = factories.EntryFactory(variant=variant, user=user)
        as_guest = factories.EntryFactory(user=None, email="KIM@example.com")
        someone_else = factories.EntryFactory(variant=variant)
        token = tokens.entry_token(as_guest, tokens.UNSUBSCRIBE_ALL)
        response = client.post(f"/waitlist/unsubscribe-all/{token}/")
        assert response.status_code == 200
        statuses = {e.pk: e.status for e in StockWaitlist.objects.all()}
        assert statuses == {
            as_user.pk: Status.CANCELLED,
            as_guest.pk: Status.CANCELLED,
            someone_else.pk: Status.WAITING,
        }


class TestTokens:
    def test_round_trip_and_scope(self, variant):
        entry = factories.EntryFactory(variant=variant)
        token = tokens.entry_token(entry, tokens.MANAGE)
        assert tokens.entry_id_from_token(token, tokens.MANAGE) == entry.pk
        with pytest.raises(tokens.BadToken):
            tokens.entry_id_from_token(token, tokens.PURCHASE)

    def test_expiry(self, variant, settings):
        entry = factories.EntryFactory(variant=variant)
        token = tokens.entry_token(entry, tokens.CONFIRM)
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "CONFIRMATION_EXPIRY": timedelta(seconds=-1),
        }
        with pytest.raises(tokens.BadToken):
            tokens.entry_id_from_token(token, tokens.CONFIRM)


class TestConfirmationMail:
    def test_a_task_run_twice_mails_once(self, variant, settings):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "GUEST_DOUBLE_OPT_IN": True}
        entry, _ = services.join_waitlist(
            variant.product, variant, email="once@example.com", consent=True
        )
        assert tasks.send_confirmation(str(entry.pk)) is True
        assert tasks.send_confirmation(str(entry.pk)) is False
        assert len(mail.outbox) == 1
        entry.refresh_from_db()
        assert entry.confirmation_sent_at is not None

    def test_goes_through_the_email_channel_options_and_templates(self, variant, settings):
        channels = dict(settings.RESTOCK_WAITLIST["CHANNELS"])
        channels["email"] = {
            **channels["email"],
            "OPTIONS": {"FROM_EMAIL": "Alerts <alerts@shop.example>"},
        }
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}
        entry, _ = services.join_waitlist(
            variant.product, variant, email="from@example.com", consent=True
        )
        services.send_confirmation(entry.pk)
        [message] = mail.outbox
        assert message.from_email == "Alerts <alerts@shop.example>"
        assert "&amp;" not in message.body  # plain text is not HTML-escaped
        html = message.alternatives[0][0]
        assert confirm_link(message) in html

    def test_a_stand_in_email_channel_gets_the_confirmation(self, variant, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.locmem.LocmemChannel"}},
        }
        entry, _ = services.join_waitlist(
            variant.product, variant, email="stand@example.com", consent=True
        )
        services.send_confirmation(entry.pk)
        [sent] = locmem.outbox
        assert (sent.kind, sent.event_id, sent.contact) == ("confirm", None, "stand@example.com")
        assert "/waitlist/confirm/" in sent.confirm_url and sent.confirm_url in sent.text
        assert mail.outbox == []

    def test_a_failed_send_is_retried_and_a_lost_one_found_again(
        self, variant, settings, monkeypatch
    ):
        entry, _ = services.join_waitlist(
            variant.product, variant, email="down@example.com", consent=True
        )
        monkeypatch.setattr(
            EmailChannel, "send_batch", lambda self, messages: {None: Result(Result.TRANSIENT)}
        )
        with pytest.raises(ChannelError):
            services.send_confirmation(entry.pk)
        monkeypatch.undo()
        entry.refresh_from_db()
        assert entry.confirmation_sent_at is None and mail.outbox == []
        assert services.send_due_confirmations() == 0  # not stuck yet: its task may be running
        an_hour_ago = timezone.now() - timedelta(hours=1)  # STUCK_AFTER is 15 minutes
        StockWaitlist.objects.filter(pk=entry.pk).update(created_at=an_hour_ago)
        assert services.send_due_confirmations() == 1  # sync django-q2 runs it at once
        assert [m.to for m in mail.outbox] == [["down@example.com"]]
        assert services.send_due_confirmations() == 0
