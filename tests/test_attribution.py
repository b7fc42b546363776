"""Clicks on purchase links and purchases credited to the alerts that won them back."""

from datetime import timedelta

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from restock_waitlist import dispatch, forecast, links, services, tokens
from restock_waitlist.models import Notification, Purchase, StockWaitlist
from tests import factories
from tests.factories import alerted
from tests.testshop.models import Order, StockLevel

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status


@pytest.fixture
def event(variant):
    StockLevel.objects.filter(variant=variant).update(quantity=5)
    return factories.RestockEventFactory(variant=variant, quantity=5)


@pytest.fixture
def notified(variant, event, user):
    """The user's entry, notified of ``event`` by email a day ago (through the real send)."""
    entry = factories.EntryFactory(variant=variant, user=user)
    dispatch.dispatch_event(event.pk)
    StockWaitlist.objects.filter(pk=entry.pk).update(notified_at=timezone.now() - timedelta(days=1))
    entry.refresh_from_db()
    assert entry.status == Status.NOTIFIED
    return entry


def click_path(notification):
    return links.click_url(notification.pk).removeprefix("https://shop.example")


class TestClicks:
    def test_the_message_link_counts_the_first_click_and_leads_to_the_item(
        self, client, notified, variant
    ):
        notification = Notification.objects.get(entry=notified)
        assert notification.clicked_at is None
        response = client.get(click_path(notification))
        assert response.status_code == 302
        assert response["Location"] == f"/products/{variant.product_id}/?ref=restock"
        notification.refresh_from_db()
        first = notification.clicked_at
        assert first is not None and notification.channel == "email"
        client.get(click_path(notification))
        notification.refresh_from_db()
        assert notification.clicked_at == first

    def test_the_token_carries_only_the_signed_notification_id(self, notified):
        notification = Notification.objects.get(entry=notified)
        token = tokens.notification_token(notification.pk)
        payload = signing.loads(token, salt=tokens.SALT)
        assert payload == {"n": notification.pk, "p": tokens.PURCHASE}

    def test_an_expired_link_still_leads_to_the_item_and_counts_nothing(
        self, client, notified, variant, settings
    ):
        notification = Notification.objects.get(entry=notified)
        path = click_path(notification)
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "TOKEN_MAX_AGE": timedelta(seconds=-1),
        }
        response = client.get(path)
        assert response["Location"] == f"/products/{variant.product_id}/?ref=restock"
        notification.refresh_from_db()
        assert notification.clicked_at is None

    @pytest.mark.parametrize(
        "token",
        [
            "forged",
            "eyJuIjoxLCJwIjoicHVyY2hhc2UifQ:1xXuWA:forgedsignature",
            signing.dumps({"n": 1, "p": tokens.MANAGE}, salt=tokens.SALT, compress=True),
        ],
    )
    def test_a_forged_link_goes_to_the_site_root_and_counts_nothing(self, client, notified, token):
        response = client.get(f"/waitlist/r/{token}/?next=https://evil.example/")
        assert (response.status_code, response["Location"]) == (302, "/")
        assert not Notification.objects.filter(clicked_at__isnull=False).exists()

    def test_a_wrong_purpose_token_for_an_entry_is_refused(self, client, notified):
        token = tokens.entry_token(notified, tokens.MANAGE)
        assert client.get(f"/waitlist/r/{token}/")["Location"] == "/"

    def test_gone_notification_or_product_goes_to_the_site_root(self, client, notified, variant):
        notification = Notification.objects.get(entry=notified)
        path = click_path(notification)
        variant.product.delete()
        assert client.get(path)["Location"] == "/"
        assert (
            client.get(links.click_url(10**9).removeprefix("https://shop.example"))["Location"]
            == "/"
        )


