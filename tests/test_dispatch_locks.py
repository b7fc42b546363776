"""A waiter's row held by another transaction (a merchant saving it in the admin) while a
wave claims: the claim waits a moment, then leaves the wave to the next pass. The waiter
is never passed over, and the restock is not completed before they are notified."""

from datetime import timedelta

import psycopg
import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from restock_waitlist import dispatch
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories
from tests.testshop.models import StockLevel

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def hold_row(entry):
    """Another connection locks the entry's row (``SELECT ... FOR UPDATE``) and keeps it."""
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        password=settings["PASSWORD"] or None,
    )
    table = StockWaitlist._meta.db_table
    other.execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR UPDATE', [entry.pk])
    return other


@pytest.mark.parametrize("held", [0, 2])  # the head of the line, or further back
def test_a_locked_waiter_is_waited_for_never_skipped(variant, monkeypatch, held):
    monkeypatch.setattr(dispatch, "LOCK_WAIT_MS", 200)
    entries = [factories.EntryFactory(variant=variant) for _ in range(4)]
    StockLevel.objects.filter(variant=variant).update(quantity=2)  # a wave of 6: everyone
    event = factories.RestockEventFactory(variant=variant, quantity=2)
    other = hold_row(entries[held])
    try:
        dispatch.dispatch_event(event.pk)
        event.refresh_from_db()
        assert event.status == RestockEvent.Status.DISPATCHING  # not completed
        assert "waits for a waiter" in event.detail
        assert not Notification.objects.exists()  # the page waited, then rolled back whole
        assert dispatch.run_due_waves() == 0  # retried shortly, not at once
    finally:
        other.rollback()  # the merchant's save ends
        other.close()
    RestockEvent.objects.filter(pk=event.pk).update(
        next_wave_at=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch.run_due_waves() == 1
    event.refresh_from_db()
    assert (event.status, event.waves_sent) == (RestockEvent.Status.COMPLETED, 1)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.user.email for e in entries)
    assert not StockWaitlist.objects.filter(status="waiting").exists()
