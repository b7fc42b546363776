"""Settings for ``benchmarks/dispatch.py``: PostgreSQL, locmem channels, a real q2 broker."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import Q_CLUSTER, RESTOCK_WAITLIST

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_DB", "restock_waitlist_bench"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    }
}

Q_CLUSTER = {
    **Q_CLUSTER,
    "name": "restock_waitlist_bench",
    "sync": False,
    "workers": int(os.environ.get("BENCH_WORKERS", "4")),
    "timeout": 300,
    "retry": 360,
    "poll": 0.05,
    "save_limit": -1,
    "catch_up": False,
}
if os.environ.get("BENCH_BROKER", "redis") == "redis":
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = {"host": "127.0.0.1", "port": 6379, "db": 5}

RESTOCK_WAITLIST = {
    **RESTOCK_WAITLIST,
    "CHUNK_SIZE": int(os.environ.get("BENCH_CHUNK_SIZE", "500")),
    "Q_OPTIONS": {"sync": False},
    "CHANNELS": {
        name: {"BACKEND": "restock_waitlist.channels.locmem.LocmemChannel"}
        for name in ("push", "email", "sms")
    },
}
