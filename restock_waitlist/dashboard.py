"""The demand dashboard's numbers: what is waited for, how the waitlist grows, what the alerts
sold, and the restocks under way.

Each function is a fixed number of grouped queries whatever the size of the waitlist, and
returns plain rows; :mod:`restock_waitlist.charts` draws them and the admin shows them. Days
are the merchant's (the active time zone's).
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from restock_waitlist import forecast
from restock_waitlist.adapters import get_adapter, prefetch_catalog
from restock_waitlist.models import (
    CatalogItemMixin,
    ForecastReport,
    Notification,
    RestockEvent,
    RestockWave,
    StockWaitlist,
)
from restock_waitlist.operations import OPEN

#: The growth chart's periods, in days; the first is the default.
PERIODS = (30, 90)
#: How many items the "most waited" table lists.
TOP_ITEMS = 10
#: How many restocks the per-restock funnel and an item's history list, newest first.
RECENT_RESTOCKS = 10
#: How many restocks under way are shown, newest first.
IN_PROGRESS = 20
#: How many forecast reports an item's page lists, newest first.
FORECAST_HISTORY = 30

SENT = Notification.Status.SENT


@dataclass
class Item(CatalogItemMixin):
    """A product or variant somebody waits for, with what waits by tier and its forecast."""

    product_key: str
    variant_key: str = ""
    waiting: int = 0
    by_tier: list = field(default_factory=list)
    report: ForecastReport | None = None


def items_filter(items):
    """Q for rows of exactly these ``(product_key, variant_key)`` items."""
    return reduce(or_, (Q(product_key=p, variant_key=v) for p, v in items), Q(pk__in=[]))


def with_tier_names(counts):
    """``{tier: count}`` as rows ``{"tier", "name", "count"}``, higher tier first."""
    adapter = get_adapter()
    return [
        {"tier": tier, "name": adapter.tier_name(tier), "count": counts[tier]}
        for tier in sorted(counts, reverse=True)
    ]


def latest_reports(items):
    """``{(product_key, variant_key): report}``: each item's newest forecast report; one query."""
    if not items:
        return {}
    newest = (
        ForecastReport.objects.filter(
            product_key=OuterRef("product_key"), variant_key=OuterRef("variant_key")
        )
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    reports = ForecastReport.objects.filter(items_filter(items)).filter(pk=Subquery(newest))
    return {(r.product_key, r.variant_key): r for r in reports}


def most_waited(limit=TOP_ITEMS):
    """The ``limit`` items with the most waiting entries, most first, each with its counts by
    tier and its latest forecast report. Three queries."""
    top = list(
        StockWaitlist.objects.waiting()
        .order_by()
        .values("product_key", "variant_key")
        .annotate(waiting=Count("pk"))
        .order_by("-waiting", "product_key", "variant_key")[:limit]
    )
    items = [Item(row["product_key"], row["variant_key"], row["waiting"]) for row in top]
    keys = [(item.product_key, item.variant_key) for item in items]
    tiers = {}
    if items:
        for row in (
            StockWaitlist.objects.waiting()
            .filter(items_filter(keys))
            .order_by()
            .values("product_key", "variant_key", "tier")
            .annotate(count=Count("pk"))
        ):
            tiers.setdefault((row["product_key"], row["variant_key"]), {})[row["tier"]] = row[
                "count"
            ]
    reports = latest_reports(keys)
    for item, key in zip(items, keys, strict=True):
        item.by_tier = with_tier_names(tiers.get(key, {}))
        item.report = reports.get(key)
    return items


def growth(days=PERIODS[0], today=None):
    """Joins and cancellations per day over the last ``days`` days (today included), in the
    merchant's time zone: ``[{"day", "joined", "cancelled"}]``, oldest first. Two queries."""
    zone = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, time.min), zone)
    rows = {first + timedelta(days=n): {"joined": 0, "cancelled": 0} for n in range(days)}
    for column, step in (("created_at", "joined"), ("cancelled_at", "cancelled")):
        per_day = (
            StockWaitlist.objects.filter(**{f"{column}__gte": start})
            .annotate(day=TruncDate(column, tzinfo=zone))
            .order_by()
            .values("day")
            .annotate(count=Count("*"))  # not the id: the date index alone answers it
        )
        for row in per_day:
            if row["day"] in rows:
                rows[row["day"]][step] = row["count"]
    return [{"day": day, **counts} for day, counts in rows.items()]


