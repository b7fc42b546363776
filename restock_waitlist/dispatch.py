"""From a restock to sent notifications: waves, claims, sends, retries, recovery.

Plain functions; the django-q2 tasks in :mod:`restock_waitlist.tasks`, the management
commands and the admin call them. ``docs/dispatch.rst`` tells the whole story. The database,
not the broker, remembers the work: tasks carry ids, and every step is a conditional write
that a task run twice, or re-enqueued from the rows, repeats harmlessly.

* :func:`dispatch_event` starts an event's first wave (or skips it, or defers it when the
  stock flapped within ``RESTOCK_COOLDOWN``).
* :func:`run_wave` asks the policy (``POLICY``) how many waiters the wave reaches and
  :func:`claim_wave` claims them at the head of the queue, a page per transaction: the
  head's ids from the dispatch index, one locking ``SELECT`` by primary key, one ``UPDATE``
  of the entries and one ``INSERT ... SELECT`` of their ``queued`` notifications; it
  enqueues one :func:`send_span` task per ``CHUNK_SIZE`` notification ids (first and last
  id only).
* :func:`deliver` moves due ``queued`` rows to ``sending`` with a claim token (the lease),
  hands them to the channel and records the results as the channel reports them (per
  provider call, or every ``REPORT_EVERY`` seconds for one-by-one backends).
* :func:`requeue_notifications` and :func:`run_due_waves` (periodic) find what a lost task,
  a killed worker or a dropped connection left behind, from the rows alone. An event is
  completed only once every send of its waves has ended (:func:`finish_events`).
"""

import logging
import time
import uuid
from collections import namedtuple
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from restock_waitlist import channels as registry
from restock_waitlist import links, services, signals, statements
from restock_waitlist.adapters import get_adapter, prefetch_catalog
from restock_waitlist.channels.base import Outgoing, Result
from restock_waitlist.conf import app_settings
from restock_waitlist.jobs import enqueue, enqueue_on_commit
from restock_waitlist.models import Notification, RestockEvent, RestockWave, StockWaitlist
from restock_waitlist.policies import DefaultPolicy, get_policy
from restock_waitlist.querysets import DISPATCH_ORDER
from restock_waitlist.statements import one_of

logger = logging.getLogger("restock_waitlist.dispatch")

EntryStatus = StockWaitlist.Status
EventStatus = RestockEvent.Status
SendStatus = Notification.Status

#: Events that will still send: a later event for the same item leaves them be or ends them.
OPEN_EVENT_STATUSES = (EventStatus.PENDING, EventStatus.DISPATCHING, EventStatus.WAITING_NEXT_WAVE)
#: Events not completed or skipped yet (open, or waiting for the last sends to end).
UNFINISHED = (*OPEN_EVENT_STATUSES, EventStatus.SENDING)

#: Waiters a wave claims per transaction (at least ``CHUNK_SIZE``).
CLAIM_PAGE = 5000
#: Seconds one task claims a wave's pages before it goes on in a new one, well under a
#: cluster's ``timeout`` (a million waiters take about a minute on a small machine).
CLAIM_SECONDS = 30
#: What :func:`claim_wave` returns when the claim goes on in a new task.
CONTINUED = "continued"
#: The entry fields a wave's claim loads when the policy decides as the default one does:
#: what it reads (a subscriber once, the channels and quiet hours), not the order's
#: ``tier`` and ``created_at`` (the database orders the page; parsing ``created_at`` was a
#: sixth of the page's CPU).
CLAIM_FIELDS = ("pk", "subscriber_key", "variant_key", "channels", "time_zone")


class ClaimedEntry(namedtuple("ClaimedEntry", CLAIM_FIELDS)):
    """An entry of a wave's page as the default policy reads it: a tuple, half the CPU of
    a model instance (a page holds thousands)."""

    __slots__ = ()


#: How long a wave's claim waits for a waiter's row another transaction holds (PostgreSQL)
#: before it stops and leaves the wave to the next pass, :data:`LOCKED_RETRY` later.
LOCK_WAIT_MS = 2000
LOCKED_RETRY = timedelta(seconds=10)
#: PostgreSQL errors that mean "a row was held": lock_timeout, deadlock.
LOCK_ERRORS = {"55P03", "40P01"}

#: Seconds a worker reuses an event's product and variant across its send tasks (two
#: queries a task saved): a product renamed or deleted mid-wave shows in messages at most
#: this much later (a deleted product's stock, if it goes too, stops the wave at once).
CATALOG_TTL = 30
_catalogs = {}  # (event id, created at) -> (product, variant, when read)

#: The error kept on a send put back in line after its worker's lease ran out.
REQUEUED = "Re-queued: the worker stopped while sending."

#: Fields a send writes back to rows not sent, in one ``bulk_update`` per report.
RESULT_FIELDS = [
    "status",
    "provider_message_id",
    "error",
    "note",
    "next_attempt_at",
    "sent_at",
    "updated_at",
]


# Events and waves -----------------------------------------------------------------------


