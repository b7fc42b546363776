"""Dispatch end to end with django-q2 in sync mode: waves, claiming, channels, retries."""

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Task

from restock_waitlist import dispatch, services, signals
from restock_waitlist.channels import locmem
from restock_waitlist.channels.base import BaseChannel
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories, flaky
from tests.testshop.models import StockLevel

pytestmark = pytest.mark.django_db

Status = StockWaitlist.Status
SendStatus = Notification.Status
EventStatus = RestockEvent.Status


@pytest.fixture(autouse=True)
def _tasks_succeed(tasks_succeed):
    """Every dispatch test fails on a failed django-q2 task."""


@pytest.fixture
def flaky_channels(settings):
    """push and sms through the failing test backend; email stays on Django's locmem mail."""
    channels = dict(settings.RESTOCK_WAITLIST["CHANNELS"])
    for name, kind in (("push", "user"), ("sms", "phone")):
        channels[name] = {
            "BACKEND": "tests.flaky.FlakyChannel",
            "OPTIONS": {"CONTACT_KIND": kind, "QUIET_HOURS": True},
        }
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}
    return settings.RESTOCK_WAITLIST


def configure(settings, **values):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **values}


def waiters(variant, count, **kwargs):
    return [factories.EntryFactory(variant=variant, **kwargs) for _ in range(count)]


def notified_ids():
    return set(StockWaitlist.objects.filter(status=Status.NOTIFIED).values_list("pk", flat=True))


def make_due(event):
    RestockEvent.objects.filter(pk=event.pk).update(
        next_wave_at=timezone.now() - timedelta(seconds=1)
    )


# Off the request path -----------------------------------------------------------------------


def test_merchant_save_sends_nothing_itself(variant, django_capture_on_commit_callbacks):
    waiters(variant, 3)
    stock = variant.stock_levels.first()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        stock.quantity = 5
        stock.save()
    assert len(callbacks) == 1  # the restock_detected signal, after commit
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert not Task.objects.exists()


def test_one_task_per_event_and_the_wave_goes_out_in_dispatch_order(variant, restock):
    entries = waiters(variant, 8)
    vip = factories.EntryFactory(variant=variant, user=factories.UserFactory(username="vip-lee"))
    vip.tier = 1
    vip.save()
    event = restock(variant, 2)  # ceil(2 x 3.0) = 6 entries
    assert notified_ids() == {vip.pk, *[e.pk for e in entries[:5]]}
    assert len(mail.outbox) == 6
    assert Task.objects.filter(func="restock_waitlist.tasks.dispatch_restock").count() == 1
    assert (event.status, event.waves_sent) == (EventStatus.WAITING_NEXT_WAVE, 1)
    assert event.next_wave_at > timezone.now() + timedelta(hours=23)
    assert set(Notification.objects.values_list("status", "wave", "event")) == {
        (SendStatus.SENT, 1, event.pk)
    }
    assert StockWaitlist.objects.filter(notified_by=event, notified_at__isnull=False).count() == 6


@pytest.mark.parametrize(
    "oversubscription, quantity, expected", [(1.0, 3, 3), (1.5, 3, 5), (3.0, 1, 3)]
)
def test_wave_size_is_quantity_times_oversubscription_rounded_up(
    settings, variant, restock, oversubscription, quantity, expected
):
    configure(settings, OVERSUBSCRIPTION=oversubscription)
    waiters(variant, 10)
    restock(variant, quantity)
    assert len(notified_ids()) == expected == math.ceil(quantity * oversubscription)


def test_variant_and_product_wide_entries_share_one_queue(settings, variant, restock):
    configure(settings, OVERSUBSCRIPTION=1.0)
    first_any = factories.EntryFactory(variant=variant, variant_key="")
    mine = factories.EntryFactory(variant=variant)
    other_variant = factories.EntryFactory(
        variant=factories.VariantFactory(product=variant.product)
    )
    later_any = factories.EntryFactory(variant=variant, variant_key="")
    restock(variant, 2)
    assert notified_ids() == {first_any.pk, mine.pk}
    later_any.refresh_from_db()
    other_variant.refresh_from_db()
    assert (later_any.status, other_variant.status) == (Status.WAITING, Status.WAITING)


