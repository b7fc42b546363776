"""From a restock to sent notifications: waves, chunks, claiming, sending, retries.

Plain functions; the django-q2 tasks in :mod:`restock_waitlist.tasks`, the management
commands and the admin call them. ``docs/dispatch.rst`` tells the whole story. In short:

* :func:`dispatch_event` starts an event's first wave (or skips it, or defers it when the
  stock flapped within ``RESTOCK_COOLDOWN``).
* :func:`run_wave` asks the policy (``POLICY``) how many waiters the wave reaches, walks the queue
  in dispatch order by keyset pages and enqueues one :func:`send_chunk` task per
  ``CHUNK_SIZE`` entry ids, so the work spreads over every worker and memory stays flat.
* :func:`send_chunk` re-reads the stock, claims its entries in bulk (row locks with
  ``SKIP LOCKED`` on PostgreSQL, a conditional ``UPDATE`` elsewhere), writes their
  ``Notification`` rows in the same transaction, then sends them.
* A notification is sent only by the worker whose conditional ``UPDATE`` moved it from
  ``queued`` to ``sending`` with its own claim token, so a task that runs twice, or a
  re-queued one, never sends twice.
"""

import logging
import uuid

from django.db import connection, transaction
from django.db.models import Case, F, Q, Subquery, Value, When
from django.utils import timezone

from restock_waitlist import channels as registry
from restock_waitlist import services, signals
from restock_waitlist.adapters import get_adapter, prefetch_catalog
from restock_waitlist.channels.base import Outgoing, Result
from restock_waitlist.conf import app_settings
from restock_waitlist.jobs import enqueue, enqueue_on_commit
from restock_waitlist.models import Notification, RestockEvent, RestockWave, StockWaitlist
from restock_waitlist.policies import get_policy
from restock_waitlist.querysets import behind, item_filter

logger = logging.getLogger("restock_waitlist.dispatch")

EntryStatus = StockWaitlist.Status
EventStatus = RestockEvent.Status
SendStatus = Notification.Status

#: Events that will still send: a later event for the same item leaves them be or ends them.
OPEN_EVENT_STATUSES = (EventStatus.PENDING, EventStatus.DISPATCHING, EventStatus.WAITING_NEXT_WAVE)

#: Fields a send writes back to rows not sent, in one ``bulk_update`` per channel.
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
    ``dispatching`` past its lease (the worker died while enqueuing chunks) is resumed.
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


def run_wave(event_id):
    """Send the event's next wave: enqueue its chunks, then schedule the wave after it."""
    now = timezone.now()
    taken = _take_wave(event_id, now)
    if taken is None:
        return None
    event, wave, resumed = taken
    available = get_adapter().available_quantity(event.product_key, event.variant_key)
    if available <= 0:
        return _close(event, EventStatus.COMPLETED, f"Sold out before wave {wave}.")
    plan = plan_wave(event, wave, available)
    size = plan.size
    if resumed:
        size -= (
            Notification.objects.filter(event=event, wave=wave)
            .values("subscriber_key")
            .distinct()
            .count()
        )
    if wave == 1 and not resumed:
        # A genuine new restock of the item takes over from older ones still scheduling waves.
        RestockEvent.objects.filter(
            product_key=event.product_key,
            variant_key=event.variant_key,
            status=EventStatus.WAITING_NEXT_WAVE,
        ).exclude(pk=event.pk).update(
            status=EventStatus.COMPLETED,
            next_wave_at=None,
            completed_at=now,
            detail=f"Superseded by restock #{event.pk}.",
        )
    more = _enqueue_chunks(event, wave, size)
    finished = RestockEvent.objects.filter(pk=event.pk, status=EventStatus.DISPATCHING)
    ended = False
    if more:
        finished.update(
            status=EventStatus.WAITING_NEXT_WAVE,
            next_wave_at=timezone.now() + app_settings.WAVE_INTERVAL,
            detail=f"Wave {wave} sent to up to {size}; more are waiting.",
        )
    else:
        ended = finished.update(
            status=EventStatus.COMPLETED,
            next_wave_at=None,
            completed_at=timezone.now(),
            detail=f"Wave {wave} reached everyone waiting.",
        )
    event.refresh_from_db()
    signals.send_on_commit(signals.restock_wave_sent, sender=RestockEvent, event=event, wave=plan)
    if ended:
        signals.send_on_commit(signals.restock_ended, sender=RestockEvent, event=event)
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


def _enqueue_chunks(event, wave, size):
    """Enqueue ``send_chunk`` tasks for the first ``size`` waiters; whether more remain.

    Reads ids a page at a time, so a wave over 100,000 waiters holds one chunk in memory.
    """
    chunk_size = app_settings.CHUNK_SIZE
    queue = StockWaitlist.objects.waiting_for_restock(event.product_key, event.variant_key)
    cursor = None
    while size > 0:
        page = queue if cursor is None else queue.filter(behind(cursor.get))
        rows = list(page.values_list("tier", "created_at", "id")[: min(chunk_size, size)])
        if not rows:
            return False
        enqueue("send_chunk", event.pk, wave, [str(pk) for _tier, _at, pk in rows])
        size -= len(rows)
        cursor = dict(zip(("tier", "created_at", "id"), rows[-1], strict=True))
    rest = queue if cursor is None else queue.filter(behind(cursor.get))
    return rest.exists()


