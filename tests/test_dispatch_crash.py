"""Real django-q2 clusters on Redis that die mid-wave: SIGKILLed (and restarted), or their
database connections terminated. The periodic tasks then find the lost work from the rows:
every waiter is notified, and none twice beyond the bound ``docs/dispatch.rst`` states
(per killed worker: the messages the channel took in its last ``REPORT_EVERY`` seconds,
plus the one in flight)."""

import math
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter

import pytest
from django.db import connection

from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories
from tests.qcluster_support import seed_guests
from tests.test_dispatch_qcluster import (
    ROOT,
    environment,
    sent_count,
    start_cluster,
    stop,
    wait_for,
)
from tests.testshop.models import StockLevel

pytestmark = [
    pytest.mark.qcluster,
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

WAITERS = 300
DELAY = 0.01  # seconds a message takes the channel
REPORT_EVERY = 0.05
WORKERS = 2  # per cluster (tests/settings_qcluster.py)


@pytest.fixture
def crash_env(tmp_path):
    """A fresh Redis queue, a slow channel that logs what it accepted, a short lease."""
    log = tmp_path / "sent.log"
    log.touch()
    return log, {
        "RW_QCLUSTER_QUEUE": f"rw_crash_{uuid.uuid4().hex[:8]}",
        "RW_QCLUSTER_CHUNK_SIZE": "25",
        "RW_QCLUSTER_BACKEND": "tests.qcluster_support.SlowLoggedChannel",
        "RW_QCLUSTER_SEND_DELAY": str(DELAY),
        "RW_QCLUSTER_SEND_LOG": str(log),
        "RW_QCLUSTER_REPORT_EVERY": str(REPORT_EVERY),
        "RW_QCLUSTER_STUCK_AFTER": "3",  # a live worker renews its lease every second
    }


def run_in_cluster_env(extra, code):
    subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", code],
        cwd=ROOT,
        env=environment("redis", **extra),
        check=True,
        capture_output=True,
    )


def start_restock(variant, extra):
    StockLevel.objects.filter(variant=variant).update(quantity=WAITERS)
    event = factories.RestockEventFactory(variant=variant, quantity=WAITERS)
    run_in_cluster_env(
        extra, f"from restock_waitlist.jobs import enqueue; enqueue('dispatch_restock', {event.pk})"
    )
    return event


def everyone_notified(extra, clusters):
    """Run the periodic tasks (in the cluster) until every waiter has been sent the alert."""

    def periodic_then_check():
        run_in_cluster_env(
            extra,
            "from restock_waitlist import tasks; "
            "tasks.requeue_notifications(); tasks.run_due_waves()",
        )
        return wait_for(lambda: sent_count() == WAITERS, timeout=3, processes=clusters)

    return wait_for(periodic_then_check, timeout=60, processes=clusters)


def assert_everyone_once_within_the_bound(event, log, killed_workers):
    assert sent_count() == WAITERS
    assert Notification.objects.count() == WAITERS  # one row per waiter: none re-created
    assert not StockWaitlist.objects.filter(status="waiting").exists()
    accepted = Counter(log.read_text().split())
    assert len(accepted) == WAITERS  # the provider took every waiter's message
    repeated = sum(count - 1 for count in accepted.values())
    bound = killed_workers * (math.ceil(REPORT_EVERY / DELAY) + 1)
    assert repeated <= bound, (repeated, bound)
    event.refresh_from_db()
    assert event.status == RestockEvent.Status.COMPLETED
    return repeated


def test_a_cluster_sigkilled_mid_wave_then_restarted(variant, crash_env):
    log, extra = crash_env
    seed_guests(variant, WAITERS)
    first = start_cluster("redis", RW_QCLUSTER_LABEL="first", **extra)
    clusters = [first]
    try:
        event = start_restock(variant, extra)
        assert wait_for(lambda: sent_count() >= WAITERS // 4, timeout=30, processes=clusters)
        os.killpg(first.pid, signal.SIGKILL)  # mid-wave: tasks fetched from Redis die with it
        first.wait()
        assert sent_count() < WAITERS
        second = start_cluster("redis", RW_QCLUSTER_LABEL="second", **extra)
        clusters = [second]
        assert everyone_notified(extra, clusters)
    finally:
        for cluster in clusters:
            stop(cluster)
    assert_everyone_once_within_the_bound(event, log, killed_workers=WORKERS)


def test_the_workers_database_connections_terminated_mid_wave(variant, crash_env):
    log, extra = crash_env
    seed_guests(variant, WAITERS)
    cluster = start_cluster("redis", RW_QCLUSTER_LABEL="only", **extra)
    try:
        event = start_restock(variant, extra)
        assert wait_for(lambda: sent_count() >= WAITERS // 4, timeout=30, processes=[cluster])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        assert everyone_notified(extra, [cluster])
    finally:
        stop(cluster)
    assert_everyone_once_within_the_bound(event, log, killed_workers=WORKERS)
