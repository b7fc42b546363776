"""``insert_if_exists``: the restock event and its waiter check in one statement."""

import pytest
from django.db import connection

from restock_waitlist.models import RestockEvent, StockWaitlist
from restock_waitlist.statements import insert_if_exists
from tests import factories

pytestmark = pytest.mark.django_db


def new_event(variant):
    return RestockEvent(
        product_key=str(variant.product_id),
        variant_key=str(variant.pk),
        quantity=3,
        source="stock_save",
    )


@pytest.fixture(params=[True, False], ids=["returning", "two statements"])
def returning(request, monkeypatch):
    if not request.param and connection.vendor == "postgresql":
        pytest.skip("Django needs RETURNING on PostgreSQL (psycopg has no lastrowid).")
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", request.param)
    return request.param


def test_inserts_when_the_condition_has_rows(variant, returning, django_assert_num_queries):
    factories.EntryFactory(variant=variant)
    event = new_event(variant)
    with django_assert_num_queries(1 if returning else 2):
        assert insert_if_exists(event, StockWaitlist.objects.waiting()) is True
    stored = RestockEvent.objects.get()
    assert (stored.pk, stored.quantity, stored.status) == (event.pk, 3, "pending")
    assert not event._state.adding


def test_writes_nothing_when_it_has_none(variant, returning):
    factories.EntryFactory(variant=variant, status=StockWaitlist.Status.CANCELLED)
    event = new_event(variant)
    assert insert_if_exists(event, StockWaitlist.objects.waiting()) is False
    assert event.pk is None
    assert not RestockEvent.objects.exists()
