"""Queue tallies (PostgreSQL): after every way an entry is written, from the services, the
ORM or raw SQL, the tallies the triggers keep equal a recount of the entries."""

import threading
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection, transaction

from restock_waitlist import querysets, services
from restock_waitlist.models import QueueTally, StockWaitlist
from tests import factories

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]

Status = StockWaitlist.Status
EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
# An hour's last second, so the line spans two hours and several entries share a second.
START = datetime(2026, 11, 29, 9, 59, 59, 400_000, tzinfo=dt_timezone.utc)


def recount():
    """The tallies the entries call for, counted here in Python: ``{key: (waiting, paired)}``."""
    tallies = Counter()

    def add(entry, variant_key, column):
        for span in (QueueTally.HOUR, QueueTally.SECOND):
            block = (entry.created_at - EPOCH) // timedelta(seconds=span)
            tallies[(entry.product_key, span, entry.tier, block, variant_key, column)] += 1

    waiting = list(StockWaitlist.objects.filter(status=Status.WAITING))
    product_wide = {(e.subscriber_key, e.product_key): e for e in waiting if not e.variant_key}
    for entry in waiting:
        add(entry, entry.variant_key, "waiting")
        other = product_wide.get((entry.subscriber_key, entry.product_key))
        if entry.variant_key and other is not None:
            later = max(entry, other, key=querysets.dispatch_key)
            add(later, entry.variant_key, "paired")
    keys = {key[:-1] for key in tallies}
    return {key: (tallies[(*key, "waiting")], tallies[(*key, "paired")]) for key in keys}


def stored():
    return {
        (t.product_key, t.span, t.tier, t.block, t.variant_key): (t.waiting, t.paired)
        for t in QueueTally.objects.all()
    }


def assert_tallied():
    assert stored() == recount()


def join(user, variant, *, any_variant=False, seconds=0.0, **fields):
    return factories.EntryFactory(
        user=user,
        variant=variant,
        variant_key="" if any_variant else str(variant.pk),
        created_at=START + timedelta(seconds=seconds),
        **fields,
    )


@pytest.fixture
def line(variant):
    """Two variants of one product; ann and cat wait for a variant and for any."""
    other = factories.StockLevelFactory(variant__product=variant.product, quantity=0).variant
    ann, bob, cat, dan = (
        factories.UserFactory(username=name) for name in ["ann", "bob", "cat", "dan"]
    )
    entries = {
        "ann_any": join(ann, variant, any_variant=True, seconds=0),
        "bob": join(bob, variant, seconds=0.3),
        "ann": join(ann, variant, seconds=0.5),  # the same second as ann's "any"
        "cat": join(cat, other, seconds=1, tier=1),  # the next hour
        "cat_any": join(cat, variant, any_variant=True, seconds=3600),
        "dan": join(dan, other, seconds=7200),
        "guest": factories.EntryFactory(
            user=None,
            email="guest@example.com",
            variant=variant,
            status=Status.PENDING,
            created_at=START + timedelta(seconds=2),
        ),
    }
    assert_tallied()
    assert {key[-1] for key, (_, paired) in stored().items() if paired} == {
        str(variant.pk),
        str(other.pk),
    }
    return {"variant": variant, "other": other, **entries}


def test_what_the_tallies_sum_is_what_counting_finds(line):
    """Across an hour's end and within one second, with subscribers waiting twice, for every
    entry as the pivot: each queue's entries and pairs ahead, per variant."""
    waiting = StockWaitlist.objects.filter(
        status=Status.WAITING, product_key=line["ann"].product_key
    )
    for pivot in StockWaitlist.objects.all():
        for variant_keys in ([str(line["variant"].pk), ""], [str(line["other"].pk), ""], None):
            tallied = querysets._tallied_ahead(waiting, pivot, variant_keys)
            assert tallied == querysets._counted_ahead(waiting, pivot, variant_keys)


def test_a_join(line):
    services.join_waitlist(line["variant"].product, line["other"], user=line["ann"].user)
    services.join_waitlist(line["variant"].product, line["variant"], user=line["dan"].user)
    assert_tallied()


def test_a_confirmation(line):
    services.confirm_entry(line["guest"].pk)
    assert StockWaitlist.objects.get(pk=line["guest"].pk).status == Status.WAITING
    assert_tallied()


def test_a_cancel_of_both_entries_of_a_pair(line):
    services.leave_all_of(line["ann"])
    assert_tallied()


def test_a_merchant_cancel_and_a_reopen(line):
    cat = StockWaitlist.objects.filter(subscriber_key=line["cat"].subscriber_key)
    services.cancel_entries(cat, by=StockWaitlist.CancelledBy.MERCHANT)
    assert_tallied()
    assert services.reopen_entries(cat) == 2
    assert_tallied()