def dispatch_event(event_id):
    """Start a pending restock event: its first wave, or skip or defer it. Safe to repeat."""
    event = RestockEvent.objects.filter(pk=event_id, status=EventStatus.PENDING).first()
    if event is None:
        return None
    if event.quantity <= 0:
        return _close(event, EventStatus.SKIPPED, "Nothing to sell: quantity is zero.")
    if not services.has_waiters(event.product_key, event.variant_key):
        return _close(event, EventStatus.SKIPPED, "Nobody is waiting.")
    earlier = _flapping_predecessor(event)
    if earlier is not None and earlier.status in OPEN_EVENT_STATUSES:
        return _close(
            event,
            EventStatus.SKIPPED,
            f"Stock flapped within the cooldown; restock #{earlier.pk} carries on.",
        )
    if earlier is not None:
        # The last restock ended (sold out) moments ago: wait out the cooldown, then re-check.
        RestockEvent.objects.filter(pk=event.pk, status=EventStatus.PENDING).update(
            status=EventStatus.WAITING_NEXT_WAVE,
            next_wave_at=earlier.created_at + app_settings.RESTOCK_COOLDOWN,
            detail=f"Stock flapped after restock #{earlier.pk}; first wave after the cooldown.",
        )
        return event
    return run_wave(event.pk)


def _flapping_predecessor(event):
    """The latest earlier event of the same item within ``RESTOCK_COOLDOWN`` that sent or will."""
    return (
        RestockEvent.objects.filter(
            product_key=event.product_key,
            variant_key=event.variant_key,
            created_at__gte=event.created_at - app_settings.RESTOCK_COOLDOWN,
            created_at__lte=event.created_at,
        )
        .exclude(pk=event.pk)
        .exclude(status=EventStatus.SKIPPED)
        .order_by("-created_at", "-pk")
        .first()
    )


def _close(event, status, detail):
    """End an event (conditionally: only while it is still open); ``restock_ended`` follows."""
    now = timezone.now()
    closed = RestockEvent.objects.filter(pk=event.pk, status__in=OPEN_EVENT_STATUSES).update(
        status=status, detail=detail, next_wave_at=None, completed_at=now
    )
    event.status, event.detail, event.next_wave_at, event.completed_at = status, detail, None, now
    if closed:
        signals.send_on_commit(signals.restock_ended, sender=RestockEvent, event=event)
    return event


def _take_wave(event_id, now):
    """Move the event into ``dispatching``; ``(event, wave, resumed)`` or ``None`` if not ours.

    A wave is due when the event is pending or its next wave time has come; a wave left in
    ``dispatching`` past its lease (the worker died while claiming it) is resumed.
    """
    events = RestockEvent.objects.filter(pk=event_id)
    lease = now + app_settings.STUCK_AFTER
    due = Q(status=EventStatus.PENDING) | Q(
        status=EventStatus.WAITING_NEXT_WAVE, next_wave_at__lte=now
    )
    resumed = False
    taken = events.filter(due).update(
        status=EventStatus.DISPATCHING, waves_sent=F("waves_sent") + 1, next_wave_at=lease
    )
    if not taken:
        taken = events.filter(status=EventStatus.DISPATCHING, next_wave_at__lte=now).update(
            next_wave_at=lease
        )
        resumed = True
    if not taken:
        return None
    event = events.get()
    return event, event.waves_sent, resumed


def run_wave(event_id, remaining=None):
    """Claim the event's next wave and enqueue its sends, then schedule the wave after it
    (or, when nobody is left, wait for the sends to end). Safe to repeat.

    A wave claimed for :data:`CLAIM_SECONDS` goes on in a new task, given the ``remaining``
    size (its sends so far are enqueued already), so no task outlives the cluster's
    ``timeout``."""
    now = timezone.now()
    taken = _take_wave(event_id, now)
    if taken is None:
        return None
    event, wave, resumed = taken
    if event.product is None:
        return _halt(event, "The product no longer exists.")
    available = get_adapter().available_quantity(event.product_key, event.variant_key)
    if available <= 0:
        return _end(event, f"Sold out before wave {wave}.")
    plan = plan_wave(event, wave, available)
    size = plan.size if remaining is None else remaining
    if resumed and remaining is None:
        size -= (
            Notification.objects.filter(event=event, wave=wave)
            .values("subscriber_key")
            .distinct()
            .count()
        )
    if wave == 1 and not resumed:
        # A genuine new restock of the item takes over from older ones still scheduling waves.
        older = RestockEvent.objects.filter(
            product_key=event.product_key,
            variant_key=event.variant_key,
            status=EventStatus.WAITING_NEXT_WAVE,
        ).exclude(pk=event.pk)
        superseded = list(older.values_list("pk", flat=True))
        older.filter(pk__in=superseded).update(
            status=EventStatus.SENDING,
            next_wave_at=now + app_settings.STUCK_AFTER,
            detail=f"Superseded by restock #{event.pk}.",
        )
        finish_events(superseded)
    if resumed and remaining is None:
        # The sends of pages claimed before the stall may have been lost with their tasks.
        _enqueue_spans(event, Notification.objects.filter(event=event, wave=wave))
    try:
        more = claim_wave(event, wave, size)
    except OperationalError as exc:
        if _sqlstate(exc) not in LOCK_ERRORS:
            raise
        # A waiter's row is held by another transaction: the next pass takes the wave on.
        RestockEvent.objects.filter(pk=event.pk, status=EventStatus.DISPATCHING).update(
            next_wave_at=timezone.now() + LOCKED_RETRY,
            detail=f"Wave {wave} waits for a waiter another transaction holds.",
        )
        event.refresh_from_db()
        return event
    if more is CONTINUED:
        return event
    if more:
        RestockEvent.objects.filter(pk=event.pk, status=EventStatus.DISPATCHING).update(
            status=EventStatus.WAITING_NEXT_WAVE,
            next_wave_at=timezone.now() + app_settings.WAVE_INTERVAL,
            detail=f"Wave {wave} sent to up to {plan.size}; more are waiting.",
        )
    event.refresh_from_db()
    signals.send_on_commit(signals.restock_wave_sent, sender=RestockEvent, event=event, wave=plan)
    if not more:
        _end(event, f"Wave {wave} reached everyone waiting.")
    return event


