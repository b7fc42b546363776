"""Settings for real ``qcluster`` subprocesses started by ``tests/test_dispatch_qcluster.py``.

The test settings, pointed at the database the test run created (``RW_QCLUSTER_DB``),
with a real (not sync) cluster on the ORM or Redis broker (``RW_QCLUSTER_BROKER``).
"""

import os
from datetime import timedelta

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, Q_CLUSTER, RESTOCK_WAITLIST

DATABASES["default"]["NAME"] = os.environ["RW_QCLUSTER_DB"]
DATABASES["default"]["TEST"] = {"NAME": os.environ["RW_QCLUSTER_DB"]}
# Workers keep their connection across tasks (docs/workers.rst); a dead one is replaced.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

Q_CLUSTER = {
    **Q_CLUSTER,
    "sync": False,
    "workers": 2,
    "timeout": 30,
    "retry": 45,
    "poll": 0.05,
    "catch_up": False,
    "save_limit": -1,
    # The scheduler runs once the guard has cycled for 30 s in all; a 30 s cycle runs it at once.
    "guard_cycle": float(os.environ.get("RW_QCLUSTER_GUARD_CYCLE", "0.5")),
}
if os.environ.get("RW_QCLUSTER_BROKER") == "redis":
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = {"host": "127.0.0.1", "port": 6379, "db": 5}
    Q_CLUSTER["name"] = os.environ.get("RW_QCLUSTER_QUEUE", "restock_waitlist_qcluster")

RESTOCK_WAITLIST = {
    **RESTOCK_WAITLIST,
    "CHUNK_SIZE": int(os.environ.get("RW_QCLUSTER_CHUNK_SIZE", "200")),
    "STUCK_AFTER": timedelta(seconds=float(os.environ.get("RW_QCLUSTER_STUCK_AFTER", "900"))),
    "CHANNELS": {
        name: {
            "BACKEND": os.environ.get(
                "RW_QCLUSTER_BACKEND", "tests.qcluster_support.LabelledChannel"
            ),
            "OPTIONS": {"REPORT_EVERY": float(os.environ.get("RW_QCLUSTER_REPORT_EVERY", "0.2"))},
        }
        for name in ("push", "email", "sms")
    },
}
