"""Benchmark: the admin's demand dashboard over a large waitlist on PostgreSQL. Not a test.

    .venv/bin/python -m benchmarks dashboard --entries 1000000 --variants 1000

Seeds (in SQL, a minute or so for a million) ``--entries`` entries over ``--variants``
variants (10 per product), joined over the last 120 days: 60 % waiting, 5 % pending,
10 % cancelled, 20 % notified by a past restock of their variant and 5 % who then bought
(6 % of all in the VIP tier); a sent notification for each reached entry, clicked by every
buyer and about a quarter of the others; 20 restocks in progress with two waves each; a
daily forecast report for every variant over 30 days. Then renders the dashboard (and an
item's page) as a signed-in superuser through Django's test client and prints the median
time of ``--repeat`` runs with its query count, and the time of each part of
:func:`restock_waitlist.dashboard.summary`. ``--keep`` reuses the data of a previous run.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--variants", type=int, default=1_000)
    parser.add_argument("--in-progress", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--keep", action="store_true", help="reuse the seeded data")
    return parser.parse_args()


ENTRIES_SQL = """
INSERT INTO restock_waitlist_stockwaitlist (
    id, product_key, variant_key, user_id, email, phone, subscriber_key, channels, tier,
    status, locale, time_zone, created_at, confirmation_sent_at, confirmed_at, notified_at,
    purchased_at, cancelled_at, cancelled_by, consent_at, consent_source, consent_version,
    notified_by_id
)
SELECT gen_random_uuid(), i.product_key, i.variant_key, NULL, 'b' || n || '@example.com', '',
    'email:b' || n || '@example.com', '["email"]'::jsonb, CASE WHEN n %% 100 < 6 THEN 1 ELSE 0 END,
    CASE WHEN n %% 20 < 12 THEN 'waiting' WHEN n %% 20 = 12 THEN 'pending'
         WHEN n %% 20 < 15 THEN 'cancelled' WHEN n %% 20 < 19 THEN 'notified' ELSE 'purchased' END,
    'en', '', j.joined, NULL, CASE WHEN n %% 20 <> 12 THEN j.joined END,
    CASE WHEN n %% 20 >= 15 THEN e.created_at END,
    CASE WHEN n %% 20 = 19 THEN e.created_at + interval '3 hours' END,
    CASE WHEN n %% 20 IN (13, 14) THEN j.joined + interval '1 day' END,
    CASE WHEN n %% 20 IN (13, 14) THEN 'shopper' ELSE '' END,
    j.joined, 'bench', '1', CASE WHEN n %% 20 >= 15 THEN i.event_id END
FROM generate_series(%(start)s, %(stop)s - 1) AS n
JOIN bench_items i ON i.idx = n %% %(variants)s
JOIN restock_waitlist_restockevent e ON e.id = i.event_id
CROSS JOIN LATERAL (
    SELECT now() - (n %% 120) * interval '1 day' - (n %% 97) * interval '13 minutes' AS joined
) j
"""

SENDS_SQL = """
INSERT INTO restock_waitlist_notification (
    entry_id, event_id, subscriber_key, channel, wave, status, provider_message_id, error,
    note, attempts, created_at, updated_at, next_attempt_at, sent_at, clicked_at, claim
)
SELECT w.id, w.notified_by_id, w.subscriber_key, 'email', 1, 'sent', '', '', '', 1,
    w.notified_at, w.notified_at, NULL, w.notified_at,
    CASE WHEN w.status = 'purchased' OR abs(hashtext(w.email)) % 4 = 0
         THEN w.notified_at + interval '1 hour' END, ''
FROM restock_waitlist_stockwaitlist w WHERE w.notified_by_id IS NOT NULL
"""

REPORTS_SQL = """
INSERT INTO restock_waitlist_forecastreport (
    product_key, variant_key, reason, occasion, event_id, waitlist_count, waiting_by_tier,
    estimated_purchase, recommended_restock_qty, historical_cvr, cvr_level, cvr_sample,
    cvr_purchased, cvr_low, cvr_high, low, high, created_at
)
SELECT i.product_key, i.variant_key, 'daily', 'day ' || d, NULL, 600, '[]'::jsonb, 150.0,
    180, 0.25, 'variant', 250, 50, 0.2, 0.3, 120, 180, now() - d * interval '1 day'
