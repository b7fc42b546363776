import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_q.models import Task

from restock_waitlist.models import RestockEvent
from tests import factories, flaky


def pytest_configure(config):
    """With ``DB=postgres`` and ``CI=true``, an unreachable server fails the run, never skips it."""
    if os.environ.get("DB") == "postgres":
        import psycopg

        db = settings.DATABASES["default"]
        try:
            psycopg.connect(
                host=db["HOST"],
                port=db["PORT"],
                user=db["USER"],
                dbname="postgres",
                connect_timeout=5,
            ).close()
        except psycopg.OperationalError as exc:
            message = f"DB=postgres but PostgreSQL cannot be reached: {exc}"
            if os.environ.get("CI") == "true":
                raise pytest.UsageError(message) from exc
            pytest.exit(f"SKIPPING THE POSTGRESQL RUN. {message} (mandatory with CI=true)", 0)


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; runs in the DB=postgres pass")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def vip(db):
    return factories.UserFactory(username="vip-kim")


@pytest.fixture
def variant(db):
    """A sold-out variant (a stock row of quantity 0 in one warehouse)."""
    stock = factories.StockLevelFactory(quantity=0)
    return stock.variant


@pytest.fixture
def product(variant):
    return variant.product


@pytest.fixture
def gadget_settings(settings):
    settings.RESTOCK_WAITLIST = settings.GADGET_SETTINGS
    return settings.RESTOCK_WAITLIST


@pytest.fixture(autouse=True)
def fresh_catalogs():
    """The products and variants a worker keeps for its send tasks: none from other tests."""
    from restock_waitlist import dispatch

    dispatch._catalogs.clear()


@pytest.fixture(autouse=True)
def fresh_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _clear_locmem_channel_outbox():
    """Like Django's ``mail.outbox``: every test starts with an empty locmem channel outbox."""
    from restock_waitlist.channels import locmem

    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def tasks_succeed():
    """Sync django-q2 swallows task exceptions into failed Task rows: fail the test instead."""
    flaky.failures.clear()
    yield
    failed = list(Task.objects.filter(success=False).values_list("func", "result"))
    assert failed == []


@pytest.fixture
def restock(django_capture_on_commit_callbacks):
    """Set a variant's stock with a plain save(), running on-commit work; the latest event."""

    def restock(variant, quantity):
        stock = variant.stock_levels.first()
        with django_capture_on_commit_callbacks(execute=True):
            stock.quantity = quantity
            stock.save()
        return RestockEvent.objects.filter(variant_key=str(variant.pk)).order_by("-pk").first()

    return restock
