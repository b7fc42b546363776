"""``POLICY``: dispatch asks one class for its decisions; a project changes one by
subclassing :class:`~restock_waitlist.policies.DefaultPolicy`."""

import pytest

from restock_waitlist.models import Notification, RestockWave, StockWaitlist
from restock_waitlist.policies import DefaultPolicy, WavePlan, get_policy
from tests import factories, flaky

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_succeed")]


class OneWaiterPerUnit(DefaultPolicy):
    def wave_size(self, event, available, wave):
        return available


class NoRetries(DefaultPolicy):
    def retry_at(self, notification, now):
        return None


def use_policy(settings, path, **values):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "POLICY": path, **values}


def test_the_default_is_oversubscription(variant, restock):
    entries = [factories.EntryFactory(variant=variant) for _ in range(10)]
    event = restock(variant, 2)
    notified = StockWaitlist.objects.filter(status=StockWaitlist.Status.NOTIFIED)
    assert notified.count() == 6  # ceil(2 × 3.0)
    assert set(notified.values_list("pk", flat=True)) == {e.pk for e in entries[:6]}
    wave = RestockWave.objects.get(event=event)
    assert (wave.number, wave.available, wave.size, wave.rule) == (1, 2, 6, "oversubscription")
    assert wave.inputs == {"available": 2, "oversubscription": 3.0}


def test_a_wave_size_of_the_units_notifies_exactly_that_many(variant, restock, settings):
    use_policy(settings, "tests.test_policies.OneWaiterPerUnit")
    assert isinstance(get_policy(), OneWaiterPerUnit)
    entries = [factories.EntryFactory(variant=variant) for _ in range(10)]
    event = restock(variant, 3)
    notified = StockWaitlist.objects.filter(status=StockWaitlist.Status.NOTIFIED)
    assert set(notified.values_list("pk", flat=True)) == {e.pk for e in entries[:3]}
    assert Notification.objects.filter(event=event, status="sent").count() == 3
    assert RestockWave.objects.get(event=event).size == 3


def test_retries_are_the_policys(variant, restock, settings):
    channels = dict(settings.RESTOCK_WAITLIST["CHANNELS"])
    channels["sms"] = {"BACKEND": "tests.flaky.FlakyChannel", "OPTIONS": {"CONTACT_KIND": "phone"}}
    use_policy(
        settings, "tests.test_policies.NoRetries", CHANNELS=channels, CHANNEL_ORDER=("sms", "email")
    )
    entry = factories.EntryFactory(variant=variant, channels=["sms", "email"], phone="+8210123")
    flaky.fail("+8210123", "transient")
    restock(variant, 1)
    rows = dict(Notification.objects.filter(entry=entry).values_list("channel", "status"))
    assert rows == {"sms": "failed", "email": "sent"}  # no backoff: the next channel at once


def test_plan_wave_records_a_rule_of_its_own(variant, restock, settings):
    use_policy(settings, "tests.test_policies.HalfTheQueue")
    for _ in range(4):
        factories.EntryFactory(variant=variant)
    event = restock(variant, 1)
    wave = RestockWave.objects.get(event=event)
    assert (wave.size, wave.rule, wave.inputs) == (2, "half", {"waiting": 4})


class HalfTheQueue(DefaultPolicy):
    def plan_wave(self, event, available, wave):
        waiting = StockWaitlist.objects.waiting_for_restock(event.product_key, event.variant_key)
        count = waiting.count()
        return WavePlan(size=count // 2, rule="half", inputs={"waiting": count})
