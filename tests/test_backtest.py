"""The backtest replays history: forecasts as they stood before each restock, against what
the waiters reached then bought. Every figure is worked out by hand below."""

from io import StringIO

import pytest
from django.core.management import call_command

from restock_waitlist.backtest import replay
from tests import factories
from tests.factories import alerted, past_restock

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(variant):
    """Restocks of one variant: 40, 20 and 10 days ago (judged) and 2 days ago (too recent)."""
    alerted(past_restock(variant, days_ago=40), 40, purchased=10)
    alerted(past_restock(variant, days_ago=20), 20, purchased=8)
    alerted(past_restock(variant, days_ago=10), 30, purchased=6)
    alerted(past_restock(variant, days_ago=2), 10, purchased=10)
    return variant


def rows():
    return {errors.level: errors for errors in replay()}


def test_each_restock_is_forecast_with_what_was_known_before_it(history):
    found = rows()
    # 40 days ago nothing was known: 40 × 0.35 = 14 expected, 10 bought: +4.
    default = found["default"]
    assert (default.restocks, default.reached, default.forecast, default.actual) == (1, 40, 14, 10)
    assert (default.mae, default.bias) == (4, 4)
    # 20 days ago: 10 of 40 → 0.25 × 20 = 5 expected, 8 bought: -3. 10 days ago: 18 of 60 →
    # 0.3 × 30 = 9 expected, 6 bought: +3.
    variant = found["variant"]
    assert (variant.restocks, variant.reached, variant.actual) == (2, 50, 14)
    assert variant.forecast == pytest.approx(14)
    assert (variant.mae, variant.bias) == (pytest.approx(3), pytest.approx(0))
    everything = found["all"]
    assert (everything.restocks, everything.reached, everything.actual) == (3, 90, 24)
    assert (everything.mae, everything.bias) == (pytest.approx(10 / 3), pytest.approx(4 / 3))
    assert (found["product"].restocks, found["shop"].restocks) == (0, 0)


def test_a_new_product_is_forecast_at_the_shops_rate_of_the_time(history):
    other = factories.StockLevelFactory().variant
    alerted(past_restock(other, days_ago=8), 10, purchased=5)
    shop = rows()["shop"]
    # Before it the shop had reached 90 and sold to 24: 10 × 24/90 = 2.67 expected, 5 bought.
    assert (shop.restocks, shop.reached, shop.actual) == (1, 10, 5)
    assert shop.forecast == pytest.approx(10 * 24 / 90)
    assert shop.bias == pytest.approx(10 * 24 / 90 - 5)


def test_no_history_no_rows():
    assert all(errors.restocks == 0 for errors in replay())


def test_the_command_prints_mae_and_bias_per_level(history):
    out = StringIO()
    call_command("restock_waitlist_backtest", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "level",
        "restocks",
        "waiters",
        "reached",
        "forecast",
        "bought",
        "MAE",
        "bias",
    ]
    assert lines[2].split() == ["variant", "2", "50", "14.0", "14", "3.00", "+0.00"]
    assert lines[5].split() == ["default", "1", "40", "14.0", "10", "4.00", "+4.00"]
    assert lines[6].split() == ["all", "3", "90", "28.0", "24", "3.33", "+1.33"]
    assert "Restocks of the last 7 days (ATTRIBUTION_WINDOW) are left out." in out.getvalue()
