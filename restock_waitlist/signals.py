"""Public signals. Each is sent after the transaction that caused it commits."""

from django.dispatch import Signal

#: A product or variant came back in stock and has waiters.
#: Sent with ``sender=RestockEvent`` and ``event`` (the saved :class:`RestockEvent`).
restock_detected = Signal()

#: A shopper joined a waitlist (a new entry, not a repeat join).
#: Sent with ``sender=StockWaitlist`` and ``entry``.
waitlist_joined = Signal()

#: A shopper, a merchant or an unsubscribe link cancelled an entry.
#: Sent with ``sender=StockWaitlist`` and ``entry``.
waitlist_left = Signal()