def run_due_waves():
    """Periodic: start waves whose time has come, resume stalled ones, restart lost events."""
    now = timezone.now()
    due = RestockEvent.objects.filter(
        Q(
            status__in=(EventStatus.WAITING_NEXT_WAVE, EventStatus.DISPATCHING),
            next_wave_at__lte=now,
        )
    ).values_list("pk", flat=True)
    lost = RestockEvent.objects.filter(
        status=EventStatus.PENDING, created_at__lt=now - app_settings.STUCK_AFTER
    ).values_list("pk", flat=True)
    started = 0
    for event_id in due.iterator():
        enqueue("run_wave", event_id)
        started += 1
    for event_id in lost.iterator():
        enqueue("dispatch_restock", event_id)
        started += 1
    return started


# Chunks: claim, record, send ------------------------------------------------------------


def send_chunk(event_id, wave, entry_ids):
    """Claim and notify one chunk of a wave; the stock is read again first. Safe to repeat."""
    event = RestockEvent.objects.with_catalog().filter(pk=event_id).first()
    if event is None or event.status == EventStatus.SKIPPED:
        return 0
    if event.product is None:
        # The shop deleted the product mid-wave: nobody is claimed, nothing is sent.
        _close(event, EventStatus.COMPLETED, "The product no longer exists.")
        return 0
    if get_adapter().available_quantity(event.product_key, event.variant_key) <= 0:
        # Sold out: stop here; unclaimed waiters keep their place for the next restock.
        _close(event, EventStatus.COMPLETED, f"Sold out during wave {wave}.")
        return 0
    chunk_subscribers = StockWaitlist.objects.filter(pk__in=entry_ids).values("subscriber_key")
    with transaction.atomic():
        claimed = claim_entries(event, entry_ids, chunk_subscribers)
        create_notifications(event, wave, claimed, prefer=set(map(str, entry_ids)))
    notifications = Notification.objects.filter(
        event=event, subscriber_key__in=Subquery(chunk_subscribers)
    )
    return deliver(notifications, events={event.pk: event})


def claim_entries(event, entry_ids, chunk_subscribers):
    """Mark these waiting entries (and their subscribers' other entries this restock serves)
    notified by ``event``, in bulk; returns the entries claimed, with their users.

    PostgreSQL locks the rows with ``SKIP LOCKED``, so overlapping restocks and concurrent
    workers pass each other by; other databases use a conditional ``UPDATE`` and keep
    only the rows it changed for this event.
    """
    now = timezone.now()
    served = StockWaitlist.objects.filter(item_filter(event.product_key, event.variant_key)).filter(
        Q(pk__in=entry_ids) | Q(subscriber_key__in=Subquery(chunk_subscribers))
    )
    marks = {"status": EntryStatus.NOTIFIED, "notified_at": now, "notified_by": event}
    if connection.features.has_select_for_update_skip_locked:
        entries = list(
            served.filter(status=EntryStatus.WAITING)
            .select_related("user")
            .select_for_update(skip_locked=True, of=("self",))
        )
        StockWaitlist.objects.filter(pk__in=[e.pk for e in entries]).update(**marks)
        return entries
    served.filter(status=EntryStatus.WAITING).update(**marks)
    return list(
        served.filter(
            status=EntryStatus.NOTIFIED, notified_by=event, notified_at=now
        ).select_related("user")
    )


def create_notifications(event, wave, entries, prefer=()):
    """One ``queued`` row per subscriber and channel (``first_success``: the first channel only).

    A subscriber with several claimed entries (a variant and "any variant") is notified
    through one of them, preferably one of ``prefer`` (the chunk's own ids).
    """
    carriers = {}
    for entry in sorted(entries, key=lambda e: (str(e.pk) not in prefer, e.variant_key == "")):
        carriers.setdefault(entry.subscriber_key, entry)
    now = timezone.now()
    policy = get_policy()
    rows = []
    for entry in carriers.values():
        channels = policy.first_channels(entry)
        if not channels:
            rows.append(
                _row(
                    entry,
                    event,
                    wave,
                    (entry.channels or ["email"])[0],
                    now,
                    status=SendStatus.SKIPPED,
                    error="No enabled channel.",
                )
            )
        rows += [_row(entry, event, wave, channel, now, policy) for channel in channels]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)


def _row(entry, event, wave, channel, now, policy=None, status=SendStatus.QUEUED, error=""):
    due = None
    if status == SendStatus.QUEUED:
        due = (policy or get_policy()).quiet_until(entry, registry.get_channel(channel), now)
    return Notification(
        entry=entry,
        event=event,
        subscriber_key=entry.subscriber_key,
        channel=channel,
        wave=wave,
        status=status,
        error=error,
        next_attempt_at=due,
        created_at=now,
        updated_at=now,
    )


