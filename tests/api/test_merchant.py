"""Merchant endpoints: permissions, filters, summary, CSV export, restocks."""

import csv
import io
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from restock_waitlist.models import Notification, RestockEvent, StockWaitlist
from tests import factories
from tests.api.conftest import staff_with, url

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status

MERCHANT_READS = [
    ("merchant-entry-list",),
    ("merchant-entry-summary",),
    ("merchant-entry-export",),
    ("merchant-restock-list",),
]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


class TestPermissions:
    @pytest.mark.parametrize(("name",), MERCHANT_READS)
    def test_anonymous_is_not_authenticated(self, api, db, name):
        response = api.get(url(name))
        assert response.status_code == 403
        assert response.json() == {"detail": "Authentication credentials were not provided."}

    @pytest.mark.parametrize(("name",), MERCHANT_READS)
    def test_shopper_is_forbidden(self, shopper_api, name):
        response = shopper_api.get(url(name))
        assert response.status_code == 403
        assert response.json() == {"detail": "You do not have permission to perform this action."}

    def test_staff_without_the_model_permission_is_forbidden(self, api, db):
        api.force_login(staff_with("view_restockevent"))
        assert api.get(url("merchant-entry-list")).status_code == 403
        assert api.get(url("merchant-restock-list")).status_code == 200

    def test_permission_without_staff_is_forbidden(self, api, db):
        user = staff_with("view_stockwaitlist", username="clerk")
        user.is_staff = False
        user.save()
        api.force_login(user)
        assert api.get(url("merchant-entry-list")).status_code == 403

    def test_recording_needs_the_add_permission(self, api, variant):
        api.force_login(staff_with("view_restockevent"))
        response = api.post(
            url("merchant-restock-list"), {"product": variant.product_id, "quantity": 3}
        )
        assert response.status_code == 403
        assert not RestockEvent.objects.exists()

    def test_superuser_may_do_everything(self, api, variant):
        api.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
        assert api.get(url("merchant-entry-list")).status_code == 200
        response = api.post(
            url("merchant-restock-list"), {"product": variant.product_id, "quantity": 3}
        )
        assert response.status_code == 201

    def test_entries_are_read_only(self, merchant_api, db):
        entry = factories.EntryFactory()
        assert merchant_api.delete(url("merchant-entry-detail", entry.pk)).status_code == 403
        assert merchant_api.post(url("merchant-entry-list"), {}).status_code == 403