def test_one_message_for_a_subscriber_waiting_for_the_variant_and_any_variant(
    user, variant, restock
):
    specific = factories.EntryFactory(variant=variant, user=user)
    anything = factories.EntryFactory(variant=variant, user=user, variant_key="")
    restock(variant, 1)
    assert notified_ids() == {specific.pk, anything.pk}
    assert len(mail.outbox) == 1
    assert list(Notification.objects.values_list("entry", flat=True)) == [specific.pk]


def test_quantity_zero_or_nobody_waiting_is_a_cheap_no_op(variant):
    event = factories.RestockEventFactory(variant=variant, quantity=0)
    with CaptureQueriesContext(connection) as queries:
        dispatch.dispatch_event(event.pk)
    event.refresh_from_db()
    assert (event.status, event.detail) == (
        EventStatus.SKIPPED,
        "Nothing to sell: quantity is zero.",
    )
    assert len(queries) <= 2

    event = factories.RestockEventFactory(variant=variant, quantity=4)
    with CaptureQueriesContext(connection) as queries:
        dispatch.dispatch_event(event.pk)
    event.refresh_from_db()
    assert (event.status, event.detail) == (EventStatus.SKIPPED, "Nobody is waiting.")
    assert len(queries) <= 3
    assert not Notification.objects.exists()


def test_dispatching_twice_does_nothing_more(variant, restock):
    waiters(variant, 4)
    event = restock(variant, 1)
    dispatch.dispatch_event(event.pk)
    dispatch.run_wave(event.pk)  # not due: the next wave is 24 h away
    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3


# Waves ---------------------------------------------------------------------------------------


def test_next_wave_after_the_interval_while_stock_remains(variant, restock):
    entries = waiters(variant, 10)
    event = restock(variant, 1)
    assert notified_ids() == {e.pk for e in entries[:3]}
    assert dispatch.run_due_waves() == 0  # not yet
    make_due(event)
    assert dispatch.run_due_waves() == 1
    event.refresh_from_db()
    assert event.waves_sent == 2
    assert notified_ids() == {e.pk for e in entries[:6]}
    assert set(
        Notification.objects.filter(entry__in=entries[3:6]).values_list("wave", flat=True)
    ) == {2}


def test_last_wave_completes_the_event(variant, restock):
    waiters(variant, 4)
    event = restock(variant, 1)
    make_due(event)
    dispatch.run_due_waves()
    event.refresh_from_db()
    assert event.status == EventStatus.COMPLETED
    assert event.completed_at is not None
    assert len(notified_ids()) == 4


def test_no_next_wave_once_sold_out_and_the_rest_keep_their_place(variant, restock):
    entries = waiters(variant, 10)
    event = restock(variant, 1)
    StockLevel.objects.update(quantity=0)  # sold, without a signal
    make_due(event)
    dispatch.run_due_waves()
    event.refresh_from_db()
    assert event.status == EventStatus.COMPLETED
    assert event.detail == "Sold out before wave 2."
    assert notified_ids() == {e.pk for e in entries[:3]}
    assert services.waitlist_position(entries[3]) == 1


def test_sending_stops_mid_wave_when_stock_runs_out(settings, variant, restock, monkeypatch):
    configure(settings, CHUNK_SIZE=2)
    entries = waiters(variant, 10)
    real_send_span = dispatch.send_span
    calls = []

    def sell_out_after_first_chunk(event_id, first_id, last_id):
        if calls:
            StockLevel.objects.update(quantity=0)
        calls.append((first_id, last_id))
        return real_send_span(event_id, first_id, last_id)

    monkeypatch.setattr(dispatch, "send_span", sell_out_after_first_chunk)
    event = restock(variant, 2)  # a wave of 6 in chunks of 2
    assert len(calls) == 3
    assert notified_ids() == {e.pk for e in entries[:2]}
    event.refresh_from_db()
    assert event.status == EventStatus.COMPLETED
    assert event.detail == "Sold out during wave 1."
    assert services.waitlist_position(entries[2]) == 1
    assert Notification.objects.filter(status=SendStatus.SKIPPED).count() == 4


