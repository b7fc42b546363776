from django.core.management.base import BaseCommand
from django_q.models import Schedule

from restock_waitlist.conf import app_settings

#: (name, task, minutes between runs): the app's periodic work.
SCHEDULES = (
    ("restock_waitlist: next waves", "restock_waitlist.tasks.run_due_waves", 5),
    ("restock_waitlist: retries", "restock_waitlist.tasks.requeue_notifications", 1),
    ("restock_waitlist: reconcile stock", "restock_waitlist.tasks.reconcile_stock", 15),
    ("restock_waitlist: expire unconfirmed", "restock_waitlist.tasks.expire_unconfirmed", 60),
    ("restock_waitlist: confirmations", "restock_waitlist.tasks.send_due_confirmations", 5),
    ("restock_waitlist: purge old records", "restock_waitlist.tasks.purge_old_records", 24 * 60),
)
#: The daily forecast reports, at the cron expression ``FORECAST_SCHEDULE``.
FORECAST = (
    "restock_waitlist: daily forecasts",
    "restock_waitlist.tasks.daily_forecast_reports",
)


class Command(BaseCommand):
    help = (
        "Create or update the app's django-q2 schedules (next waves, retries and stuck sends, "
        "stock reconciliation, expiry of unconfirmed guests, purge of records older than "
        "RETENTION, daily forecast reports). Safe to run on every deploy."
    )

    def handle(self, **options):
        cluster = (app_settings.Q_OPTIONS or {}).get("cluster")
        for name, func, minutes in SCHEDULES:
            _schedule, created = Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": minutes,
                    "repeats": -1,
                    "cluster": cluster,
                },
            )
            verb = "Created" if created else "Updated"
            self.stdout.write(f"{verb} schedule {name!r}: {func} every {minutes} min.")
        self.schedule_forecasts(cluster)

    def schedule_forecasts(self, cluster):
        """The daily reports at ``FORECAST_SCHEDULE``, or none when it is ``None``."""
        name, func = FORECAST
        cron = app_settings.FORECAST_SCHEDULE
        if not cron:
            if Schedule.objects.filter(name=name).delete()[0]:
                self.stdout.write(f"Deleted schedule {name!r}: FORECAST_SCHEDULE is None.")
            return
        schedule = Schedule.objects.filter(name=name).first()
        created = schedule is None
        if created or schedule.cron != cron:
            schedule = schedule or Schedule(name=name)
            schedule.cron, schedule.schedule_type = cron, Schedule.CRON
            schedule.next_run = schedule.calculate_next_run()  # a new time: the next one
        schedule.func, schedule.repeats, schedule.cluster = func, -1, cluster
        schedule.schedule_type = Schedule.CRON
        schedule.save()
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} schedule {name!r}: {func} at cron {cron!r}.")
