import textwrap

from django.core.management.base import BaseCommand

from restock_waitlist.backtest import replay
from restock_waitlist.conf import app_settings
from restock_waitlist.management.tables import table

HEADERS = ("level", "restocks", "waiters reached", "forecast", "bought", "MAE", "bias")


class Command(BaseCommand):
    help = (
        "Replay recorded history: for each past restock, the forecast the app would have "
        "made before it against what the waiters its alerts reached bought; MAE and bias "
        "per conversion level."
    )

    def handle(self, **options):
        rows = [HEADERS]
        for errors in replay():
            rows.append(
                (
                    errors.level,
                    str(errors.restocks),
                    str(errors.reached),
                    f"{errors.forecast:.1f}",
                    str(errors.actual),
                    f"{errors.mae:.2f}",
                    f"{errors.bias:+.2f}",
                )
            )
        self.stdout.write(table(rows))
        self.stdout.write("")
        self.stdout.write(
            textwrap.fill(
                "MAE: mean absolute error per restock, in purchases. Bias: mean of forecast minus "
                "bought (above 0: more buyers were expected than came). The level is where the "
                "conversion rate was measured at the time. Restocks of the last "
                f"{app_settings.ATTRIBUTION_WINDOW.days} days (ATTRIBUTION_WINDOW) are left out.",
                width=88,
            )
        )
