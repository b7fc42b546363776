"""What the benchmark counts inside the worker processes, in Redis (one key per figure).

``BENCH_COUNT=1`` in a process's environment turns it on: every SQL statement the process
runs and every database connection it opens add one to a counter (PostgreSQL here has no
``pg_stat_statements``: it needs ``shared_preload_libraries``), and the email backends
below count the messages handed to them, one per provider API call. The email backends
also empty ``mail.outbox`` after each send, so a worker's memory measures the app, not
100,000 kept messages.
"""

import collections
import functools
import os
import threading
import time

import redis
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.apps import AppConfig
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db.backends.signals import connection_created

PREFIX = "restock_waitlist_bench:"
STATEMENTS, CONNECTIONS, API_CALLS, MESSAGES = "statements", "connections", "api_calls", "messages"
FIGURES = (STATEMENTS, CONNECTIONS, API_CALLS, MESSAGES)


@functools.cache
def client():
    return redis.Redis(host="127.0.0.1", port=6379, db=int(os.environ.get("BENCH_REDIS_DB", "5")))


_pending = collections.Counter()
_lock = threading.Lock()
_flushing_in = None  # the process whose flusher thread runs


def add(name, amount=1):
    """Count in memory; a thread sends the counts to Redis every 0.1 s (a round trip per
    statement or message would cost the workers more than what is measured)."""
    global _flushing_in
    with _lock:
        _pending[name] += amount
    if _flushing_in != os.getpid():
        _flushing_in = os.getpid()
        threading.Thread(target=_flush_forever, daemon=True).start()


def _flush_forever():
    while True:
        time.sleep(0.1)
        flush()


def flush(**kwargs):
    """Send the counts not sent yet; also after every task (a worker django-q2 recycles
    must not take its last counts with it)."""
    with _lock:
        pending = dict(_pending)
        _pending.clear()
    if pending:
        pipeline = client().pipeline()
        for name, amount in pending.items():
            pipeline.incrby(PREFIX + name, amount)
        pipeline.execute()


def read():
    """``{figure: count}`` since :func:`reset`."""
    values = client().mget([PREFIX + name for name in FIGURES])
    return {name: int(value or 0) for name, value in zip(FIGURES, values, strict=True)}


def read_messages():
    """Recipients the email backends have taken so far."""
    return int(client().get(PREFIX + MESSAGES) or 0)


def reset():
    client().delete(*(PREFIX + name for name in FIGURES))


def count_statement(execute, sql, params, many, context):
    add(STATEMENTS)
    return execute(sql, params, many, context)


def on_connection_created(sender, connection, **kwargs):
    add(CONNECTIONS)
    if count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(count_statement)


class CountersConfig(AppConfig):
    name = "benchmarks"
    label = "restock_waitlist_benchmarks"

    def ready(self):
        if os.environ.get("BENCH_COUNT") == "1":
            from django_q.signals import post_execute_in_worker

            connection_created.connect(on_connection_created, dispatch_uid=PREFIX)
            post_execute_in_worker.connect(flush, dispatch_uid=PREFIX)


class CountingLocmemBackend(LocmemBackend):
    """Django's locmem email backend (each message built as MIME), counted and not kept."""

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        add(API_CALLS, sent)
        add(MESSAGES, sum(len(message.to) for message in messages))
        mail.outbox.clear()
        return sent


class CountingAnymailBackend(AnymailTestBackend):
    """anymail's test backend: the full anymail path (payload, merge data, recipient
    statuses), one API call counted per message it posts, nothing kept."""

    def post_to_esp(self, payload, message):
        add(API_CALLS)
        add(MESSAGES, len(message.to))
        return super().post_to_esp(payload, message)

    def send_messages(self, email_messages):
        try:
            return super().send_messages(email_messages)
        finally:
            mail.outbox.clear()
