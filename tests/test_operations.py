"""What a merchant asks of dispatch by hand: a wave now, stop, retry failed sends, notify now.
Real django-q2 in sync mode: the queued tasks run once the transaction's work commits."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from restock_waitlist import dispatch, operations
from restock_waitlist.channels import locmem
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db

Status = StockWaitlist.Status
SendStatus = Notification.Status
EventStatus = RestockEvent.Status
Outcome = operations.Outcome


@pytest.fixture
def one_per_unit(settings):
    """One waiter per unit, so a one-unit restock leaves people waiting for wave 2."""
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "OVERSUBSCRIPTION": 1}


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run ``work()`` and then the tasks it queued on commit (sync django-q2)."""

    def run(work, *args):
        with django_capture_on_commit_callbacks(execute=True):
            return work(*args)

    return run


@pytest.fixture
def restocked(variant, one_per_unit, run_on_commit):
    """Three waiting for ``variant``; one unit came back, so wave 1 told the first of them."""
    entries = [factories.EntryFactory(variant=variant) for _ in range(3)]
    stock = variant.stock_levels.get()

    def bring_back():
        stock.quantity = 1
        stock.save()

    run_on_commit(bring_back)
    event = RestockEvent.objects.get()
    assert event.status == EventStatus.WAITING_NEXT_WAVE
    return event, entries


def statuses(entries):
    return [StockWaitlist.objects.get(pk=entry.pk).status for entry in entries]


class TestSendNextWaveNow:
    def test_sends_the_waiting_wave_at_once(self, restocked, run_on_commit):
        event, entries = restocked
        [outcome] = run_on_commit(
            operations.send_next_wave_now, RestockEvent.objects.filter(pk=event.pk)
        )
        assert (outcome.action, outcome.event) == (Outcome.WAVE_QUEUED, event)
        assert statuses(entries) == [Status.NOTIFIED, Status.NOTIFIED, Status.WAITING]
        assert event.waves.count() == 2

    def test_starts_a_restock_whose_task_was_lost(self, variant, run_on_commit):
        entry = factories.EntryFactory(variant=variant)
        variant.stock_levels.update(quantity=2)
        event = factories.RestockEventFactory(variant=variant)
        run_on_commit(operations.send_next_wave_now, RestockEvent.objects.all())
        assert statuses([entry]) == [Status.NOTIFIED]
        assert RestockEvent.objects.get(pk=event.pk).waves_sent == 1

    def test_leaves_finished_restocks_alone(self, variant, run_on_commit):
        factories.RestockEventFactory(variant=variant, status=EventStatus.COMPLETED)
        [outcome] = run_on_commit(operations.send_next_wave_now, RestockEvent.objects.all())
        assert outcome.action == Outcome.FINISHED

    def test_sends_nothing_while_the_stock_shows_none(self, restocked, variant):
        event, _entries = restocked
        variant.stock_levels.update(quantity=0)
        [outcome] = operations.send_next_wave_now(RestockEvent.objects.all())
        assert outcome.action == Outcome.SOLD_OUT
        event.refresh_from_db()
        assert event.next_wave_at > timezone.now()


class TestStop:
    def test_no_further_wave_and_held_sends_go_back_in_line(self, settings, variant, run_on_commit):
        """Quiet hours hold every text message: stopping skips them and re-opens the waiters;
        the periodic tasks then send nothing."""
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "QUIET_HOURS": ("00:00", "23:59"),
        }
        held = factories.EntryFactory(variant=variant, channels=["sms"], phone="+821012345678")
        told = factories.EntryFactory(variant=variant, channels=["email"])
        event = factories.RestockEventFactory(variant=variant)
        variant.stock_levels.update(quantity=5)
        run_on_commit(operations.send_next_wave_now, RestockEvent.objects.all())
        assert Notification.objects.get(entry=held).status == SendStatus.QUEUED

        stopped = operations.stop_restocks(RestockEvent.objects.all())

        assert stopped == 1
        event.refresh_from_db()
        # Wave 1 reached everyone, but the restock waits for its held send to end.
        assert (event.status, event.detail) == (EventStatus.SENDING, operations.STOPPED)
        assert Notification.objects.get(entry=held).status == SendStatus.SKIPPED
        assert statuses([held, told]) == [Status.WAITING, Status.NOTIFIED]
        Notification.objects.filter(entry=held).update(
            next_attempt_at=timezone.now() - timedelta(minutes=1)
        )
        run_on_commit(dispatch.requeue_notifications)
        run_on_commit(dispatch.run_due_waves)
        assert locmem.outbox == []
        event.refresh_from_db()
        assert (event.status, event.detail) == (EventStatus.COMPLETED, operations.STOPPED)

    def test_a_restock_waiting_for_its_next_wave_sends_no_more(self, restocked, run_on_commit):
        event, entries = restocked
        assert operations.stop_restocks(RestockEvent.objects.all()) == 1
        event.refresh_from_db()
        assert (event.status, event.detail, event.next_wave_at) == (
            EventStatus.SKIPPED,
            operations.STOPPED,
            None,
        )
        RestockEvent.objects.update(next_wave_at=timezone.now())
        run_on_commit(dispatch.run_due_waves)
        run_on_commit(operations.send_next_wave_now, RestockEvent.objects.all())
        assert statuses(entries) == [Status.NOTIFIED, Status.WAITING, Status.WAITING]

    def test_finished_restocks_are_not_stopped(self, variant):
        factories.RestockEventFactory(variant=variant, status=EventStatus.COMPLETED)
        assert operations.stop_restocks(RestockEvent.objects.all()) == 0
        assert RestockEvent.objects.get().status == EventStatus.COMPLETED