class TestRecordPurchase:
    def test_credits_the_notified_entry_once_per_order(self, notified, variant, user):
        entry = services.record_purchase(variant.product, variant, user=user, order_ref="A-1")
        assert entry.pk == notified.pk
        notified.refresh_from_db()
        assert notified.status == Status.PURCHASED
        purchased_at = notified.purchased_at
        purchase = Purchase.objects.get()
        assert (purchase.attributed, purchase.entry_id, purchase.user_id) == (
            True,
            entry.pk,
            user.pk,
        )
        again = services.record_purchase(
            variant.product, variant, user=user, order_ref="A-1", at=timezone.now()
        )
        assert again.pk == notified.pk
        assert Purchase.objects.count() == 1
        notified.refresh_from_db()
        assert notified.purchased_at == purchased_at

    def test_a_second_order_of_the_same_shopper_is_not_credited_again(
        self, notified, variant, user
    ):
        assert services.record_purchase(variant.product, variant, user=user, order_ref="A-1")
        assert (
            services.record_purchase(variant.product, variant, user=user, order_ref="A-2") is None
        )
        assert list(
            Purchase.objects.order_by("order_ref").values_list("attributed", flat=True)
        ) == [
            True,
            False,
        ]

    def test_someone_never_notified_is_recorded_not_attributed(self, variant, notified):
        stranger = factories.UserFactory()
        factories.EntryFactory(variant=variant, user=stranger)  # waiting, never told
        assert (
            services.record_purchase(variant.product, variant, user=stranger, order_ref="B-1")
            is None
        )
        purchase = Purchase.objects.get()
        assert (purchase.attributed, purchase.entry) == (False, None)
        notified.refresh_from_db()
        assert notified.status == Status.NOTIFIED

    @pytest.mark.parametrize(("days_ago", "credited"), [(6, True), (8, False)])
    def test_the_attribution_window(self, notified, variant, user, days_ago, credited):
        # The 7-day window runs from the alert: 6 days after it is in, 8 days after is out.
        at = notified.notified_at + timedelta(days=days_ago)
        entry = services.record_purchase(variant.product, variant, user=user, order_ref="C", at=at)
        assert (entry is not None) is credited
        assert Purchase.objects.get().attributed is credited

    def test_the_window_is_a_setting(self, notified, variant, user, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "ATTRIBUTION_WINDOW": timedelta(days=10),
        }
        at = notified.notified_at + timedelta(days=9)
        assert services.record_purchase(variant.product, variant, user=user, order_ref="C", at=at)

    def test_a_purchase_before_the_alert_is_not_credited(self, notified, variant, user):
        at = notified.notified_at - timedelta(hours=1)
        assert (
            services.record_purchase(variant.product, variant, user=user, order_ref="D", at=at)
            is None
        )

    def test_a_guest_by_email_whatever_the_case_and_an_account_with_that_email(
        self, variant, event, user
    ):
        guest = alerted(event, 1)[0]
        email = guest.email.upper()
        assert services.record_purchase(variant.product, variant, email=email, order_ref="E-1")
        # A shopper who waited as a guest and buys signed in with that address is credited too.
        second = alerted(event, 1)[0]
        user.email = second.email
        user.save()
        assert services.record_purchase(variant.product, variant, user=user, order_ref="E-2")
        # And a signed-in waiter who checks out as a guest with their account's address.
        account = factories.UserFactory()
        entry = factories.EntryFactory(variant=variant, user=account, status=Status.NOTIFIED)
        StockWaitlist.objects.filter(pk=entry.pk).update(notified_at=timezone.now())
        credited = services.record_purchase(
            variant.product, variant, email=account.email, order_ref="E-3"
        )
        assert credited.pk == entry.pk

    def test_an_alert_that_failed_on_every_channel_earns_no_credit(self, variant, event):
        guest = alerted(event, 1, status=Notification.Status.FAILED)[0]
        assert (
            services.record_purchase(variant.product, variant, email=guest.email, order_ref="F")
            is None
        )

    def test_any_variant_waiters_are_credited_for_the_variant_they_bought(self, variant, event):
        guest = alerted(event, 1, variant_key="")[0]
        credited = services.record_purchase(
            variant.product, variant, email=guest.email, order_ref="G"
        )
        assert credited.pk == guest.pk

    def test_another_variant_does_not_credit_a_variant_waiter(self, variant, event):
        guest = alerted(event, 1)[0]
        other = factories.VariantFactory(product=variant.product)
        assert (
            services.record_purchase(variant.product, other, email=guest.email, order_ref="H")
            is None
        )

    def test_both_entries_the_alert_reached_are_purchased(self, variant, event):
        entry = alerted(event, 1)[0]
        anything = StockWaitlist.objects.create(
            product_key=entry.product_key,
            email=entry.email,
            subscriber_key=entry.subscriber_key,
            status=Status.NOTIFIED,
            notified_at=entry.notified_at,
            notified_by=event,
        )
        credited = services.record_purchase(
            variant.product, variant, email=entry.email, order_ref="I"
        )
        assert credited.pk == entry.pk
        anything.refresh_from_db()
        assert anything.status == Status.PURCHASED

    def test_only_attributed_purchases_count_in_the_conversion_rate(self, variant, event):
        guests = alerted(event, 30)
        for n, guest in enumerate(guests[:6]):
            services.record_purchase(variant.product, variant, email=guest.email, order_ref=n)
        for n in range(10):
            services.record_purchase(
                variant.product, variant, email=f"walk-in{n}@example.com", order_ref=f"W{n}"
            )
        conversion = forecast.conversion_for(str(variant.product_id), str(variant.pk))
        assert (conversion.sample, conversion.purchased, conversion.rate) == (30, 6, 0.2)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [({"order_ref": " "}, "order_ref"), ({"order_ref": "x", "quantity": 0}, "quantity")],
    )
    def test_bad_input_names_the_field(self, variant, kwargs, field):
        with pytest.raises(ValidationError) as raised:
            services.record_purchase(variant.product, variant, email="a@example.com", **kwargs)
        assert field in raised.value.message_dict
        assert not Purchase.objects.exists()

    def test_costs_a_constant_number_of_queries(self, variant, event, django_assert_num_queries):
        guests = alerted(event, 25)
        # Look up the order, find the entry, credit it and its siblings, record: 5 + 2
        # for the savepoint.
        with django_assert_num_queries(7):
            services.record_purchase(variant.product, variant, email=guests[0].email, order_ref=1)


