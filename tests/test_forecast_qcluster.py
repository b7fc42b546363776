"""Forecast reports written by a real django-q2 cluster on the ORM broker: the daily
schedule that restock_waitlist_schedules creates, and the report after a restock's wave."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from restock_waitlist.models import ForecastReport, RestockEvent
from tests.qcluster_support import seed_guests
from tests.test_dispatch_qcluster import start_cluster, stop, wait_for

pytestmark = [
    pytest.mark.qcluster,
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
]
FORECAST_SCHEDULE = "restock_waitlist: daily forecasts"


def reports(reason):
    return ForecastReport.objects.filter(reason=reason)


def test_the_daily_schedule_writes_a_report_for_every_item_with_waiters(variant):
    seed_guests(variant, 10)
    call_command("restock_waitlist_schedules", verbosity=0)
    schedule = Schedule.objects.get(name=FORECAST_SCHEDULE)
    assert "forecast" in schedule.func
    # Its time has come (the cron says 06:00; the cluster need not wait for it).
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - timedelta(minutes=1))
    cluster = start_cluster("orm", RW_QCLUSTER_GUARD_CYCLE="30")
    try:
        assert wait_for(lambda: reports("daily").exists(), timeout=45, processes=[cluster])
    finally:
        stop(cluster)
    report = reports("daily").get()
    assert (report.variant_key, report.occasion) == (
        str(variant.pk),
        timezone.localdate().isoformat(),
    )
    # 10 waiting at the default 0.35: 3.5 expected, ceil(4.2) = 5 to reorder.
    assert (report.waitlist_count, report.recommended_restock_qty) == (10, 5)
    schedule.refresh_from_db()
    local = timezone.localtime(schedule.next_run)
    assert schedule.next_run > timezone.now() and (local.hour, local.minute) == (6, 0)


def test_a_stock_save_leads_after_the_wave_to_a_report(settings, variant):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "Q_OPTIONS": {"sync": False}}
    seed_guests(variant, 10)
    cluster = start_cluster("orm")
    try:
        stock = variant.stock_levels.get()
        stock.quantity = 2  # the merchant's save: a wave of 6 on the cluster, then the report
        stock.save()
        assert wait_for(lambda: reports("wave").exists(), timeout=30, processes=[cluster])
    finally:
        stop(cluster)
    event = RestockEvent.objects.get()
    report = reports("wave").get()
    assert (report.event, report.variant_key) == (event, str(variant.pk))
    # The report task may start beside the wave's chunk on the other worker; it waits for
    # the chunk's claim, so it counts the 4 left: ceil(4 × 0.35 × 1.2) = 2 to reorder.
    assert (report.waitlist_count, report.recommended_restock_qty) == (4, 2)
