"""factory-boy factories for the test shop and the app's own models."""

import factory
from django.contrib.auth import get_user_model

from restock_waitlist.addresses import email_subscriber_key
from restock_waitlist.models import RestockEvent, StockWaitlist
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
