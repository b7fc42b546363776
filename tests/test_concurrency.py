"""Real concurrent transactions on PostgreSQL: a double submit still leaves one row."""

import threading

import pytest
from django.db import connection

from restock_waitlist import services
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def join_at_once(count, join):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(join())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results


@pytest.mark.parametrize("variant_given", [True, False], ids=["variant", "any-variant"])
def test_concurrent_joins_leave_one_row(variant_given):
    user = factories.UserFactory()
    variant = factories.StockLevelFactory(quantity=0).variant
    results = join_at_once(
        4,
        lambda: services.join_waitlist(
            variant.product, variant if variant_given else None, user=user
        ),
    )
    assert StockWaitlist.objects.count() == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({entry.pk for entry, _ in results}) == 1


def test_concurrent_guest_joins_leave_one_row():
    variant = factories.StockLevelFactory(quantity=0).variant
    join_at_once(
        3,
        lambda: services.join_waitlist(
            variant.product, variant, email="kim@example.com", consent=True
        ),
    )
    assert StockWaitlist.objects.count() == 1


def test_join_racing_an_uncommitted_join_returns_the_winner():
    """B's pre-check cannot see A's uncommitted row; B's insert waits on the unique index,
    fails when A commits, and B answers with A's entry."""
    from django.db import transaction

    user = factories.UserFactory()
    variant = factories.StockLevelFactory(quantity=0).variant
    a_inserted, a_may_commit = threading.Event(), threading.Event()
    outcome = {}

    def a():
        try:
            with transaction.atomic():
                outcome["a"] = services.join_waitlist(variant.product, variant, user=user)
                a_inserted.set()
                a_may_commit.wait(timeout=10)
        finally:
            connection.close()

    def b():
        try:
            a_inserted.wait(timeout=10)
            outcome["b"] = services.join_waitlist(variant.product, variant, user=user)
        finally:
            connection.close()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    a_inserted.wait(timeout=10)
    threads[1].join(timeout=1)  # B is now blocked on A's row in the unique index
    assert threads[1].is_alive()
    a_may_commit.set()
    for thread in threads:
        thread.join(timeout=10)
    (entry_a, created_a), (entry_b, created_b) = outcome["a"], outcome["b"]
    assert (created_a, created_b) == (True, False)
    assert entry_a.pk == entry_b.pk
    assert StockWaitlist.objects.count() == 1
