"""Joins over HTTP: gunicorn (2 sync workers) serving the app on the benchmark's settings,
and 50 concurrent clients posting guest joins to the API from a separate load process
(:mod:`benchmarks.loadgen`).

Two runs: closed loop (each client posts again as soon as it is answered: the most the
server does) and open loop at ``--rate`` joins per second (the latency a shopper sees at
that rate). Each reports joins per second, p50/p99 latency, errors, and checks that the
waitlist grew by exactly the number of successful answers; and the CPU each join cost in
each process that shares the machine (the gunicorn workers, the load process, the
PostgreSQL backends, the Redis server), read from ``/proc``. ``--profile`` samples the
workers with py-spy during the closed-loop run and prints where their time goes.

First, ``--in-process`` joins go through Django's WSGI handler in this process, with no
HTTP server: the CPU a join costs the app itself, a steadier figure than the workers' on a
shared machine (``--cprofile`` prints where it goes).
"""

import cProfile
import io
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from functools import partial

from benchmarks import common
from benchmarks.fanout import WATCHED_FILES, session_pids, start_profiles, stop, summarise_profiles

#: What a worker's profile names, besides the app and the database driver.
SERVER_FILES = (*WATCHED_FILES, "rest_framework/", "django/core/handlers", "django/middleware")


