import json

import pytest
from django.core.management import call_command
from django.db import transaction

from restock_waitlist import signals
from restock_waitlist.models import RestockEvent
from tests import factories
from tests.testshop.models import Gadget, GadgetStock, StockLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def detected():
    events = []
    signals.restock_detected.connect(
        lambda **kw: events.append(kw["event"]), weak=False, dispatch_uid="t"
    )
    yield events
    signals.restock_detected.disconnect(dispatch_uid="t")


@pytest.fixture
def sold_out(variant):
    """The variant's one stock row (quantity 0), with someone waiting for the variant."""
    factories.EntryFactory(variant=variant)
    return variant.stock_levels.get()


def test_restock_records_event_and_signals_after_commit(
    sold_out, detected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sold_out.quantity = 5
        sold_out.save()
        assert detected == []
    event = RestockEvent.objects.get()
    assert detected == [event]
    assert (event.quantity, event.previous_quantity) == (5, 0)
    assert (event.product_key, event.variant_key) == (
        str(sold_out.variant.product_id),
        str(sold_out.variant_id),
    )
    assert event.source == RestockEvent.Source.STOCK_SAVE


def test_new_stock_row_counts(sold_out, detected, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        StockLevel.objects.create(variant=sold_out.variant, warehouse="returns", quantity=1)
    assert [e.quantity for e in detected] == [1]


def test_quantity_is_summed_over_warehouses(sold_out, django_capture_on_commit_callbacks):
    other = StockLevel.objects.create(variant=sold_out.variant, warehouse="b", quantity=0)
    other.quantity = 2
    other.save()
    sold_out.quantity = 3
    sold_out.save()  # 2 -> 5: not a restock, stock was already there
    assert list(RestockEvent.objects.values_list("quantity", "previous_quantity")) == [(2, 0)]


def test_negative_available_then_positive(sold_out):
    sold_out.quantity = -2
    sold_out.save()
    sold_out.quantity = 1
    sold_out.save()
    assert list(RestockEvent.objects.values_list("quantity", "previous_quantity")) == [(1, -2)]


def test_product_wide_waiters_count(variant):
    factories.EntryFactory(variant=variant, variant_key="")
    stock = variant.stock_levels.get()
    stock.quantity = 1
    stock.save()
    assert RestockEvent.objects.count() == 1


def test_no_waiters_no_event(variant):
    stock = variant.stock_levels.get()
    stock.quantity = 5
    stock.save()
    assert not RestockEvent.objects.exists()


def test_rollback_sends_nothing(sold_out, detected, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                sold_out.quantity = 5
                sold_out.save()
                raise RuntimeError("payment failed")
        except RuntimeError:
            pass
    assert detected == []
    assert not RestockEvent.objects.exists()


def test_update_fields_without_quantity_skip_the_check(sold_out, django_assert_num_queries):
    sold_out.warehouse = "renamed"
    with django_assert_num_queries(1):
        sold_out.save(update_fields=["warehouse"])


def test_raw_fixture_loads_are_ignored(sold_out, tmp_path):
    fixture = tmp_path / "stock.json"
    row = {
        "model": "testshop.stocklevel",
        "pk": sold_out.pk,
        "fields": {"variant": str(sold_out.variant_id), "warehouse": "x", "quantity": 9},
    }
    fixture.write_text(json.dumps([row]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert StockLevel.objects.get(pk=sold_out.pk).quantity == 9
    assert not RestockEvent.objects.exists()


@pytest.mark.parametrize("waiters", [1, 500])
@pytest.mark.parametrize("variant_loaded", [True, False], ids=["variant loaded", "row alone"])
def test_save_pays_a_constant_number_of_queries(
    variant, waiters, variant_loaded, django_assert_num_queries
):
    factories.EntryFactory.create_batch(waiters, variant=variant)
    stock = variant.stock_levels.get() if variant_loaded else StockLevel.objects.get()
    stock.quantity = 10
    # The UPDATE itself, plus 2: stock before (with the product's key, read through the
    # variant when it is not loaded), and the event inserted if anyone waits.
    with django_assert_num_queries(1 + 2):
        stock.save()
    stock.quantity = 11
    with django_assert_num_queries(1 + 1):
        stock.save()


def test_callable_available_quantity(gadget_settings, user, django_capture_on_commit_callbacks):
    from restock_waitlist import services

    gadget = Gadget.objects.create(name="Lamp")
    stock = GadgetStock.objects.create(gadget=gadget, num_in_stock=4, num_allocated=4)
    services.join_waitlist(gadget, user=user)
    stock.num_allocated = 1
    stock.save()
    event = RestockEvent.objects.get()
    assert (event.product_key, event.variant_key, event.quantity, event.previous_quantity) == (
        str(gadget.pk),
        "",
        3,
        0,
    )


def test_record_restock_command(sold_out, detected, django_capture_on_commit_callbacks):
    StockLevel.objects.filter(pk=sold_out.pk).update(quantity=6)  # bypasses post_save
    assert not RestockEvent.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "restock_waitlist_record_restock",
            str(sold_out.variant.product_id),
            "--variant",
            str(sold_out.variant_id),
            verbosity=0,
        )
    assert [e.quantity for e in detected] == [6]
