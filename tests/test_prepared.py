"""Prepared queries: compiled once per connection and key, run with new values, their rows
converted as the ORM converts them."""

import uuid

import pytest
from django.db import connections

from restock_waitlist.models import RestockEvent, StockWaitlist
from restock_waitlist.prepared import CACHE_ATTR, Bind, field_at_path, prepared
from restock_waitlist.statements import insert_if_exists
from tests import factories
from tests.testshop.models import StockLevel, Variant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_prepared_queries():
    connections["default"].__dict__.pop(CACHE_ATTR, None)
    yield
    connections["default"].__dict__.pop(CACHE_ATTR, None)


def stock_of_product():
    """Stock rows of a product (through their variant), with their variant's key."""
    lookup = "variant__product"
    product = Bind("product", field_at_path(StockLevel, lookup))
    return StockLevel.objects.filter(**{lookup: product}).values_list("variant", "quantity")


def test_runs_with_new_values_and_converts_rows_as_the_orm_does(django_assert_num_queries):
    first, second = factories.VariantFactory(), factories.VariantFactory()
    factories.StockLevelFactory(variant=first, quantity=3)
    factories.StockLevelFactory(variant=second, quantity=5)
    with django_assert_num_queries(1):
        rows = prepared("stock", stock_of_product).rows(product=first.product_id)
    assert rows == [(first.pk, 3)]
    assert isinstance(rows[0][0], uuid.UUID)  # on SQLite too, which stores it as text
    rows = prepared("stock", stock_of_product).rows(product=second.product_id)
    assert rows == list(
        StockLevel.objects.filter(variant=second).values_list("variant", "quantity")
    )


def test_compiles_once_per_connection_and_key():
    builds = []

    def build():
        builds.append(1)
        return stock_of_product()

    query = prepared("stock", build)
    assert prepared("stock", build) is query
    assert prepared("other", build) is not query
    assert len(builds) == 2
    assert query.sql.count("%s") == 1 and "Bind" not in query.sql


def test_instances_are_the_models_rows(variant, django_assert_num_queries):
    other = factories.VariantFactory()
    entries = {}
    for each in (variant, other):
        entries[each.pk] = factories.EntryFactory(variant=each, channels=["email"])

    def build():
        key = Bind("variant_key", StockWaitlist._meta.get_field("variant_key"))
        return StockWaitlist.objects.filter(variant_key=key)

    for each in (variant, other):
        with django_assert_num_queries(1):
            (found,) = prepared("entries", build).instances(variant_key=str(each.pk))
        expected = StockWaitlist.objects.get(pk=entries[each.pk].pk)
        for field in StockWaitlist._meta.concrete_fields:
            assert getattr(found, field.attname) == getattr(expected, field.attname)
        assert not found._state.adding and found._state.db == "default"
    assert prepared("entries", build).instances(variant_key="none") == []


def test_field_at_path_is_the_compared_field():
    assert (
        field_at_path(StockLevel, "variant__product")
        is Variant._meta.get_field("product").target_field
    )
    assert field_at_path(StockLevel, "quantity") is StockLevel._meta.get_field("quantity")


@pytest.mark.parametrize("for_variant", [True, False], ids=["variant", "product-wide"])
def test_anyone_waiting_sql_is_the_restocks_queue(variant, for_variant):
    product_key, variant_key = str(variant.product_id), str(variant.pk) if for_variant else ""
    other = factories.VariantFactory(product=variant.product)
    factories.EntryFactory(variant=other)  # another variant's queue: not served
    factories.EntryFactory(variant=variant, status=StockWaitlist.Status.CANCELLED)

    def inserted():
        event = RestockEvent(
            product_key=product_key, variant_key=variant_key, quantity=1, source="stock_save"
        )
        waiting = StockWaitlist.objects.anyone_waiting_sql(product_key, variant_key)
        return insert_if_exists(event, waiting)

    assert inserted() is False
    factories.EntryFactory(variant=other, variant_key="")  # "any variant" is served
    assert inserted() is True
    assert RestockEvent.objects.count() == 1