def test_a_tier_change(line):
    StockWaitlist.objects.filter(subscriber_key=line["ann"].subscriber_key).update(tier=2)
    assert_tallied()
    line["cat_any"].tier = 0
    line["cat_any"].save()
    assert_tallied()


def test_a_wave_and_a_purchase(line, restock, settings):
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.locmem.LocmemChannel"}},
    }
    restock(line["variant"], 2)
    assert StockWaitlist.objects.filter(status=Status.NOTIFIED).exists()
    assert_tallied()
    services.record_purchase(
        line["variant"].product, line["variant"], user=line["ann"].user, order_ref="A1"
    )
    assert_tallied()


def test_deletes(line):
    line["bob"].delete()
    assert_tallied()
    StockWaitlist.objects.filter(subscriber_key=line["cat"].subscriber_key).delete()
    assert_tallied()


def test_raw_sql(line):
    table = StockWaitlist._meta.db_table
    with connection.cursor() as cursor:
        # Whole line moved an hour and a half earlier, one variant's entries moved to the
        # other, the product-wide entries to another product.
        cursor.execute(f"UPDATE {table} SET created_at = created_at - interval '90 minutes'")
        assert_tallied()
        cursor.execute(
            f"UPDATE {table} SET variant_key = %s WHERE variant_key = %s",
            [str(line["other"].pk), str(line["variant"].pk)],
        )
        assert_tallied()
        cursor.execute(f"UPDATE {table} SET product_key = 'elsewhere' WHERE variant_key = ''")
        assert_tallied()
        cursor.execute(f"UPDATE {table} SET status = 'expired' WHERE tier = 0")
        assert_tallied()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no check left pending: TRUNCATE may run
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert stored() == {}


def mark(entries, status=Status.NOTIFIED):
    """One ``UPDATE`` by primary key, as a wave's page is claimed."""
    StockWaitlist.objects.filter(pk__in=[entry.pk for entry in entries]).update(status=status)


def test_a_page_of_a_product_nobody_waits_for_product_wide(line):
    """No product-wide entry waits, before or after: the triggers count the moved entries
    alone; then a product-wide entry leaves and comes back alone."""
    mark([line["ann_any"], line["cat_any"]], Status.CANCELLED)
    assert_tallied()
    mark([line["bob"], line["ann"], line["dan"]])
    assert_tallied()
    mark([line["ann_any"]], Status.WAITING)
    assert_tallied()


def test_a_page_whose_subscriber_waits_product_wide_outside_it(line):
    """ann's variant entry leaves alone; her product-wide one, still waiting, loses its pair."""
    mark([line["bob"], line["ann"]])
    assert_tallied()
    mark([line["cat"]])
    assert_tallied()


def test_a_page_with_product_wide_entries_in_it(line):
    """A pair's two entries and a lone product-wide one leave in one statement, and come back."""
    page = [line["ann_any"], line["ann"], line["cat_any"]]
    mark(page)
    assert_tallied()
    mark(page, Status.WAITING)
    assert_tallied()


def test_a_mixed_page(line):
    """Entries of one subscriber waiting twice, of one waiting for a variant only, and the
    product-wide entry of a third whose variant entry stays."""
    ann_again = join(line["ann"].user, line["other"], seconds=1.2, tier=1)
    mark([line["ann"], ann_again, line["bob"], line["cat_any"], line["dan"]])
    assert_tallied()


def test_an_update_that_changes_ids(line):
    """Entries are matched across an update by their whole key, the primary key within it:
    new ids move every entry away and back."""
    table = StockWaitlist._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET id = gen_random_uuid(), tier = tier + (tier % 2)")
    assert_tallied()


def test_an_update_that_moves_no_entry_writes_no_tally(line):
    before = list(QueueTally.objects.values_list("pk", "waiting", "paired").order_by("pk"))
    StockWaitlist.objects.filter(pk=line["ann"].pk).update(email="ann@example.com", locale="ko")
    after = list(QueueTally.objects.values_list("pk", "waiting", "paired").order_by("pk"))
    assert after == before


@pytest.mark.django_db(transaction=True)
def test_a_subscribers_two_joins_at_once_are_both_tallied(variant):
    """Two transactions each add one of a subscriber's pair, neither seeing the other's
    uncommitted row: the one that writes its tallies second still counts the pair."""
    ann = factories.UserFactory(username="ann")
    first_joined, errors = threading.Event(), []

    def join_any_variant():
        try:
            with transaction.atomic():
                services.join_waitlist(variant.product, None, user=ann)
                first_joined.set()
                threading.Event().wait(0.5)  # the other join is now waiting to tally
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=join_any_variant)
    thread.start()
    assert first_joined.wait(timeout=10)
    services.join_waitlist(variant.product, variant, user=ann)
    thread.join(timeout=30)
    assert errors == []
    assert_tallied()
    assert sum(paired for _, paired in stored().values()) == 2  # an hour and a second
