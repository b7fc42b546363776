"""Placing an order: the example shop's checkout, reduced to one step."""

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from shop.models import Order, StockLevel
from shop.stock import available_to_sell


@transaction.atomic
def place_order(variant, *, user=None, email="", quantity=1):
    """Take ``quantity`` units of ``variant`` from the warehouse that has the most, and
    record the order. The stock ``save()`` is what restock_waitlist watches (a sell-out
    writes a forecast report) and the new ``Order`` is its ``ORDER_MODEL`` (the purchase
    is credited to the alert that brought the shopper back)."""
    if user is None and not email:
        raise ValidationError({"email": _("Give your email address to order as a guest.")})
    stocks = list(StockLevel.objects.select_for_update().filter(variant=variant))
    stock = max(stocks, key=available_to_sell, default=None)
    if stock is None or available_to_sell(stock) < quantity:
        raise ValidationError({"variant": _("Sorry, this size has just sold out.")})
    stock.num_in_stock -= quantity
    stock.save()
    return Order.objects.create(
        number=f"EX-{uuid.uuid4().hex[:8].upper()}",
        variant=variant,
        customer=user,
        email="" if user is not None else email,
        quantity=quantity,
    )
