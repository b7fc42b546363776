"""The HTTP benchmark's load generator, a process of its own: ``clients`` threads posting
guest joins to the API for ``duration`` seconds; prints one JSON object.

With ``--rate``, the clients together send that many requests per second, each on a fixed
schedule, and latency counts from the scheduled time (a slow server cannot hide its queue
by slowing the clients down); without it, each client sends its next request as soon as
the last one is answered (the most the server can do).
"""

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--product", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--rate", type=float, help="requests per second, all clients together")
    parser.add_argument("--label", default="load")
    return parser.parse_args(argv)


def client(number, args, results, stop_at):
    url = urlsplit(args.url)
    interval = args.clients / args.rate if args.rate else 0
    scheduled = time.perf_counter() + (number * interval / args.clients if interval else 0)
    sent = 0
    while True:
        if interval:
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        started = scheduled if interval else time.perf_counter()
        if time.perf_counter() >= stop_at:
            return
        body = json.dumps(
            {
                "product": args.product,
                "variant": args.variant,
                "email": f"{args.label}-{number}-{sent}@example.com",
                "consent": True,
            }
        )
        try:
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            connection.request(
                "POST", url.path, body=body, headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            status = response.status
            connection.close()
        except OSError as exc:
            status = f"{exc.__class__.__name__}"
        results.append((status, time.perf_counter() - started))
        sent += 1
        scheduled += interval


def main(argv=None):
    args = parse_args(argv)
    results = []
    started = time.perf_counter()
    stop_at = started + args.duration
    threads = [
        threading.Thread(target=client, args=(n, args, results, stop_at))
        for n in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(seconds * 1000 for _status, seconds in results)
    statuses = {}
    for status, _seconds in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else None

    ok = sum(1 for status, _ in results if isinstance(status, int) and 200 <= status < 300)
    print(
        json.dumps(
            {
                "requests": len(results),
                "ok": ok,
                "errors": len(results) - ok,
                "statuses": statuses,
                "seconds": elapsed,
                "per_second": ok / elapsed,
                "p50_ms": percentile(0.50),
                "p90_ms": percentile(0.90),
                "p99_ms": percentile(0.99),
                "max_ms": latencies[-1] if latencies else None,
            }
        )
    )


if __name__ == "__main__":
    main()
