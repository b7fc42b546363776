"""A seeded simulation of restocks, to compare wave policies before trusting one.

Each simulated restock brings some units back to a queue of waiters. Every waiter has the
item's true conversion rate of buying, and buys a while after being told (an exponential
delay) if a unit is left; if none is, they were told for nothing: *disappointed*. Waves go
out every ``WAVE_INTERVAL`` while units are left and people wait, each sized by the policy
for the units left then, as :mod:`restock_waitlist.dispatch` does. Hours to sell out count
from the restock to the last unit sold.

Both policies meet the very same restocks and waiters (the same random draws), so the
difference in the table is the policies'. The adaptive policy does not know the true rate:
it gets what the shop would have measured, a history of past alerts per item, falling back
to the shop's pooled history and to ``DEFAULT_CVR`` through the same functions as the live
forecast (:func:`~restock_waitlist.forecast.pick_conversion`,
:func:`~restock_waitlist.policies.adaptive_wave_size`).
"""

import heapq
import itertools
import math
import random
import statistics
from dataclasses import dataclass

from restock_waitlist import forecast
from restock_waitlist.conf import app_settings
from restock_waitlist.policies import adaptive_wave_size

FIXED, ADAPTIVE = "fixed", "adaptive"


@dataclass(frozen=True)
class Scenario:
    """What is simulated; ranges are drawn uniformly per restock."""

    restocks: int = 200
    waiters: int = 300
    units: tuple = (5, 30)
    conversion: tuple = (0.10, 0.60)
    history: tuple = (0, 80)
    delay_hours: float = 6.0
    wave_interval_hours: float = 24.0
    fixed: float = 3.0
    seed: int = 7


@dataclass(frozen=True)
class Restock:
    units: int
    rate: float
    #: Each waiter in dispatch order: ``None`` if they would not buy, else hours to buy.
    waiters: tuple
    #: Past alerts of the item the shop has on record, and how many of them bought.
    history: tuple


@dataclass(frozen=True)
class Outcome:
    """One restock under one policy."""

    sold: int
    hours_to_sell_out: float | None
    disappointed: int
    messages: int


@dataclass(frozen=True)
class Summary:
    """One row of the table: a policy over every restock of the scenario."""

    policy: str
    restocks: int
    sold_out: int
    units: int
    sold: int
    mean_hours: float
    median_hours: float
    disappointed: int
    messages: int
    levels: dict


def draw(scenario):
    """The scenario's restocks, from its seed: the same list on every run."""
    rng = random.Random(scenario.seed)
    restocks = []
    for _ in range(scenario.restocks):
        rate = rng.uniform(*scenario.conversion)
        units = rng.randint(*scenario.units)
        told = rng.randint(*scenario.history)
        bought = sum(rng.random() < rate for _ in range(told))
        waiters = tuple(
            rng.expovariate(1 / scenario.delay_hours) if rng.random() < rate else None
            for _ in range(scenario.waiters)
        )
        restocks.append(Restock(units, rate, waiters, (told, bought)))
    return restocks


def conversions(restocks):
    """What the shop would have measured for each restock: the item's own history, else
    the shop's pooled one, else the default (:func:`forecast.pick_conversion`)."""
    shop_told = sum(told for told, _bought in (r.history for r in restocks))
    shop_bought = sum(bought for _told, bought in (r.history for r in restocks))
    return [
        forecast.pick_conversion([("variant", *restock.history), ("shop", shop_told, shop_bought)])
        for restock in restocks
    ]


def wave_sizer(policy, scenario, conversion):
    """``size(units left)`` of one policy for one restock."""
    if policy == FIXED:
        return lambda units: math.ceil(units * scenario.fixed)
    if conversion.level == forecast.DEFAULT_LEVEL:
        return lambda units: math.ceil(units * app_settings.OVERSUBSCRIPTION)
    maximum = app_settings.OVERSUBSCRIPTION_MAX
    return lambda units: adaptive_wave_size(units, conversion.rate, maximum)


def run(restock, size_of_wave, scenario):
    """One restock, wave by wave, buyers served in the order they come."""
    units, told, disappointed, sold_out_at = restock.units, 0, 0, None
    arrivals = []

    def serve(until):
        nonlocal units, disappointed, sold_out_at
        while arrivals and arrivals[0] < until:
            moment = heapq.heappop(arrivals)
            if units > 0:
                units -= 1
                if units == 0:
                    sold_out_at = moment
            else:
                disappointed += 1

    for wave in itertools.count():
        start = wave * scenario.wave_interval_hours
        serve(start)
        if units <= 0 or told >= len(restock.waiters):
            break
        size = size_of_wave(units)
        for delay in restock.waiters[told : told + size]:
            if delay is not None:
                heapq.heappush(arrivals, start + delay)
        told = min(len(restock.waiters), told + size)
    serve(math.inf)
    return Outcome(restock.units - units, sold_out_at, disappointed, told)


def simulate(scenario=None):
    """``[Summary]`` of the fixed and the adaptive policy on ``scenario`` (default: the one
    the docs print)."""
    scenario = scenario or Scenario()
    restocks = draw(scenario)
    measured = conversions(restocks)
    summaries = []
    for policy in (FIXED, ADAPTIVE):
        outcomes = [
            run(restock, wave_sizer(policy, scenario, conversion), scenario)
            for restock, conversion in zip(restocks, measured, strict=True)
        ]
        # Waves go on while anyone waits, so under either policy a restock sells out
        # unless its waiters hold fewer buyers than units: the same restocks either way.
        hours = [o.hours_to_sell_out for o in outcomes if o.hours_to_sell_out is not None]
        levels = {}
        if policy == ADAPTIVE:
            for conversion in measured:
                levels[conversion.level] = levels.get(conversion.level, 0) + 1
        summaries.append(
            Summary(
                policy=policy,
                restocks=len(outcomes),
                sold_out=len(hours),
                units=sum(r.units for r in restocks),
                sold=sum(o.sold for o in outcomes),
                mean_hours=statistics.fmean(hours),
                median_hours=statistics.median(hours),
                disappointed=sum(o.disappointed for o in outcomes),
                messages=sum(o.messages for o in outcomes),
                levels=levels,
            )
        )
    return summaries
