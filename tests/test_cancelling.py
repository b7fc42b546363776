"""One cancel path: every way an entry is cancelled goes through ``services.cancel_entries``,
records who cancelled it and sends ``waitlist_left`` once per entry after the commit; a
merchant re-opens only what a merchant may."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.utils import timezone

from restock_waitlist import dispatch, links, services, signals, tokens
from restock_waitlist.channels import locmem
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories, flaky
from tests.testshop.models import StockLevel

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status
By = StockWaitlist.CancelledBy


@pytest.fixture
def left():
    """Entries ``waitlist_left`` was sent for."""
    received = []

    def receiver(sender, entry, **kwargs):
        received.append(entry.pk)

    signals.waitlist_left.connect(receiver)
    yield received
    signals.waitlist_left.disconnect(receiver)


def merchant_client(client):
    merchant = factories.UserFactory(username="merchant", is_staff=True)
    merchant.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_stockwaitlist", "change_stockwaitlist"])
    )
    client.force_login(merchant)
    return client


def shopper_cancels(client, user, entries):
    services.leave_waitlist(entries[0], user=user)


def storefront_cancel(client, user, entries):
    client.force_login(user)
    client.post("/waitlist/cancel/", {"entry": str(entries[0].pk)})


def api_cancel(client, user, entries):
    client.force_login(user)
    client.delete(f"/api/waitlist/entries/{entries[0].pk}/")


def guest_token_cancel(client, user, entries):
    token = tokens.entry_token(entries[0], tokens.MANAGE)
    client.delete(f"/api/waitlist/entries/{entries[0].pk}/?token={token}")


def unsubscribe_link(client, user, entries):
    client.post(links.unsubscribe_path(entries[0]))


def unsubscribe_all_link(client, user, entries):
    client.post(urlsplit(links.unsubscribe_all_url(entries[0])).path)


def admin_action(client, user, entries):
    merchant_client(client).post(
        "/admin/restock_waitlist/stockwaitlist/",
        {"action": "cancel_selected", "_selected_action": [str(e.pk) for e in entries]},
    )


def bulk(client, user, entries):
    services.cancel_entries(
        StockWaitlist.objects.filter(pk__in=[e.pk for e in entries]), by=By.MERCHANT
    )


@pytest.mark.parametrize(
    ("cancel", "guest", "count", "by"),
    [
        (shopper_cancels, False, 1, By.SHOPPER),
        (storefront_cancel, False, 1, By.SHOPPER),
        (api_cancel, False, 1, By.SHOPPER),
        (guest_token_cancel, True, 1, By.SHOPPER),
        (unsubscribe_link, True, 1, By.SHOPPER),
        (unsubscribe_all_link, True, 2, By.SHOPPER),
        (admin_action, False, 2, By.MERCHANT),
        (bulk, False, 2, By.MERCHANT),
    ],
)
def test_every_cancel_sends_waitlist_left_once_per_entry(
    cancel, guest, count, by, client, user, variant, left, django_capture_on_commit_callbacks
):
    other = factories.VariantFactory(product=variant.product)
    owner = {"user": None, "email": "guest@example.com"} if guest else {"user": user}
    entries = [factories.EntryFactory(variant=v, **owner) for v in (variant, other)]
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client, user, entries)
    cancelled = StockWaitlist.objects.filter(status=Status.CANCELLED)
    assert sorted(left) == sorted(cancelled.values_list("pk", flat=True))
    assert len(left) == count
    assert set(cancelled.values_list("cancelled_by", flat=True)) == {by}
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client, user, entries)  # again: nothing more is sent
    assert len(left) == count


class TestReopen:
    def test_notified_and_merchant_cancelled_entries_go_back_to_their_place(self, variant):
        first = factories.EntryFactory(variant=variant, status=Status.NOTIFIED)
        second = factories.EntryFactory(variant=variant)
        services.cancel_entries(StockWaitlist.objects.filter(pk=second.pk), by=By.MERCHANT)
        third = factories.EntryFactory(variant=variant)
        reopened = services.reopen_entries(
            StockWaitlist.objects.filter(pk__in=[first.pk, second.pk])
        )
        assert reopened == 2
        for entry in (first, second):
            entry.refresh_from_db()
            assert (entry.status, entry.cancelled_at, entry.cancelled_by) == (
                Status.WAITING,
                None,
                "",
            )
        positions = [services.waitlist_position(e) for e in (first, second, third)]
        assert positions == [1, 2, 3]

    def test_a_shoppers_own_cancel_or_an_unconfirmed_guest_stays_as_it_is(self, user, variant):
        mine = factories.EntryFactory(variant=variant, user=user)
        services.leave_waitlist(mine, user=user)
        expired = factories.EntryFactory(
            variant=variant, user=None, email="late@example.com", status=Status.EXPIRED
        )
        bought = factories.EntryFactory(variant=variant, status=Status.PURCHASED)
        entries = StockWaitlist.objects.filter(pk__in=[mine.pk, expired.pk, bought.pk])
        assert services.reopen_entries(entries) == 0
        assert sorted(entries.values_list("status", flat=True)) == sorted(
            [Status.CANCELLED, Status.EXPIRED, Status.PURCHASED]
        )

    def test_not_when_the_subscriber_has_joined_again(self, user, variant):
        old = factories.EntryFactory(variant=variant, user=user, status=Status.NOTIFIED)
        factories.EntryFactory(variant=variant, user=user)  # joined again since
        assert services.reopen_entries(StockWaitlist.objects.filter(pk=old.pk)) == 0
        old.refresh_from_db()
        assert old.status == Status.NOTIFIED


class TestCancellingStopsWhatIsNotYetSent:
    """A cancel reaches sends already queued: a retry after a failed first attempt, a
    quiet-hours hold, and the waves after it. They are recorded cancelled, never sent."""

    @pytest.fixture
    def flaky_sms(self, settings):
        channels = dict(settings.RESTOCK_WAITLIST["CHANNELS"])
        channels["sms"] = {
            "BACKEND": "tests.flaky.FlakyChannel",
            "OPTIONS": {"CONTACT_KIND": "phone", "QUIET_HOURS": True},
        }
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}
        yield settings
        flaky.failures.clear()

    def texter(self, variant, number="+821012345678"):
        return factories.EntryFactory(variant=variant, channels=["sms"], phone=number)

    def run_periodic_tasks(self):
        Notification.objects.filter(status=Notification.Status.QUEUED).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        dispatch.requeue_notifications()
        dispatch.run_due_waves()

    def test_a_queued_retry_after_a_failed_first_attempt(self, flaky_sms, variant, restock):
        entry = self.texter(variant)
        flaky.fail("+821012345678", "transient")
        event = restock(variant, 1)
        retry = Notification.objects.get(entry=entry)
        assert (retry.status, retry.attempts) == (Notification.Status.QUEUED, 1)
        services.leave_waitlist(entry)
        self.run_periodic_tasks()
        retry.refresh_from_db()
        assert (retry.status, retry.attempts) == (Notification.Status.CANCELLED, 1)
        assert retry.error == services.CANCELLED_NOTE
        assert locmem.outbox == []
        event.refresh_from_db()
        assert event.status == RestockEvent.Status.COMPLETED  # nothing left in flight

    def test_a_quiet_hours_hold(self, flaky_sms, variant, restock):
        flaky_sms.RESTOCK_WAITLIST = {
            **flaky_sms.RESTOCK_WAITLIST,
            "QUIET_HOURS": ("00:00", "23:59"),
        }
        entry = self.texter(variant)
        event = restock(variant, 1)
        held = Notification.objects.get(entry=entry)
        assert (held.status, held.attempts) == (Notification.Status.QUEUED, 0)
        event.refresh_from_db()
        assert event.status == RestockEvent.Status.SENDING
        assert event.progress()["held"] == 1
        services.cancel_entries(StockWaitlist.objects.filter(pk=entry.pk), by=By.MERCHANT)
        self.run_periodic_tasks()
        held.refresh_from_db()
        assert held.status == Notification.Status.CANCELLED
        assert locmem.outbox == []
        event.refresh_from_db()
        assert event.status == RestockEvent.Status.COMPLETED

    def test_a_cancel_committed_before_the_send_claim_wins(self, variant, monkeypatch):
        entry = factories.EntryFactory(variant=variant)
        StockLevel.objects.filter(variant=variant).update(quantity=1)
        event = factories.RestockEventFactory(variant=variant, quantity=1)
        spans = []
        monkeypatch.setattr(dispatch, "enqueue", lambda task_name, *args: spans.append(args))
        dispatch.dispatch_event(event.pk)
        # Cancelled by a path that leaves the queued row alone: the claim still skips it.
        StockWaitlist.objects.filter(pk=entry.pk).update(status=Status.CANCELLED)
        assert dispatch.send_span(*spans[0]) == 0
        assert mail.outbox == []

    def test_later_waves_skip_cancelled_entries(self, settings, variant, restock):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "OVERSUBSCRIPTION": 1.0}
        entries = [factories.EntryFactory(variant=variant) for _ in range(4)]
        event = restock(variant, 2)
        services.cancel_entries(StockWaitlist.objects.filter(pk=entries[2].pk), by=By.SHOPPER)
        RestockEvent.objects.filter(pk=event.pk).update(next_wave_at=timezone.now())
        dispatch.run_due_waves()
        told = set(Notification.objects.values_list("entry", flat=True))
        assert told == {entries[0].pk, entries[1].pk, entries[3].pk}
        assert len(mail.outbox) == 3