def plan_wave(event, wave, available):
    """The wave's :class:`~restock_waitlist.models.RestockWave`: planned by the policy once,
    and read back when a stalled wave is resumed."""
    plan = get_policy().plan_wave(event, available, wave)
    stored, _created = RestockWave.objects.get_or_create(
        event=event,
        number=wave,
        defaults={
            "available": available,
            "size": plan.size,
            "rule": plan.rule,
            "inputs": plan.inputs,
        },
    )
    return stored


def _sqlstate(exc):
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)


def _end(event, detail):
    """No more waves: the event is ``sending`` until every send has ended, then completed."""
    RestockEvent.objects.filter(pk=event.pk, status__in=OPEN_EVENT_STATUSES).update(
        status=EventStatus.SENDING,
        detail=detail,
        next_wave_at=timezone.now() + app_settings.STUCK_AFTER,
    )
    finish_events([event.pk])
    event.refresh_from_db()
    return event


def _halt(event, detail):
    """Stop sending (sold out, product deleted): queued sends are skipped and the waiters
    they were for, never told, go back in line at the place they joined."""
    with transaction.atomic():
        RestockEvent.objects.filter(pk=event.pk, status__in=UNFINISHED).update(
            status=EventStatus.SENDING, detail=detail
        )
        held = Notification.objects.filter(event=event, status=SendStatus.QUEUED)
        subscribers = list(held.values_list("subscriber_key", flat=True).distinct())
        held.update(status=SendStatus.SKIPPED, error=detail, next_attempt_at=None)
        for start in range(0, len(subscribers), CLAIM_PAGE):
            _put_back(event, subscribers[start : start + CLAIM_PAGE])
    finish_events([event.pk])
    event.refresh_from_db()
    return event


def _put_back(event, subscribers):
    """The entries of these subscribers ``event`` claimed and never told go back in line at
    the place they joined (one ``UPDATE``), unless they have joined the item again since."""
    told = Notification.objects.filter(
        event=event,
        subscriber_key=OuterRef("subscriber_key"),
        status__in=(SendStatus.SENDING, SendStatus.SENT),
    )
    rejoined = StockWaitlist.objects.active().filter(
        subscriber_key=OuterRef("subscriber_key"),
        product_key=OuterRef("product_key"),
        variant_key=OuterRef("variant_key"),
    )
    StockWaitlist.objects.filter(
        notified_by=event, status=EntryStatus.NOTIFIED, subscriber_key__in=subscribers
    ).exclude(Exists(told)).exclude(Exists(rejoined)).update(
        status=EntryStatus.WAITING, notified_at=None, notified_by=None
    )


def finish_events(event_ids):
    """Complete the ``sending`` events among ``event_ids`` none of whose sends is still in
    flight (one conditional ``UPDATE`` each); ``restock_ended`` follows. How many ended."""
    in_flight = Notification.objects.filter(event=OuterRef("pk"), status__in=Notification.IN_FLIGHT)
    ended = 0
    for event_id in event_ids:
        done = (
            RestockEvent.objects.filter(pk=event_id, status=EventStatus.SENDING)
            .exclude(Exists(in_flight))
            .update(status=EventStatus.COMPLETED, next_wave_at=None, completed_at=timezone.now())
        )
        if done:
            event = RestockEvent.objects.get(pk=event_id)
            signals.send_on_commit(signals.restock_ended, sender=RestockEvent, event=event)
            ended += 1
    return ended


# Claiming a wave: set-based ---------------------------------------------------------------