def claim_for_sending(notifications, now):
    """Move due ``queued`` rows to ``sending`` with a fresh token; the rows this call owns."""
    token = uuid.uuid4().hex
    claimed = (
        notifications.filter(status=SendStatus.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=SendStatus.SENDING, claim=token, attempts=F("attempts") + 1, updated_at=now)
    )
    if not claimed:
        return []
    return list(
        notifications.filter(claim=token, status=SendStatus.SENDING).select_related("entry__user")
    )


def deliver(notifications, events):
    """Send every due row of ``notifications`` (a queryset), record the results, and fall
    through to next channels; returns how many were sent.

    ``events`` maps event ids to events with their catalog loaded. Queries per call do not
    grow with the number of rows (a few per channel).
    """
    sent = 0
    for _round in range(len(registry.enabled_names()) + 1):
        now = timezone.now()
        claimed = claim_for_sending(notifications, now)
        if not claimed:
            break
        for row in claimed:
            row.event = events[row.event_id]
            _share_catalog(row.entry, row.event)
        fallbacks = []
        for channel, rows in _by_channel(claimed).items():
            results = _send(channel, rows)
            sent += _record(rows, results, fallbacks)
        if not fallbacks:
            break
        Notification.objects.bulk_create(fallbacks, ignore_conflicts=True)
        # Next round: the rows just queued (and anything else due for those subscribers).
        notifications = Notification.objects.filter(
            event_id__in={row.event_id for row in fallbacks},
            subscriber_key__in={row.subscriber_key for row in fallbacks},
        )
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


def _send(channel_name, rows):
    """``{notification id: Result}`` for rows of one channel."""
    try:
        channel = registry.get_channel(channel_name)
        contacts = app_settings.imported("CONTACT_RESOLVER")(
            [row.entry for row in rows], channel_name
        )
    except Exception as exc:
        logger.exception("Channel %r cannot send", channel_name)
        result = Result(Result.TRANSIENT, error=f"{exc.__class__.__name__}: {exc}")
        return {row.pk: result for row in rows}
    results, outgoing = {}, []
    for row in rows:
        contact = contacts.get(row.entry_id)
        if row.event.product is None:
            results[row.pk] = Result(Result.PERMANENT, error="The product no longer exists.")
        elif contact:
            outgoing.append(Outgoing(row.pk, row.entry, row.event, contact))
        else:
            results[row.pk] = Result(Result.NO_CONTACT, error=f"No {channel_name} contact.")
    if outgoing:
        results.update(channel.send_batch(outgoing))
    return results


def _record(rows, results, fallbacks):
    """Write the results back (two queries at most); queue next channels into ``fallbacks``."""
    now = timezone.now()
    policy = get_policy()
    sent = 0
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
            fallbacks.append(fallback)
    _save_results(rows, now)
    return sent


def _save_results(rows, now):
    """Sent rows in one ``UPDATE`` (only their message ids differ); the rest (and sent rows
    with a delivery note) by ``bulk_update``.

    ``bulk_update`` builds a ``CASE`` per field and row, which costs more Python time than
    the send itself on large chunks; sent rows, the common case, need it for one field.
    """
    sent = [row for row in rows if row.status == SendStatus.SENT and not row.note]
    if sent:
        message_ids = Case(
            *[
                When(pk=row.pk, then=Value(row.provider_message_id))
                for row in sent
                if row.provider_message_id
            ],
            default=Value(""),
        )
        Notification.objects.filter(pk__in=[row.pk for row in sent]).update(
            status=SendStatus.SENT,
            sent_at=now,
            updated_at=now,
            error="",
            next_attempt_at=None,
            provider_message_id=message_ids,
        )
    others = [row for row in rows if row.status != SendStatus.SENT or row.note]
    if others:
        Notification.objects.bulk_update(others, RESULT_FIELDS)


def _next_channel(row, now, policy):
    """A ``queued`` row for the channel the policy tries after this one, if any."""
    channel = policy.next_channel(row.entry, row.channel)
    if channel is None:
        return None
    return _row(row.entry, row.event, row.wave, channel, now, policy)


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


# Retries and recovery ---------------------------------------------------------------------


def send_notifications(notification_ids):
    """Send these notifications if they are due and still queued (retries, quiet hours)."""
    notifications = Notification.objects.filter(pk__in=notification_ids)
    event_ids = set(notifications.values_list("event_id", flat=True))
    events = RestockEvent.objects.filter(pk__in=event_ids)
    prefetch_catalog(list(events))
    return deliver(notifications, events={event.pk: event for event in events})


def requeue_notifications():
    """Periodic: put rows stuck in ``sending`` back in line, then enqueue everything due.

    A row stays in ``sending`` only if its worker died mid-send; it is sent again (the
    provider may have taken it just before the crash: at-least-once for that moment).
    """
    now = timezone.now()
    cutoff = now - app_settings.STUCK_AFTER
    Notification.objects.filter(status=SendStatus.SENDING, updated_at__lt=cutoff).update(
        status=SendStatus.QUEUED,
        claim="",
        next_attempt_at=now,
        updated_at=now,
        error="Re-queued: the worker stopped while sending.",
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
