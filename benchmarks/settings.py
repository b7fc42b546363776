"""Settings for ``python -m benchmarks``: PostgreSQL, a real django-q2 broker, the real email
channel on a counting locmem or anymail backend (:mod:`benchmarks.counters`).

Read from the environment the harness sets: ``BENCH_DB``, ``BENCH_BROKER`` (``redis`` or
``orm``), ``BENCH_WORKERS``, ``BENCH_CHUNK_SIZE``, ``BENCH_EMAIL`` (``locmem`` or
``anymail``), ``BENCH_SYNC`` (run tasks in the calling process), ``BENCH_COUNT``,
``BENCH_REDIS_DB`` (the Redis database of the broker and the counters).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, Q_CLUSTER, RESTOCK_WAITLIST

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_DB", "restock_waitlist_bench"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        # Workers keep their connection between tasks (docs/workers.rst).
        "CONN_MAX_AGE": int(os.environ.get("BENCH_CONN_MAX_AGE", "600")),
    }
}
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.counters.CountersConfig"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SYNC = os.environ.get("BENCH_SYNC") == "1"
Q_CLUSTER = {
    **Q_CLUSTER,
    # Its own queue per benchmark database: two benchmarks at once never share tasks.
    "name": DATABASES["default"]["NAME"],
    "sync": SYNC,
    "workers": int(os.environ.get("BENCH_WORKERS", "2")),
    # In-process runs (explain) take a whole wave inside one task.
    "timeout": 3600 if SYNC else 300,
    "retry": 3660 if SYNC else 360,
    "poll": 0.05,
    "save_limit": -1,
    "catch_up": False,
    # django-q2 logs every task it enqueues; the joins and waves here enqueue thousands.
    "log_level": "WARNING",
}
if os.environ.get("BENCH_BROKER", "redis") == "redis":
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = {
        "host": "127.0.0.1",
        "port": 6379,
        "db": int(os.environ.get("BENCH_REDIS_DB", "5")),
    }

EMAIL_BACKENDS = {
    "locmem": ("benchmarks.counters.CountingLocmemBackend", {}),
    # anymail does not merge: any syntax with KEY in it stands for an ESP's.
    "anymail": ("benchmarks.counters.CountingAnymailBackend", {"MERGE_FIELD": "{{KEY}}"}),
}
EMAIL_BACKEND, EMAIL_OPTIONS = EMAIL_BACKENDS[os.environ.get("BENCH_EMAIL", "locmem")]
ANYMAIL = {}

RESTOCK_WAITLIST = {
    **RESTOCK_WAITLIST,
    "Q_OPTIONS": {"sync": SYNC},
    "CHANNELS": {
        "email": {
            "BACKEND": "restock_waitlist.channels.email.EmailChannel",
            "OPTIONS": {"EMAIL_BACKEND": EMAIL_BACKEND, **EMAIL_OPTIONS},
        },
    },
    # Every load-generator client comes from 127.0.0.1: the abuse limits would stop them.
    "THROTTLE_RATES": {
        "restock_waitlist_join": "1000000/hour",
        "restock_waitlist_address": "1000000/day",
        "restock_waitlist_guest": "1000000/hour",
    },
}

if os.environ.get("BENCH_CHUNK_SIZE"):
    RESTOCK_WAITLIST["CHUNK_SIZE"] = int(os.environ["BENCH_CHUNK_SIZE"])