def failed_send(entry, event, channel="email", **fields):
    return Notification.objects.create(
        entry=entry,
        event=event,
        subscriber_key=entry.subscriber_key,
        channel=channel,
        status=SendStatus.FAILED,
        attempts=5,
        error="Gave up after 5 attempts: timeout",
        **fields,
    )


class TestRetryFailed:
    @pytest.fixture
    def event(self, variant):
        variant.stock_levels.update(quantity=3)
        return factories.RestockEventFactory(variant=variant, status=EventStatus.COMPLETED)

    def notified(self, variant, **kwargs):
        return factories.EntryFactory(variant=variant, **{"status": Status.NOTIFIED, **kwargs})

    def test_sends_a_failed_alert_again(self, variant, event, run_on_commit):
        send = failed_send(self.notified(variant), event)
        assert run_on_commit(operations.retry_failed, Notification.objects.all()) == 1
        send.refresh_from_db()
        assert (send.status, send.error, send.attempts) == (SendStatus.SENT, "", 6)
        assert len(mail.outbox) == 1

    def test_not_for_waiters_who_left_or_were_reached_otherwise(
        self, variant, event, run_on_commit
    ):
        gone = failed_send(self.notified(variant, status=Status.CANCELLED), event)
        reached = self.notified(variant, phone="+821012345678")
        failed_send(reached, event)
        Notification.objects.create(
            entry=reached,
            event=event,
            subscriber_key=reached.subscriber_key,
            channel="sms",
            status=SendStatus.SENT,
        )
        assert run_on_commit(operations.retry_failed, Notification.objects.all()) == 0
        assert Notification.objects.get(pk=gone.pk).status == SendStatus.FAILED
        assert mail.outbox == []

    def test_waits_for_the_end_of_quiet_hours(self, settings, variant, event, run_on_commit):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "QUIET_HOURS": ("00:00", "23:59"),
        }
        send = failed_send(self.notified(variant, phone="+821012345678"), event, channel="sms")
        assert run_on_commit(operations.retry_failed, Notification.objects.all()) == 1
        send.refresh_from_db()
        assert send.status == SendStatus.QUEUED
        assert send.next_attempt_at > timezone.now()
        assert locmem.outbox == []


class TestNotifyNow:
    def test_brings_the_open_restocks_next_wave_forward(self, restocked, run_on_commit):
        event, entries = restocked
        [outcome] = run_on_commit(operations.notify_now, StockWaitlist.objects.all())
        assert (outcome.action, outcome.event) == (Outcome.WAVE_QUEUED, event)
        assert statuses(entries) == [Status.NOTIFIED, Status.NOTIFIED, Status.WAITING]

    def test_records_a_restock_when_the_shop_has_stock(self, variant, run_on_commit):
        entry = factories.EntryFactory(variant=variant)
        variant.stock_levels.update(quantity=2)  # an import: no signal, no restock yet
        [outcome] = run_on_commit(operations.notify_now, StockWaitlist.objects.all())
        assert outcome.action == Outcome.RESTOCK_RECORDED
        assert outcome.event.source == RestockEvent.Source.MERCHANT
        assert statuses([entry]) == [Status.NOTIFIED]

    def test_says_sold_out_and_records_nothing(self, variant, run_on_commit):
        factories.EntryFactory(variant=variant)
        [outcome] = run_on_commit(operations.notify_now, StockWaitlist.objects.all())
        assert (outcome.product_key, outcome.variant_key) == (
            str(variant.product_id),
            str(variant.pk),
        )
        assert outcome.action == Outcome.SOLD_OUT
        assert not RestockEvent.objects.exists()

    def test_a_wave_already_going_is_left_to_run(self, variant):
        factories.EntryFactory(variant=variant)
        factories.RestockEventFactory(variant=variant, status=EventStatus.DISPATCHING)
        [outcome] = operations.notify_now(StockWaitlist.objects.all())
        assert outcome.action == Outcome.ALREADY_SENDING

    def test_product_wide_waiters_are_served_by_a_variants_restock(self, restocked, variant):
        event, _entries = restocked
        factories.EntryFactory(variant=variant, variant_key="")
        outcomes = operations.notify_now(StockWaitlist.objects.filter(variant_key=""))
        assert [(o.variant_key, o.event) for o in outcomes] == [("", event)]

    def test_only_waiting_entries_count(self, variant):
        factories.EntryFactory(variant=variant, status=Status.NOTIFIED)
        assert operations.notify_now(StockWaitlist.objects.all()) == []
