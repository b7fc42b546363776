import textwrap

from django.core.management.base import BaseCommand, CommandError

from restock_waitlist.conf import app_settings
from restock_waitlist.management.tables import table
from restock_waitlist.simulation import FIXED, Scenario, simulate

DEFAULTS = Scenario()
#: Where the adaptive policy's rate came from, by level, for the closing line.
SOURCES = {
    "variant": "the item's own history",
    "shop": "the shop's pooled history",
    "default": "DEFAULT_CVR (too little history; fixed OVERSUBSCRIPTION waves)",
}
HEADERS = (
    "policy",
    "sold out",
    "units sold",
    "mean h to sell out",
    "median h",
    "disappointed",
    "messages",
)


def span(pair, unit=""):
    low, high = pair
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


class Command(BaseCommand):
    help = (
        "Simulate restocks (seeded, reproducible) under the fixed multiplier and the adaptive "
        "policy, and print units sold, time to sell out, waiters told for nothing "
        "(disappointed) and messages sent."
    )

    def add_arguments(self, parser):
        add = parser.add_argument
        add("--restocks", type=int, default=DEFAULTS.restocks, help="Restocks simulated.")
        add("--waiters", type=int, default=DEFAULTS.waiters, help="Waiters per restock.")
        add("--units", type=int, nargs=2, default=DEFAULTS.units, metavar=("MIN", "MAX"))
        add(
            "--conversion",
            type=float,
            nargs=2,
            default=DEFAULTS.conversion,
            metavar=("MIN", "MAX"),
            help="True conversion rate of an item, drawn between MIN and MAX.",
        )
        add(
            "--history",
            type=int,
            nargs=2,
            default=DEFAULTS.history,
            metavar=("MIN", "MAX"),
            help="Past alerts on record per item, for the adaptive policy's measured rate.",
        )
        add("--delay-hours", type=float, default=DEFAULTS.delay_hours, help="Mean purchase delay.")
        add(
            "--wave-interval-hours",
            type=float,
            default=None,
            help="Hours between waves (default: WAVE_INTERVAL).",
        )
        add("--fixed", type=float, default=DEFAULTS.fixed, help="The fixed multiplier (x3).")
        add("--seed", type=int, default=DEFAULTS.seed)

    def handle(self, **options):
        interval = options["wave_interval_hours"]
        if interval is None:
            interval = app_settings.WAVE_INTERVAL.total_seconds() / 3600
        scenario = Scenario(
            restocks=options["restocks"],
            waiters=options["waiters"],
            units=tuple(options["units"]),
            conversion=tuple(options["conversion"]),
            history=tuple(options["history"]),
            delay_hours=options["delay_hours"],
            wave_interval_hours=interval,
            fixed=options["fixed"],
            seed=options["seed"],
        )
        if min(scenario.restocks, scenario.waiters, *scenario.units) < 1:
            raise CommandError("Restocks, waiters and units must be at least 1.")
        if not 0 < scenario.conversion[0] <= scenario.conversion[1] <= 1:
            raise CommandError("Give conversion rates between 0 and 1, MIN first.")
        self.stdout.write(textwrap.fill(self.describe(scenario), width=88))
        rows = [HEADERS]
        for summary in simulate(scenario):
            name = f"fixed ×{scenario.fixed:g}" if summary.policy == FIXED else "adaptive"
            rows.append(
                (
                    name,
                    f"{summary.sold_out}/{summary.restocks}",
                    f"{summary.sold}/{summary.units}",
                    f"{summary.mean_hours:.1f}",
                    f"{summary.median_hours:.1f}",
                    str(summary.disappointed),
                    str(summary.messages),
                )
            )
            if summary.levels:
                levels = ", ".join(
                    f"{SOURCES[level]} for {summary.levels[level]} restocks"
                    for level in SOURCES
                    if level in summary.levels
                )
        self.stdout.write("")
        self.stdout.write(table(rows))
        self.stdout.write("")
        self.stdout.write(
            textwrap.fill(f"The adaptive policy's conversion rate came from {levels}.", width=88)
        )

    def describe(self, scenario):
        return (
            f"{scenario.restocks} restocks of {span(scenario.units)} units, "
            f"{scenario.waiters} waiters each, true conversion "
            f"{span(tuple(f'{rate:.0%}' for rate in scenario.conversion))}, "
            f"{span(scenario.history)} past alerts on record per item; purchases "
            f"{scenario.delay_hours:g} h after the alert on average, a wave every "
            f"{scenario.wave_interval_hours:g} h; "
            f"OVERSUBSCRIPTION_MAX {app_settings.OVERSUBSCRIPTION_MAX:g}, "
            f"FORECAST_MIN_SAMPLE {app_settings.FORECAST_MIN_SAMPLE}; seed {scenario.seed}."
        )
