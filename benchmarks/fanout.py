"""One restock to N waiters in one wave, through real ``qcluster`` processes on Redis, beside
the same database work as plain SQL (the floor) and the seed's one ``UPDATE`` per waiter.

Each run starts from the same state: N guests waiting (email), tables ``VACUUM ANALYZE``'d,
an empty queue. Engine runs time the merchant's ``save()`` to the last notification
recorded sent (``max(sent_at)``) with the real email channel on a counting backend
(:mod:`benchmarks.counters`), and count the workers' SQL statements and new database
connections, the provider API calls, the rows PostgreSQL read (``pg_stat_user_tables``) and
the workers' peak memory (``VmHWM``). ``--profile`` samples every cluster process with
py-spy and prints where the time inside tasks goes.
"""

import collections
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from benchmarks import common, counters

ARTIFACTS = common.ROOT / "artifacts" / "bench"


def add_arguments(parser):
    parser.add_argument("--waiters", type=int, default=10_000)
    parser.add_argument(
        "--runs",
        default="1x2:locmem,2x2:locmem,1x2:anymail,2x2:anymail",
        help="engine runs: CLUSTERSxWORKERS:EMAIL (email: locmem or anymail), comma-separated",
    )
    parser.add_argument("--chunk-size", type=int, help="CHUNK_SIZE (default: the app's)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for a wave")
    parser.add_argument("--no-baselines", action="store_true", help="skip the floor and seed runs")
    parser.add_argument(
        "--floor-runs", type=int, default=3, help="floor runs; the median is the floor"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy on the cluster processes")
    parser.add_argument("--json", default=str(ARTIFACTS / "results.json"))


def main(args):
    common.setup(BENCH_CHUNK_SIZE=str(args.chunk_size or ""))
    from restock_waitlist.conf import app_settings

    args.chunk_size = app_settings.CHUNK_SIZE
    print(
        f"Fan-out: {args.waiters:,} waiters in one wave, chunk {args.chunk_size}; {common.load()}"
    )
    results = []
    if not args.no_baselines:
        results.append(median_floor(args.waiters, args.floor_runs))
        for baseline in (partial(floor, chunk=args.chunk_size), seed_approach):
            results.append(baseline(args.waiters))
            print(f"{results[-1]['name']}: {results[-1]['seconds']:.2f} s", flush=True)
    for run in args.runs.split(","):
        shape, _, email = run.partition(":")
        clusters, _, workers = shape.partition("x")
        results.append(engine(args, int(clusters), int(workers), email or "locmem"))
    report(results, args)
    engine_runs = [r for r in results if r["kind"] == "engine"]
    return 0 if all(r["complete"] for r in engine_runs) else 1


# The state every run starts from ------------------------------------------------------------


def fresh(waiters):
    """Clean tables, ``waiters`` seeded and analysed; ``(variant, stock)``."""
    common.clean()
    variant, stock = common.item()
    common.seed_waiters(variant, waiters)
    common.analyse()
    return variant, stock


# Baselines ---------------------------------------------------------------------------------


def median_floor(waiters, runs):
    """:func:`floor` ``runs`` times (each from a fresh state): the run of median time."""
    taken = sorted((floor(waiters) for _ in range(max(runs, 1))), key=lambda r: r["seconds"])
    times = ", ".join(f"{r['seconds']:.2f}" for r in taken)
    median = {**taken[len(taken) // 2], "runs": [r["seconds"] for r in taken]}
    print(f"{median['name']}: {median['seconds']:.2f} s, the median of {times}", flush=True)
    return median


def floor(waiters, chunk=None):
    """The wave's database work as plain SQL: one ``UPDATE ... RETURNING`` claiming the
    entries in dispatch order, one ``INSERT ... SELECT`` writing their notification rows
    (with ``chunk``: the same per chunk, a transaction each)."""
    from django.db import connection, transaction

    from restock_waitlist.models import Notification, RestockEvent, StockWaitlist

    variant, _stock = fresh(waiters)
    product_key, variant_key = str(variant.product_id), str(variant.pk)
    event = RestockEvent.objects.create(
        product_key=product_key,
        variant_key=variant_key,
        quantity=common.wave_quantity(waiters),
        source=RestockEvent.Source.RECORDED,
        status=RestockEvent.Status.COMPLETED,
    )
    first = StockWaitlist.objects.waiting_for_restock(product_key, variant_key).first()
    # A row the ORM makes gives every column its default; its channel keeps it apart.
    template = Notification.objects.create(
        entry=first, event=event, subscriber_key=first.subscriber_key, channel="template", wave=1
    )
    entries, notifications = StockWaitlist._meta.db_table, Notification._meta.db_table
    columns = [f.column for f in Notification._meta.concrete_fields if not f.primary_key]
    computed = {"entry_id": "e.id", "subscriber_key": "e.subscriber_key", "channel": "'email'"}
    insert = (
        f"INSERT INTO {notifications} ({', '.join(columns)}) "
        f"SELECT {', '.join(computed.get(c, f't.{c}') for c in columns)} "
        f"FROM {notifications} t, {entries} e WHERE t.id = %s AND e.id = ANY(%s)"
    )
    step = chunk or waiters
    started = time.perf_counter()
    done = statements = 0
    while done < waiters:
        queue = StockWaitlist.objects.waiting_for_restock(product_key, variant_key).values("id")
        claim_sql, claim_params = queue[: min(step, waiters - done)].query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {entries} SET status = %s, notified_at = now(), notified_by_id = %s "
                f"WHERE id IN (SELECT id FROM ({claim_sql}) AS queue) RETURNING id",
                [StockWaitlist.Status.NOTIFIED, event.pk, *claim_params],
            )
            ids = [row[0] for row in cursor.fetchall()]
            cursor.execute(insert, [template.pk, ids])
        statements += 2
        done += len(ids)
        if not ids:
            break
    seconds = time.perf_counter() - started
    template.delete()
    written = Notification.objects.filter(event=event).count()
    name = "floor: plain SQL" + (f", chunks of {chunk}" if chunk else ", one statement each")
    return {
        "kind": "floor" if not chunk else "floor_chunked",
        "name": name,
        "seconds": seconds,
        "notifications": written,
        "statements": statements,
        "connections": 0,
        "complete": written == waiters,
    }


def seed_approach(waiters):
    """The seed's ``notify_waitlist``: read the waiters in order, then one ``UPDATE`` per
    waiter, each its own transaction (the database part only: no notification rows)."""
    from django.db import connection

    from restock_waitlist.models import StockWaitlist

    variant, _stock = fresh(waiters)
    table = StockWaitlist._meta.db_table
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE product_key = %s AND variant_key = %s "
            "AND status = 'waiting' ORDER BY created_at LIMIT %s",
            [str(variant.product_id), str(variant.pk), waiters],
        )
        for (entry_id,) in cursor.fetchall():
            cursor.execute(
                f"UPDATE {table} SET status = 'notified', notified_at = now() WHERE id = %s",
                [entry_id],
            )
    seconds = time.perf_counter() - started
    notified = StockWaitlist.objects.filter(status=StockWaitlist.Status.NOTIFIED).count()
    return {
        "kind": "seed",
        "name": "seed: one UPDATE per waiter",
        "seconds": seconds,
        "notifications": notified,
        "statements": waiters + 1,
        "connections": 0,
        "complete": notified == waiters,
    }


# The engine through real clusters ------------------------------------------------------------


def engine(args, clusters, workers, email):
    from django.db import connection
    from django.db.models import Max
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from django_q.brokers import get_broker

    from restock_waitlist.models import Notification

    label = f"engine: {clusters} cluster{'s' if clusters > 1 else ''} x {workers}, {email}"
    print(f"\n{label}: seeding {args.waiters:,}…", flush=True)
    _variant, stock = fresh(args.waiters)
    get_broker().purge_queue()
    counters.reset()
    env = common.child_env(
        BENCH_COUNT=1,
        BENCH_WORKERS=workers,
        BENCH_EMAIL=email,
        BENCH_CHUNK_SIZE=args.chunk_size,
        BENCH_SYNC=0,
    )
    processes = start_clusters(clusters, env)
    profilers = []
    try:
        wait_for_clusters(clusters)
        if args.profile:
            profilers = start_profiles(processes, label)
        sessions_before, reads_before = sessions(), rows_read()
        counters_before = counters.read()
        stock.quantity = common.wave_quantity(args.waiters)
        started_at = timezone.now()
        with CaptureQueriesContext(connection) as save_queries:
            started = time.perf_counter()
            stock.save()  # autocommit: the on-commit enqueue runs inside this call
            save_ms = (time.perf_counter() - started) * 1000
        complete = wait_until_sent(args.waiters, args.timeout)
        peak_kib = peak_rss_kib(processes)
        time.sleep(0.5)  # the workers' counters reach Redis every 0.1 s
        finished = counters.read()
    finally:
        stop(profilers, sig=signal.SIGINT)  # py-spy writes its file on SIGINT
        stop(processes)
        end_orphaned_queries()
    time.sleep(1.5)  # statistics reach pg_stat_* when a backend goes idle or exits
    sent = Notification.objects.filter(status=Notification.Status.SENT)
    count = sent.count()
    last = sent.aggregate(last=Max("sent_at"))["last"]
    seconds = (last - started_at).total_seconds() if last else float("nan")
    duplicates = (
        Notification.objects.count() - Notification.objects.values("entry").distinct().count()
    )
    result = {
        "kind": "engine",
        "name": label,
        "clusters": clusters,
        "workers": workers,
        "email": email,
        "seconds": seconds,
        "notifications": count,
        "statements": finished["statements"] - counters_before["statements"],
        "connections": finished["connections"] - counters_before["connections"],
        "sessions": sessions() - sessions_before,
        "api_calls": finished["api_calls"] - counters_before["api_calls"],
        "rows_read": rows_read() - reads_before,
        "peak_rss_mib": peak_kib / 1024,
        "save_ms": save_ms,
        "save_queries": len(save_queries),
        "duplicates": duplicates,
        "complete": complete and count == args.waiters and duplicates == 0,
    }
    if profilers:
        result["profile"] = summarise_profiles(profilers)
    print(
        f"  {count:,} sent in {seconds:.2f} s, {result['statements']:,} statements, "
        f"{result['connections']} connections, {result['api_calls']:,} API calls",
        flush=True,
    )
    return result


def start_clusters(count, env):
    return [
        subprocess.Popen(
            [sys.executable, "-m", "django", "qcluster"],
            cwd=common.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def wait_for_clusters(count, timeout=60):
    """Until ``count`` clusters report to the broker that they are idle."""
    from django_q.status import Stat

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = Stat.get_all()
        if len([s for s in stats if s.status == "Idle"]) >= count:
            return
        time.sleep(0.25)
    raise RuntimeError(f"{count} clusters did not start within {timeout} s")


def wait_until_sent(waiters, timeout):
    """Until the backends have taken every message (a Redis counter, so the waiting reads
    no table), then until every row is recorded sent; whether that happened in time."""
    from restock_waitlist.models import Notification

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and counters.read_messages() < waiters:
        time.sleep(0.2)
    sent = Notification.objects.filter(status=Notification.Status.SENT)
    while time.monotonic() < deadline:
        if sent.count() >= waiters:
            return True
        time.sleep(0.2)
    return False


def end_orphaned_queries():
    """End what the killed workers left running in this database (a report task's query
    goes on after its process is gone, and would hold up the next run's ``TRUNCATE``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def sessions():
    """Connections ever opened to this database (PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def rows_read():
    """Rows PostgreSQL has read from the app's tables, by sequential and index scans."""
    from django.apps import apps
    from django.db import connection

    tables = [m._meta.db_table for m in apps.get_app_config("restock_waitlist").get_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0)), 0) "
            "FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [tables],
        )
        return int(cursor.fetchone()[0])


def session_pids(processes):
    sessions_ = {process.pid for process in processes}
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[3]) in sessions_:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def peak_rss_kib(processes):
    """The largest peak RSS (``VmHWM``) among the clusters' processes, in KiB."""
    peak = 0
    for pid in session_pids(processes):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak


