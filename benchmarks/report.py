"""The figures of ``artifacts/bench/results.json`` as the reStructuredText tables of
``docs/dispatch.rst`` ("Benchmark"), so the docs show what a run printed."""

import json
from pathlib import Path

from benchmarks import common


def add_arguments(parser):
    parser.add_argument("--json", default=str(common.ROOT / "artifacts" / "bench" / "results.json"))


def rst(headers, rows):
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), rule]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in cells[1:]
    ]
    return "\n".join([*lines, rule])


def fanout_table(section):
    runs = section["runs"]
    floor = next(r["seconds"] for r in runs if r["kind"] == "floor")
    rows = []
    for r in runs:
        n = max(r["notifications"], 1)
        engine = r["kind"] == "engine"
        rows.append(
            (
                r["name"].replace("engine: ", ""),
                f"{r['seconds']:.2f}",
                f"{r['notifications'] / r['seconds']:,.0f}",
                f"{r['seconds'] / floor:.1f}x",
                f"{1000 * r['statements'] / n:.1f}",
                r["connections"] if engine else "",
                f"{r['api_calls'] * 1000 / n:,.0f}" if engine else "",
                f"{r['rows_read'] / n:.0f}" if engine else "",
                f"{r['peak_rss_mib']:.0f}" if engine else "",
                f"{r['save_ms']:.1f} / {r['save_queries']}" if engine else "",
            )
        )
    return rst(
        (
            "run",
            "s",
            "notif./s",
            "× floor",
            "SQL/1,000",
            "conns",
            "API/1,000",
            "rows read",
            "RSS MiB",
            "save() ms/q",
        ),
        rows,
    )


#: ``(section of results.json, headers, row of one run)`` for the tables after the fan-out.
TABLES = (
    (
        "save",
        ("waiting", "median ms", "p95 ms", "queries", "app adds ms", "app adds queries"),
        lambda r: (
            f"{r['waiters']:,}",
            f"{r['median_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            r["queries"],
            f"{r['median_ms'] - r['without_app_ms']:+.1f}",
            f"{r['queries'] - r['without_app_queries']:+d}",
        ),
    ),
    (
        "position",
        ("waiting", "waiter", "median ms", "queries"),
        lambda r: (f"{r['waiters']:,}", r["where"], f"{r['median_ms']:,.1f}", r["queries"]),
    ),
    (
        "explain",
        ("waiting", "statements", "rows read / notification", "buffers / notification"),
        lambda r: (
            f"{r['waiters']:,}",
            r["statements"],
            f"{r['rows_read'] / max(r['sent'], 1):.1f}",
            f"{r['buffers'] / max(r['sent'], 1):.1f}",
        ),
    ),
    (
        "http",
        ("run", "joins/s", "p50 ms", "p99 ms", "errors", "rows = successes", "CPU ms/join"),
        lambda r: (
            r["label"],
            f"{r['per_second']:.0f}",
            f"{r['p50_ms']:.0f}",
            f"{r['p99_ms']:.0f}",
            r["errors"],
            "yes" if r["rows_added"] == r["ok"] else "no",
            f"{r['cpu_ms']['total']:.1f}" if "cpu_ms" in r else "-",
        ),
    ),
)


def main(args):
    report = json.loads(Path(args.json).read_text())
    for name in sorted(k for k in report if k.startswith("fanout_")):
        print(f"\n{name} ({report[name]['at']}):\n")
        print(fanout_table(report[name]))
    for name, headers, row in TABLES:
        if name in report:
            print(f"\n{name} ({report[name]['at']}):\n")
            print(rst(headers, [row(run) for run in report[name]["runs"]]))
    return 0
