"""Public signals. Each is sent after the transaction that caused it commits."""

from functools import partial

from django.db import transaction
from django.dispatch import Signal

#: A product or variant came back in stock and has waiters.
#: Sent with ``sender=RestockEvent`` and ``event`` (the saved :class:`RestockEvent`).
restock_detected = Signal()

#: A wave of a restock was handed to the workers (its waiters claimed, their sends enqueued).
#: Sent with ``sender=RestockEvent``, ``event`` (as it stands after the wave: waiting for a
#: next wave, or completed) and ``wave`` (the :class:`RestockWave`).
restock_wave_sent = Signal()

#: A restock event stopped sending for good: it sold out, reached everyone waiting, or was
#: skipped. Sent with ``sender=RestockEvent`` and ``event`` (its ``status`` and ``detail``
#: say which).
restock_ended = Signal()

#: A shopper joined a waitlist (a new entry, not a repeat join).
#: Sent with ``sender=StockWaitlist`` and ``entry``.
waitlist_joined = Signal()

#: A shopper, a merchant or an unsubscribe link cancelled an entry.
#: Sent with ``sender=StockWaitlist`` and ``entry``.
waitlist_left = Signal()


def send_on_commit(signal, **kwargs):
    """Send ``signal`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(signal.send, **kwargs))