def stop(processes, sig=signal.SIGTERM, grace=20):
    """Signal each process (a cluster stops its own workers), then kill what is left."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(sig)
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if session_pids([process]):  # its children, orphaned
            os.killpg(process.pid, signal.SIGKILL)


# Profiles ------------------------------------------------------------------------------------


def start_profiles(processes, label):
    """``py-spy record`` on every process of the clusters, collapsed stacks to files."""
    py_spy = Path(sys.executable).with_name("py-spy")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in label)
    profilers = []
    for pid in session_pids(processes):
        output = ARTIFACTS / f"profile-{slug}-{pid}.txt"
        profilers.append(
            subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "50",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        profilers[-1].output = output
    return profilers


#: Where the functions the profile summary names live (parts of a frame's file name).
WATCHED_FILES = (
    "restock_waitlist/",
    "benchmarks/",
    "django/db",
    "django/core/mail",
    "django/core/signing",
    "django/urls",
    "django/template",
    "psycopg",
    "anymail",
    "django_q/",
)


def summarise_profiles(
    profilers, root="restock_waitlist/tasks.py", what="tasks", watched=WATCHED_FILES
):
    """Share of samples inside ``root`` (the tasks; a web server's worker) that pass through
    each function of the ``watched`` files (the app, the email path, the database driver),
    inclusive, largest first."""
    inside, through = 0, collections.Counter()
    for profiler in profilers:
        path = profiler.output
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            if root not in stack:
                continue
            samples = int(samples)
            inside += samples
            seen = set()
            frames = stack.split(";")
            start = next(i for i, f in enumerate(frames) if root in f)
            for frame in frames[start:]:
                name, _, where = frame.partition(" (")
                if any(part in where for part in watched):
                    where = where.split("site-packages/")[-1].split(str(common.ROOT) + "/")[-1]
                    key = f"{name} ({where.split(':')[0]})"
                    if key not in seen:
                        seen.add(key)
                        through[key] += samples
    if not inside:
        return {}
    top = {key: round(100 * count / inside, 1) for key, count in through.most_common(40)}
    print(f"  profile: {inside:,} samples inside {what}; inclusive share of each function:")
    for key, share in list(top.items())[:25]:
        print(f"    {share:5.1f} %  {key}")
    return {f"samples_in_{what}": inside, "inclusive_percent": top}


# The table --------------------------------------------------------------------------------


def report(results, args):
    floor_seconds = next((r["seconds"] for r in results if r["kind"] == "floor"), None)
    rows = []
    for r in results:
        n = max(r["notifications"], 1)
        ratio = f"{r['seconds'] / floor_seconds:.1f}x" if floor_seconds else "-"
        engine_run = r["kind"] == "engine"
        rows.append(
            (
                r["name"],
                f"{r['seconds']:.2f}",
                f"{r['notifications'] / r['seconds']:,.0f}" if r["seconds"] else "-",
                ratio,
                f"{1000 * r['statements'] / n:.1f}",
                r["connections"] if engine_run else "-",
                f"{r['api_calls'] * 1000 / n:,.0f}" if engine_run else "-",
                f"{r['rows_read'] / n:.1f}" if engine_run else "-",
                f"{r['peak_rss_mib']:.0f}" if engine_run else "-",
                f"{r['save_ms']:.1f} / {r['save_queries']}" if engine_run else "-",
                ("yes" if r["complete"] else "NO")
                + (f", {r['duplicates']} dup" if r.get("duplicates") else ""),
            )
        )
    print(f"\n{args.waiters:,} waiters, one wave, chunk {args.chunk_size}; {common.load()}")
    common.table(
        (
            "run",
            "seconds",
            "notif/s",
            "x floor",
            "stmts/1000",
            "conns",
            "API calls/1000",
            "rows read/notif",
            "peak RSS MiB",
            "save() ms / queries",
            "all sent once",
        ),
        rows,
    )
    data = {"waiters": args.waiters, "chunk_size": args.chunk_size, "runs": results}
    one_by_one = [r for r in results if r["kind"] == "engine" and r["email"] == "locmem"]
    if one_by_one and floor_seconds:
        data["mime_us"] = mime_us = mime_cost()
        workers = max(r["clusters"] * r["workers"] for r in one_by_one)
        least = args.waiters * mime_us / 1e6 / min(workers, os.cpu_count() or 1)
        print(
            f"\nOne message per waiter: Django builds each MIME message (EmailMessage.message(), "
            f"as the SMTP and locmem backends do) in {mime_us:.0f} us of CPU; {args.waiters:,} "
            f"of them take {least:.1f} s on this machine's {min(workers, os.cpu_count() or 1)} "
            f"cores, {least / floor_seconds:.1f}x the floor, before any other work."
        )
    common.write_json(args.json, f"fanout_{args.waiters}", data)


def mime_cost(repeat=2000):
    """Microseconds of CPU Django spends on ``message()`` of one restock alert as the email
    channel builds it (subject, text and HTML parts, unsubscribe headers)."""
    from django.core.mail import get_connection

    from restock_waitlist import channels
    from restock_waitlist.channels.base import Outgoing
    from restock_waitlist.channels.email import unsubscribe_headers
    from restock_waitlist.models import Notification

    row = Notification.objects.select_related("entry", "event").first()
    channel = channels.get_channel("email")
    outgoing = Outgoing(row.pk, row.entry, row.event, row.entry.email)
    backend = get_connection("django.core.mail.backends.locmem.EmailBackend")
    email = channel.email(
        channel.render(outgoing), [outgoing.contact], backend, unsubscribe_headers(outgoing)
    )
    started = time.process_time()
    for _ in range(repeat):
        email.message()
    return (time.process_time() - started) / repeat * 1e6