def claim_wave(event, wave, size):
    """Claim up to ``size`` subscribers at the head of the event's queue and write their
    ``queued`` notifications, a page of :data:`CLAIM_PAGE` waiters per transaction (a few
    statements each), then enqueue their sends by id span. Whether waiters are left, or
    :data:`CONTINUED` when the claim went on in a new task after :data:`CLAIM_SECONDS`.

    The head is read in dispatch order with row locks (PostgreSQL) that wait up to
    :data:`LOCK_WAIT_MS` for a row another transaction holds, never skip it: past that the
    claim raises and the wave is taken on by the next pass.
    """
    queue = StockWaitlist.objects.waiting_for_restock(event.product_key, event.variant_key)
    dispatching = RestockEvent.objects.filter(pk=event.pk, status=EventStatus.DISPATCHING)
    # Only a variant's restock serves two entries of one subscriber (theirs and "any variant").
    mixed = bool(event.variant_key) and (
        StockWaitlist.objects.waiting()
        .filter(product_key=event.product_key, variant_key="")
        .exists()
    )
    page_size = max(CLAIM_PAGE, app_settings.CHUNK_SIZE)
    # The default policy decides by a few fields: the claim loads those alone.
    by_fields = _decides_by_fields(get_policy())
    first_page, deadline = True, time.monotonic() + CLAIM_SECONDS
    while size > 0:
        if not first_page and time.monotonic() > deadline:
            # Go on in a new task, due at once (run_due_waves would also resume it).
            dispatching.update(next_wave_at=timezone.now())
            enqueue("run_wave", event.pk, size)
            return CONTINUED
        with transaction.atomic():
            # Locks the event row (a halt, sold out, waits for this page and ends the next)
            # and renews the wave's lease: run_due_waves leaves a claim under way alone.
            if not dispatching.update(next_wave_at=timezone.now() + app_settings.STUCK_AFTER):
                return False
            _wait_briefly_for_locks()
            wanted = min(page_size, size)
            head = StockWaitlist.objects.head_of_queue(event.product_key, event.variant_key, wanted)
            page = _lock_head(head, by_fields)
            if not page:
                return False
            carriers = claim_entries(event, page, mixed)
            queued = create_notifications(event, wave, carriers)
        if first_page and len(page) >= CLAIM_PAGE:
            _refresh_statistics()
        first_page = False
        _enqueue_ids(event, sorted(queued))
        if len(head) < wanted:
            return False  # the queue ran out
        size -= len(carriers)
    return queue.exists()


def _enqueue_spans(event, notifications):
    """Enqueue :func:`send_span` tasks for the ``queued`` rows among ``notifications`` (of
    ``event``), read in id order :data:`CLAIM_PAGE` at a time."""
    ids = notifications.filter(status=SendStatus.QUEUED).order_by("pk").values_list("pk", flat=True)
    last = 0
    while page := list(ids.filter(pk__gt=last)[:CLAIM_PAGE]):
        _enqueue_ids(event, page)
        last = page[-1]


def _enqueue_ids(event, ids):
    """One :func:`send_span` task per ``CHUNK_SIZE`` of these sorted notification ids."""
    chunk = app_settings.CHUNK_SIZE
    for start in range(0, len(ids), chunk):
        span = ids[start : start + chunk]
        enqueue("send_span", event.pk, span[0], span[-1])