class TestMerchantEntries:
    def test_lists_everyones_entries(self, merchant_api, user, vip, variant):
        guest = factories.EntryFactory(variant=variant, user=None, email="g@example.com")
        factories.EntryFactory(variant=variant, user=user)
        factories.EntryFactory(variant=variant, user=vip, tier=1)
        body = merchant_api.get(url("merchant-entry-list")).json()
        assert body["count"] == 3
        rows = {row["id"]: row for row in body["results"]}
        assert rows[str(guest.pk)]["user"] is None
        assert rows[str(guest.pk)]["position"] == 2  # behind the VIP
        assert {row["tier"] for row in body["results"]} == {0, 1}
        assert {"consent_at", "consent_source", "consent_version", "notified_by"} <= set(
            body["results"][0]
        )

    def test_retrieve_any_entry(self, merchant_api, db):
        entry = factories.EntryFactory()
        response = merchant_api.get(url("merchant-entry-detail", entry.pk))
        assert (response.status_code, response.json()["user"]) == (200, entry.user_id)

    def test_filters(self, merchant_api, variant, vip):
        other = factories.VariantFactory()
        old = factories.EntryFactory(variant=variant, created_at=timezone.now() - timedelta(days=9))
        vip_entry = factories.EntryFactory(variant=variant, user=vip, tier=1)
        notified = factories.EntryFactory(variant=other, status=Status.NOTIFIED)

        def ids(**params):
            response = merchant_api.get(url("merchant-entry-list"), params)
            assert response.status_code == 200, response.content
            return {row["id"] for row in response.json()["results"]}

        assert ids(product=variant.product_id) == {str(old.pk), str(vip_entry.pk)}
        assert ids(variant=str(other.pk)) == {str(notified.pk)}
        assert ids(status="notified,cancelled") == {str(notified.pk)}
        assert ids(tier=1) == {str(vip_entry.pk)}
        week_ago = (timezone.now() - timedelta(days=7)).date().isoformat()
        assert ids(created_before=week_ago) == {str(old.pk)}
        assert str(old.pk) not in ids(created_after=week_ago)
        assert ids(created_after=(timezone.now() - timedelta(days=10)).isoformat()) == ids()
        assert ids(product="", status="") == ids()

    @pytest.mark.parametrize(
        ("param", "value"),
        [
            ("product", "abc"),
            ("product", "9" * 40),
            ("variant", "not-a-uuid"),
            ("status", "lost"),
            ("status", ","),
            ("tier", "x"),
            ("tier", "99999999999"),
            ("created_after", "yesterday"),
            ("created_after", "2025-02-30"),
            ("created_before", "0001-01-01T00:00:00+14:00"),
        ],
    )
    def test_bad_filter_answers_400_naming_the_parameter(self, merchant_api, db, param, value):
        for name in ("merchant-entry-list", "merchant-entry-summary", "merchant-entry-export"):
            response = merchant_api.get(url(name), {param: value})
            assert response.status_code == 400, (name, response.content)
            assert list(response.json()) == [param]

    def test_filters_do_not_apply_to_one_entry(self, merchant_api, db):
        entry = factories.EntryFactory()
        response = merchant_api.get(url("merchant-entry-detail", entry.pk), {"status": "lost"})
        assert response.status_code == 200


class TestSummary:
    @pytest.fixture
    def entries(self, variant, vip):
        other = factories.VariantFactory(product=variant.product)
        factories.EntryFactory.create_batch(2, variant=variant)
        factories.EntryFactory(variant=variant, user=vip, tier=1)
        factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        factories.EntryFactory(variant=other, status=Status.NOTIFIED)
        return variant, other

    def test_counts_by_status_and_tier_per_variant(self, merchant_api, entries):
        variant, other = entries
        body = merchant_api.get(url("merchant-entry-summary")).json()
        assert body["count"] == 2
        first, second = body["results"]
        assert (first["variant"], first["total"]) == (str(variant.pk), 4)
        assert first["item_name"] == f"{variant.product.name} – {variant.name}"
        assert first["by_status"] == {
            "pending": 0,
            "waiting": 3,
            "notified": 0,
            "purchased": 0,
            "cancelled": 1,
            "expired": 0,
        }
        assert first["by_tier"] == [{"tier": 1, "count": 1}, {"tier": 0, "count": 3}]
        assert (second["variant"], second["total"], second["by_status"]["notified"]) == (
            str(other.pk),
            1,
            1,
        )

    def test_per_product(self, merchant_api, entries):
        variant, _ = entries
        body = merchant_api.get(url("merchant-entry-summary"), {"by": "product"}).json()
        [row] = body["results"]
        assert (row["product"], row["variant"], row["total"]) == (variant.product_id, None, 5)
        assert row["item_name"] == variant.product.name

    def test_filters_apply(self, merchant_api, entries):
        body = merchant_api.get(url("merchant-entry-summary"), {"status": "waiting"}).json()
        assert [row["total"] for row in body["results"]] == [3]

    def test_bad_grouping(self, merchant_api, db):
        response = merchant_api.get(url("merchant-entry-summary"), {"by": "colour"})
        assert (response.status_code, list(response.json())) == (400, ["by"])

    @pytest.mark.parametrize("page_size", [1, 20])
    def test_queries_do_not_grow_with_page_size(
        self, merchant_api, page_size, django_assert_num_queries
    ):
        for _ in range(21):
            factories.EntryFactory(tier=1)
        # session, user, permissions (user and group), count, page, tiers, products, variants
        with django_assert_num_queries(9):
            response = merchant_api.get(url("merchant-entry-summary"), {"page_size": page_size})
        assert len(response.json()["results"]) == page_size