@pytest.fixture
def order_settings(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **settings.ORDER_SETTINGS}


class TestOrderModel:
    def test_a_new_order_is_credited_once_it_commits(
        self, order_settings, notified, variant, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            order = Order.objects.create(number="N-7", variant=variant, customer=user, quantity=2)
            assert not Purchase.objects.exists()
        purchase = Purchase.objects.get()
        assert (purchase.order_ref, purchase.quantity, purchase.attributed) == ("N-7", 2, True)
        notified.refresh_from_db()
        assert notified.status == Status.PURCHASED
        with django_capture_on_commit_callbacks(execute=True):
            order.quantity = 3
            order.save()  # not a new order: nothing queued
        assert Purchase.objects.get().quantity == 2

    def test_a_rolled_back_order_records_nothing(
        self, order_settings, notified, variant, user, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            Order.objects.create(number="N-8", variant=variant, customer=user)
            raise RuntimeError("payment declined")
        assert not Purchase.objects.exists()

    def test_a_guest_order_by_email(
        self, order_settings, variant, event, django_capture_on_commit_callbacks
    ):
        guest = alerted(event, 1)[0]
        with django_capture_on_commit_callbacks(execute=True):
            Order.objects.create(number="N-9", variant=variant, email=guest.email)
        guest.refresh_from_db()
        assert guest.status == Status.PURCHASED

    def test_no_order_model_watches_nothing(
        self, notified, variant, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            Order.objects.create(number="N-10", variant=variant, customer=user)
        assert callbacks == []
        assert not Purchase.objects.exists()