def _wait_briefly_for_locks():
    """PostgreSQL, for this transaction: a row lock is waited for :data:`LOCK_WAIT_MS` at
    most, and the page's statements (by primary key lists of thousands) read by index even
    where the planner would scan a table of under a few hundred thousand rows whole, so the
    rows read per waiter do not grow with the table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true), "
                "set_config('enable_seqscan', 'off', true)",
                [f"{LOCK_WAIT_MS}ms"],
            )


def _refresh_statistics():
    """PostgreSQL: ``ANALYZE`` the entry and notification tables once a wave has written a
    full page. Autovacuum analyses a table only once a tenth of it changed, up to a minute
    later; until then the sends (and the reports after them) would be planned on statistics
    that may say the notification table is empty, and scan it whole. ~0.1 s, once a wave."""
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        tables = (StockWaitlist._meta.db_table, Notification._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(quote(table) for table in tables)}")


def _lock_head(head, by_fields):
    """The entries of ``head`` (ids) still waiting, locked, in dispatch order: one
    ``SELECT … FOR UPDATE`` by primary key alone (as :class:`ClaimedEntry` tuples when
    ``by_fields``). No filter on ``status``: PostgreSQL would read every waiting row of the
    table through its index; rows no longer waiting drop out here."""
    locked = (
        StockWaitlist.objects.filter(one_of("pk", head))
        .order_by(*DISPATCH_ORDER)
        .select_for_update()
    )
    if by_fields:
        rows = locked.values_list("status", *CLAIM_FIELDS)
        return [ClaimedEntry(*row[1:]) for row in rows if row[0] == EntryStatus.WAITING]
    return [entry for entry in locked if entry.status == EntryStatus.WAITING]


def claim_entries(event, page, mixed=True):
    """Mark the page's entries (locked, waiting) notified by ``event`` in one ``UPDATE`` by
    primary key and, when the queue is ``mixed``, their subscribers' other entry this
    restock serves; the entry each subscriber is notified through, in dispatch order.

    A subscriber waiting for the variant and for "any variant" is claimed once, through
    the variant's entry when the page holds it.
    """
    carriers = {}
    for entry in page:
        held = carriers.get(entry.subscriber_key)
        if held is None or (not held.variant_key and entry.variant_key):
            carriers[entry.subscriber_key] = entry
    marks = {"status": EntryStatus.NOTIFIED, "notified_at": timezone.now(), "notified_by": event}
    StockWaitlist.objects.filter(one_of("pk", [entry.pk for entry in page])).update(**marks)
    if mixed and event.variant_key:
        # Their other entry, wherever it stands: found through the one-active-entry index.
        others = {"": [], event.variant_key: []}
        for entry in page:
            others[event.variant_key if not entry.variant_key else ""].append(entry.subscriber_key)
        for variant_key, subscribers in others.items():
            if subscribers:
                StockWaitlist.objects.filter(
                    one_of("subscriber_key", subscribers),
                    product_key=event.product_key,
                    variant_key=variant_key,
                    status=EntryStatus.WAITING,
                ).update(**marks)
    return list(carriers.values())


def create_notifications(event, wave, entries):
    """One ``queued`` row per subscriber and channel (``first_success``: the first channel
    only), written by one ``INSERT ... SELECT`` per channel and due time, in dispatch order;
    the ids of the ``queued`` rows written.

    The policy decides per entry; with the default policy's channel and quiet-hours rules
    (which read only ``channels`` and ``time_zone``) it is asked once per distinct pair.
    """
    now = timezone.now()
    policy = get_policy()
    channels, decided, groups = {}, {}, {}
    by_fields = _decides_by_fields(policy)
    for entry in entries:
        key = (tuple(entry.channels or ()), entry.time_zone) if by_fields else entry.pk
        if key not in decided:
            decided[key] = _rows_for(entry, policy, channels, now)
        for row in decided[key]:
            groups.setdefault(row, []).append(entry.pk)
    queued = []
    for (channel, due, status, error), entry_ids in groups.items():
        ids = _insert_notifications(event, wave, entry_ids, channel, due, status, error, now)
        if status == SendStatus.QUEUED:
            queued += ids
    return queued


def _decides_by_fields(policy):
    """Whether ``policy`` picks channels and quiet hours as :class:`DefaultPolicy` does."""
    names = ("channels_for", "first_channels", "quiet_until")
    return all(getattr(type(policy), name) is getattr(DefaultPolicy, name) for name in names)


def _rows_for(entry, policy, channels, now):
    """``(channel, due, status, error)`` of each notification row the entry gets."""
    names = policy.first_channels(entry)
    if not names:
        return [((entry.channels or ["email"])[0], None, SendStatus.SKIPPED, "No enabled channel.")]
    rows = []
    for name in names:
        if name not in channels:
            channels[name] = registry.get_channel(name)
        rows.append((name, policy.quiet_until(entry, channels[name], now), SendStatus.QUEUED, ""))
    return rows


def _insert_notifications(event, wave, entry_ids, channel, due, status, error, now):
    """``INSERT INTO notification SELECT ... FROM entry WHERE id IN (...) ON CONFLICT DO
    NOTHING RETURNING id``: the rows, ids in dispatch order, with no model instance built
    (PostgreSQL and SQLite 3.35+); the ids written."""
    entries, notifications = StockWaitlist._meta, Notification._meta
    quote, ops = connection.ops.quote_name, connection.ops
    at = ops.adapt_datetimefield_value(now)
    values = {
        "entry": quote(entries.pk.column),
        "subscriber_key": quote(entries.get_field("subscriber_key").column),
        "event": "%s",
        "channel": "%s",
        "wave": "%s",
        "status": "%s",
        "error": "%s",
        "next_attempt_at": "%s",
        "created_at": "%s",
        "updated_at": "%s",
        "provider_message_id": "''",
        "note": "''",
        "claim": "''",
        "attempts": "0",
    }
    params = [event.pk, channel, wave, status, error, ops.adapt_datetimefield_value(due), at, at]
    columns = ", ".join(quote(notifications.get_field(name).column) for name in values)
    order = ", ".join(
        f"{quote(entries.get_field(name.lstrip('-')).column)}{' DESC' if name[0] == '-' else ''}"
        for name in DISPATCH_ORDER
    )
    among, ids = statements.among(entries.pk, entry_ids, connection)
    sql = (
        f"INSERT INTO {quote(notifications.db_table)} ({columns}) "
        f"SELECT {', '.join(values.values())} FROM {quote(entries.db_table)} "
        f"WHERE {quote(entries.pk.column)} {among} "
        f"ORDER BY {order} ON CONFLICT DO NOTHING RETURNING {quote(notifications.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + ids)
        return [row[0] for row in cursor.fetchall()]


def _row(entry, event, wave, channel, now, due=None):
    """A ``queued`` notification row for a fallback channel (written by ``bulk_create``)."""
    return Notification(
        entry=entry,
        event=event,
        subscriber_key=entry.subscriber_key,
        channel=channel,
        wave=wave,
        next_attempt_at=due,
        created_at=now,
        updated_at=now,
    )


# Sending: claim, send, record as the provider takes them ---------------------------------


def send_span(event_id, first_id, last_id):
    """Send the event's due ``queued`` notifications with ids from ``first_id`` to
    ``last_id``; the stock is read again first. Safe to repeat."""
    event = RestockEvent.objects.filter(pk=event_id).first()
    if event is None or event.status == EventStatus.SKIPPED:
        return 0
    _load_catalog(event)
    if event.product is None:
        # The shop deleted the product mid-wave: nothing more is sent.
        _halt(event, "The product no longer exists.")
        return 0
    if get_adapter().available_quantity(event.product_key, event.variant_key) <= 0:
        # Sold out: stop here; waiters not yet sent to keep their place for the next restock.
        _halt(event, f"Sold out during wave {event.waves_sent}.")
        return 0
    notifications = Notification.objects.filter(
        event_id=event_id, pk__gte=first_id, pk__lte=last_id
    )
    return deliver(notifications, events={event.pk: event})


def _load_catalog(event):
    """Give ``event`` its product and variant, read once per worker and event for
    :data:`CATALOG_TTL` seconds: a wave's send tasks in one worker share them."""
    now = time.monotonic()
    key = (event.pk, event.created_at)
    if key not in _catalogs or now - _catalogs[key][2] > CATALOG_TTL:
        for stale in [k for k, (_p, _v, read) in _catalogs.items() if now - read > CATALOG_TTL]:
            del _catalogs[stale]
        prefetch_catalog([event])
        _catalogs[key] = (event.product, event.variant, now)
    event._product_cache, event._variant_cache, _read = _catalogs[key]