def test_stalled_wave_is_resumed_without_exceeding_its_size(settings, variant, monkeypatch):
    configure(settings, CHUNK_SIZE=2)
    monkeypatch.setattr(dispatch, "CLAIM_PAGE", 2)
    entries = waiters(variant, 10)
    StockLevel.objects.filter(variant=variant).update(quantity=2)
    event = factories.RestockEventFactory(variant=variant, quantity=2)
    real_enqueue = dispatch.enqueue

    def die_after_first_chunk(task_name, *args):
        if task_name == "send_span" and Notification.objects.count() > 2:
            raise SystemExit("worker killed")  # the second page is claimed, its task lost
        return real_enqueue(task_name, *args)

    monkeypatch.setattr(dispatch, "enqueue", die_after_first_chunk)
    with pytest.raises(SystemExit):
        dispatch.dispatch_event(event.pk)
    monkeypatch.setattr(dispatch, "enqueue", real_enqueue)
    event.refresh_from_db()
    assert event.status == EventStatus.DISPATCHING
    assert dispatch.run_due_waves() == 0  # its lease has not run out
    make_due(event)
    dispatch.run_due_waves()
    event.refresh_from_db()
    assert (event.status, event.waves_sent) == (EventStatus.WAITING_NEXT_WAVE, 1)
    assert notified_ids() == {e.pk for e in entries[:6]}
    assert Notification.objects.filter(status=SendStatus.SENT).count() == 6


def test_a_long_claim_goes_on_in_new_tasks_and_sends_the_wave_once(
    settings, variant, restock, monkeypatch
):
    configure(settings, CHUNK_SIZE=2)
    monkeypatch.setattr(dispatch, "CLAIM_PAGE", 2)
    monkeypatch.setattr(dispatch, "CLAIM_SECONDS", 0)  # every page in a task of its own
    entries = waiters(variant, 7)
    tasks, real_enqueue = [], dispatch.enqueue

    def recording(task_name, *args):
        tasks.append((task_name, *args))
        return real_enqueue(task_name, *args)

    monkeypatch.setattr(dispatch, "enqueue", recording)
    waves_sent = []
    signals.restock_wave_sent.connect(
        lambda sender, wave, **kwargs: waves_sent.append(wave.number), weak=False, dispatch_uid="t"
    )
    try:
        event = restock(variant, 2)  # a wave of 6, in pages of 2
    finally:
        signals.restock_wave_sent.disconnect(dispatch_uid="t")
    continued = [task for task in tasks if task[0] == "run_wave"]
    assert continued == [("run_wave", event.pk, 4), ("run_wave", event.pk, 2)]
    spans = [task[2:] for task in tasks if task[0] == "send_span"]
    assert len(spans) == 3 and len({first for first, _last in spans}) == 3  # none twice
    assert notified_ids() == {e.pk for e in entries[:6]}
    assert Notification.objects.filter(status=SendStatus.SENT).count() == 6
    event.refresh_from_db()
    assert (event.status, event.waves_sent) == (EventStatus.WAITING_NEXT_WAVE, 1)
    assert waves_sent == [1]


# Flapping -------------------------------------------------------------------------------------


def test_flapping_stock_never_notifies_twice_nor_starts_a_wave_early(variant, restock):
    entries = waiters(variant, 20)
    first = restock(variant, 1)
    restock(variant, 0)
    second = restock(variant, 2)
    assert second.pk != first.pk
    assert second.status == EventStatus.SKIPPED
    assert "flapped" in second.detail
    assert notified_ids() == {e.pk for e in entries[:3]}
    assert len(mail.outbox) == 3


