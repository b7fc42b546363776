"""Forecast reports: after waves and restocks, when an item sells out, daily (with the
digest), and the schedule that writes them. django-q2 runs in sync mode here; the real
cluster is in test_forecast_qcluster.py."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from restock_waitlist import dispatch, reports
from restock_waitlist.models import ForecastReport, RestockEvent, RestockWave
from tests import factories
from tests.factories import alerted

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_succeed")]
Reason = ForecastReport.Reason


def waiting(variant, count, **kwargs):
    return [factories.EntryFactory(variant=variant, **kwargs) for _ in range(count)]


def report_of(variant, reason):
    return ForecastReport.objects.get(variant_key=str(variant.pk), reason=reason)


class TestAfterARestock:
    def test_a_stock_save_leads_after_the_wave_to_a_report_of_what_still_waits(
        self, variant, restock
    ):
        waiting(variant, 10)
        restock(variant, 2)  # a wave of ceil(2 × 3) = 6; 4 still wait
        event = RestockEvent.objects.get()
        assert event.status == RestockEvent.Status.WAITING_NEXT_WAVE
        report = report_of(variant, Reason.WAVE)
        assert (report.event, report.occasion) == (event, f"restock {event.pk}, wave 1")
        # 4 waiting at the default 0.35: 1.4 expected, ceil(1.68) = 2 to reorder.
        assert (report.waitlist_count, report.recommended_restock_qty) == (4, 2)
        assert report.estimated_purchase == pytest.approx(1.4)
        assert Task.objects.filter(func="restock_waitlist.tasks.report_restock").count() == 1

    def test_a_restock_that_reaches_everyone_reports_when_it_ends(self, variant, restock):
        waiting(variant, 3)
        restock(variant, 5)
        event = RestockEvent.objects.get()
        assert event.status == RestockEvent.Status.COMPLETED
        report = report_of(variant, Reason.RESTOCK_ENDED)
        assert (report.event, report.waitlist_count, report.recommended_restock_qty) == (
            event,
            0,
            0,
        )
        assert not ForecastReport.objects.filter(reason=Reason.WAVE).exists()

    def test_a_restock_that_sells_out_before_its_next_wave_reports_its_end(
        self, variant, restock, django_capture_on_commit_callbacks
    ):
        waiting(variant, 10)
        restock(variant, 1)  # 3 notified, 7 wait
        restock(variant, 0)  # sold out: its own report
        event = RestockEvent.objects.get()
        RestockEvent.objects.filter(pk=event.pk).update(next_wave_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.run_wave(event.pk)  # "Sold out before wave 2"
        ended = report_of(variant, Reason.RESTOCK_ENDED)
        assert (ended.event, ended.waitlist_count) == (event, 7)
        assert report_of(variant, Reason.SOLD_OUT).waitlist_count == 7

    def test_a_skipped_restock_writes_no_report(
        self, variant, restock, django_capture_on_commit_callbacks
    ):
        restock(variant, 5)  # nobody waits: no event at all
        event = factories.RestockEventFactory(variant=variant, quantity=0)
        with django_capture_on_commit_callbacks(execute=True):
            dispatch.dispatch_event(event.pk)
        assert not ForecastReport.objects.exists()

    def test_the_report_waits_for_the_waves_claims(self, variant):
        entries = waiting(variant, 10)
        variant.stock_levels.update(quantity=2)
        event = factories.RestockEventFactory(variant=variant, quantity=2)
        RestockWave.objects.create(event=event, number=1, available=2, size=6, rule="x")
        # The chunk has not claimed yet: the task queues itself again (run at once in sync
        # mode), at most SETTLE_ATTEMPTS times, then writes what it sees.
        assert reports.report_restock(event.pk, Reason.WAVE, 1) is None
        requeued = Task.objects.filter(func="restock_waitlist.tasks.report_restock")
        assert requeued.count() == reports.SETTLE_ATTEMPTS
        assert report_of(variant, Reason.WAVE).waitlist_count == 10
        # Claims in: written at once.
        ForecastReport.objects.all().delete()
        dispatch.create_notifications(event, 1, dispatch.claim_entries(event, entries[:6]))
        assert reports.report_restock(event.pk, Reason.WAVE, 1).waitlist_count == 4

    def test_a_wave_stopped_by_a_sell_out_is_settled(self, variant):
        waiting(variant, 10)
        variant.stock_levels.update(quantity=2)
        event = factories.RestockEventFactory(variant=variant, quantity=2)
        RestockWave.objects.create(event=event, number=1, available=2, size=6, rule="x")
        assert not reports.wave_settled(event)
        variant.stock_levels.update(quantity=0)
        assert reports.wave_settled(event)

    def test_the_report_task_run_twice_writes_one_report(self, variant):
        waiting(variant, 2)
        event = factories.RestockEventFactory(variant=variant)
        first = reports.report_restock(event.pk, Reason.RESTOCK_ENDED)
        waiting(variant, 5)
        again = reports.report_restock(event.pk, Reason.RESTOCK_ENDED)
        assert again.pk == first.pk and again.waitlist_count == 2
        assert ForecastReport.objects.count() == 1


class TestWhenAnItemSellsOut:
    def test_stock_falling_to_zero_with_waiters_writes_a_report(self, variant, restock):
        restock(variant, 4)  # nobody waits yet: no restock
        waiting(variant, 6)
        restock(variant, 0)
        report = report_of(variant, Reason.SOLD_OUT)
        # 6 × 0.35 = 2.1; ceil(2.52) = 3.
        assert (report.waitlist_count, report.recommended_restock_qty, report.event) == (
            6,
            3,
            None,
        )

    def test_nobody_waiting_no_report(self, variant, restock):
        restock(variant, 4)
        restock(variant, 0)
        assert not ForecastReport.objects.exists()

    def test_the_merchants_save_pays_no_query_only_an_enqueue_on_commit(
        self, variant, django_assert_num_queries, django_capture_on_commit_callbacks
    ):
        waiting(variant, 6)
        stock = variant.stock_levels.first()
        stock.quantity = 3
        stock.save()
        stock.quantity = 0
        # The UPDATE itself, plus the one query the stock receiver always pays.
        with (
            django_capture_on_commit_callbacks(execute=False) as callbacks,
            django_assert_num_queries(1 + 1),
        ):
            stock.save()
        assert len(callbacks) == 1  # enqueue report_sold_out
        stock.quantity = 0
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            stock.save()  # 0 -> 0: not a sell-out
        assert callbacks == []

    def test_one_warehouse_emptying_while_another_has_stock_is_not_a_sell_out(
        self, variant, restock
    ):
        waiting(variant, 2)
        factories.StockLevelFactory(variant=variant, quantity=3)
        restock(variant, 4)
        restock(variant, 0)  # 7 -> 3
        assert not ForecastReport.objects.filter(reason=Reason.SOLD_OUT).exists()


class TestDaily:
    def test_a_report_for_every_item_with_waiters_once_a_day(self, variant, settings):
        other = factories.StockLevelFactory().variant
        alerted(factories.RestockEventFactory(variant=variant), 40, purchased=10)
        waiting(variant, 8)
        waiting(other, 1)
        written = reports.write_daily_reports(date(2026, 11, 30))
        assert len(written) == 2
        mine = report_of(variant, Reason.DAILY)
        # 8 waiting at 10/40: 2.0 expected, ceil(2.4) = 3.
        assert (mine.occasion, mine.cvr_level, mine.historical_cvr) == (
            "2026-11-30",
            "variant",
            0.25,
        )
        assert (mine.waitlist_count, mine.recommended_restock_qty) == (8, 3)
        assert mine.waiting_by_tier == [{"tier": 0, "count": 8}]
        assert reports.write_daily_reports(date(2026, 11, 30)) == []
        assert len(reports.write_daily_reports(date(2026, 12, 1))) == 2
        assert mail.outbox == []  # no REPORT_RECIPIENTS

    @pytest.mark.parametrize("items", [1, 12])
    def test_constant_queries_whatever_the_number_of_items(self, items, django_assert_num_queries):
        for _ in range(items):
            waiting(factories.StockLevelFactory().variant, 2)
        # Reported today already, the two forecast queries, one insert.
        with django_assert_num_queries(4):
            assert len(reports.write_daily_reports()) == items

    def test_the_digest_goes_to_report_recipients_with_item_names(self, variant, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "REPORT_RECIPIENTS": ["buyer@shop.example", "ops@shop.example"],
        }
        other = factories.StockLevelFactory().variant
        waiting(variant, 10)
        waiting(other, 2)
        reports.write_daily_reports(date(2026, 11, 30))
        assert len(mail.outbox) == 1
        digest = mail.outbox[0]
        assert digest.to == ["buyer@shop.example", "ops@shop.example"]
        assert digest.subject == "Restock forecast for Nov. 30, 2026: 2 items with waiters"
        name = f"{variant.product} – {variant}"
        assert name in digest.body and str(variant.pk) not in digest.body
        # Biggest reorder first: 10 waiting (reorder 5) before 2 (reorder 1).
        assert digest.body.index(name) < digest.body.index(f"{other.product} – {other}")
        assert "Reorder: 5 (95% range of purchases: 0–10)" in digest.body
        assert "Conversion: 35% (Default assumption: too few alerted yet)" in digest.body
        html = digest.alternatives[0][0]
        assert "35% (Default assumption: too few alerted yet)" in html
        assert "<strong>5</strong>" in html
        reports.write_daily_reports(date(2026, 11, 30))
        assert len(mail.outbox) == 1  # nothing new: no second digest

    def test_the_digest_in_the_projects_language(self, variant, settings):
        settings.LANGUAGE_CODE = "ko"
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "REPORT_RECIPIENTS": ["buyer@shop.example"],
        }
        waiting(variant, 3)
        reports.write_daily_reports(date(2026, 11, 30))
        assert "재입고" in mail.outbox[0].subject


class TestSchedule:
    def test_the_schedules_command_creates_the_daily_forecast_at_forecast_schedule(self, settings):
        call_command("restock_waitlist_schedules", verbosity=0)
        schedule = Schedule.objects.get(name="restock_waitlist: daily forecasts")
        assert schedule.func == "restock_waitlist.tasks.daily_forecast_reports"
        assert "forecast" in schedule.func
        assert (schedule.schedule_type, schedule.cron, schedule.repeats) == (
            Schedule.CRON,
            "0 6 * * *",
            -1,
        )
        local = timezone.localtime(schedule.next_run)
        assert (local.hour, local.minute) == (6, 0)
        assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)

    def test_a_new_cron_moves_the_next_run_and_none_removes_it(self, settings):
        call_command("restock_waitlist_schedules", verbosity=0)
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "FORECAST_SCHEDULE": "30 22 * * 1",
        }
        call_command("restock_waitlist_schedules", verbosity=0)
        schedule = Schedule.objects.get(name="restock_waitlist: daily forecasts")
        local = timezone.localtime(schedule.next_run)
        assert (schedule.cron, local.weekday(), local.hour, local.minute) == (
            "30 22 * * 1",
            0,
            22,
            30,
        )
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "FORECAST_SCHEDULE": None}
        call_command("restock_waitlist_schedules", verbosity=0)
        assert not Schedule.objects.filter(name__contains="forecast").exists()

    def test_the_scheduled_task_writes_the_reports(self, variant):
        from restock_waitlist import tasks

        waiting(variant, 4)
        assert tasks.daily_forecast_reports() == 1
        assert report_of(variant, Reason.DAILY).waitlist_count == 4
