"""Benchmark: the admin's product picker and filter over a large catalogue. Not a test.

    .venv/bin/python -m benchmarks admin --products 100000            # PostgreSQL
    .venv/bin/python -m benchmarks admin --products 100000 --sqlite /tmp/bench.sqlite3

Seeds N products (once; re-runs reuse them), analyses the table, then times what a merchant's
keystroke costs: ``DefaultAdapter.search_products`` (the key, then a prefix match on the name
with a limit and no sort) for a term matching many products, a few, none, and a key; the
picker's JSON view end to end through Django; and, for contrast, what Django's own
autocomplete would run on the same model (``icontains``, sorted, counted). ``--index`` adds an
index on ``UPPER(name)`` that PostgreSQL can use for the prefix match. Prints medians and 95th
percentiles in milliseconds, the queries per search and PostgreSQL's plan for the name match.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402

WORDS = (
    "canvas",
    "wool",
    "rain",
    "linen",
    "denim",
    "cotton",
    "leather",
    "suede",
    "silk",
    "cashmere",
    "alpine",
    "urban",
    "coastal",
    "classic",
    "vintage",
    "sneaker",
    "beanie",
    "jacket",
    "tote",
    "boot",
    "scarf",
    "glove",
    "sock",
    "shirt",
    "hoodie",
    "cap",
    "belt",
    "wallet",
    "backpack",
    "sandal",
    "parka",
    "vest",
    "skirt",
    "dress",
    "coat",
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per search")
    parser.add_argument("--sqlite", metavar="PATH", help="use SQLite at PATH, not PostgreSQL")
    parser.add_argument("--index", action="store_true", help="index UPPER(name) first")
    return parser.parse_args()


def setup_django(args):
    """Django on the benchmark's own database, kept between runs (``keepdb``)."""
    import django
    from django.conf import settings
    from django.db import connection

    from tests import settings as base

    values = {name: getattr(base, name) for name in dir(base) if name.isupper()}
    if args.sqlite:
        database = {"ENGINE": "django.db.backends.sqlite3", "TEST": {"NAME": args.sqlite}}
    else:
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": os.environ.get("BENCH_DB", "restock_waitlist_bench_admin")},
        }
    values.update(DATABASES={"default": database}, DEBUG=False, ALLOWED_HOSTS=["testserver"])
    settings.configure(**values)
    django.setup()
    connection.creation.create_test_db(verbosity=0, keepdb=True)


def seed(count):
    """``count`` products with made-up names, plus the "Canvas Sneaker" a merchant looks for."""
    from django.db import connection

    from tests.testshop.models import Product

    if Product.objects.count() != count:
        Product.objects.all().delete()
        rng = random.Random(11)
        batch = []
        for number in range(count - 1):
            name = " ".join(rng.choice(WORDS).capitalize() for _ in range(3))
            batch.append(Product(name=f"{name} {number}"))
            if len(batch) == 10_000:
                Product.objects.bulk_create(batch)
                batch = []
        batch.append(Product(name="Canvas Sneaker Limited"))
        Product.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE testshop_product")
    return Product.objects.get(name="Canvas Sneaker Limited")


def set_index(enabled):
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS bench_product_upper_name")
        if enabled:
            cursor.execute(
                "CREATE INDEX bench_product_upper_name ON testshop_product "
                "(UPPER(name::text) text_pattern_ops)"
            )
        cursor.execute("ANALYZE testshop_product")


def timed(function, repeat):
    """``(median ms, p95 ms, queries per call, last result)``, after one call to warm up."""
    function()
    median, p95, queries, result = common.timed(function, repeat)
    return median, p95, len(queries), result


def django_autocomplete(term):
    """What Django's admin autocomplete runs for ``search_fields = ["name"]``: every product
    whose name contains the term, sorted, counted for pagination, first page of 20."""
    from tests.testshop.models import Product

    matches = Product.objects.filter(name__icontains=term).order_by("name")
    return matches.count(), list(matches[:20])


def plan(term):
    from django.db import connection

    from restock_waitlist.adapters import get_adapter

    if connection.vendor != "postgresql":
        return ""
    adapter = get_adapter()
    query = adapter.product_model._default_manager.filter(name__istartswith=term).order_by()[:20]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}", params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def main():
    args = parse_args()
    setup_django(args)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from restock_waitlist.adapters import get_adapter

    started = time.perf_counter()
    target = seed(args.products)
    set_index(args.index)
    print(
        f"{args.products:,} products on {connection.vendor}"
        f"{' with an UPPER(name) index' if args.index else ''}"
        f" (seeded/checked in {time.perf_counter() - started:.1f} s); load {os.getloadavg()[0]:.2f}"
    )
    adapter = get_adapter()
    searches = [
        ("name prefix, many matches", "ca"),
        ("name prefix, a few matches", "canvas sneaker l"),
        ("name prefix, no match", "zzz"),
        ("the product's key", str(target.pk)),
    ]
    rows = []
    for label, term in searches:
        median, p95, queries, found = timed(lambda t=term: adapter.search_products(t), args.repeat)
        rows.append((f"search_products: {label}", term, median, p95, queries, len(found)))

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    url = reverse("admin:restock_waitlist_stockwaitlist_products")
    for label, term in searches[:3]:
        median, p95, queries, response = timed(
            lambda t=term: client.get(url, {"term": t}), args.repeat
        )
        assert response.status_code == 200, response
        found = len(response.json()["results"])
        rows.append((f"picker view (HTTP, Django): {label}", term, median, p95, queries, found))
    for label, term in (("contains, many", "ca"), ("contains, none", "zzz")):
        median, p95, queries, (count, _first) = timed(
            lambda t=term: django_autocomplete(t), args.repeat
        )
        rows.append((f"Django autocomplete ({label})", term, median, p95, queries, count))

    print(f"\n{'what':58} {'term':>18} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'found':>7}")
    for what, term, median, p95, queries, found in rows:
        print(f"{what:58} {term[:18]:>18} {median:10.2f} {p95:8.2f} {queries:8d} {found:7d}")
    explained = plan("zzz")
    if explained:
        print("\nPostgreSQL's plan for the name match with no match (the worst case):")
        print(explained)


if __name__ == "__main__":
    main()