def with_rates(counts):
    """Funnel counts as steps ``{"step", "count", "of_joined", "of_previous"}`` (rates from 0
    to 1, ``None`` where there is nothing to divide by)."""
    steps, previous = [], None
    joined = counts["joined"]
    for step in forecast.FUNNEL_STEPS:
        count = counts[step]
        steps.append(
            {
                "step": step,
                "count": count,
                "of_joined": count / joined if joined else None,
                "of_previous": count / previous if previous else None,
            }
        )
        previous = count
    return steps


def restock_funnels(limit=RECENT_RESTOCKS):
    """The newest ``limit`` restocks that reached anyone, each with the funnel of the entries
    it reached (:func:`forecast.funnel`). Two queries."""
    events = list(
        RestockEvent.objects.filter(
            Exists(StockWaitlist.objects.filter(notified_by=OuterRef("pk")))
        ).order_by("-created_at", "-id")[:limit]
    )
    counts = {
        row["notified_by"]: row
        for row in forecast.funnel(
            StockWaitlist.objects.filter(notified_by__in=[e.pk for e in events]),
            by=("notified_by",),
        )
    }
    nobody = dict.fromkeys(forecast.FUNNEL_STEPS, 0)  # its entries moved on meanwhile
    for event in events:
        event.funnel = with_rates(counts.get(event.pk, nobody))
    return events


def attach_progress(events):
    """``event.wave_progress``: each wave with its sends (``sent`` of ``planned``); two
    queries for any number of restocks."""
    sent = {}
    for row in (
        Notification.objects.filter(event__in=[e.pk for e in events], status=SENT)
        .order_by()
        .values("event", "wave")
        .annotate(count=Count("pk"))
    ):
        sent[row["event"], row["wave"]] = row["count"]
    waves = {}
    for wave in RestockWave.objects.filter(event__in=[e.pk for e in events]).order_by("number"):
        waves.setdefault(wave.event_id, []).append(
            {
                "number": wave.number,
                "planned": wave.size,
                "sent": sent.get((wave.event_id, wave.number), 0),
                "started": wave.created_at,
            }
        )
    for event in events:
        event.wave_progress = waves.get(event.pk, [])


def in_progress(limit=IN_PROGRESS):
    """Restocks still sending or waiting for a wave, newest first, with their waves' progress.
    Three queries."""
    events = list(RestockEvent.objects.filter(status__in=OPEN).order_by("-created_at")[:limit])
    attach_progress(events)
    return events


def summary(days=PERIODS[0]):
    """Everything the dashboard shows, names loaded for all of it at once."""
    top = most_waited()
    restocks = restock_funnels()
    under_way = in_progress()
    prefetch_catalog([*top, *restocks, *under_way])
    return {
        "most_waited": top,
        "growth": growth(days),
        "funnel": with_rates(forecast.funnel()),
        "restocks": restocks,
        "in_progress": under_way,
    }


def item_detail(product_key):
    """A product's page: waiters by variant and tier, its funnel, its restocks and its
    forecast reports, newest first."""
    waiting = {}
    for row in (
        StockWaitlist.objects.waiting()
        .filter(product_key=product_key)
        .order_by()
        .values("variant_key", "tier")
        .annotate(count=Count("pk"))
    ):
        waiting.setdefault(row["variant_key"], {})[row["tier"]] = row["count"]
    variants = [
        Item(product_key, key, sum(tiers.values()), with_tier_names(tiers))
        for key, tiers in sorted(waiting.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    restocks = list(
        RestockEvent.objects.filter(product_key=product_key).order_by("-created_at", "-id")[
            :RECENT_RESTOCKS
        ]
    )
    attach_progress(restocks)
    reports = list(
        ForecastReport.objects.filter(product_key=product_key).order_by("-created_at", "-id")[
            :FORECAST_HISTORY
        ]
    )
    product = Item(product_key)
    prefetch_catalog([product, *variants, *restocks, *reports])
    entries = StockWaitlist.objects.filter(product_key=product_key)
    return {
        "product": product,
        "variants": variants,
        "funnel": with_rates(forecast.funnel(entries)),
        "restocks": restocks,
        "reports": reports,
    }