def test_restock_after_a_sell_out_within_the_cooldown_waits_for_it(variant, restock):
    entries = waiters(variant, 20)
    first = restock(variant, 1)
    StockLevel.objects.update(quantity=0)
    make_due(first)
    dispatch.run_due_waves()  # sold out: the first restock ends
    restock(variant, 0)
    second = restock(variant, 1)
    assert second.status == EventStatus.WAITING_NEXT_WAVE
    assert second.next_wave_at == first.created_at + timedelta(minutes=30)
    assert dispatch.run_due_waves() == 0
    assert notified_ids() == {e.pk for e in entries[:3]}
    make_due(second)
    dispatch.run_due_waves()
    assert notified_ids() == {e.pk for e in entries[:6]}


def test_a_new_restock_after_the_cooldown_takes_over(variant, restock):
    waiters(variant, 20)
    first = restock(variant, 1)
    RestockEvent.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=2))
    restock(variant, 0)
    second = restock(variant, 1)
    first.refresh_from_db()
    assert second.waves_sent == 1
    assert (first.status, first.detail) == (
        EventStatus.COMPLETED,
        f"Superseded by restock #{second.pk}.",
    )
    assert len(notified_ids()) == 6


# Overlapping restocks and double runs ---------------------------------------------------------


def test_overlapping_restocks_notify_each_entry_once(restock):
    product = factories.ProductFactory()
    small = factories.StockLevelFactory(variant__product=product).variant
    large = factories.StockLevelFactory(variant__product=product).variant
    anything = waiters(small, 4, variant_key="")
    own_small, own_large = waiters(small, 4), waiters(large, 2)
    restock(small, 2)  # 6: the 4 "any size" waiters, then 2 of the small ones
    restock(large, 3)  # 9 slots, but only the 2 large waiters are left for it
    assert notified_ids() == {e.pk for e in anything + own_small[:2] + own_large}
    assert Notification.objects.count() == 8
    assert len({m.to[0] for m in mail.outbox}) == len(mail.outbox) == 8


def claimed_wave(variant, size, monkeypatch, **entry_fields):
    """``size`` waiters claimed by a wave whose send tasks were never run: its spans."""
    entries = [factories.EntryFactory(variant=variant, **entry_fields) for _ in range(size)]
    StockLevel.objects.filter(variant=variant).update(quantity=size)
    event = factories.RestockEventFactory(variant=variant, quantity=size)
    spans = []
    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "enqueue", lambda task_name, *args: spans.append(args))
        dispatch.dispatch_event(event.pk)
    return entries, spans


def test_a_send_task_run_twice_sends_once(variant, monkeypatch):
    _entries, spans = claimed_wave(variant, 5, monkeypatch)
    assert len(spans) == 1
    assert dispatch.send_span(*spans[0]) == 5
    assert dispatch.send_span(*spans[0]) == 0
    assert len(mail.outbox) == 5
    assert Notification.objects.count() == 5


def test_worker_killed_after_claiming_strands_nothing_and_sends_once(variant, monkeypatch):
    entries, spans = claimed_wave(variant, 4, monkeypatch)

    def killed(channel, rows):
        raise SystemExit("worker killed mid-send")

    monkeypatch.setattr(dispatch, "_send", killed)
    with pytest.raises(SystemExit):
        dispatch.send_span(*spans[0])
    monkeypatch.undo()
    assert set(Notification.objects.values_list("status", flat=True)) == {SendStatus.SENDING}
    assert notified_ids() == {e.pk for e in entries}

    dispatch.requeue_notifications()  # too early: they may still be sending
    assert mail.outbox == []
    Notification.objects.update(updated_at=timezone.now() - timedelta(minutes=16))
    dispatch.requeue_notifications()
    assert len(mail.outbox) == 4
    assert set(Notification.objects.values_list("status", "attempts")) == {(SendStatus.SENT, 2)}
    Notification.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    dispatch.requeue_notifications()
    assert len(mail.outbox) == 4


