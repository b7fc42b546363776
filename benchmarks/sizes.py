"""What the waitlist's length costs outside the workers: the merchant's stock ``save()`` and
a waiter's place in line, with 0 to 1,000,000 waiting. No cluster runs: the restock's task
is enqueued on Redis (as in production) and the queue emptied afterwards.

``save``: median and 95th percentile of a ``save()`` that restocks the item, its queries,
and what the app adds to it (the same ``save()`` with the app's stock receivers
disconnected). ``position``: ``StockWaitlist.objects.position_of`` for the waiter at the
back, in the middle and at the front of the line, then for a product-wide ("any variant")
waiter joining in the middle and one at the back, and PostgreSQL's plan of
``with_positions()`` for the waiter at the back.
"""

import time

from benchmarks import common


def add_arguments(parser):
    parser.add_argument("--sizes", default="0,10000,1000000", help="waiters, comma-separated")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--json", default=str(common.ROOT / "artifacts" / "bench" / "results.json"))


add_save_arguments = add_position_arguments = add_arguments


def seeded(waiters):
    common.clean()
    variant, stock = common.item()
    started = time.perf_counter()
    common.seed_waiters(variant, waiters)
    common.analyse()
    print(f"  seeded {waiters:,} in {time.perf_counter() - started:.1f} s; {common.load()}")
    return variant, stock


def without_app_receivers():
    """A context in which the stock model's app receivers are disconnected."""
    import contextlib

    from django.db.models.signals import post_save, pre_save

    from restock_waitlist import receivers

    @contextlib.contextmanager
    def disconnected():
        model = receivers._connected.get(receivers.UID)
        pairs = ((pre_save, receivers.stock_pre_save), (post_save, receivers.stock_post_save))
        for signal, _receiver in pairs:
            signal.disconnect(sender=model, dispatch_uid=receivers.UID)
        try:
            yield
        finally:
            for signal, receiver in pairs:
                signal.connect(receiver, sender=model, dispatch_uid=receivers.UID)

    return disconnected()


def run_save(args):
    common.setup(BENCH_BROKER="redis")
    from django_q.brokers import get_broker

    from restock_waitlist.models import RestockEvent
    from tests.testshop.models import StockLevel

    broker = get_broker()
    rows, report = [], []
    for waiters in map(int, args.sizes.split(",")):
        print(f"save() with {waiters:,} waiting:")
        _variant, stock = seeded(waiters)
        quantity = common.wave_quantity(max(waiters, 1))

        def timed_saves(stock=stock, quantity=quantity):
            """``(median ms, p95 ms, queries)`` of ``save()`` calls restocking from zero."""
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            times = []
            for _ in range(args.repeat):
                StockLevel.objects.filter(pk=stock.pk).update(quantity=0)
                RestockEvent.objects.all().delete()
                stock.refresh_from_db()
                stock.quantity = quantity
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    stock.save()  # autocommit: the on-commit enqueue runs inside this call
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            return times[len(times) // 2], times[int(len(times) * 0.95)], len(queries)

        median, p95, queries = timed_saves()
        with without_app_receivers():
            bare_median, _bare_p95, bare_queries = timed_saves()
        broker.purge_queue()
        events = RestockEvent.objects.count()
        rows.append(
            (
                f"{waiters:,}",
                f"{median:.2f}",
                f"{p95:.2f}",
                queries,
                f"{bare_median:.2f}",
                bare_queries,
                f"{median - bare_median:+.2f}",
                f"{queries - bare_queries:+d}",
            )
        )
        report.append(
            {
                "waiters": waiters,
                "median_ms": median,
                "p95_ms": p95,
                "queries": queries,
                "without_app_ms": bare_median,
                "without_app_queries": bare_queries,
                "events_left": events,
            }
        )
    print(f"\nThe merchant's save() that restocks the item ({args.repeat} runs); {common.load()}")
    common.table(
        (
            "waiting",
            "median ms",
            "p95 ms",
            "queries",
            "without the app ms",
            "queries",
            "app adds ms",
            "app adds queries",
        ),
        rows,
    )
    common.write_json(args.json, "save", {"runs": report})
    return 0


def product_wide_waiter(variant, beside, name):
    """A guest waiting for any variant of ``variant``'s product, joined just after ``beside``."""
    from datetime import timedelta

    from restock_waitlist.models import StockWaitlist

    return StockWaitlist.objects.create(
        product_key=str(variant.product_id),
        variant_key="",
        email=f"any-{name}@example.com",
        subscriber_key=f"email:any-{name}@example.com",
        channels=["email"],
        created_at=beside.created_at + timedelta(microseconds=500),
    )


def run_position(args):
    common.setup(BENCH_BROKER="redis")
    from django.db import connection

    from restock_waitlist.models import StockWaitlist

    rows, report = [], []
    for waiters in map(int, args.sizes.split(",")):
        if waiters <= 0:
            continue
        print(f"position_of with {waiters:,} waiting:")
        variant, _stock = seeded(waiters)
        queue = StockWaitlist.objects.waiting_for_restock(str(variant.product_id), str(variant.pk))
        places = {
            "front": queue.first(),
            "middle": queue[waiters // 2 : waiters // 2 + 1].get(),
            "back": queue.last(),
        }

        def measure(where, entry, waiters=waiters):
            # One run first: a query of seconds is not repeated.
            median, p95, queries, position = common.timed(
                lambda: StockWaitlist.objects.position_of(entry), 1
            )
            if median < 2000:
                median, p95, queries, position = common.timed(
                    lambda: StockWaitlist.objects.position_of(entry), args.repeat
                )
            rows.append(
                (f"{waiters:,}", where, position, f"{median:.2f}", f"{p95:.2f}", len(queries))
            )
            report.append(
                {
                    "waiters": waiters,
                    "where": where,
                    "position": position,
                    "median_ms": median,
                    "p95_ms": p95,
                    "queries": len(queries),
                }
            )

        for where, entry in places.items():
            measure(where, entry)
        # Product-wide waiters join once the variant's are measured (they would move them).
        for where in ("middle", "back"):
            measure(f"any, {where}", product_wide_waiter(variant, places[where], where))
        sql, params = (
            StockWaitlist.objects.filter(pk=places["back"].pk)
            .with_positions()
            .values_list("position", flat=True)
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}", params)
            plan = "\n".join(f"    {row[0]}" for row in cursor.fetchall()[:14])
    print(f"\nA waiter's place in line ({args.repeat} runs, target < 20 ms); {common.load()}")
    common.table(("waiting", "waiter", "position", "median ms", "p95 ms", "queries"), rows)
    print(f"\nPostgreSQL's plan for the waiter at the back (the last size):\n{plan}")
    common.write_json(args.json, "position", {"runs": report, "plan_at_back": plan})
    return 0
