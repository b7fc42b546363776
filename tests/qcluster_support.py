"""Helpers for runs with real clusters: the qcluster and crash tests."""

import os
import time

from restock_waitlist.channels.locmem import LocmemChannel
from restock_waitlist.models import StockWaitlist


class LabelledChannel(LocmemChannel):
    """A locmem channel whose message ids say which cluster process sent them."""

    def post(self, payload):
        super().post(payload)
        return f"{os.environ.get('RW_QCLUSTER_LABEL', 'main')}:{os.getpid()}"


class SlowLoggedChannel(LabelledChannel):
    """A labelled channel that takes ``RW_QCLUSTER_SEND_DELAY`` seconds a message and
    appends each message it accepted (its notification id, one a line) to the file
    ``RW_QCLUSTER_SEND_LOG``: what a provider saw, which outlives a killed worker."""

    def post(self, payload):
        time.sleep(float(os.environ.get("RW_QCLUSTER_SEND_DELAY", "0")))
        message_id = super().post(payload)
        with open(os.environ["RW_QCLUSTER_SEND_LOG"], "a") as log:
            log.write(f"{payload.notification_id}\n")
        return message_id


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
