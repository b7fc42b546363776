"""Rows PostgreSQL reads per notification, from ``EXPLAIN (ANALYZE, BUFFERS)`` of every
statement a wave runs, at two waitlist sizes: a wave whose cost is linear in its size reads
the same number of rows per notification at both.

The wave runs in this process (tasks synchronous, the real email channel on the counting
locmem backend) on analysed tables, without the forecast reports its end enqueues. Before
each statement on the app's tables runs, the same statement runs under ``EXPLAIN (ANALYZE,
BUFFERS)`` in a savepoint that is rolled back, so it sees exactly the rows the real one
will; the rows its scans read (returned plus removed by filters, times loops) and its
buffers are summed.
"""

import collections
import contextlib
import json
import time

from benchmarks import common

SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"}


def add_arguments(parser):
    parser.add_argument("--sizes", default="10000,100000", help="waiters, comma-separated")
    parser.add_argument("--top", type=int, default=6, help="costliest statements to show")
    parser.add_argument("--json", default=str(common.ROOT / "artifacts" / "bench" / "results.json"))


def rows_read(plan):
    """Rows the scans of ``plan`` (a JSON plan node) read, children included."""
    loops = plan.get("Actual Loops", 1)
    own = 0
    if plan.get("Node Type") in SCANS:
        own = loops * (
            plan.get("Actual Rows", 0)
            + plan.get("Rows Removed by Filter", 0)
            + plan.get("Rows Removed by Index Recheck", 0)
        )
    return own + sum(rows_read(child) for child in plan.get("Plans", ()))


def outline(plan, depth=0):
    """A plan, one line per node: type, table, index, rows returned and removed, loops."""
    parts = [plan.get("Node Type", "?")]
    if "Relation Name" in plan:
        parts.append(f"on {plan['Relation Name']}")
    if "Index Name" in plan:
        parts.append(f"using {plan['Index Name']}")
    for name in ("Index Cond", "Filter", "Hash Cond", "Join Filter"):
        if name in plan:
            parts.append(f"{name.lower()}: {plan[name][:160]}")
    parts.append(
        f"(rows={plan.get('Actual Rows')} removed={plan.get('Rows Removed by Filter', 0)} "
        f"loops={plan.get('Actual Loops')})"
    )
    lines = ["  " * depth + " ".join(parts)]
    for child in plan.get("Plans", ()):
        lines += outline(child, depth + 1)
    return lines


class Explainer:
    """An execute wrapper that explains the app's statements before running them."""

    def __init__(self, connection, tables):
        self.connection, self.tables = connection, tables
        self.statements = 0
        self.rows = self.buffers = 0
        self.by_statement = collections.defaultdict(lambda: [0, 0, 0])  # calls, rows, buffers
        self.worst = {}  # statement: (rows read, its SQL, its plan) for its costliest call

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        verb = sql.lstrip().split(None, 1)[0].upper()
        if (
            not many
            and verb in ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH")
            and any(table in sql for table in self.tables)
        ):
            self.explain(sql, params)
        return execute(sql, params, many, context)

    def explain(self, sql, params):
        raw = self.connection.connection
        cursor = self.connection.create_cursor()
        with raw.transaction(force_rollback=True):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
        rows = rows_read(plan)
        buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
        self.rows += rows
        self.buffers += buffers
        key = " ".join(sql.split())[:140]
        entry = self.by_statement[key]
        entry[0] += 1
        entry[1] += rows
        entry[2] += buffers
        if rows > self.worst.get(key, (-1,))[0]:
            self.worst[key] = (rows, sql, outline(plan))


@contextlib.contextmanager
def without_reports():
    """The forecast reports a wave's end enqueues are not dispatch: left out here."""
    from restock_waitlist import receivers, signals

    hooks = (
        (signals.restock_wave_sent, receivers.enqueue_wave_report),
        (signals.restock_ended, receivers.enqueue_end_report),
    )
    for signal, _receiver in hooks:
        signal.disconnect(dispatch_uid=receivers.UID)
    try:
        yield
    finally:
        for signal, receiver in hooks:
            signal.connect(receiver, dispatch_uid=receivers.UID)


def main(args):
    common.setup(BENCH_SYNC="1", BENCH_BROKER="orm")
    from django.apps import apps
    from django.db import connection

    from restock_waitlist.models import Notification

    tables = [m._meta.db_table for m in apps.get_app_config("restock_waitlist").get_models()]
    rows, report = [], []
    for waiters in map(int, args.sizes.split(",")):
        common.clean()
        variant, stock = common.item()
        common.seed_waiters(variant, waiters)
        common.analyse()
        print(f"explaining a wave to {waiters:,}; {common.load()}", flush=True)
        explainer = Explainer(connection, tables)
        stock.quantity = common.wave_quantity(waiters)
        started = time.perf_counter()
        with connection.execute_wrapper(explainer), without_reports():
            stock.save()  # tasks run synchronously, inside the on-commit callbacks
        seconds = time.perf_counter() - started
        sent = Notification.objects.filter(status=Notification.Status.SENT).count()
        per = max(sent, 1)
        rows.append(
            (
                f"{waiters:,}",
                f"{sent:,}",
                explainer.statements,
                f"{1000 * explainer.statements / per:.1f}",
                f"{explainer.rows / per:.1f}",
                f"{explainer.buffers / per:.2f}",
                f"{seconds:.1f}",
            )
        )
        costliest = sorted(explainer.by_statement.items(), key=lambda kv: -kv[1][1])[: args.top]
        report.append(
            {
                "waiters": waiters,
                "sent": sent,
                "statements": explainer.statements,
                "rows_read": explainer.rows,
                "buffers": explainer.buffers,
                "costliest": [
                    {
                        "statement": key,
                        "calls": c,
                        "rows_read": r,
                        "buffers": b,
                        "worst_call": {
                            "rows_read": explainer.worst[key][0],
                            "sql": explainer.worst[key][1],
                            "plan": explainer.worst[key][2],
                        },
                    }
                    for key, (c, r, b) in costliest
                ],
            }
        )
        print(f"  costliest statements at {waiters:,} (calls, rows read, buffers):")
        for sql, (calls, read, buffers) in costliest:
            print(f"    {calls:5d} {read:10,d} {buffers:8,d}  {sql}")
    print(f"\nRows read per notification (EXPLAIN ANALYZE, BUFFERS); {common.load()}")
    common.table(
        (
            "waiting",
            "sent",
            "statements",
            "stmts/1000",
            "rows read/notif",
            "buffers/notif",
            "seconds (explained)",
        ),
        rows,
    )
    common.write_json(args.json, "explain", {"runs": report})
    return 0 if all(r["sent"] == r["waiters"] for r in report) else 1