FROM bench_items i CROSS JOIN generate_series(0, 29) AS d
"""


def restocks(variants, **fields):
    from restock_waitlist.models import RestockEvent

    return RestockEvent.objects.bulk_create(
        RestockEvent(product_key=str(v.product_id), variant_key=str(v.pk), **fields)
        for v in variants
    )


def seed(args):
    from django.db import connection
    from django.utils import timezone

    from restock_waitlist.models import (
        ForecastReport,
        Notification,
        RestockEvent,
        RestockWave,
        StockWaitlist,
    )
    from tests.testshop.models import Product, StockLevel, Variant

    tables = ", ".join(
        model._meta.db_table
        for model in (ForecastReport, Notification, RestockWave, RestockEvent, StockWaitlist)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    Product.objects.all().delete()
    products = Product.objects.bulk_create(
        Product(name=f"Bench product {n}") for n in range(max(args.variants // 10, 1))
    )
    variants = Variant.objects.bulk_create(
        Variant(product=products[n // 10 % len(products)], name=f"V{n}")
        for n in range(args.variants)
    )
    StockLevel.objects.bulk_create(StockLevel(variant=v, quantity=0) for v in variants)
    then = timezone.now() - timezone.timedelta(days=60)
    events = restocks(variants, quantity=50, source="recorded", status="completed", created_at=then)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_items (idx int, product_key text, variant_key text, "
            "event_id bigint)"
        )
        cursor.executemany(
            "INSERT INTO bench_items VALUES (%s, %s, %s, %s)",
            [(n, e.product_key, e.variant_key, e.pk) for n, e in enumerate(events)],
        )
        batch = 200_000
        for start in range(0, args.entries, batch):
            cursor.execute(
                ENTRIES_SQL,
                {
                    "start": start,
                    "stop": min(start + batch, args.entries),
                    "variants": args.variants,
                },
            )
        cursor.execute(SENDS_SQL)
        cursor.execute(REPORTS_SQL)
        cursor.execute("DROP TABLE bench_items")
    live = restocks(
        variants[: args.in_progress],
        quantity=10,
        source="stock_save",
        status="waiting_next_wave",
        waves_sent=2,
    )
    RestockWave.objects.bulk_create(
        RestockWave(event=e, number=number, available=10, size=30, rule="oversubscription")
        for e in live
        for number in (1, 2)
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main():
    args = parse_args()
    os.environ.setdefault("BENCH_DB", "restock_waitlist_bench_dashboard")
    os.environ.setdefault("BENCH_BROKER", "orm")
    from benchmarks.common import setup

    setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from benchmarks.forecast import timed
    from restock_waitlist import dashboard, forecast
    from restock_waitlist.models import StockWaitlist

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    if not args.keep:
        print(f"Seeding {args.entries:,} entries over {args.variants:,} variants…")
        started = time.perf_counter()
        seed(args)
        print(f"seeded in {time.perf_counter() - started:.0f} s")
    print(f"{StockWaitlist.objects.count():,} entries on PostgreSQL")
    merchant, _ = get_user_model().objects.get_or_create(
        username="bench-merchant", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(merchant)
    url = reverse("admin:restock_waitlist_dashboard")
    assert client.get(url).status_code == 200  # warm up: templates, content types
    timed("dashboard page (HTTP, 30 days)", args.repeat, lambda: client.get(url))
    timed("dashboard page (HTTP, 90 days)", args.repeat, lambda: client.get(url, {"days": 90}))
    product_key = StockWaitlist.objects.values_list("product_key", flat=True).first()
    item = reverse("admin:restock_waitlist_dashboard_item", args=[product_key])
    timed("item page (HTTP)", args.repeat, lambda: client.get(item))
    print("parts of the dashboard:")
    timed("  most_waited", args.repeat, dashboard.most_waited)
    timed("  growth (30 days)", args.repeat, dashboard.growth)
    timed("  funnel (all entries)", args.repeat, forecast.funnel)
    timed("  restock_funnels", args.repeat, dashboard.restock_funnels)
    timed("  in_progress", args.repeat, dashboard.in_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