def send_notifications(notification_ids):
    """Send these notifications if they are due and still queued (retries, quiet hours)."""
    notifications = Notification.objects.filter(pk__in=notification_ids)
    event_ids = set(notifications.values_list("event_id", flat=True))
    events = list(RestockEvent.objects.filter(pk__in=event_ids))
    prefetch_catalog(events)
    return deliver(notifications, events={event.pk: event for event in events})


def claim_for_sending(notifications, now):
    """Move due ``queued`` rows to ``sending`` with a fresh token (the lease starts at
    ``updated_at``); the rows this call owns, with their entries. A row whose entry was
    cancelled before the claim is recorded ``cancelled`` instead (``cancel_entries`` does
    that itself; this catches a cancel written another way)."""
    token = uuid.uuid4().hex
    due = notifications.filter(status=SendStatus.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    claim = {
        "status": SendStatus.SENDING,
        "claim": token,
        "attempts": F("attempts") + 1,
        "updated_at": now,
    }
    rows = statements.update_returning(due, claim, "entry__user")
    if rows is None:
        if not due.update(**claim):
            return []
        rows = notifications.filter(claim=token, status=SendStatus.SENDING).select_related(
            "entry__user"
        )
    rows = sorted(rows, key=lambda row: row.pk)
    cancelled = [row.pk for row in rows if row.entry.status == EntryStatus.CANCELLED]
    if cancelled:
        Notification.objects.filter(pk__in=cancelled).update(
            status=SendStatus.CANCELLED, error=services.CANCELLED_NOTE, updated_at=now
        )
    return [row for row in rows if row.entry.status != EntryStatus.CANCELLED]


def deliver(notifications, events):
    """Send every due row of ``notifications`` (a queryset), record the results as the
    channels report them, and fall through to next channels; returns how many were sent.

    ``events`` maps event ids to events with their catalog loaded. Queries per call do not
    grow with the number of rows. Events whose last sends these were are completed.
    """
    sent = 0
    for _round in range(len(registry.enabled_names()) + 1):
        claimed = claim_for_sending(notifications, timezone.now())
        if not claimed:
            break
        for row in claimed:
            row.event = events[row.event_id]
            _share_catalog(row.entry, row.event)
        fallbacks = []
        for channel, rows in _by_channel(claimed).items():
            sent += _send_and_record(channel, rows, fallbacks)
        if not fallbacks:
            break
        # Next round: the rows just queued (and anything else due for those subscribers).
        notifications = Notification.objects.filter(
            event_id__in={row.event_id for row in fallbacks},
            subscriber_key__in={row.subscriber_key for row in fallbacks},
        )
    finish_events(list(events))
    return sent


def _share_catalog(entry, event):
    """Give the entry the event's product/variant, so links cost no queries."""
    entry._product_cache = event.product
    if entry.variant_key and entry.variant_key == event.variant_key:
        entry._variant_cache = event.variant


def _by_channel(rows):
    grouped = {}
    for row in rows:
        grouped.setdefault(row.channel, []).append(row)
    return grouped


def _send_and_record(channel_name, rows, fallbacks):
    """Send rows of one channel, recording each report of the channel as it comes (one or
    two statements each); the lease of rows not yet reported is renewed on long sends."""
    waiting = {row.pk: row for row in rows}
    renewed = time.monotonic()
    sent = 0
    for results in _send(channel_name, rows):
        reported = [waiting.pop(pk) for pk in list(results) if pk in waiting]
        sent += _record(reported, results, fallbacks)
        if waiting and time.monotonic() - renewed > app_settings.STUCK_AFTER.total_seconds() / 3:
            Notification.objects.filter(pk__in=list(waiting), status=SendStatus.SENDING).update(
                updated_at=timezone.now()
            )
            renewed = time.monotonic()
    if waiting:
        sent += _record(list(waiting.values()), {}, fallbacks)
    return sent


def _send(channel_name, rows):
    """Yield ``{notification id: Result}`` for rows of one channel, as the channel reports."""
    try:
        channel = registry.get_channel(channel_name)
        contacts = app_settings.imported("CONTACT_RESOLVER")(
            [row.entry for row in rows], channel_name
        )
    except Exception as exc:
        logger.exception("Channel %r cannot send", channel_name)
        result = Result(Result.TRANSIENT, error=f"{exc.__class__.__name__}: {exc}")
        yield {row.pk: result for row in rows}
        return
    unsendable, outgoing = {}, []
    for row in rows:
        contact = contacts.get(row.entry_id)
        if row.event.product is None:
            unsendable[row.pk] = Result(Result.PERMANENT, error="The product no longer exists.")
        elif contact:
            outgoing.append(Outgoing(row.pk, row.entry, row.event, contact))
        else:
            unsendable[row.pk] = Result(Result.NO_CONTACT, error=f"No {channel_name} contact.")
    if unsendable:
        yield unsendable
    if outgoing:
        with links.fixed_configuration():
            yield from channel.send_stream(outgoing)


def _record(rows, results, fallbacks):
    """Write these rows' results back and queue their next channels (appended to
    ``fallbacks``) in one transaction; how many were sent."""
    if not rows:
        return 0
    now = timezone.now()
    policy = get_policy()
    sent, queued = 0, []
    for row in rows:
        result = results.get(row.pk) or Result(
            Result.TRANSIENT, error="The channel gave no result."
        )
        row.updated_at = now
        row.error = result.error
        row.note = result.note
        row.next_attempt_at = None
        if result.outcome == Result.SENT:
            row.status, row.sent_at, row.provider_message_id = (
                SendStatus.SENT,
                now,
                result.provider_message_id,
            )
            sent += 1
            continue
        retry_at = policy.retry_at(row, now) if result.outcome == Result.TRANSIENT else None
        if retry_at is not None:
            row.status = SendStatus.QUEUED
            row.next_attempt_at = retry_at
            continue
        if result.outcome == Result.TRANSIENT:
            row.error = f"Gave up after {row.attempts} attempts: {result.error}"
        row.status = (
            SendStatus.SKIPPED if result.outcome == Result.NO_CONTACT else SendStatus.FAILED
        )
        fallback = _next_channel(row, now, policy)
        if fallback is not None:
            queued.append(fallback)
    if queued:
        with transaction.atomic():
            _save_results(rows, now)
            Notification.objects.bulk_create(queued, ignore_conflicts=True)
    else:
        _save_results(rows, now)
    fallbacks += queued
    return sent


def _save_results(rows, now):
    """Sent rows in one ``UPDATE ... FROM (VALUES ...)`` per :data:`CLAIM_PAGE` (their
    message ids differ); the rest (and sent rows with a delivery note) by ``bulk_update``."""
    sent = [row for row in rows if row.status == SendStatus.SENT and not row.note]
    for start in range(0, len(sent), CLAIM_PAGE):
        _update_sent(sent[start : start + CLAIM_PAGE], now)
    others = [row for row in rows if row.status != SendStatus.SENT or row.note]
    if others:
        Notification.objects.bulk_update(others, RESULT_FIELDS)


def _update_sent(rows, now):
    """``status = 'sent'`` and each row's message id, in one statement: the ids and message
    ids as two arrays on PostgreSQL (two parameters, not two per row), a ``VALUES`` list
    elsewhere (SQLite 3.33+ names its columns ``column1``, ``column2``, as PostgreSQL does)."""
    meta, quote = Notification._meta, connection.ops.quote_name
    table = quote(meta.db_table)

    def column(name):
        return quote(meta.get_field(name).column)

    pk = f"{table}.{column('id')}"
    ids, message_ids = [row.pk for row in rows], [row.provider_message_id for row in rows]
    if connection.vendor == "postgresql":
        pairs = "unnest(%s::bigint[], %s::text[]) AS v (column1, column2)"
        values = [ids, message_ids]
    else:
        pairs = f"(VALUES {', '.join(['(%s, %s)'] * len(rows))}) AS v"
        values = [value for row in rows for value in (row.pk, row.provider_message_id)]
    among, id_params = statements.among(meta.pk, ids, connection)
    sql = (
        f"UPDATE {table} SET {column('status')} = %s, {column('sent_at')} = %s, "
        f"{column('updated_at')} = %s, {column('error')} = '', "
        f"{column('next_attempt_at')} = NULL, {column('provider_message_id')} = v.column2 "
        # The id list lets the primary key drive the join, not a scan of the table.
        f"FROM {pairs} WHERE {pk} {among} AND {pk} = v.column1"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [SendStatus.SENT.value, at, at, *values, *id_params])


def _next_channel(row, now, policy):
    """A ``queued`` row for the channel the policy tries after this one, if any."""
    channel = policy.next_channel(row.entry, row.channel)
    if channel is None:
        return None
    due = policy.quiet_until(row.entry, registry.get_channel(channel), now)
    return _row(row.entry, row.event, row.wave, channel, now, due=due)


def fail_after_sending(notifications, errors):
    """A provider reported, after taking them, that sent ``notifications`` never arrived
    (e.g. a delivery report): mark them failed (``errors`` by id) and queue each waiter's
    next channel, as a send that fails for good does."""
    now, policy = timezone.now(), get_policy()
    with transaction.atomic():
        rows = list(notifications.select_for_update(of=("self",)).select_related("entry", "event"))
        fallbacks = []
        for row in rows:
            row.status, row.error, row.updated_at = SendStatus.FAILED, errors[row.pk], now
            fallback = _next_channel(row, now, policy)
            if fallback is not None:
                fallbacks.append(fallback)
        Notification.objects.bulk_update(rows, ["status", "error", "updated_at"])
        if not fallbacks:
            return
        Notification.objects.bulk_create(fallbacks, ignore_conflicts=True)
        queued = Notification.objects.filter(
            status=SendStatus.QUEUED,
            event__in={row.event_id for row in fallbacks},
            subscriber_key__in={row.subscriber_key for row in fallbacks},
        )
        enqueue_on_commit("send_notifications", list(queued.values_list("pk", flat=True)))


# Recovery from the database ---------------------------------------------------------------


def run_due_waves():
    """Periodic: start waves whose time has come, resume stalled ones, restart lost events,
    and complete events whose sends have all ended. How many waves and events it started."""
    now = timezone.now()
    due = RestockEvent.objects.filter(
        status__in=(EventStatus.WAITING_NEXT_WAVE, EventStatus.DISPATCHING),
        next_wave_at__lte=now,
    ).values_list("pk", flat=True)
    lost = RestockEvent.objects.filter(
        status=EventStatus.PENDING, created_at__lt=now - app_settings.STUCK_AFTER
    ).values_list("pk", flat=True)
    due, lost = list(due), list(lost)  # read first: a task may run (and close) meanwhile
    for event_id in due:
        enqueue("run_wave", event_id)
    for event_id in lost:
        enqueue("dispatch_restock", event_id)
    finish_events(
        list(RestockEvent.objects.filter(status=EventStatus.SENDING).values_list("pk", flat=True))
    )
    return len(due) + len(lost)


def requeue_notifications():
    """Periodic: find the work the broker lost, from the rows, and enqueue it again.

    ``sending`` rows whose lease (``STUCK_AFTER``) ran out go back to ``queued`` (their
    worker died mid-send: the provider may have taken the last ones, see
    ``docs/dispatch.rst``); then every ``queued`` row that is due (a retry, the end of quiet
    hours) or has waited ``STUCK_AFTER`` (its task was lost) is enqueued by id. Returns
    the tasks enqueued.
    """
    now = timezone.now()
    cutoff = now - app_settings.STUCK_AFTER
    Notification.objects.filter(status=SendStatus.SENDING, updated_at__lt=cutoff).update(
        status=SendStatus.QUEUED,
        claim="",
        next_attempt_at=now,
        updated_at=now,
        error=REQUEUED,
    )
    due = (
        Notification.objects.filter(status=SendStatus.QUEUED)
        .filter(
            Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, updated_at__lt=cutoff)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunk_size, last, batches = app_settings.CHUNK_SIZE, 0, 0
    while True:
        ids = list(due.filter(pk__gt=last)[:chunk_size])
        if not ids:
            return batches
        enqueue("send_notifications", ids)
        last = ids[-1]
        batches += 1


def reconcile_stock():
    """Periodic: record restocks of items with waiters whose stock came back without a signal
    (``QuerySet.update()``, imports). Returns the events recorded.

    One stock query per waited-for item with no open or recent restock.
    """
    adapter = get_adapter()
    recent = timezone.now() - app_settings.RESTOCK_COOLDOWN
    items = (
        StockWaitlist.objects.waiting()
        .order_by()
        .values_list("product_key", "variant_key")
        .distinct()
    )
    recorded = []
    for product_key, variant_key in items.iterator():
        busy = RestockEvent.objects.filter(product_key=product_key, variant_key=variant_key).filter(
            Q(status__in=OPEN_EVENT_STATUSES) | Q(created_at__gte=recent)
        )
        if busy.exists():
            continue
        quantity = adapter.available_quantity(product_key, variant_key)
        if quantity > 0:
            recorded.append(
                services.record_restock(
                    product_key,
                    variant_key or None,
                    quantity,
                    source=RestockEvent.Source.RECONCILED,
                )
            )
    return recorded


# Quiet hours ------------------------------------------------------------------------------


def quiet_until(entry, channel_name, now):
    """When quiet hours end for this waiter on this channel, as the policy decides."""
    return get_policy().quiet_until(entry, registry.get_channel(channel_name), now)
