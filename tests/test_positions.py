"""The place in line a shopper is shown is the order dispatch serves them in.

One definition of the order (tier, then join time, then id; variant and product-wide
waiters in one queue; each subscriber once) serves positions, dispatch, the API and the
CSV. The property test checks it against the real engine: successive one-unit restocks,
through django-q2 in sync mode, notify the waiters in exactly the order of their places.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restock_waitlist import services
from restock_waitlist.models import Notification, QueueTally, RestockEvent, StockWaitlist
from restock_waitlist.policies import DefaultPolicy
from tests import factories
from tests.testshop.models import StockLevel

pytestmark = pytest.mark.django_db

Status = StockWaitlist.Status
START = timezone.now() - timedelta(days=1)


class OnePerUnitPolicy(DefaultPolicy):
    """A wave notifies exactly as many waiters as units came back."""

    def wave_size(self, event, available, wave):
        return available


@pytest.fixture
def one_per_unit(settings):
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "POLICY": "tests.test_positions.OnePerUnitPolicy",
        "RESTOCK_COOLDOWN": timedelta(0),
        "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.locmem.LocmemChannel"}},
    }


def join(user, variant, *, any_variant=False, minute=0, tier=0):
    return factories.EntryFactory(
        user=user,
        variant=variant,
        variant_key="" if any_variant else str(variant.pk),
        created_at=START + timedelta(minutes=minute),
        tier=tier,
    )


def served_order(variant, restocks, capture):
    """Subscribers notified by ``restocks`` successive one-unit restocks of ``variant``."""
    stock = StockLevel.objects.get(variant=variant)
    order = []
    for _ in range(restocks):
        seen = RestockEvent.objects.count()
        with capture(execute=True):
            stock.quantity = 1
            stock.save()
        new = RestockEvent.objects.order_by("pk")[seen:]  # none once nobody waits
        sent = Notification.objects.filter(event__in=new, status=Notification.Status.SENT)
        order += sent.values_list("subscriber_key", flat=True)
        stock.quantity = 0
        stock.save()
    return order


def shown_positions(entries):
    """``{subscriber: position}`` from both ways positions are read; they must agree."""
    annotated = {
        e.pk: e.position
        for e in StockWaitlist.objects.with_positions().filter(pk__in=[e.pk for e in entries])
    }
    shown = {}
    for entry in entries:
        entry.refresh_from_db()
        with CaptureQueriesContext(connection) as queries:
            position = services.waitlist_position(entry)
        assert annotated[entry.pk] == position
        if position is not None:
            # PostgreSQL sums the queue tallies; other databases count the entries.
            tallied = any(QueueTally._meta.db_table in q["sql"] for q in queries)
            assert tallied == (connection.vendor == "postgresql")
        if position is not None:
            shown.setdefault(entry.subscriber_key, set()).add(position)
    return shown


def test_the_issue_example(variant, one_per_unit, django_capture_on_commit_callbacks):
    """ann (any), bob, cat (VIP), dan (VIP, any), eve, fay (any), gus: bob, eve and gus were
    shown #2, #3 and #4 but served 4th, 5th and 7th."""
    people = {}
    for minute, (name, any_variant, tier) in enumerate(
        [
            ("ann", True, 0),
            ("bob", False, 0),
            ("cat", False, 1),
            ("dan", True, 1),
            ("eve", False, 0),
            ("fay", True, 0),
            ("gus", False, 0),
        ]
    ):
        user = factories.UserFactory(username=name)
        people[name] = join(user, variant, any_variant=any_variant, minute=minute, tier=tier)
    positions = {name: services.waitlist_position(entry) for name, entry in people.items()}
    assert positions == {"cat": 1, "dan": 2, "ann": 3, "bob": 4, "eve": 5, "fay": 6, "gus": 7}
    served = served_order(variant, 7, django_capture_on_commit_callbacks)
    assert served == [people[name].subscriber_key for name in sorted(positions, key=positions.get)]


def test_a_subscriber_in_both_queues_is_served_at_their_first_entry(variant):
    ann, bob = factories.UserFactory(username="ann"), factories.UserFactory(username="bob")
    ann_any = join(ann, variant, any_variant=True, minute=0)
    bob_variant = join(bob, variant, minute=1)
    ann_variant = join(ann, variant, minute=2)
    carl = join(factories.UserFactory(username="carl"), variant, minute=3)
    assert services.waitlist_position(ann_any) == 1
    assert services.waitlist_position(ann_variant) == 1  # served through the earlier entry
    assert services.waitlist_position(bob_variant) == 2
    assert services.waitlist_position(carl) == 3  # ann counts once


