"""Demand forecasts from the waitlist and the shop's own history of restock alerts.

Every waiter a restock alert reached is a trial: they bought within ``ATTRIBUTION_WINDOW``
(:func:`~restock_waitlist.services.record_purchase` credited their entry) or they did not.
An item's conversion rate (CVR) is purchases over waiters reached, measured on the variant,
else the product, else the whole shop: the first level with at least
``FORECAST_MIN_SAMPLE`` waiters reached. With fewer even shop-wide, ``DEFAULT_CVR``. The
forecast multiplies what waits now by that rate.

The arithmetic is in plain functions (:func:`wilson_interval`, :func:`pick_conversion`,
:func:`demand`) that the simulation reuses; the queries count trials in SQL, in a fixed
number of statements whatever the size of the waitlist or the history.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import CharField, Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat

from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings
from restock_waitlist.models import ForecastReport, Notification, StockWaitlist
from restock_waitlist.querysets import alert_failed_condition, item_filter, told_condition

Level = ForecastReport.Level
#: The fallback chain, most specific first; ``"default"`` is what is left after it.
LEVELS = (Level.VARIANT.value, Level.PRODUCT.value, Level.SHOP.value)
DEFAULT_LEVEL = Level.DEFAULT.value
#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054
#: Products of floats are rounded to this many digits before a quantity is rounded, so
#: 2.5 × 1.2 = 3.0000000000000004 recommends 3 units, not 4.
ROUNDING_DIGITS = 9

Status = StockWaitlist.Status
PURCHASED = Q(status=Status.PURCHASED)


@dataclass(frozen=True)
class Conversion:
    """A conversion rate, where it was measured and how sure it is.

    ``sample`` waiters were reached at ``level`` and ``purchased`` of them bought; ``low``
    and ``high`` bound the 95 % Wilson interval. The default level has no sample, so its
    interval is the whole of 0 to 1.
    """

    rate: float
    level: str
    sample: int
    purchased: int
    low: float
    high: float


def wilson_interval(purchased, sample, z=Z95):
    """The Wilson score interval of ``purchased / sample``; ``(0.0, 1.0)`` with no sample.

    Unlike the normal approximation it stays inside 0–1 and is not zero-width at 0 or 1
    purchases, which small items see all the time.
    """
    if sample <= 0:
        return 0.0, 1.0
    p = purchased / sample
    denominator = 1 + z * z / sample
    centre = (p + z * z / (2 * sample)) / denominator
    half = z * math.sqrt(p * (1 - p) / sample + z * z / (4 * sample * sample)) / denominator
    # At 0 and at all purchases the bound is exactly 0 or 1; floats land a hair off.
    low = 0.0 if purchased <= 0 else max(0.0, centre - half)
    high = 1.0 if purchased >= sample else min(1.0, centre + half)
    return low, high


def pick_conversion(counts, *, min_sample=None, default=None):
    """The :class:`Conversion` of the first ``(level, sample, purchased)`` of ``counts``
    (most specific first) with at least ``min_sample`` waiters reached, else the default rate.

    ``min_sample`` and ``default`` are ``FORECAST_MIN_SAMPLE`` and ``DEFAULT_CVR`` unless given.
    """
    min_sample = app_settings.FORECAST_MIN_SAMPLE if min_sample is None else min_sample
    for level, sample, purchased in counts:
        if sample >= max(min_sample, 1):
            low, high = wilson_interval(purchased, sample)
            return Conversion(purchased / sample, level, sample, purchased, low, high)
    rate = app_settings.DEFAULT_CVR if default is None else default
    return Conversion(float(rate), DEFAULT_LEVEL, 0, 0, 0.0, 1.0)


def round_up(value):
    """Units for a fractional demand: a part of a buyer needs a whole unit."""
    return math.ceil(round(value, ROUNDING_DIGITS))


def round_down(value):
    return math.floor(round(value, ROUNDING_DIGITS))


def demand(waiting_by_tier, conversion, *, safety_margin=None):
    """The forecast for what waits (``[{"tier", "count"}]``, higher tier first) at a conversion.

    ``recommended_restock_qty`` rounds up (the seed's ``int()`` made 2 waiters at 35 % × 1.2
    a reorder of 0); ``low``/``high`` are the purchases the 95 % interval allows, rounded
    outwards.
    """
    margin = app_settings.SAFETY_MARGIN if safety_margin is None else safety_margin
    count = sum(row["count"] for row in waiting_by_tier)
    return {
        "waitlist_count": count,
        "estimated_purchase": count * conversion.rate,
        "recommended_restock_qty": round_up(count * conversion.rate * (1 + margin)),
        "historical_cvr": conversion.rate,
        "cvr_level": conversion.level,
        "cvr_sample": conversion.sample,
        "cvr_purchased": conversion.purchased,
        "cvr_low": conversion.low,
        "cvr_high": conversion.high,
        "low": round_down(count * conversion.low),
        "high": round_up(count * conversion.high),
        "waiting_by_tier": waiting_by_tier,
    }


# Queries ---------------------------------------------------------------------------------


def trials():
    """Entries a restock alert reached, with the item restocked (``item_product``,
    ``item_variant``) and a ``trial`` key: one subscriber and one restock, so a shopper
    waiting for a variant and for "any variant" is one trial, not two.

    A trial belongs to one item only (an entry without its restock counts for its own
    item), so the trials of a product or of the shop are the sum of its items'.
    """
    item_product = Coalesce("notified_by__product_key", "product_key")
    item_variant = Coalesce("notified_by__variant_key", "variant_key")
    own_item = Concat("product_key", Value("/"), "variant_key", output_field=CharField())
    return (
        StockWaitlist.objects.reached()
        .annotate(
            item_product=item_product,
            item_variant=item_variant,
            trial=Concat(
                "subscriber_key",
                Value("|"),
                Coalesce(Cast("notified_by_id", CharField()), own_item),
                output_field=CharField(),
            ),
        )
        .order_by()
    )


def _counted(prefix, condition=None):
    """``<prefix>_sample`` and ``<prefix>_purchased``: trials matching ``condition``, and
    those that bought."""
    return {
        f"{prefix}_sample": Count("trial", distinct=True, filter=condition),
        f"{prefix}_purchased": Count(
            "trial", distinct=True, filter=PURCHASED if condition is None else condition & PURCHASED
        ),
    }


def conversion_for(product_key, variant_key=""):
    """The :class:`Conversion` of an item, falling back along the chain; one query."""
    aggregates = {**_counted("shop"), **_counted("product", Q(item_product=product_key))}
    if variant_key:
        aggregates.update(
            _counted("variant", Q(item_product=product_key, item_variant=variant_key))
        )
    row = trials().aggregate(**aggregates)
    levels = LEVELS if variant_key else LEVELS[1:]
    return pick_conversion(
        [(level, row[f"{level}_sample"], row[f"{level}_purchased"]) for level in levels]
    )


def waiting_entries_for(product_key, variant_key=""):
    """Waiting entries a forecast of the item counts: for a variant its own and the
    product-wide ones, for a product every one of it."""
    waiting = StockWaitlist.objects.waiting()
    if variant_key:
        return waiting.filter(item_filter(product_key, variant_key))
    return waiting.filter(product_key=product_key)


def _tiers(counts):
    """``{tier: count}`` as ``[{"tier", "count"}]``, higher tier first (as dispatch serves)."""
    return [{"tier": tier, "count": counts[tier]} for tier in sorted(counts, reverse=True)]


def estimate_for(product_key, variant_key=""):
    """:func:`estimate_restock_demand` for keys; two queries."""
    rows = (
        waiting_entries_for(product_key, variant_key)
        .order_by()
        .values("tier")
        .annotate(count=Count("pk"))
    )
    tiers = _tiers({row["tier"]: row["count"] for row in rows})
    return demand(tiers, conversion_for(product_key, variant_key))


def estimate_restock_demand(product, variant=None):
    """How many of the item's waiters will buy when it is back, and what to reorder.

    ``product`` and ``variant`` are instances or primary keys. Returns a dict:
    ``waitlist_count`` (waiting entries; for a variant, product-wide ones included),
    ``estimated_purchase`` (``waitlist_count × historical_cvr``, a float),
    ``recommended_restock_qty`` (``ceil(waitlist_count × CVR × (1 + SAFETY_MARGIN))``),
    ``historical_cvr``, ``cvr_level`` (``"variant"``, ``"product"``, ``"shop"`` or
    ``"default"``), ``cvr_sample`` and ``cvr_purchased`` (waiters reached at that level and
    how many bought), ``cvr_low``/``cvr_high`` (the 95 % Wilson interval), ``low``/``high``
    (purchases that interval allows) and ``waiting_by_tier`` (``[{"tier", "count"}]``).

    Two queries, whatever the size of the waitlist or of the history.
    """
    adapter = get_adapter()
    return estimate_for(adapter.product_key(product), adapter.variant_key(variant))


def estimate_all():
    """``{(product_key, variant_key): forecast}`` for every item somebody waits for; two
    grouped queries in all (waiting entries by item and tier, trials by item).

    The items are what entries wait for: variants, and products (for product-wide entries,
    counting every waiting entry of the product, as :func:`estimate_restock_demand` does).
    """
    rows = (
        StockWaitlist.objects.waiting()
        .order_by()
        .values("product_key", "variant_key", "tier")
        .annotate(count=Count("pk"))
    )
    own = defaultdict(lambda: defaultdict(int))
    whole = defaultdict(lambda: defaultdict(int))
    for row in rows:
        own[row["product_key"], row["variant_key"]][row["tier"]] += row["count"]
        whole[row["product_key"]][row["tier"]] += row["count"]
    if not own:
        return {}
    # Trials by item; a product's and the shop's are sums (a trial belongs to one item).
    by_variant, by_product, shop = {}, defaultdict(lambda: [0, 0]), [0, 0]
    grouped = trials().values("item_product", "item_variant").annotate(**_counted("level"))
    for row in grouped:
        counts = (row["level_sample"], row["level_purchased"])
        by_variant[row["item_product"], row["item_variant"]] = counts
        for total in (by_product[row["item_product"]], shop):
            total[0] += counts[0]
            total[1] += counts[1]
    forecasts = {}
    for product_key, variant_key in own:
        levels = []
        if variant_key:
            tiers = defaultdict(int, own[product_key, variant_key])
            for tier, count in own.get((product_key, ""), {}).items():
                tiers[tier] += count
            levels.append(("variant", *by_variant.get((product_key, variant_key), (0, 0))))
        else:
            tiers = whole[product_key]
        levels.append(("product", *by_product.get(product_key, (0, 0))))
        levels.append(("shop", *shop))
        forecasts[product_key, variant_key] = demand(_tiers(tiers), pick_conversion(levels))
    return forecasts


#: The funnel's steps, in order.
FUNNEL_STEPS = ("joined", "confirmed", "notified", "clicked", "purchased")


def _grouped(entries, by, **aggregates):
    """``{group values: aggregates}`` of ``entries`` by the fields ``by`` (``()``: one group)."""
    if not by:
        return {(): entries.aggregate(**aggregates)}
    rows = entries.values(*by).annotate(**aggregates).order_by()
    return {tuple(row[name] for name in by): row for row in rows}


def funnel(entries=None, *, by=()):
    """How far entries got: ``joined``, ``confirmed`` (held a place in line), ``notified``
    (an alert reached them), ``clicked`` (they followed its link) and ``purchased`` (a
    purchase was credited to them, clicked or not).

    ``entries`` is a queryset of :class:`~restock_waitlist.models.StockWaitlist` (filter it
    by item or date first); all entries by default. With ``by`` (field names, e.g.
    ``("notified_by",)``), a list of such counts per group, each with its ``by`` values.

    Three queries, each one pass the database can hash-join: the plain counts with those
    told; those told whose alert failed (notified is told less those); those who clicked.
    A million entries take well under a second on PostgreSQL (``benchmarks/dashboard.py``).
    """
    entries = (StockWaitlist.objects.all() if entries is None else entries).order_by()
    told = told_condition()
    confirmed = (
        Q(status__in=[Status.WAITING, Status.NOTIFIED, Status.PURCHASED])
        | Q(confirmed_at__isnull=False)
        | Q(status=Status.CANCELLED, user__isnull=False)
    )
    clicked = Notification.objects.filter(
        event=OuterRef("notified_by"),
        subscriber_key=OuterRef("subscriber_key"),
        clicked_at__isnull=False,
    )
    counts = _grouped(
        entries,
        by,
        joined=Count("pk"),
        confirmed=Count("pk", filter=confirmed),
        told=Count("pk", filter=told),
        purchased=Count("pk", filter=PURCHASED),
    )
    failed = _grouped(entries.filter(told).filter(alert_failed_condition()), by, n=Count("pk"))
    clicks = _grouped(
        entries.filter(notified_by__isnull=False).filter(Exists(clicked)), by, n=Count("pk")
    )
    rows = [
        {
            **dict(zip(by, key, strict=True)),
            "joined": row["joined"],
            "confirmed": row["confirmed"],
            "notified": row["told"] - (failed.get(key) or {}).get("n", 0),
            "clicked": (clicks.get(key) or {}).get("n", 0),
            "purchased": row["purchased"],
        }
        for key, row in counts.items()
    ]
    return rows if by else rows[0]