def add_arguments(parser):
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20, help="seconds per run")
    parser.add_argument("--rate", type=float, default=400, help="joins/s of the open-loop run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class (sync, gthread)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--waiting", type=int, default=10_000, help="waiters already there")
    parser.add_argument("--profile", action="store_true", help="py-spy on the gunicorn workers")
    parser.add_argument(
        "--in-process", type=int, default=400, help="joins timed in this process first (0: none)"
    )
    parser.add_argument("--cprofile", action="store_true", help="cProfile the in-process joins")
    parser.add_argument("--json", default=str(common.ROOT / "artifacts" / "bench" / "results.json"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port, args):
    process = subprocess.Popen(
        [
            str(common.Path(sys.executable).with_name("gunicorn")),
            "benchmarks.wsgi:application",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=common.ROOT,
        env=common.child_env(BENCH_BROKER="redis", BENCH_CONN_MAX_AGE=600),
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/waitlist/entries/", timeout=2)
            return process
        except urllib.error.HTTPError:
            return process  # answering (401/405: no GET for a guest)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def load(port, variant, args, label, rate=None):
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--url",
        f"http://127.0.0.1:{port}/api/waitlist/entries/",
        "--product",
        str(variant.product_id),
        "--variant",
        str(variant.pk),
        "--clients",
        str(args.clients),
        "--duration",
        str(args.duration),
        "--label",
        label,
    ]
    if rate:
        command += ["--rate", str(rate)]
    output = subprocess.run(
        command, cwd=common.ROOT, env=common.child_env(), check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout)


def in_process(variant, joins, profile):
    """CPU ms a guest join costs in this process, through Django's WSGI handler (after 50
    joins to warm up); with ``profile``, cProfile's top functions on CPU time."""
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def join(number):
        body = json.dumps(
            {
                "product": str(variant.product_id),
                "variant": str(variant.pk),
                "email": f"in-process-{number}@example.com",
                "consent": True,
            }
        ).encode()
        answered = []
        response = handler(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/api/waitlist/entries/",
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80",
                "REMOTE_ADDR": "127.0.0.1",
                "wsgi.input": io.BytesIO(body),
                "wsgi.url_scheme": "http",
            },
            lambda status, headers, *rest: answered.append(status),
        )
        response.close()
        if not answered[0].startswith("202"):
            raise RuntimeError(f"an in-process join answered {answered[0]}")

    for number in range(50):
        join(number)
    profiler = cProfile.Profile(time.process_time) if profile else None
    if profiler:
        profiler.enable()
    started = time.process_time()
    for number in range(50, 50 + joins):
        join(number)
    cpu_ms = 1000 * (time.process_time() - started) / joins
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return cpu_ms


def cpu_seconds(pids):
    """User and system CPU the processes ``pids`` have used so far, in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = common.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def database_backends():
    """The PostgreSQL server processes of the other connections to this database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def redis_server():
    from django_q.brokers import get_broker

    return [get_broker().connection.info("server")["process_id"]]


def measured(server, run):
    """``run()``'s result with ``cpu_ms``: CPU per successful join in each process."""
    processes = {
        "workers": session_pids([server]),
        "database": database_backends(),
        "redis": redis_server(),
    }
    before = {name: cpu_seconds(pids) for name, pids in processes.items()}
    result = run()
    ok = max(result["ok"], 1)
    cpu = {name: cpu_seconds(pids) - before[name] for name, pids in processes.items()}
    cpu["load"] = result["cpu_seconds"]
    result["cpu_ms"] = {name: 1000 * seconds / ok for name, seconds in cpu.items()}
    result["cpu_ms"]["total"] = sum(result["cpu_ms"].values())
    return result


def main(args):
    common.setup(BENCH_BROKER="redis")
    from django_q.brokers import get_broker

    from restock_waitlist.models import StockWaitlist

    common.clean()
    variant, _stock = common.item()
    common.seed_waiters(variant, args.waiting)
    common.analyse()
    cpu_in_process = (
        in_process(variant, args.in_process, args.cprofile) if args.in_process else None
    )
    port = free_port()
    server = start_gunicorn(port, args)
    runs, profilers = [], []
    try:
        load(port, variant, args, "warm", rate=20)  # the workers import on their first requests
        for label, rate in (("closed loop", None), (f"open loop at {args.rate:.0f}/s", args.rate)):
            if args.profile and not runs:
                profilers = start_profiles([server], "joins")
            before = StockWaitlist.objects.count()
            run = partial(load, port, variant, args, label.split()[0] + str(len(runs)), rate)
            result = measured(server, run)
            stop(profilers, sig=signal.SIGINT)  # py-spy writes its file on SIGINT
            result["rows_added"] = StockWaitlist.objects.count() - before
            result["label"] = label
            if profilers:
                result["profile"] = summarise_profiles(
                    profilers, root="gunicorn/workers", what="workers", watched=SERVER_FILES
                )
                profilers = []
            runs.append(result)
    finally:
        stop(profilers, sig=signal.SIGINT)
        server.terminate()
        server.wait(timeout=20)
        get_broker().purge_queue()  # the guests' confirmation mails, never sent here
    print(
        f"\nJoins over HTTP: gunicorn {args.workers} workers, {args.clients} clients, "
        f"{args.duration:.0f} s a run, {args.waiting:,} already waiting; {common.load()}"
    )
    common.table(
        ("run", "joins/s", "p50 ms", "p99 ms", "max ms", "errors", "rows == successes"),
        [
            (
                r["label"],
                f"{r['per_second']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.0f}",
                r["errors"],
                f"{'yes' if r['rows_added'] == r['ok'] else 'NO'} ({r['rows_added']:,})",
            )
            for r in runs
        ],
    )
    print("\nCPU per join, ms (the Redis server's is all of its clients')")
    components = ("workers", "database", "redis", "load", "total")
    common.table(
        ("run", *components, f"joins/s {os.cpu_count()} cores allow"),
        [
            (
                r["label"],
                *(f"{r['cpu_ms'][name]:.2f}" for name in components),
                f"{os.cpu_count() * 1000 / r['cpu_ms']['total']:.0f}",
            )
            for r in runs
        ],
    )
    if cpu_in_process is not None:
        print(f"\nIn one process, through Django's WSGI handler: {cpu_in_process:.2f} ms a join")
    common.write_json(
        args.json,
        "http",
        {"clients": args.clients, "runs": runs, "in_process_cpu_ms": cpu_in_process},
    )
    ok = all(r["errors"] == 0 and r["rows_added"] == r["ok"] for r in runs)
    return 0 if ok else 1
