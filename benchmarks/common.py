"""What every benchmark shares: its own PostgreSQL database, seeding many waiters fast,
clean tables, timings, the JSON report."""

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(name):
    import psycopg

    with psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"), user="postgres", dbname="postgres"
    ) as db:
        db.autocommit = True
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            db.execute(f'CREATE DATABASE "{name}"')


def setup(**env):
    """Django on the benchmark database (``BENCH_DB``), migrated; ``env`` first goes into
    the environment, where :mod:`benchmarks.settings` and child processes read it."""
    os.environ.update({"DJANGO_SETTINGS_MODULE": "benchmarks.settings", **env})
    os.environ.setdefault("BENCH_DB", "restock_waitlist_bench")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    ensure_database(os.environ["BENCH_DB"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def child_env(**extra):
    """The environment for a child process (qcluster, gunicorn) on the same settings."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **{k: str(v) for k, v in extra.items()}}


def clean():
    """Empty the app's tables and the shop's, in one ``TRUNCATE``."""
    from django.apps import apps
    from django.db import connection

    tables = [
        model._meta.db_table
        for app in ("restock_waitlist", "testshop")
        for model in apps.get_app_config(app).get_models()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def item():
    """One product with one variant and its stock at zero: ``(variant, stock)``."""
    from tests.testshop.models import Product, StockLevel, Variant

    variant = Variant.objects.create(product=Product.objects.create(name="Bench sneaker"), name="M")
    return variant, StockLevel.objects.create(variant=variant, quantity=0)


def seed_waiters(variant, count):
    """``count`` guests waiting for ``variant`` (email), one ``INSERT ... SELECT`` copying a
    row the ORM made: every column the models have gets its default, whatever they are."""
    from django.db import connection

    from restock_waitlist.models import StockWaitlist

    if count <= 0:
        return
    template = StockWaitlist.objects.create(
        product_key=str(variant.product_id),
        variant_key=str(variant.pk),
        email="template@example.com",
        subscriber_key="email:template@example.com",
        channels=["email"],
        locale="en",
    )
    computed = {
        "id": "gen_random_uuid()",
        "email": "'waiter' || n || '@example.com'",
        "subscriber_key": "'email:waiter' || n || '@example.com'",
        "created_at": "t.created_at + n * interval '1 millisecond'",
    }
    columns = [field.column for field in StockWaitlist._meta.concrete_fields]
    values = ", ".join(computed.get(column, f"t.{column}") for column in columns)
    table = StockWaitlist._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {values} FROM {table} t, generate_series(1, %s) n WHERE t.id = %s",
            [count, template.pk],
        )
    template.delete()


def analyse():
    """``VACUUM ANALYZE`` the app's tables (planner statistics, as production tables have),
    then a ``CHECKPOINT``: the seeding's dirty pages written now, not by the checkpointer
    in the middle of the timed run that follows (the same floor took 6.4 s and 9.8 s in two
    runs ten minutes apart without it)."""
    from django.apps import apps
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        for model in apps.get_app_config("restock_waitlist").get_models():
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as exc:  # not a superuser (nor pg_checkpoint)
            print(f"  (no CHECKPOINT before the run: {exc})".rstrip())


def wave_quantity(waiters):
    """A restock quantity whose first wave reaches every one of ``waiters``."""
    from restock_waitlist.conf import app_settings

    return max(1, math.ceil(waiters / app_settings.OVERSUBSCRIPTION))


def timed(function, repeat):
    """``(median ms, p95 ms, queries of the last call, its result)`` over ``repeat`` calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, result = [], None
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            result = function()
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return (
        statistics.median(times),
        times[min(len(times) - 1, int(len(times) * 0.95))],
        queries,
        result,
    )


def load():
    return f"load {os.getloadavg()[0]:.2f}"


def write_json(path, name, data):
    """Merge ``data`` under ``name`` into the JSON report at ``path``."""
    if not path:
        return
    path = Path(path)
    report = json.loads(path.read_text()) if path.exists() else {}
    report[name] = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"(written to {path} under {name!r})")


def table(headers, rows):
    """Print rows under headers, columns as wide as their widest cell."""
    cells = [list(map(str, headers))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for number, row in enumerate(cells):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            print("  ".join("-" * w for w in widths))
