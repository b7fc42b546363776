"""Real django-q2 clusters: one on the ORM broker, two sharing a Redis queue.

Each test starts ``django-admin qcluster`` subprocesses against the test database (which
is why it commits: ``transaction=True``) and always stops them.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories
from tests.qcluster_support import seed_guests
from tests.testshop.models import StockLevel

pytestmark = [
    pytest.mark.qcluster,
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent


def environment(broker, **extra):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings_qcluster",
        "RW_QCLUSTER_DB": connection.settings_dict["NAME"],
        "RW_QCLUSTER_BROKER": broker,
    }
    env.update(extra)
    return env


def start_cluster(broker, **extra):
    return subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        cwd=ROOT,
        env=environment(broker, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition, timeout, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        for process in processes:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    return condition()


def sent_count():
    return Notification.objects.filter(status=Notification.Status.SENT).count()


def test_a_stock_save_is_dispatched_by_a_real_cluster_on_the_orm_broker(settings, variant):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "Q_OPTIONS": {"sync": False}}
    seed_guests(variant, 30)
    cluster = start_cluster("orm")
    try:
        stock = variant.stock_levels.get()
        stock.quantity = 4  # the merchant's save: only enqueues, on commit
        stock.save()
        assert sent_count() == 0
        assert wait_for(lambda: sent_count() == 12, timeout=30, processes=[cluster])
    finally:
        stop(cluster)
    event = RestockEvent.objects.get()
    assert (event.status, event.waves_sent) == (RestockEvent.Status.WAITING_NEXT_WAVE, 1)
    assert StockWaitlist.objects.filter(status="notified", notified_by=event).count() == 12


def test_two_clusters_on_redis_notify_thousands_each_exactly_once(variant):
    waiting = 3000
    seed_guests(variant, waiting)
    StockLevel.objects.filter(variant=variant).update(quantity=1000)  # 1000 x 3.0: everyone
    event = factories.RestockEventFactory(variant=variant, quantity=1000)
    queue = f"rw_dispatch_{uuid.uuid4().hex[:8]}"
    extra = {"RW_QCLUSTER_QUEUE": queue, "RW_QCLUSTER_CHUNK_SIZE": "100"}
    clusters = [
        start_cluster("redis", RW_QCLUSTER_LABEL=label, **extra) for label in ("east", "west")
    ]
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "restock_waitlist_dispatch",
                str(event.pk),
                "--enqueue",
            ],
            cwd=ROOT,
            env=environment("redis", **extra),
            check=True,
            capture_output=True,
        )
        assert wait_for(lambda: sent_count() == waiting, timeout=60, processes=clusters)
    finally:
        for cluster in clusters:
            stop(cluster)
    assert Notification.objects.count() == waiting
    duplicates = Notification.objects.values("entry").annotate(n=Count("pk")).filter(n__gt=1)
    assert not duplicates.exists()
    assert not StockWaitlist.objects.filter(status="waiting").exists()
    labels = {
        pid.split(":")[0]
        for pid in Notification.objects.values_list("provider_message_id", flat=True)
    }
    assert labels == {"east", "west"}  # both clusters did part of the work
