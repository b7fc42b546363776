"""Conversion from history and the demand forecast, on data sets whose answers are worked
out by hand in each test."""

import pytest

from restock_waitlist import forecast
from restock_waitlist.forecast import estimate_all, estimate_restock_demand, wilson_interval
from restock_waitlist.models import Notification, StockWaitlist
from tests import factories
from tests.factories import alerted

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status


def waiting(variant, count, **kwargs):
    return [factories.EntryFactory(variant=variant, **kwargs) for _ in range(count)]


def restock_of(variant):
    return factories.RestockEventFactory(variant=variant)


class TestWilsonInterval:
    def test_ten_of_forty(self):
        # p = 0.25, n = 40, z = 1.96: centre (0.25 + 1.96²/80) / (1 + 1.96²/40) = 0.2719,
        # half-width 1.96·√(0.25·0.75/40 + 1.96²/6400) / 1.0960 = 0.1300.
        low, high = wilson_interval(10, 40)
        assert low == pytest.approx(0.1419, abs=1e-4)
        assert high == pytest.approx(0.4019, abs=1e-4)

    def test_none_and_all_stay_inside_zero_to_one_and_are_not_zero_width(self):
        # 0 of 10: high = 1.96² / (10 + 1.96²) = 0.2775; 10 of 10 mirrors it.
        assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
        assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)

    def test_no_sample_knows_nothing(self):
        assert wilson_interval(0, 0) == (0.0, 1.0)


class TestSeedExample:
    def test_ten_waiting_and_no_history(self, variant):
        waiting(variant, 10)
        estimate = estimate_restock_demand(variant.product, variant)
        # 10 × 0.35 = 3.5; ceil(3.5 × 1.2 = 4.2) = 5.
        assert estimate["waitlist_count"] == 10
        assert estimate["estimated_purchase"] == 3.5
        assert estimate["recommended_restock_qty"] == 5
        assert estimate["historical_cvr"] == 0.35
        assert (estimate["cvr_level"], estimate["cvr_sample"]) == ("default", 0)
        # No history: the interval is all of 0..1, so 0 to 10 of them may buy.
        assert (estimate["low"], estimate["high"]) == (0, 10)

    def test_two_waiters_round_up_not_down(self, variant):
        waiting(variant, 2)
        estimate = estimate_restock_demand(variant.product, variant)
        # The seed's int(2 × 0.35 × 1.2 = 0.84) was 0; a merchant needs 1.
        assert estimate["estimated_purchase"] == pytest.approx(0.7)
        assert estimate["recommended_restock_qty"] == 1

    def test_an_exact_product_is_not_rounded_past(self, variant, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "DEFAULT_CVR": 0.56,
            "SAFETY_MARGIN": 0.5,
        }
        waiting(variant, 25)
        # 25 × 0.56 × 1.5 = 21 exactly, but 21.000000000000004 in floating point: 21 units.
        assert estimate_restock_demand(variant.product, variant)["recommended_restock_qty"] == 21

    def test_safety_margin_setting(self, variant, settings):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "SAFETY_MARGIN": 0.5}
        waiting(variant, 10)
        # ceil(10 × 0.35 × 1.5 = 5.25) = 6.
        assert estimate_restock_demand(variant.product, variant)["recommended_restock_qty"] == 6


