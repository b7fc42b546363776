"""The HTTP benchmark's load generator, a process of its own: ``clients`` concurrent clients
posting guest joins to the API for ``duration`` seconds; prints one JSON object.

With ``--rate``, the clients together send that many requests per second, each on a fixed
schedule, and latency counts from the scheduled time (a slow server cannot hide its queue
by slowing the clients down); without it, each client sends its next request as soon as
the last one is answered (the most the server can do).

The load process shares the machine's cores with the server, so it spends as little CPU
per request as it can: one thread, non-blocking sockets under one ``selectors`` loop, the
request written and the answer read by hand. A client keeps its connection while the
server keeps it open, as browsers do (gunicorn's sync workers close it after each answer).
"""

import argparse
import heapq
import json
import resource
import selectors
import socket
import time
from urllib.parse import urlsplit

#: Seconds a client waits for an answer before counting it an error.
TIMEOUT = 30


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


def answer(data):
    """``(status, complete, keep_alive)`` of the bytes read so far of one answer."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, False, False
    lines = data[:end].split(b"\r\n")
    status, length, keep_alive = int(lines[0].split()[1]), 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
    return status, len(data) >= end + 4 + length, keep_alive


class Client:
    """One client: its connection, the answer it is reading, and when it sends next."""

    def __init__(self, number, args, address):
        self.number, self.args, self.address = number, args, address
        self.sock, self.data, self.sent = None, b"", 0
        self.started = self.scheduled = 0.0

    def request(self):
        body = json.dumps(
            {
                "product": self.args.product,
                "variant": self.args.variant,
                "email": f"{self.args.label}-{self.number}-{self.sent}@example.com",
                "consent": True,
            }
        ).encode()
        host, port = self.address
        return (
            f"POST {self.args.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def send(self, selector, started):
        """Send the next request (connecting first if needed); ``False`` on failure."""
        self.started, self.data = started, b""
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address)  # loopback: at once
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.sock.setblocking(False)
                selector.register(self.sock, selectors.EVENT_READ, self)
            self.sock.sendall(self.request())  # a few hundred bytes: the buffer takes them
        except OSError:
            self.close(selector)
            return False
        return True

    def close(self, selector):
        if self.sock is not None:
            selector.unregister(self.sock)
            self.sock.close()
            self.sock = None


def run(args):
    url = urlsplit(args.url)
    args.path = url.path
    address = (url.hostname, url.port)
    selector = selectors.DefaultSelector()
    clients = [Client(n, args, address) for n in range(args.clients)]
    interval = args.clients / args.rate if args.rate else 0
    now = time.perf_counter()
    stop_at = now + args.duration
    # (time to send, client number): who sends next.
    due = [(now + n * interval / args.clients, n) for n in range(args.clients)]
    heapq.heapify(due)
    in_flight, results = set(), []

    def finish(client, status, now):
        results.append((status, now - client.started))
        in_flight.discard(client)
        client.sent += 1
        client.scheduled += interval
        heapq.heappush(due, (client.scheduled if interval else now, client.number))

    while due or in_flight:
        now = time.perf_counter()
        while due and due[0][0] <= now:
            when, number = heapq.heappop(due)
            client = clients[number]
            if now >= stop_at:
                continue
            client.scheduled = when
            # Open loop: latency counts from the schedule; closed loop: from now.
            if client.send(selector, when if interval else now):
                in_flight.add(client)
            else:
                finish(client, "ConnectionError", time.perf_counter())
        if not (due or in_flight):
            break  # the last answer is in: no wait for a select that has nothing to read
        timeout = max(0.0, due[0][0] - now) if due else 1.0
        for key, _events in selector.select(min(timeout, 1.0)):
            client = key.data
            try:
                chunk = client.sock.recv(65536)
            except OSError:
                chunk = b""
            now = time.perf_counter()
            if not chunk:
                client.close(selector)
                finish(client, "IncompleteRead", now)
                continue
            client.data += chunk
            status, complete, keep_alive = answer(client.data)
            if complete:
                if not keep_alive:
                    client.close(selector)
                finish(client, status, now)
        now = time.perf_counter()
        for client in [c for c in in_flight if now - c.started > TIMEOUT]:
            client.close(selector)
            finish(client, "Timeout", now)
    return results


def main(argv=None):
    args = parse_args(argv)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    results = run(args)
    elapsed = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF)
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
                # The run's, not the interpreter's start.
                "cpu_seconds": cpu.ru_utime
                + cpu.ru_stime
                - cpu_before.ru_utime
                - cpu_before.ru_stime,
            }
        )
    )


if __name__ == "__main__":
    main()
