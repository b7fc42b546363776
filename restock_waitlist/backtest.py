"""Replays recorded history: what the forecast would have said before each restock, against
what the waiters its alerts reached then bought.

For each past restock, the conversion rate is taken as :func:`forecast.conversion_for`
would have measured it at the moment of the restock (alerts sent before it, purchases
credited before it, the same fallback chain), and multiplied by the waiters the restock's
alerts reached: the forecast. The actual figure is how many of those waiters bought.
Restocks younger than ``ATTRIBUTION_WINDOW`` are left out: their purchases are not all in.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from restock_waitlist import forecast
from restock_waitlist.conf import app_settings
from restock_waitlist.models import StockWaitlist

#: Rows of the table, in order; ``"all"`` sums every restock.
ROWS = (*forecast.LEVELS, forecast.DEFAULT_LEVEL, "all")


@dataclass(frozen=True)
class LevelErrors:
    """How far forecasts measured on one level were from actual purchases.

    ``mae``: mean absolute error per restock, in purchases; ``bias``: mean of forecast minus
    actual (above 0: the forecast expected more buyers than came).
    """

    level: str
    restocks: int
    reached: int
    forecast: float
    actual: int
    mae: float
    bias: float


def _history(now):
    """Trials (one per subscriber and restock) and the restocks old enough to judge."""
    rows = (
        forecast.trials()
        .filter(notified_by__isnull=False)
        .values_list(
            "trial",
            "notified_by_id",
            "notified_by__created_at",
            "item_product",
            "item_variant",
            "notified_at",
            "status",
            "purchased_at",
        )
        .order_by()
    )
    trials, restocks = {}, defaultdict(set)
    cutoff = now - app_settings.ATTRIBUTION_WINDOW
    for key, event_id, created_at, product, variant, notified_at, status, at in rows.iterator():
        # When the purchase was credited (None: not bought).
        bought = (at or notified_at) if status == StockWaitlist.Status.PURCHASED else None
        known = trials.get(key)
        if known is not None:  # the subscriber's other entry: bought if either did
            bought = min(filter(None, (known[3], bought)), default=None)
        trials[key] = (product, variant, notified_at, bought)
        if created_at < cutoff:
            restocks[event_id, created_at, product, variant].add(key)
    return trials, restocks


def replay(now=None):
    """``[LevelErrors]`` for each level of :data:`ROWS`, from the recorded history."""
    trials, restocks = _history(now or timezone.now())
    notified = sorted((t[2], t[0], t[1]) for t in trials.values())
    purchased = sorted((t[3], t[0], t[1]) for t in trials.values() if t[3] is not None)
    reached, bought = defaultdict(int), defaultdict(int)
    errors = defaultdict(list)
    sent = done = 0
    for event_id, created_at, product, variant in sorted(restocks, key=lambda r: (r[1], r[0])):
        # What was known just before this restock: alerts sent and purchases credited.
        while sent < len(notified) and notified[sent][0] < created_at:
            _count(reached, *notified[sent][1:])
            sent += 1
        while done < len(purchased) and purchased[done][0] < created_at:
            _count(bought, *purchased[done][1:])
            done += 1
        levels = [("variant", (product, variant))] if variant else []
        levels += [("product", product), ("shop", None)]
        conversion = forecast.pick_conversion(
            [(level, reached[level, key], bought[level, key]) for level, key in levels]
        )
        keys = restocks[event_id, created_at, product, variant]
        actual = sum(trials[key][3] is not None for key in keys)
        errors[conversion.level].append((len(keys), len(keys) * conversion.rate, actual))
    errors["all"] = [error for level in ROWS[:-1] for error in errors[level]]
    return [_summary(level, errors[level]) for level in ROWS]


def _count(counts, product, variant):
    counts["variant", (product, variant)] += 1
    counts["product", product] += 1
    counts["shop", None] += 1


def _summary(level, rows):
    differences = [predicted - actual for _reached, predicted, actual in rows]
    n = len(rows)
    return LevelErrors(
        level=level,
        restocks=n,
        reached=sum(row[0] for row in rows),
        forecast=sum(row[1] for row in rows),
        actual=sum(row[2] for row in rows),
        mae=sum(abs(d) for d in differences) / n if n else 0.0,
        bias=sum(differences) / n if n else 0.0,
    )