def test_a_lost_send_task_is_caught_up_from_the_rows(variant, monkeypatch):
    claimed_wave(variant, 2, monkeypatch)  # the broker lost the task
    event = RestockEvent.objects.get()
    assert event.status == EventStatus.SENDING  # not completed: its sends are in flight
    assert event.progress()["in_flight"] == 2
    dispatch.requeue_notifications()
    assert mail.outbox == []  # too early: the task may still be on its way
    assert set(Notification.objects.values_list("status", flat=True)) == {SendStatus.QUEUED}
    Notification.objects.update(updated_at=timezone.now() - timedelta(minutes=16))
    dispatch.requeue_notifications()
    assert len(mail.outbox) == 2
    event.refresh_from_db()
    assert event.status == EventStatus.COMPLETED


# Channels, fall-through, retries ---------------------------------------------------------------


def test_first_success_tries_channels_in_order_and_falls_through(
    flaky_channels, user, variant, restock
):
    entry = factories.EntryFactory(
        variant=variant, user=user, phone="+821012345678", channels=["push", "email", "sms"]
    )
    flaky.fail(user, "permanent")
    restock(variant, 1)
    rows = dict(Notification.objects.filter(entry=entry).values_list("channel", "status"))
    assert rows == {"push": SendStatus.FAILED, "email": SendStatus.SENT}
    assert Notification.objects.get(channel="push").error == "permanent failure"
    assert len(mail.outbox) == 1
    assert locmem.outbox == []


def test_no_contact_is_skipped_and_falls_through(settings, flaky_channels, variant, restock):
    configure(settings, CHANNELS=flaky_channels["CHANNELS"], CHANNEL_ORDER=("sms", "email", "push"))
    guest = factories.EntryFactory(
        variant=variant, user=None, email="guest@example.com", channels=["sms", "email"]
    )
    restock(variant, 1)
    rows = dict(Notification.objects.filter(entry=guest).values_list("channel", "status"))
    assert rows == {"sms": SendStatus.SKIPPED, "email": SendStatus.SENT}
    assert mail.outbox[0].to == ["guest@example.com"]


def test_all_strategy_uses_every_channel(settings, flaky_channels, user, variant, restock):
    configure(settings, CHANNELS=flaky_channels["CHANNELS"], CHANNEL_STRATEGY="all")
    factories.EntryFactory(
        variant=variant, user=user, phone="+821012345678", channels=["push", "sms", "email"]
    )
    restock(variant, 1)
    assert sorted(Notification.objects.values_list("channel", "status")) == [
        ("email", SendStatus.SENT),
        ("push", SendStatus.SENT),
        ("sms", SendStatus.SENT),
    ]
    assert sorted(m.channel for m in locmem.outbox) == ["push", "sms"]
    assert locmem.outbox[0].contact in (user, "+821012345678")


def test_transient_errors_back_off_exponentially_then_fall_through(
    settings, flaky_channels, user, variant, restock
):
    configure(
        settings,
        CHANNELS=flaky_channels["CHANNELS"],
        MAX_ATTEMPTS=3,
        RETRY_BACKOFF=timedelta(minutes=2),
    )
    entry = factories.EntryFactory(variant=variant, user=user, channels=["push", "email"])
    flaky.fail(user, "transient", "transient", "transient")
    before = timezone.now()
    restock(variant, 1)
    push = Notification.objects.get(entry=entry, channel="push")
    assert (push.status, push.attempts) == (SendStatus.QUEUED, 1)
    assert (
        before + timedelta(minutes=2)
        <= push.next_attempt_at
        <= timezone.now() + timedelta(minutes=2)
    )

    dispatch.requeue_notifications()
    push.refresh_from_db()
    assert push.attempts == 1  # not due yet

    for attempt, backoff in ((2, 4), (3, None)):
        Notification.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
        now = timezone.now()
        dispatch.requeue_notifications()
        push.refresh_from_db()
        assert push.attempts == attempt
        if backoff:
            assert push.status == SendStatus.QUEUED
            assert now + timedelta(minutes=backoff) <= push.next_attempt_at
    assert push.status == SendStatus.FAILED
    assert push.error.startswith("Gave up after 3 attempts")
    assert Notification.objects.get(entry=entry, channel="email").status == SendStatus.SENT
    assert len(mail.outbox) == 1


