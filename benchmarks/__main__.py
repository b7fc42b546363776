"""``python -m benchmarks <what>``: the project's benchmarks, one entry point. Not tests.

    fanout    one restock to N waiters through real clusters, beside its SQL floor and
              the seed's approach (docs/dispatch.rst, "Benchmark")
    save      the merchant's stock save() with 0 / 10,000 / 1,000,000 waiting
    position  a waiter's place in line with 1,000,000 waiting
    explain   EXPLAIN (ANALYZE, BUFFERS) of every statement of a wave: rows read per
              notification at two sizes
    http      joins over HTTP: gunicorn (2 workers) and a separate load process
    forecast  forecasts over a large history (benchmarks/forecast.py)
    dashboard the admin's demand dashboard over a large waitlist (benchmarks/dashboard.py)
    admin     the admin's product search (benchmarks/admin_search.py)
    smoke     every one of the above that CI runs, at a small size, no timing asserted
    report    the figures of results.json as the tables of docs/dispatch.rst

Needs PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 (db 5, or BENCH_REDIS_DB);
figures print as tables and go to artifacts/bench/results.json.
``python -m benchmarks <what> --help``.
"""

import argparse
import importlib
import sys

COMMANDS = {
    "fanout": "benchmarks.fanout",
    "save": "benchmarks.sizes",
    "position": "benchmarks.sizes",
    "explain": "benchmarks.explain",
    "http": "benchmarks.joins",
    "smoke": "benchmarks.smoke",
    "report": "benchmarks.report",
}
PASSED_ON = {
    "forecast": "benchmarks.forecast",
    "dashboard": "benchmarks.dashboard",
    "admin": "benchmarks.admin_search",
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSED_ON:
        sys.argv = [f"benchmarks {argv[0]}", *argv[1:]]
        return importlib.import_module(PASSED_ON[argv[0]]).main()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        getattr(module, f"add_{name}_arguments", module.add_arguments)(sub)
    for name in PASSED_ON:
        commands.add_parser(name, help=f"see python -m benchmarks {name} --help", add_help=False)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command])
    run = getattr(module, f"run_{args.command}", None) or module.main
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
