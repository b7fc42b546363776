import pytest
from django.urls import reverse

from restock_waitlist.models import RestockEvent, StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def changelist_queries(staff_client, url, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = staff_client.get(url)
    assert response.status_code == 200
    return len(captured), response


def test_entry_changelist_shows_names_in_constant_queries(
    staff_client, django_assert_max_num_queries
):
    url = reverse("admin:restock_waitlist_stockwaitlist_changelist")
    factories.EntryFactory()
    few, _ = changelist_queries(staff_client, url, django_assert_max_num_queries, 20)
    factories.EntryFactory.create_batch(15)
    many, response = changelist_queries(staff_client, url, django_assert_max_num_queries, 20)
    assert many == few
    entry = StockWaitlist.objects.with_catalog().first()
    assert entry.catalog_label in response.content.decode()


def test_cancel_action(staff_client):
    waiting = factories.EntryFactory.create_batch(2)
    purchased = factories.EntryFactory(status=StockWaitlist.Status.PURCHASED)
    staff_client.post(
        reverse("admin:restock_waitlist_stockwaitlist_changelist"),
        {
            "action": "cancel_selected",
            "_selected_action": [str(e.pk) for e in [*waiting, purchased]],
        },
    )
    statuses = sorted(StockWaitlist.objects.values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "purchased"]


def test_merchant_records_a_restock(staff_client, variant, django_capture_on_commit_callbacks):
    factories.StockLevelFactory(variant=variant, quantity=8)
    with django_capture_on_commit_callbacks(execute=False):
        response = staff_client.post(
            reverse("admin:restock_waitlist_restockevent_add"),
            {
                "product_key": str(variant.product_id),
                "variant_key": str(variant.pk),
                "quantity": "",
            },
        )
    assert response.status_code == 302, response.content
    event = RestockEvent.objects.get()
    assert (event.quantity, event.source) == (8, RestockEvent.Source.MERCHANT)


def test_record_restock_names_the_bad_field(staff_client, variant):
    other = factories.VariantFactory()
    response = staff_client.post(
        reverse("admin:restock_waitlist_restockevent_add"),
        {"product_key": str(variant.product_id), "variant_key": str(other.pk), "quantity": "3"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["variant_key"]
    assert not RestockEvent.objects.exists()


def test_event_changelist_and_detail(staff_client, django_assert_max_num_queries):
    factories.RestockEventFactory.create_batch(3)
    with django_assert_max_num_queries(20):
        response = staff_client.get(reverse("admin:restock_waitlist_restockevent_changelist"))
    assert response.status_code == 200
    event = RestockEvent.objects.first()
    assert (
        staff_client.get(
            reverse("admin:restock_waitlist_restockevent_change", args=[event.pk])
        ).status_code
        == 200
    )


def test_merchant_changes_tier_but_not_the_shoppers_channels(staff_client):
    entry = factories.EntryFactory(channels=["email"])
    url = reverse("admin:restock_waitlist_stockwaitlist_change", args=[entry.pk])
    form = staff_client.get(url).context["adminform"].form
    assert "channels" not in form.fields
    response = staff_client.post(
        url,
        {
            "status": entry.status,
            "tier": 3,
            "user": entry.user_id,
            "email": "",
            "phone": "",
            "locale": "en",
            "time_zone": "",
            "channels": '["sms"]',
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry.refresh_from_db()
    assert (entry.tier, entry.channels) == (3, ["email"])
