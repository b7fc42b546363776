"""factory-boy factories for the test shop and the app's own models."""

import itertools
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from restock_waitlist.addresses import email_subscriber_key
from restock_waitlist.models import ForecastReport, Notification, RestockEvent, StockWaitlist
from tests.testshop.models import Gadget, GadgetStock, Product, StockLevel, Variant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"shopper{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Sneaker {n}")


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    name = factory.Iterator(["S", "M", "L", "XL"])


class StockLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLevel

    variant = factory.SubFactory(VariantFactory)
    warehouse = factory.Sequence(lambda n: f"wh{n}")
    quantity = 0


class GadgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gadget

    name = factory.Sequence(lambda n: f"Gadget {n}")


class GadgetStockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GadgetStock

    gadget = factory.SubFactory(GadgetFactory)


class EntryFactory(factory.django.DjangoModelFactory):
    """A waiting entry for a variant; pass ``user=None, email=...`` for a guest."""

    class Meta:
        model = StockWaitlist

    class Params:
        variant = factory.SubFactory(VariantFactory)

    user = factory.SubFactory(UserFactory)
    email = ""
    product_key = factory.LazyAttribute(lambda e: str(e.variant.product_id))
    variant_key = factory.LazyAttribute(lambda e: str(e.variant.pk))
    subscriber_key = factory.LazyAttribute(
        lambda e: f"user:{e.user.pk}" if e.user else email_subscriber_key(e.email)
    )
    channels = factory.LazyFunction(lambda: ["email"])
    status = StockWaitlist.Status.WAITING
    locale = "en"


class RestockEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RestockEvent

    class Params:
        variant = factory.SubFactory(VariantFactory)

    product_key = factory.LazyAttribute(lambda e: str(e.variant.product_id))
    variant_key = factory.LazyAttribute(lambda e: str(e.variant.pk))
    quantity = 5
    previous_quantity = 0
    source = RestockEvent.Source.RECORDED


class ForecastReportFactory(factory.django.DjangoModelFactory):
    """A daily report of a variant: 10 waiting at the default conversion."""

    class Meta:
        model = ForecastReport

    class Params:
        variant = factory.SubFactory(VariantFactory)

    product_key = factory.LazyAttribute(lambda r: str(r.variant.product_id))
    variant_key = factory.LazyAttribute(lambda r: str(r.variant.pk))
    reason = ForecastReport.Reason.DAILY
    occasion = factory.Sequence(lambda n: f"2026-11-{n % 28 + 1:02d}")
    waitlist_count = 10
    estimated_purchase = 3.5
    recommended_restock_qty = 5
    historical_cvr = 0.35
    cvr_level = ForecastReport.Level.DEFAULT
    cvr_sample = cvr_purchased = 0
    cvr_low, cvr_high, low, high = 0.0, 1.0, 0, 10


class NotificationFactory(factory.django.DjangoModelFactory):
    """A sent notification of an entry's restock (pass ``event`` and ``entry``)."""

    class Meta:
        model = Notification

    subscriber_key = factory.LazyAttribute(lambda n: n.entry.subscriber_key)
    channel = "email"
    status = Notification.Status.SENT
    sent_at = factory.LazyFunction(timezone.now)


_guests = itertools.count()


def past_restock(variant, days_ago=30):
    """A restock of ``variant`` that ended ``days_ago`` days ago: history, not a live event."""
    created_at = timezone.now() - timedelta(days=days_ago)
    return RestockEventFactory(
        variant=variant,
        status=RestockEvent.Status.COMPLETED,
        created_at=created_at,
        completed_at=created_at,
    )


def alerted(event, count, *, purchased=0, status=Notification.Status.SENT, variant_key=None):
    """``count`` guests whose entries ``event``'s alert reached (one notification each, of
    ``status``); the first ``purchased`` of them bought. Returns the entries."""
    notified_at = event.created_at
    entries = []
    for n in range(count):
        email = f"alerted{next(_guests)}@example.com"
        entry = StockWaitlist.objects.create(
            product_key=event.product_key,
            variant_key=event.variant_key if variant_key is None else variant_key,
            email=email,
            subscriber_key=f"email:{email}",
            channels=["email"],
            status=StockWaitlist.Status.PURCHASED
            if n < purchased
            else StockWaitlist.Status.NOTIFIED,
            notified_at=notified_at,
            purchased_at=notified_at + timedelta(hours=2) if n < purchased else None,
            notified_by=event,
            locale="en",
        )
        NotificationFactory(entry=entry, event=event, status=status)
        entries.append(entry)
    return entries
