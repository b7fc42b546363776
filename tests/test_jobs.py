"""Queueing: one broker per process for a network broker, so a stock save pays no connect."""

import pytest
from django_q import brokers
from django_q.conf import Conf
from django_q.signing import SignedPackage

from restock_waitlist import jobs

redis = pytest.importorskip("redis")


@pytest.fixture
def redis_queue(monkeypatch):
    """django-q2 on the local Redis, not in sync mode, for this test only."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=7)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 does not answer (scripts/ensure-services.sh).")
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "REDIS", {"host": "127.0.0.1", "port": 6379, "db": 7})
    monkeypatch.setattr(jobs, "_brokers", {})
    built = []
    real = brokers.get_broker
    monkeypatch.setattr(brokers, "get_broker", lambda *a: built.append(a) or real(*a))
    key = f"django_q:{Conf.CLUSTER_NAME}:q"
    client.delete(key)
    yield client, key, built
    client.delete(key)


def test_tasks_share_one_broker_and_arrive(redis_queue):
    client, key, built = redis_queue
    jobs.enqueue("run_wave", 1)
    jobs.enqueue("run_wave", 2)
    assert len(built) == 1
    queued = [SignedPackage.loads(raw) for raw in client.lrange(key, 0, -1)]
    assert [(t["func"], t["args"]) for t in queued] == [
        ("restock_waitlist.tasks.run_wave", (1,)),
        ("restock_waitlist.tasks.run_wave", (2,)),
    ]


def test_the_orm_broker_is_left_to_django_q():
    assert Conf.ORM == "default"
    assert jobs._broker(None) is None
