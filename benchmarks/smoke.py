"""Every benchmark at a small size, so none of them can rot: CI runs this (``make bench-smoke``).
Fails only when a run goes wrong (a waiter not notified, or twice; a join lost), never on
a timing. Results go to ``artifacts/bench/smoke.json``."""

import subprocess
import sys
import time

from benchmarks import common

#: ``(command, its arguments)``, each parsed as ``python -m benchmarks <command>`` would.
RUNS = (
    ("fanout", ["--waiters", "300", "--runs", "1x2:locmem,1x1:anymail", "--timeout", "120"]),
    ("save", ["--sizes", "0,300", "--repeat", "3"]),
    ("position", ["--sizes", "300", "--repeat", "3"]),
    ("explain", ["--sizes", "200,400"]),
    (
        "http",
        [
            "--clients",
            "10",
            "--duration",
            "1",
            "--rate",
            "50",
            "--waiting",
            "100",
            "--in-process",
            "20",
        ],
    ),
)


def add_arguments(parser):
    parser.add_argument("--json", default=str(common.ROOT / "artifacts" / "bench" / "smoke.json"))


def main(args):
    """Each command in a process of its own, as its settings (synchronous tasks or not)
    are read once."""
    failed = []
    for command, argv in RUNS:
        started = time.perf_counter()
        print(f"\n=== python -m benchmarks {command} {' '.join(argv)}", flush=True)
        finished = subprocess.run(
            [sys.executable, "-m", "benchmarks", command, *argv, "--json", args.json],
            cwd=common.ROOT,
            env=common.child_env(),
        )
        if finished.returncode:
            failed.append(command)
        print(f"=== {command}: {time.perf_counter() - started:.1f} s", flush=True)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0
