"""Benchmark: forecasts over a large history, and what a sell-out costs the merchant. Not a test.

    DB must be PostgreSQL (127.0.0.1:5432, user postgres); no cluster is started.
    .venv/bin/python -m benchmarks forecast --history 100000 --waiting 100000 --variants 200

Seeds ``--variants`` variants (10 per product) with ``--history`` waiters that past restocks
reached (a sent notification each, a quarter of them bought) and ``--waiting`` waiters
now, then times, with their query counts: ``estimate_restock_demand`` for one variant,
``estimate_all``, ``write_daily_reports``, the funnel, ``record_purchase``, and a stock
``save()`` that sells a variant with waiters out (its report is only enqueued).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=100_000, help="waiters reached before")
    parser.add_argument("--waiting", type=int, default=100_000, help="waiters now")
    parser.add_argument("--variants", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    return parser.parse_args()


def seed(args):
    from django.utils import timezone

    from restock_waitlist.models import ForecastReport, Notification, RestockEvent, StockWaitlist
    from tests.testshop.models import Product, StockLevel, Variant

    for model in (ForecastReport, Notification, RestockEvent, StockWaitlist, Product):
        model.objects.all().delete()
    variants = []
    for n in range(args.variants):
        if n % 10 == 0:
            product = Product.objects.create(name=f"Bench product {n // 10}")
        variants.append(Variant.objects.create(product=product, name=f"V{n}"))
    StockLevel.objects.bulk_create(StockLevel(variant=v, quantity=0) for v in variants)
    then = timezone.now() - timedelta(days=30)
    events = RestockEvent.objects.bulk_create(
        RestockEvent(
            product_key=str(v.product_id),
            variant_key=str(v.pk),
            quantity=5,
            source="recorded",
            status="completed",
            created_at=then,
        )
        for v in variants
    )
    batch = 10_000

    def bought(n):  # a quarter of each variant's waiters
        return (n // len(events)) % 4 == 0

    for start in range(0, args.history, batch):
        entries = StockWaitlist.objects.bulk_create(
            StockWaitlist(
                product_key=events[n % len(events)].product_key,
                variant_key=events[n % len(events)].variant_key,
                email=f"past{n}@example.com",
                subscriber_key=f"email:past{n}@example.com",
                channels=["email"],
                status="purchased" if bought(n) else "notified",
                notified_at=then,
                notified_by=events[n % len(events)],
                purchased_at=then + timedelta(hours=3) if bought(n) else None,
            )
            for n in range(start, min(start + batch, args.history))
        )
        Notification.objects.bulk_create(
            Notification(
                entry=entry,
                event=entry.notified_by,
                subscriber_key=entry.subscriber_key,
                channel="email",
                status="sent",
                sent_at=then,
            )
            for entry in entries
        )
    for start in range(0, args.waiting, batch):
        StockWaitlist.objects.bulk_create(
            StockWaitlist(
                product_key=str(variants[n % len(variants)].product_id),
                variant_key=str(variants[n % len(variants)].pk),
                email=f"now{n}@example.com",
                subscriber_key=f"email:now{n}@example.com",
                channels=["email"],
                tier=1 if n % 10 == 0 else 0,
            )
            for n in range(start, min(start + batch, args.waiting))
        )
    return variants


def timed(label, repeat, run, rows=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seconds = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = run()
            seconds.append(time.perf_counter() - started)
    note = f", {rows(result)}" if rows else ""
    print(
        f"{label:<34}{statistics.median(seconds) * 1000:9.1f} ms  {len(queries):>3} queries{note}"
    )
    return result


def main():
    args = parse_args()
    os.environ.setdefault("BENCH_DB", "restock_waitlist_bench_forecast")
    os.environ.setdefault("BENCH_BROKER", "orm")
    from benchmarks.common import setup

    setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_q.models import OrmQ

    from restock_waitlist import forecast, reports, services
    from restock_waitlist.models import ForecastReport

    print(f"Seeding {args.history:,} reached, {args.waiting:,} waiting, {args.variants} variants…")
    variants = seed(args)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    variant = variants[0]
    print(f"history {args.history:,} reached; waiting {args.waiting:,}; {args.variants} variants")
    timed(
        "estimate_restock_demand (variant)",
        args.repeat,
        lambda: forecast.estimate_restock_demand(variant.product_id, variant.pk),
        rows=lambda r: f"{r['waitlist_count']} waiting, cvr {r['historical_cvr']:.2f}",
    )
    timed("estimate_all", args.repeat, forecast.estimate_all, rows=lambda r: f"{len(r)} items")

    def daily():
        ForecastReport.objects.all().delete()
        return reports.write_daily_reports()

    timed("write_daily_reports", args.repeat, daily, rows=lambda r: f"{len(r)} reports")
    timed("funnel (all entries)", args.repeat, forecast.funnel)
    buyer = iter(range(10**9))
    timed(
        "record_purchase (not attributed)",
        args.repeat,
        lambda: services.record_purchase(
            variant.product_id, variant.pk, email="walk-in@example.com", order_ref=next(buyer)
        ),
    )
    stock = variant.stock_levels.get()
    stock.quantity = 3
    stock.save()
    OrmQ.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        stock.quantity = 0
        stock.save()
        seconds = time.perf_counter() - started
    enqueued = OrmQ.objects.count()
    print(
        f"{'stock save() that sells out':<34}{seconds * 1000:9.1f} ms  {len(queries):>3} queries"
        f" (the UPDATE, 1 read, {enqueued} enqueue)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
