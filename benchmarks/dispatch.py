"""Benchmark: one restock to N waiters, through real django-q2 clusters. Not a test.

    DB must be PostgreSQL (127.0.0.1:5432, user postgres); Redis at 127.0.0.1:6379 (db 5).
    .venv/bin/python benchmarks/dispatch.py --waiters 100000 --clusters 2 --workers 4

Seeds N guest waiters for one sold-out variant, restocks it with a plain ``save()`` so
that the wave covers all of them (``quantity = ceil(N / OVERSUBSCRIPTION)``), and reports
the merchant's ``save()`` wall time and queries, the time until every notification of the
wave is recorded sent, notifications per second, the total SQL statements the database
ran, and the peak memory of the worker processes. The locmem channel stands in for ESPs.
"""

import argparse
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiters", type=int, default=100_000)
    parser.add_argument("--clusters", type=int, default=2, help="qcluster processes")
    parser.add_argument("--workers", type=int, default=4, help="workers per cluster")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--broker", choices=("redis", "orm"), default="redis")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for the wave")
    return parser.parse_args()


def ensure_database(name):
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            db.execute(f'CREATE DATABASE "{name}"')


def seed(waiters):
    from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
    from tests.qcluster_support import seed_guests
    from tests.testshop.models import Product, StockLevel, Variant

    Notification.objects.all().delete()
    RestockEvent.objects.all().delete()
    StockWaitlist.objects.all().delete()
    Product.objects.all().delete()
    variant = Variant.objects.create(product=Product.objects.create(name="Bench sneaker"), name="M")
    stock = StockLevel.objects.create(variant=variant, quantity=0)
    seed_guests(variant, waiters)
    return stock


def flush_broker(broker):
    from django_q.brokers import get_broker

    get_broker().purge_queue() if broker == "redis" else None
    if broker == "orm":
        from django_q.models import OrmQ

        OrmQ.objects.all().delete()


def statements_run():
    """Statements the server has run so far in this database (pg_stat_database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated "
            "FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()


def start_clusters(count, env):
    return [
        subprocess.Popen(
            [sys.executable, "-m", "django", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def peak_rss_kib(clusters):
    """The largest peak RSS (``VmHWM``) among the clusters' live processes, in KiB."""
    sessions = {process.pid for process in clusters}
    peak = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) not in sessions:  # field 6 of stat: the session id
                continue
            for line in (status.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, IndexError, ValueError):
            continue
    return peak


def stop(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main():
    args = parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BENCH_BROKER": args.broker,
        "BENCH_WORKERS": str(args.workers),
        "BENCH_CHUNK_SIZE": str(args.chunk_size),
    }
    os.environ.update(env)
    ensure_database(os.environ.get("BENCH_DB", "restock_waitlist_bench"))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from restock_waitlist.conf import app_settings
    from restock_waitlist.models import Notification, RestockEvent

    call_command("migrate", verbosity=0)
    flush_broker(args.broker)
    print(f"Seeding {args.waiters:,} waiters…", flush=True)
    stock = seed(args.waiters)
    quantity = math.ceil(args.waiters / app_settings.OVERSUBSCRIPTION)

    clusters = start_clusters(args.clusters, env)
    try:
        time.sleep(3)  # let the clusters start their workers
        before = statements_run()
        with CaptureQueriesContext(connection) as save_queries:
            started = time.perf_counter()
            stock.quantity = quantity
            stock.save()  # autocommit: the on-commit enqueue runs inside this call
            save_seconds = time.perf_counter() - started
        sent = Notification.objects.filter(status=Notification.Status.SENT)
        deadline = time.monotonic() + args.timeout
        count = 0
        while time.monotonic() < deadline:
            count = sent.count()
            if count >= args.waiters:
                break
            time.sleep(0.25)
        wave_seconds = time.perf_counter() - started
        after = statements_run()
        peak_kib = peak_rss_kib(clusters)
    finally:
        stop(clusters)
    event = RestockEvent.objects.get()
    duplicates = (
        Notification.objects.count() - Notification.objects.values("entry").distinct().count()
    )

    print(f"waiters                 {args.waiters:,} (quantity {quantity:,}, one wave)")
    setup = f"{args.clusters} x {args.workers} on {args.broker}, chunk {args.chunk_size}"
    print(f"clusters x workers      {setup}")
    print(f"merchant save()         {save_seconds * 1000:.1f} ms, {len(save_queries)} queries")
    print(f"wave recorded sent      {count:,} in {wave_seconds:.1f} s (event {event.status})")
    print(f"notifications / second  {count / wave_seconds:,.0f}")
    transactions, rows = after[0] - before[0], after[1] - before[1]
    print(f"database work           ~{transactions:,} transactions, ~{rows:,} rows written")
    print(f"peak worker memory      {peak_kib / 1024:.0f} MiB RSS (largest worker process)")
    print(f"duplicate sends         {duplicates}")
    return 0 if count == args.waiters and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