def test_transient_error_then_success_on_retry(flaky_channels, user, variant, restock):
    factories.EntryFactory(variant=variant, user=user, channels=["push"])
    flaky.fail(user, "transient")
    restock(variant, 1)
    Notification.objects.update(next_attempt_at=timezone.now())
    dispatch.requeue_notifications()
    push = Notification.objects.get()
    assert (push.status, push.attempts, push.provider_message_id) == (
        SendStatus.SENT,
        2,
        "locmem-1",
    )
    assert len(locmem.outbox) == 1


# Quiet hours ----------------------------------------------------------------------------------


def guest(variant, email, time_zone, **kwargs):
    return factories.EntryFactory(
        variant=variant, user=None, email=email, time_zone=time_zone, **kwargs
    )


@pytest.fixture
def seoul_night(monkeypatch):
    """23:30 in Seoul (14:30 UTC)."""
    night = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    monkeypatch.setattr(dispatch.timezone, "now", lambda: night.astimezone(ZoneInfo("UTC")))
    return night


def test_quiet_hours_defer_sms_and_push_to_the_morning_but_not_email(
    settings, flaky_channels, seoul_night, variant, restock
):
    configure(settings, CHANNELS=flaky_channels["CHANNELS"], QUIET_HOURS=("21:00", "08:00"))
    texter = guest(variant, "a@example.com", "Asia/Seoul", phone="+821011112222", channels=["sms"])
    mailer = guest(variant, "b@example.com", "Asia/Seoul", channels=["email"])
    berliner = guest(
        variant, "c@example.com", "Europe/Berlin", phone="+491511234567", channels=["sms"]
    )
    restock(variant, 1)
    sms = Notification.objects.get(entry=texter)
    assert sms.status == SendStatus.QUEUED
    assert sms.next_attempt_at == datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    assert Notification.objects.get(entry=mailer).status == SendStatus.SENT
    assert Notification.objects.get(entry=berliner).status == SendStatus.SENT  # 15:30 in Berlin
    assert [m.contact for m in locmem.outbox] == ["+491511234567"]


@pytest.mark.parametrize(
    "window, local, expected",
    [
        (("21:00", "08:00"), "07:59", "08:00"),
        (("21:00", "08:00"), "08:00", None),
        (("21:00", "08:00"), "20:59", None),
        (("21:00", "08:00"), "21:00", "08:00+1"),
        (("01:00", "06:00"), "03:00", "06:00"),
        (("01:00", "06:00"), "06:30", None),
    ],
)
def test_quiet_until(settings, window, local, expected):
    configure(settings, QUIET_HOURS=window)
    zone = ZoneInfo("America/New_York")
    hour, minute = map(int, local.split(":"))
    now = datetime(2026, 7, 1, hour, minute, tzinfo=zone)
    entry = StockWaitlist(time_zone="America/New_York")
    until = dispatch.quiet_until(entry, "sms", now)
    if expected is None:
        assert until is None
    else:
        clock, _, next_day = expected.partition("+")
        hour, minute = map(int, clock.split(":"))
        assert until == datetime(2026, 7, 1 + bool(next_day), hour, minute, tzinfo=zone)
    assert dispatch.quiet_until(entry, "email", now) is None


# Scale: queries per chunk ------------------------------------------------------------------------


def send_queries(variant, size, monkeypatch, **entry_fields):
    """Statements of one send task; the channel reports once (a slow first render would
    otherwise make it report twice: every ``report_every`` seconds)."""
    monkeypatch.setattr(BaseChannel, "report_every", 60)
    _entries, spans = claimed_wave(variant, size, monkeypatch, **entry_fields)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.send_span(*spans[0]) == size
    return len(queries)