def test_a_product_wide_entry_stands_where_it_is_nearest_the_front(variant):
    other = factories.StockLevelFactory(variant__product=variant.product, quantity=0).variant
    for minute in range(3):
        join(factories.UserFactory(), variant, minute=minute)
    join(factories.UserFactory(), other, minute=3)
    mine = join(factories.UserFactory(), variant, any_variant=True, minute=4)
    # Three wait ahead for the variant, one for the other: a restock of the other serves
    # this entry second.
    assert services.waitlist_position(mine) == 2


def test_a_product_wide_entry_of_a_subscriber_first_in_line_for_the_variant(variant):
    join(factories.UserFactory(), variant, any_variant=True, minute=0)
    vip = factories.UserFactory()
    join(vip, variant, minute=1, tier=1)
    mine = join(vip, variant, any_variant=True, minute=2)
    assert services.waitlist_position(mine) == 1


def test_a_product_wide_entry_with_no_variant_waiters(variant):
    join(factories.UserFactory(), variant, any_variant=True, minute=0)
    mine = join(factories.UserFactory(), variant, any_variant=True, minute=1)
    assert services.waitlist_position(mine) == 2


@pytest.mark.parametrize("line", [3, 30])
def test_a_place_is_read_in_as_many_queries_however_long_the_line(
    variant, line, django_assert_num_queries
):
    """One query for the subscriber's own entries, one per entry whose place is read (the
    entry itself, and each of the subscriber's variant entries ahead of a product-wide one)."""
    for minute in range(line):
        join(factories.UserFactory(), variant, any_variant=minute % 3 == 0, minute=minute)
    ann = factories.UserFactory()
    mine = join(ann, variant, minute=line)
    with django_assert_num_queries(2):
        assert services.waitlist_position(mine) == line + 1
    product_wide = join(ann, variant, any_variant=True, minute=line + 1)
    with django_assert_num_queries(3):
        assert services.waitlist_position(product_wide) == line + 1


def test_a_pending_entry_is_shown_the_place_it_will_take(variant):
    join(factories.UserFactory(), variant, minute=0)
    guest = factories.EntryFactory(
        user=None,
        email="guest@example.com",
        variant=variant,
        status=Status.PENDING,
        created_at=START + timedelta(minutes=1),
    )
    join(factories.UserFactory(), variant, minute=2)
    assert services.waitlist_position(guest) == 2


joins = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),  # which shopper
        st.booleans(),  # product-wide ("any variant")?
        st.booleans(),  # VIP?
        st.integers(min_value=0, max_value=3),  # minutes after the previous join (0: a tie)
        st.booleans(),  # cancelled afterwards?
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(joins=joins)
def test_positions_shown_are_the_order_restocks_serve(
    joins, variant, one_per_unit, django_capture_on_commit_callbacks
):
    with transaction.atomic():
        users = [factories.UserFactory() for _ in range(6)]
        entries, minute = [], 0
        for shopper, any_variant, vip, gap, cancel in joins:
            minute += gap
            kind = "" if any_variant else str(variant.pk)
            exists = StockWaitlist.objects.filter(
                user=users[shopper], variant_key=kind, status=Status.WAITING
            ).exists()
            if exists:
                continue
            entry = join(users[shopper], variant, any_variant=any_variant, minute=minute)
            entry.tier = int(vip)
            entry.save()
            if cancel:
                services.cancel_entries(
                    StockWaitlist.objects.filter(pk=entry.pk),
                    by=StockWaitlist.CancelledBy.SHOPPER,
                )
            entries.append(entry)
        shown = shown_positions(entries)
        # Each subscriber is shown one place, whichever of their entries they look at.
        assert all(len(places) == 1 for places in shown.values())
        expected = sorted(shown, key=lambda subscriber: min(shown[subscriber]))
        assert sorted(min(p) for p in shown.values()) == list(range(1, len(shown) + 1))
        served = served_order(variant, len(shown) + 1, django_capture_on_commit_callbacks)
        assert served == expected
        transaction.set_rollback(True)