class TestConversionFromHistory:
    def test_forty_notified_ten_bought_on_the_variant(self, variant):
        alerted(restock_of(variant), 40, purchased=10)
        waiting(variant, 8)
        estimate = estimate_restock_demand(variant.product, variant)
        assert estimate["historical_cvr"] == 0.25
        assert estimate["cvr_level"] == "variant"
        assert (estimate["cvr_sample"], estimate["cvr_purchased"]) == (40, 10)
        assert estimate["cvr_low"] == pytest.approx(0.1419, abs=1e-4)
        assert estimate["cvr_high"] == pytest.approx(0.4019, abs=1e-4)
        # 8 × 0.25 = 2.0; ceil(2.4) = 3; purchases between floor(8 × 0.1419) = 1 and
        # ceil(8 × 0.4019 = 3.2) = 4.
        assert (estimate["estimated_purchase"], estimate["recommended_restock_qty"]) == (2.0, 3)
        assert (estimate["low"], estimate["high"]) == (1, 4)

    def test_entries_marked_notified_or_purchased_count_without_the_time(self, variant):
        """Data imported or written without ``notified_at`` (a status alone) still counts."""
        for n in range(40):
            status = Status.PURCHASED if n < 10 else Status.NOTIFIED
            factories.EntryFactory(variant=variant, status=status)
        estimate = estimate_restock_demand(variant.product, variant)
        assert (estimate["historical_cvr"], estimate["cvr_level"]) == (0.25, "variant")

    def test_falls_back_to_the_product_then_the_shop_then_the_default(self, variant):
        sibling = factories.StockLevelFactory(variant__product=variant.product).variant
        other = factories.StockLevelFactory().variant
        # The variant: 20 reached (< 30), 10 bought. Its sibling: 16 reached, 2 bought.
        alerted(restock_of(variant), 20, purchased=10)
        alerted(restock_of(sibling), 16, purchased=2)
        # The product: 36 reached, 12 bought -> 1/3.
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.sample, conversion.purchased) == ("product", 36, 12)
        assert conversion.rate == pytest.approx(1 / 3)
        # Another product with 5 reached, none bought: the shop has 41 reached, 12 bought.
        alerted(restock_of(other), 5)
        conversion = forecast.conversion_for(str(other.product_id), str(other.pk))
        assert (conversion.level, conversion.sample, conversion.purchased) == ("shop", 41, 12)
        assert conversion.rate == pytest.approx(12 / 41)

    def test_default_only_when_even_the_shop_has_too_few(self, variant, settings):
        alerted(restock_of(variant), 29, purchased=29)
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.rate) == ("default", 0.35)
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "FORECAST_MIN_SAMPLE": 29}
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.rate) == ("variant", 1.0)

    def test_failed_and_skipped_notifications_do_not_count_as_notified(self, variant):
        event = restock_of(variant)
        alerted(event, 30, purchased=6)
        alerted(event, 20, status=Notification.Status.FAILED)
        alerted(event, 10, status=Notification.Status.SKIPPED)
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.sample, conversion.rate) == ("variant", 30, 0.2)

    def test_a_failure_then_a_sent_fallback_counts_once(self, variant):
        event = restock_of(variant)
        entries = alerted(event, 30, status=Notification.Status.FAILED)
        for entry in entries:
            factories.NotificationFactory(entry=entry, event=event, channel="sms")
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.sample) == ("variant", 30)

    def test_a_subscriber_with_a_variant_and_an_any_variant_entry_is_one_trial(self, variant):
        event = restock_of(variant)
        entries = alerted(event, 30, purchased=3)
        for entry in entries[:5]:  # their product-wide entries, notified with them
            StockWaitlist.objects.create(
                product_key=entry.product_key,
                variant_key="",
                email=entry.email,
                subscriber_key=entry.subscriber_key,
                status=entry.status,
                notified_at=entry.notified_at,
                notified_by=event,
            )
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.sample, conversion.purchased) == (30, 3)

    def test_product_wide_waiters_count_for_the_variant_that_came_back(self, variant):
        alerted(restock_of(variant), 30, purchased=9, variant_key="")
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.level, conversion.rate) == ("variant", 0.3)


class TestWaitlistCount:
    def test_variant_counts_its_own_and_product_wide_waiters_by_tier(self, variant, vip):
        sibling = factories.VariantFactory(product=variant.product)
        waiting(variant, 3)
        waiting(variant, 2, variant_key="")
        factories.EntryFactory(variant=variant, user=vip, tier=1)
        waiting(sibling, 4)
        waiting(variant, 2, status=Status.PENDING)
        waiting(variant, 2, status=Status.NOTIFIED)
        estimate = estimate_restock_demand(variant.product, variant)
        assert estimate["waitlist_count"] == 6
        assert estimate["waiting_by_tier"] == [{"tier": 1, "count": 1}, {"tier": 0, "count": 5}]
        # The product: every waiting entry of it, whichever variant.
        assert estimate_restock_demand(variant.product)["waitlist_count"] == 10

    @pytest.mark.parametrize("size", [1, 60])
    def test_constant_queries_whatever_the_size(self, variant, size, django_assert_num_queries):
        waiting(variant, size)
        alerted(restock_of(variant), size, purchased=size // 3)
        with django_assert_num_queries(2):
            estimate = estimate_restock_demand(variant.product, variant)
        assert estimate["waitlist_count"] == size

    def test_keys_work_as_well_as_instances(self, variant):
        waiting(variant, 3)
        by_key = estimate_restock_demand(variant.product_id, str(variant.pk))
        assert by_key == estimate_restock_demand(variant.product, variant)


class TestEstimateAll:
    def test_every_item_with_waiters_in_two_queries(self, variant, django_assert_num_queries):
        sibling = factories.StockLevelFactory(variant__product=variant.product).variant
        other = factories.StockLevelFactory().variant
        alerted(restock_of(variant), 40, purchased=10)
        alerted(restock_of(other), 12, purchased=6)
        waiting(variant, 4)
        waiting(sibling, 2)
        waiting(variant, 1, variant_key="")
        waiting(other, 3)
        items = {
            (str(variant.product_id), str(variant.pk)),
            (str(sibling.product_id), str(sibling.pk)),
            (str(variant.product_id), ""),
            (str(other.product_id), str(other.pk)),
        }
        with django_assert_num_queries(2):
            forecasts = estimate_all()
        assert set(forecasts) == items
        for product_key, variant_key in items:
            assert forecasts[product_key, variant_key] == estimate_restock_demand(
                product_key, variant_key or None
            )
        # By hand: the variant 4 + 1 waiting at 10/40; the product-wide item is all 7 of
        # the product at its 10/40; the other product has 12 reached (< 30): the shop, 16/52.
        assert forecasts[str(variant.product_id), str(variant.pk)]["waitlist_count"] == 5
        assert forecasts[str(variant.product_id), ""]["waitlist_count"] == 7
        assert forecasts[str(variant.product_id), ""]["cvr_level"] == "product"
        shop = forecasts[str(other.product_id), str(other.pk)]
        assert (shop["cvr_level"], shop["historical_cvr"]) == ("shop", 16 / 52)

    def test_nobody_waiting_nothing_to_estimate(self, variant, django_assert_num_queries):
        alerted(restock_of(variant), 40, purchased=10)
        with django_assert_num_queries(1):
            assert estimate_all() == {}
