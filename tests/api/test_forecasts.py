"""Merchant API for demand: forecast reports (filters, CSV), the funnel, and restock waves."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from restock_waitlist import reports, services
from restock_waitlist.models import ForecastReport, Notification, RestockWave, StockWaitlist
from tests import factories
from tests.api.conftest import staff_with, url
from tests.factories import alerted

pytestmark = pytest.mark.django_db
Reason = ForecastReport.Reason


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def two_items(variant):
    """Daily reports of two items: the variant (6 waiting, 10/40 bought) and another (2)."""
    other = factories.StockLevelFactory().variant
    alerted(factories.RestockEventFactory(variant=variant), 40, purchased=10)
    for _ in range(6):
        factories.EntryFactory(variant=variant)
    for _ in range(2):
        factories.EntryFactory(variant=other)
    reports.write_daily_reports(date(2026, 11, 29))
    return variant, other


class TestForecastReports:
    def test_only_staff_with_the_view_permission(self, api, shopper_api, two_items):
        assert api.get(url("merchant-forecast-list")).status_code == 403
        assert shopper_api.get(url("merchant-forecast-list")).status_code == 403
        api.force_login(staff_with("view_stockwaitlist", username="clerk"))
        assert api.get(url("merchant-forecast-list")).status_code == 403

    def test_list_shows_names_numbers_and_tiers(self, merchant_api, two_items):
        variant, _other = two_items
        response = merchant_api.get(url("merchant-forecast-list"), {"variant": str(variant.pk)})
        assert response.status_code == 200
        (report,) = response.json()["results"]
        assert report["item_name"] == f"{variant.product} – {variant}"
        assert (report["product"], report["variant"]) == (variant.product_id, str(variant.pk))
        assert (report["reason"], report["occasion"], report["event"]) == (
            "daily",
            "2026-11-29",
            None,
        )
        # 6 waiting at 10/40: 1.5 expected, ceil(1.8) = 2 to reorder.
        assert report["waitlist_count"] == 6
        assert report["estimated_purchase"] == 1.5
        assert report["recommended_restock_qty"] == 2
        assert (report["historical_cvr"], report["cvr_level"]) == (0.25, "variant")
        assert (report["cvr_sample"], report["cvr_purchased"]) == (40, 10)
        assert report["waiting_by_tier"] == [{"tier": 0, "count": 6}]

    def test_filters(self, merchant_api, two_items, variant):
        waiter = StockWaitlist.objects.filter(status="waiting", variant_key=str(variant.pk))
        event = factories.RestockEventFactory(variant=variant)
        reports.report_restock(event.pk, Reason.RESTOCK_ENDED)
        ForecastReport.objects.filter(reason=Reason.DAILY).update(
            created_at=timezone.now() - timedelta(days=3)
        )
        assert waiter.exists()

        def ids(**params):
            response = merchant_api.get(url("merchant-forecast-list"), params)
            assert response.status_code == 200, response.json()
            return [(r["reason"], r["cvr_level"]) for r in response.json()["results"]]

        assert ids(reason="restock_ended") == [("restock_ended", "variant")]
        assert sorted(ids(reason="daily,restock_ended")) == sorted(
            [("daily", "variant"), ("daily", "shop"), ("restock_ended", "variant")]
        )
        assert ids(cvr_level="shop") == [("daily", "shop")]
        since = (timezone.now() - timedelta(days=1)).isoformat()
        assert ids(created_after=since) == [("restock_ended", "variant")]
        assert len(ids(product=variant.product_id)) == 2

    def test_a_bad_filter_names_the_parameter(self, merchant_api, two_items):
        response = merchant_api.get(url("merchant-forecast-list"), {"reason": "weekly"})
        assert response.status_code == 400
        assert list(response.json()) == ["reason"]

    def test_retrieve(self, merchant_api, two_items):
        report = ForecastReport.objects.first()
        response = merchant_api.get(url("merchant-forecast-detail", report.pk))
        assert response.json()["id"] == report.pk
        assert merchant_api.get(url("merchant-forecast-detail", "nope")).status_code == 404

    def test_csv_export_streams_names_and_numbers_filtered(self, merchant_api, two_items):
        variant, other = two_items
        response = merchant_api.get(url("merchant-forecast-export"), {"reason": "daily"})
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="forecasts.csv"'
        rows = csv_rows(response)
        names = {row["item_name"]: row for row in rows}
        assert set(names) == {f"{variant.product} – {variant}", f"{other.product} – {other}"}
        mine = names[f"{variant.product} – {variant}"]
        assert (mine["waitlist_count"], mine["recommended_restock_qty"], mine["cvr_level"]) == (
            "6",
            "2",
            "variant",
        )
        bad = merchant_api.get(url("merchant-forecast-export"), {"cvr_level": "galaxy"})
        assert bad.status_code == 400 and "cvr_level" in bad.json()


class TestFunnel:
    def test_joined_confirmed_notified_clicked_purchased(self, merchant_api, variant):
        event = factories.RestockEventFactory(variant=variant)
        reached = alerted(event, 4)
        alerted(event, 1, status=Notification.Status.FAILED)  # not reached
        Notification.objects.filter(entry=reached[0]).update(clicked_at=timezone.now())
        Notification.objects.filter(entry=reached[1]).update(clicked_at=timezone.now())
        services.record_purchase(variant.product, variant, email=reached[0].email, order_ref=1)
        services.record_purchase(variant.product, variant, email=reached[2].email, order_ref=2)
        factories.EntryFactory(variant=variant)  # waiting
        factories.EntryFactory(variant=variant, user=None, email="g@example.com", status="pending")
        response = merchant_api.get(url("merchant-entry-funnel"))
        # 5 alerted (one failed), 1 waiting, 1 guest still to confirm.
        assert response.json() == {
            "joined": 7,
            "confirmed": 6,
            "notified": 4,
            "clicked": 2,
            "purchased": 2,
        }
        other = merchant_api.get(url("merchant-entry-funnel"), {"product": 999})
        assert other.json()["joined"] == 0

    @pytest.mark.parametrize("count", [3, 30])
    def test_funnel_is_three_queries_however_many_entries(
        self, variant, django_assert_num_queries, count
    ):
        from restock_waitlist import forecast

        alerted(factories.RestockEventFactory(variant=variant), count, purchased=3)
        with django_assert_num_queries(3):
            assert forecast.funnel()["purchased"] == 3


class TestRestockWaves:
    def test_a_restock_shows_its_waves_with_their_rule_and_numbers(
        self, merchant_api, variant, django_assert_max_num_queries
    ):
        event = factories.RestockEventFactory(variant=variant)
        RestockWave.objects.create(
            event=event,
            number=1,
            available=2,
            size=8,
            rule="conversion",
            inputs={"available": 2, "cvr": 0.25, "cvr_level": "variant", "cvr_sample": 40},
        )
        response = merchant_api.get(url("merchant-restock-detail", event.pk))
        (wave,) = response.json()["waves"]
        assert (wave["number"], wave["available"], wave["size"], wave["rule"]) == (
            1,
            2,
            8,
            "conversion",
        )
        assert wave["inputs"] == {
            "available": 2,
            "cvr": 0.25,
            "cvr_level": "variant",
            "cvr_sample": 40,
        }
        for _ in range(5):
            factories.RestockEventFactory(variant=variant)
        with django_assert_max_num_queries(9):
            assert merchant_api.get(url("merchant-restock-list")).json()["count"] == 6
