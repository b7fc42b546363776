"""AdaptivePolicy: waves sized from the measured conversion rate, within bounds."""

import pytest
from django.core import mail

from restock_waitlist.models import RestockWave, StockWaitlist
from restock_waitlist.policies import AdaptivePolicy, adaptive_wave_size, get_policy
from tests import factories
from tests.factories import alerted, past_restock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_succeed")]
ADAPTIVE = "restock_waitlist.policies.AdaptivePolicy"


@pytest.fixture
def adaptive(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "POLICY": ADAPTIVE}
    return settings.RESTOCK_WAITLIST


def configure(settings, **values):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **values}


def waiting(variant, count):
    return [factories.EntryFactory(variant=variant) for _ in range(count)]


def notified(event):
    return StockWaitlist.objects.filter(notified_by=event).count()


class TestBounds:
    @pytest.mark.parametrize(
        ("available", "cvr", "maximum", "size"),
        [
            (2, 0.25, 5.0, 8),  # ceil(2 / 0.25)
            (2, 0.9, 5.0, 3),  # ceil(2.22)
            (2, 1.0, 5.0, 2),  # never fewer waiters than units
            (3, 0.05, 5.0, 15),  # 60 capped at 5 × 3
            (3, 0.05, 2.5, 8),  # capped at ceil(2.5 × 3 = 7.5)
            (2, 0.0, 5.0, 10),  # nobody ever bought: the cap
            (21, 0.35, 5.0, 60),  # 21 / 0.35 is 60.00000000000001 in floats: still 60
            (0, 0.25, 5.0, 0),
        ],
    )
    def test_ceil_units_over_cvr_between_units_and_the_cap(self, available, cvr, maximum, size):
        assert adaptive_wave_size(available, cvr, maximum) == size


class TestAdaptiveWaves:
    def test_cvr_a_quarter_and_two_units_back_notify_eight(self, adaptive, variant, restock):
        alerted(past_restock(variant), 40, purchased=10)
        waiting(variant, 20)
        mail.outbox.clear()
        event = restock(variant, 2)
        assert notified(event) == 8
        assert len(mail.outbox) == 8
        wave = RestockWave.objects.get(event=event)
        assert (wave.number, wave.available, wave.size, wave.rule) == (1, 2, 8, "conversion")
        assert wave.inputs == {
            "available": 2,
            "cvr": 0.25,
            "cvr_level": "variant",
            "cvr_sample": 40,
            "oversubscription_max": 5.0,
        }

    def test_a_new_item_uses_the_shops_rate(self, adaptive, variant, restock):
        other = factories.StockLevelFactory().variant
        alerted(past_restock(other), 50, purchased=25)
        waiting(variant, 20)
        event = restock(variant, 3)
        # No history of its own: the shop's 25/50 = 0.5, so ceil(3 / 0.5) = 6.
        assert notified(event) == 6
        assert RestockWave.objects.get(event=event).inputs["cvr_level"] == "shop"

    def test_too_little_history_falls_back_to_oversubscription(
        self, adaptive, variant, restock, settings
    ):
        configure(settings, OVERSUBSCRIPTION=2.0)
        alerted(past_restock(variant), 29, purchased=29)
        waiting(variant, 20)
        event = restock(variant, 2)
        assert notified(event) == 4  # ceil(2 × 2.0)
        wave = RestockWave.objects.get(event=event)
        assert wave.rule == "oversubscription"
        assert wave.inputs == {
            "available": 2,
            "oversubscription": 2.0,
            "cvr_level": "default",
            "cvr_sample": 0,
        }

    def test_the_cap_is_a_setting(self, adaptive, variant, restock, settings):
        configure(settings, OVERSUBSCRIPTION_MAX=2.0)
        alerted(past_restock(variant), 40, purchased=4)
        waiting(variant, 30)
        event = restock(variant, 2)
        assert notified(event) == 4  # ceil(2 / 0.1) = 20, capped at 2 × 2

    def test_the_default_policy_keeps_the_fixed_multiplier(self, variant, restock):
        alerted(past_restock(variant), 40, purchased=10)
        waiting(variant, 20)
        event = restock(variant, 2)
        assert notified(event) == 6
        assert RestockWave.objects.get(event=event).rule == "oversubscription"

    def test_get_policy_builds_it(self, adaptive):
        assert isinstance(get_policy(), AdaptivePolicy)