def test_queries_per_send_task_do_not_grow_with_its_size(variant, monkeypatch):
    other = factories.StockLevelFactory().variant
    assert send_queries(variant, 5, monkeypatch) == send_queries(other, 40, monkeypatch) <= 10


def test_a_workers_send_tasks_share_the_events_product_and_variant(settings, variant, monkeypatch):
    configure(settings, CHUNK_SIZE=2)
    _entries, spans = claimed_wave(variant, 6, monkeypatch)
    assert len(spans) == 3
    catalog = ("testshop_product", "testshop_variant")

    def catalog_reads(span):
        with CaptureQueriesContext(connection) as queries:
            assert dispatch.send_span(*span) == 2
        return sum(any(table in q["sql"].split("WHERE")[0] for table in catalog) for q in queries)

    # The stock's query joins the variant; the catalog's read it alone.
    first = catalog_reads(spans[0])
    assert catalog_reads(spans[1]) == first - 2
    monkeypatch.setattr(dispatch, "CATALOG_TTL", -1)  # read again once it is older
    assert catalog_reads(spans[2]) == first


def test_queries_per_send_task_with_push_and_sms_are_constant_too(
    flaky_channels, variant, monkeypatch
):
    def run(target, size):
        return send_queries(target, size, monkeypatch, phone="+821012345678", channels=["sms"])

    assert run(variant, 3) == run(factories.StockLevelFactory().variant, 30)


def wave_queries(variant, size, monkeypatch):
    waiters(variant, size)
    StockLevel.objects.filter(variant=variant).update(quantity=size)
    event = factories.RestockEventFactory(variant=variant, quantity=size)
    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "enqueue", lambda task_name, *args: None)
        with CaptureQueriesContext(connection) as queries:
            dispatch.dispatch_event(event.pk)
    assert Notification.objects.filter(event=event).count() == size
    return len(queries)


def test_a_wave_is_claimed_in_a_constant_number_of_statements(settings, variant, monkeypatch):
    configure(settings, CHUNK_SIZE=1000)
    other = factories.StockLevelFactory().variant
    assert wave_queries(variant, 5, monkeypatch) == wave_queries(other, 60, monkeypatch) <= 26


# Reconciliation --------------------------------------------------------------------------------


def test_reconciliation_records_restocks_made_without_signals(
    variant, django_capture_on_commit_callbacks
):
    waiting = waiters(variant, 2)
    gone = factories.StockLevelFactory().variant
    waiters(gone, 1)
    StockLevel.objects.filter(variant=variant).update(quantity=4)  # no post_save
    assert not RestockEvent.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        recorded = dispatch.reconcile_stock()
    assert [(e.variant_key, e.quantity, e.source) for e in recorded] == [
        (str(variant.pk), 4, RestockEvent.Source.RECONCILED)
    ]
    assert notified_ids() == {e.pk for e in waiting}
    assert dispatch.reconcile_stock() == []  # the event is recent: nothing twice


def test_reconciliation_leaves_items_with_an_open_restock_alone(variant, restock):
    waiters(variant, 10)
    restock(variant, 1)
    RestockEvent.objects.update(created_at=timezone.now() - timedelta(hours=3))
    assert dispatch.reconcile_stock() == []


def test_a_wave_that_fills_a_page_refreshes_the_planner_statistics(settings, variant, monkeypatch):
    configure(settings, CHUNK_SIZE=2)
    monkeypatch.setattr(dispatch, "CLAIM_PAGE", 2)
    with CaptureQueriesContext(connection) as queries:
        _entries, spans = claimed_wave(variant, 5, monkeypatch)
    analysed = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]
    assert len(analysed) == (1 if connection.vendor == "postgresql" else 0)  # once a wave
    assert len(spans) == 3  # pages of 2, 2, then 1: one send task each
    assert sum(dispatch.send_span(*span) for span in spans) == 5