class TestExport:
    def test_streams_every_entry_as_csv(self, merchant_api, user, variant):
        waiting = factories.EntryFactory(variant=variant, user=user, channels=["email", "sms"])
        guest = factories.EntryFactory(
            variant=variant, user=None, email="g@example.com", phone="+821012345678"
        )
        response = merchant_api.get(url("merchant-entry-export"))
        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="waitlist.csv"'
        rows = csv_rows(response)
        assert [row["id"] for row in rows] == [str(waiting.pk), str(guest.pk)]
        assert rows[0]["email"] == user.email
        assert rows[0]["channels"] == "email sms"
        assert rows[0]["position"] == "1"
        assert rows[0]["item_name"] == f"{variant.product.name} – {variant.name}"
        assert rows[1]["phone"] == "+821012345678"
        assert rows[1]["user"] == ""

    def test_times_are_the_apis_local_times(self, merchant_api, settings, db):
        """The export gives times as the JSON does: in the active time zone, even though the
        response streams after the request (and its time zone) has ended."""
        settings.TIME_ZONE = "UTC"
        entry = factories.EntryFactory(
            created_at=datetime(2026, 1, 1, 0, 30, tzinfo=dt_timezone.utc)
        )
        with timezone.override("Asia/Seoul"):
            listed = merchant_api.get(url("merchant-entry-list")).json()["results"][0]
            response = merchant_api.get(url("merchant-entry-export"))
        [row] = csv_rows(response)
        assert row["id"] == str(entry.pk)
        assert row["created_at"] == "2026-01-01T09:30:00+09:00"
        assert listed["created_at"] == row["created_at"]

    def test_honours_filters_and_any_accept_header(self, merchant_api, db):
        kept = factories.EntryFactory(status=Status.NOTIFIED)
        factories.EntryFactory()
        response = merchant_api.get(
            url("merchant-entry-export"), {"status": "notified"}, HTTP_ACCEPT="text/csv"
        )
        assert response.status_code == 200
        assert [row["id"] for row in csv_rows(response)] == [str(kept.pk)]

    def test_cells_never_run_as_formulas(self, merchant_api, db):
        product = factories.ProductFactory(name='=HYPERLINK("http://evil")')
        factories.EntryFactory(variant=factories.VariantFactory(product=product))
        [row] = csv_rows(merchant_api.get(url("merchant-entry-export")))
        assert row["item_name"].startswith("'=HYPERLINK")

    def test_catalog_is_loaded_per_chunk_not_per_row(
        self, merchant_api, monkeypatch, django_assert_max_num_queries
    ):
        from restock_waitlist.api.views import MerchantEntryViewSet

        monkeypatch.setattr(MerchantEntryViewSet, "export_chunk_size", 4)
        factories.EntryFactory.create_batch(10)
        response = merchant_api.get(url("merchant-entry-export"))
        # the entries query, then products and variants once per chunk of 4 (3 chunks)
        with django_assert_max_num_queries(1 + 3 * 2):
            rows = csv_rows(response)
        assert len(rows) == 10


