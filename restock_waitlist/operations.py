"""What a merchant asks of dispatch by hand: a wave now, stop a restock, retry failed sends.

The admin calls these, never the engine's internals. Each one changes rows with
conditional updates and hands the work to the engine through its queued tasks
(``run_wave``, ``dispatch_restock``, ``send_notifications``) or through
:func:`services.record_restock`, so :mod:`restock_waitlist.dispatch` stays free to change
how it sends.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from restock_waitlist import channels as registry
from restock_waitlist import services
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings
from restock_waitlist.jobs import enqueue_on_commit
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from restock_waitlist.policies import get_policy

EventStatus = RestockEvent.Status
SendStatus = Notification.Status
#: Restocks that will still send.
OPEN = (EventStatus.PENDING, EventStatus.DISPATCHING, EventStatus.WAITING_NEXT_WAVE)
#: Sends that reached the waiter or still may.
GOING = (SendStatus.QUEUED, SendStatus.SENDING, SendStatus.SENT)
#: Kept on a restock a merchant stopped, and on the sends it held back.
STOPPED = "Stopped by a merchant."


@dataclass(frozen=True)
class Outcome:
    """What became of one item or restock: ``action`` is one of the constants below."""

    product_key: str
    variant_key: str
    action: str
    event: RestockEvent | None = None

    WAVE_QUEUED = "wave_queued"
    RESTOCK_RECORDED = "restock_recorded"
    ALREADY_SENDING = "already_sending"
    SOLD_OUT = "sold_out"
    FINISHED = "finished"


def send_next_wave_now(events):
    """Queue the next wave of each restock now instead of at its scheduled time (a restock
    never started, its task lost, is started); one :class:`Outcome` per restock. A restock
    whose item the shop's stock shows sold out is left as it is."""
    adapter, now = get_adapter(), timezone.now()
    return [
        Outcome(event.product_key, event.variant_key, _next_wave(event, adapter, now), event)
        for event in events
    ]


def _next_wave(event, adapter, now):
    if event.status not in (EventStatus.PENDING, EventStatus.WAITING_NEXT_WAVE):
        return Outcome.ALREADY_SENDING if event.status in OPEN else Outcome.FINISHED
    if _in_stock(adapter, event.product_key, event.variant_key) is False:
        return Outcome.SOLD_OUT
    if event.status == EventStatus.PENDING:
        enqueue_on_commit("dispatch_restock", event.pk)
        return Outcome.WAVE_QUEUED
    brought_forward = RestockEvent.objects.filter(
        pk=event.pk, status=EventStatus.WAITING_NEXT_WAVE
    ).update(next_wave_at=now)
    if not brought_forward:
        return Outcome.ALREADY_SENDING
    enqueue_on_commit("run_wave", event.pk)
    return Outcome.WAVE_QUEUED


def _in_stock(adapter, product_key, variant_key):
    """Whether the shop's stock shows the item available (``None``: no stock model to ask)."""
    if adapter.stock_model is None:
        return None
    return adapter.available_quantity(product_key, variant_key) > 0


def stop_restocks(events):
    """Stop restocks that would still send; returns how many were stopped.

    No further wave or chunk goes out (an open restock is marked skipped, and a skipped
    restock sends nothing), sends still queued (a retry, a quiet-hours hold) are skipped, and
    the waiters they were for, never told, go back in line at the place they joined.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = set(
            events.filter(Q(status__in=OPEN) | Q(notifications__status=SendStatus.QUEUED))
            .order_by()
            .values_list("pk", flat=True)
        )
        RestockEvent.objects.filter(pk__in=ids, status__in=OPEN).update(
            status=EventStatus.SKIPPED, next_wave_at=None, completed_at=now
        )
        RestockEvent.objects.filter(pk__in=ids).update(detail=STOPPED)
        held = Notification.objects.filter(event_id__in=ids, status=SendStatus.QUEUED)
        entry_ids = list(held.values_list("entry_id", flat=True))
        held.update(status=SendStatus.SKIPPED, error=STOPPED, next_attempt_at=None, updated_at=now)
        told = Notification.objects.filter(
            entry=OuterRef("pk"),
            event_id__in=ids,
            status__in=(SendStatus.SENDING, SendStatus.SENT),
        )
        services.reopen_entries(
            StockWaitlist.objects.filter(pk__in=entry_ids, notified_by__in=ids).exclude(
                Exists(told)
            )
        )
    return len(ids)


def retry_failed(notifications):
    """Queue failed sends again; returns how many. Each goes now, or when the waiter's quiet
    hours end on its channel. Skipped: waiters who since cancelled or bought, and those whose
    alert for the same restock got through (or is still going) on another channel."""
    now = timezone.now()
    policy = get_policy()
    elsewhere = Notification.objects.filter(
        event=OuterRef("event"), subscriber_key=OuterRef("subscriber_key"), status__in=GOING
    )
    failed = (
        notifications.filter(status=SendStatus.FAILED, entry__status=StockWaitlist.Status.NOTIFIED)
        .exclude(Exists(elsewhere))
        .select_related("entry")
    )
    due_at = {}
    for row in failed:
        channel = (
            registry.get_channel(row.channel) if row.channel in registry.configured() else None
        )
        due = policy.quiet_until(row.entry, channel, now) if channel else None
        due_at.setdefault(due, []).append(row.pk)
    retried, due_now = 0, []
    for due, ids in due_at.items():
        count = Notification.objects.filter(pk__in=ids, status=SendStatus.FAILED).update(
            status=SendStatus.QUEUED, next_attempt_at=due or now, error="", claim="", updated_at=now
        )
        retried += count
        if due is None and count:
            due_now += ids
    for start in range(0, len(due_now), app_settings.CHUNK_SIZE):
        enqueue_on_commit("send_notifications", due_now[start : start + app_settings.CHUNK_SIZE])
    return retried


def notify_now(entries):
    """Send the next wave of each item these entries wait for, now; one :class:`Outcome` per
    item.

    An item with an open restock gets that restock's next wave; one with none gets a new
    restock recorded (as a merchant's) when the shop's stock has some, which sends its first
    wave. A wave reaches the next waiters in line, whoever was selected.
    """
    adapter = get_adapter()
    items = sorted(
        set(
            entries.filter(status=StockWaitlist.Status.WAITING)
            .order_by()
            .values_list("product_key", "variant_key")
        )
    )
    outcomes = []
    for product_key, variant_key in items:
        serving = Q(product_key=product_key)
        if variant_key:
            serving &= Q(variant_key__in=(variant_key, ""))
        event = (
            RestockEvent.objects.filter(serving, status__in=OPEN).order_by("-created_at").first()
        )
        if event is not None:
            action = _next_wave(event, adapter, timezone.now())
        elif _in_stock(adapter, product_key, variant_key):
            event = services.record_restock(
                product_key, variant_key or None, source=RestockEvent.Source.MERCHANT
            )
            action = Outcome.RESTOCK_RECORDED
        else:
            action = Outcome.SOLD_OUT
        outcomes.append(Outcome(product_key, variant_key, action, event))
    return outcomes
