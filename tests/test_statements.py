"""``insert_if_exists``: the restock event and its waiter check in one statement;
``update_returning``: a send's claim and the rows it claimed in one."""

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from restock_waitlist.statements import insert_if_exists, insert_row, one_of, update_returning
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


def test_insert_row_writes_what_save_would(variant, django_assert_num_queries):
    entry = StockWaitlist(
        product_key=str(variant.product_id),
        variant_key=str(variant.pk),
        email="kim@example.com",
        subscriber_key="email:kim@example.com",
        channels=["email", "sms"],
        consent_at=timezone.now(),
    )
    with django_assert_num_queries(1):
        insert_row(entry, "default")
    stored = StockWaitlist.objects.get(pk=entry.pk)
    for field in StockWaitlist._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(entry, field.attname), field.name
    assert not entry._state.adding and entry._state.db == "default"


def test_insert_row_leaves_an_auto_key_to_the_orm(variant):
    event = new_event(variant)
    insert_row(event, "default")
    assert RestockEvent.objects.get(pk=event.pk).quantity == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL returns joined rows")
def test_update_returning_loads_the_updated_rows_and_their_foreign_keys(
    variant, django_assert_num_queries
):
    event = factories.RestockEventFactory(variant=variant)
    member = factories.EntryFactory(variant=variant, channels=["email", "sms"])
    guest = factories.EntryFactory(variant=variant, user=None, email="guest@example.com")
    untouched = factories.EntryFactory(variant=variant)
    for entry in (member, guest, untouched):
        factories.NotificationFactory(event=event, entry=entry, status="queued", attempts=1)
    claimed = Notification.objects.exclude(entry=untouched)
    with django_assert_num_queries(1):
        rows = update_returning(
            claimed, {"status": "sending", "attempts": F("attempts") + 1}, "entry__user"
        )
        by_entry = {row.entry_id: row for row in rows}
        assert by_entry[member.pk].entry.user.username == member.user.username
        assert by_entry[member.pk].entry.channels == ["email", "sms"]  # JSON decoded
        assert by_entry[guest.pk].entry.user is None
        assert by_entry[guest.pk].entry.created_at == guest.created_at  # an aware datetime
    assert sorted(by_entry) == sorted([member.pk, guest.pk])
    assert {(row.status, row.attempts) for row in rows} == {("sending", 2)}
    assert Notification.objects.get(entry=untouched).status == "queued"
    assert set(
        Notification.objects.filter(status="sending").values_list("attempts", flat=True)
    ) == {2}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL returns joined rows")
@pytest.mark.parametrize("use_tz", [True, False])
def test_update_returning_loads_timestamps_as_the_orm_does(variant, settings, use_tz):
    """psycopg's own ``timestamptz`` loader, with Django's zone set after it: the same
    datetimes, with the same ``tzinfo`` (none without ``USE_TZ``), as the ORM's."""
    settings.USE_TZ = use_tz
    entry = factories.EntryFactory(variant=variant, notified_at=timezone.now())
    factories.NotificationFactory(
        event=factories.RestockEventFactory(variant=variant), entry=entry, status="queued"
    )
    (row,) = update_returning(Notification.objects.all(), {"status": "sending"}, "entry")
    orm = Notification.objects.select_related("entry").get()
    for loaded, expected in (
        (row.created_at, orm.created_at),
        (row.entry.created_at, orm.entry.created_at),
        (row.entry.notified_at, orm.entry.notified_at),
    ):
        assert loaded == expected
        assert loaded.tzinfo is expected.tzinfo is connection.timezone
    assert row.entry.confirmed_at is orm.entry.confirmed_at is None


def test_update_returning_leaves_other_databases_to_two_statements(variant):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL returns joined rows")
    factories.NotificationFactory(
        event=factories.RestockEventFactory(variant=variant),
        entry=factories.EntryFactory(variant=variant),
        status="queued",
    )
    assert update_returning(Notification.objects.all(), {"status": "sending"}, "entry") is None
    assert Notification.objects.get().status == "queued"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL returns rows")
def test_update_returning_without_joins_or_rows(variant, django_assert_num_queries):
    entry = factories.EntryFactory(variant=variant)
    with django_assert_num_queries(0):
        assert update_returning(StockWaitlist.objects.filter(pk__in=[]), {"tier": 1}) == []
    with django_assert_num_queries(1):
        rows = update_returning(StockWaitlist.objects.filter(pk=entry.pk), {"tier": 1})
    assert [(row.pk, row.tier) for row in rows] == [(entry.pk, 1)]


@pytest.mark.parametrize("field", ["pk", "subscriber_key"])
def test_one_of_filters_as_in_does_with_one_parameter_on_postgresql(variant, field):
    entries = factories.EntryFactory.create_batch(4, variant=variant)
    wanted = [getattr(entry, field) for entry in entries[:3]]
    chosen = StockWaitlist.objects.filter(one_of(field, wanted))
    assert set(chosen) == set(StockWaitlist.objects.filter(**{f"{field}__in": wanted}))
    assert len(set(chosen)) == 3
    assert not StockWaitlist.objects.filter(one_of(field, [])).exists()
    sql, params = chosen.query.sql_with_params()
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql and len(params) == 1
    else:
        assert len(params) == 3


def test_one_of_in_an_update(variant):
    entries = factories.EntryFactory.create_batch(3, variant=variant)
    updated = StockWaitlist.objects.filter(one_of("pk", [e.pk for e in entries[:2]])).update(
        tier=F("tier") + 1
    )
    assert updated == 2
    assert sorted(StockWaitlist.objects.values_list("tier", flat=True)) == [0, 1, 1]