class TestRestocks:
    def test_record_a_restock(self, merchant_api, variant, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks() as callbacks:
            response = merchant_api.post(
                url("merchant-restock-list"),
                {
                    "product": variant.product_id,
                    "variant": str(variant.pk),
                    "quantity": 4,
                    "previous_quantity": 0,
                },
                format="json",
            )
        assert response.status_code == 201
        event = RestockEvent.objects.get()
        assert (event.quantity, event.previous_quantity, event.source) == (4, 0, "merchant")
        assert callbacks  # restock_detected is sent once the transaction commits
        body = response.json()
        assert (body["id"], body["product"], body["variant"]) == (
            event.pk,
            variant.product_id,
            str(variant.pk),
        )
        assert body["status"] == "pending"
        assert body["notifications"] == dict.fromkeys(Notification.Status.values, 0)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"quantity": 0}, "quantity"),
            ({"quantity": "many"}, "quantity"),
            ({"quantity": 2**40}, "quantity"),
            ({"quantity": None}, "quantity"),
            ({"previous_quantity": -1}, "previous_quantity"),
            ({"product": 424242}, "product"),
            ({"product": ["1"]}, "product"),
            ({"variant": "not-a-uuid"}, "variant"),
        ],
    )
    def test_bad_input_answers_400(self, merchant_api, variant, body, field):
        request = {"product": variant.product_id, "quantity": 2, **body}
        response = merchant_api.post(url("merchant-restock-list"), request, format="json")
        assert response.status_code == 400, response.content
        assert list(response.json()) == [field]

    def test_quantity_is_required(self, merchant_api, variant):
        response = merchant_api.post(
            url("merchant-restock-list"), {"product": variant.product_id}, format="json"
        )
        assert list(response.json()) == ["quantity"]

    def test_variant_of_another_product(self, merchant_api, variant):
        response = merchant_api.post(
            url("merchant-restock-list"),
            {
                "product": variant.product_id,
                "variant": str(factories.VariantFactory().pk),
                "quantity": 1,
            },
            format="json",
        )
        assert response.json() == {"variant": ["This variant belongs to another product."]}

    def test_list_shows_wave_progress_and_notification_counts(self, merchant_api, variant):
        event = factories.RestockEventFactory(
            variant=variant,
            status=RestockEvent.Status.WAITING_NEXT_WAVE,
            waves_sent=1,
            next_wave_at=timezone.now() + timedelta(hours=1),
        )
        factories.RestockEventFactory(variant=variant, status=RestockEvent.Status.COMPLETED)
        for status, channel in (("sent", "email"), ("sent", "sms"), ("failed", "push")):
            Notification.objects.create(
                entry=factories.EntryFactory(variant=variant),
                event=event,
                channel=channel,
                status=status,
            )
        response = merchant_api.get(url("merchant-restock-list"), {"status": "waiting_next_wave"})
        [row] = response.json()["results"]
        assert (row["id"], row["waves_sent"], row["status"]) == (event.pk, 1, "waiting_next_wave")
        assert row["next_wave_at"] is not None
        assert row["notifications"]["sent"] == 2
        assert row["notifications"]["failed"] == 1
        assert row["notifications"]["queued"] == 0
        detail = merchant_api.get(url("merchant-restock-detail", event.pk)).json()
        assert detail == row

    def test_unknown_restock(self, merchant_api, db):
        assert (
            merchant_api.get(url("merchant-restock-detail", 99999999999999999999)).status_code
            == 404
        )
        assert merchant_api.get("/api/waitlist/merchant/restocks/abc/").status_code == 404

    @pytest.mark.parametrize(("param", "value"), [("status", "done"), ("product", "x")])
    def test_bad_filter(self, merchant_api, db, param, value):
        response = merchant_api.get(url("merchant-restock-list"), {param: value})
        assert (response.status_code, list(response.json())) == (400, [param])


@pytest.mark.parametrize("page_size", [1, 20])
@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        # session, user, permissions (user and group), count, page, products, variants
        ("merchant-entry-list", lambda: factories.EntryFactory(), 8),
        # ... and the waves of the page
        ("merchant-restock-list", lambda: factories.RestockEventFactory(), 9),
        ("merchant-forecast-list", lambda: factories.ForecastReportFactory(), 8),
    ],
)
def test_merchant_list_queries_do_not_grow_with_page_size(
    merchant_api, page_size, name, make, expected, django_assert_num_queries
):
    for _ in range(21):
        make()
    with django_assert_num_queries(expected):
        response = merchant_api.get(url(name), {"page_size": page_size})
    assert len(response.json()["results"]) == page_size
