"""Helpers for runs with real clusters: the qcluster tests and ``benchmarks/dispatch.py``."""

import os

from restock_waitlist.channels.locmem import LocmemChannel
from restock_waitlist.models import StockWaitlist


class LabelledChannel(LocmemChannel):
    """A locmem channel whose message ids say which cluster process sent them."""

    def post(self, payload):
        super().post(payload)
        return f"{os.environ.get('RW_QCLUSTER_LABEL', 'main')}:{os.getpid()}"


def seed_guests(variant, count, batch_size=10_000):
    """``count`` guests waiting for ``variant`` (email channel), inserted in bulk batches."""
    for start in range(0, count, batch_size):
        StockWaitlist.objects.bulk_create(
            StockWaitlist(
                product_key=str(variant.product_id),
                variant_key=str(variant.pk),
                email=f"waiter{n}@example.com",
                subscriber_key=f"email:waiter{n}@example.com",
                channels=["email"],
                status=StockWaitlist.Status.WAITING,
                locale="en",
            )
            for n in range(start, min(start + batch_size, count))
        )
