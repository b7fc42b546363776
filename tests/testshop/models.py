"""A small shop the app does not own: int-keyed products with UUID-keyed variants,
stock per warehouse; and a variant-less catalogue of UUID-keyed gadgets whose available
quantity is computed (in stock minus allocated), as common shop frameworks store it.
"""

import uuid

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/products/{self.pk}/"


class Variant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


class StockLevel(models.Model):
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="stock_levels")
    warehouse = models.CharField(max_length=30, default="main")
    quantity = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.variant_id}@{self.warehouse}: {self.quantity}"


class Gadget(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/gadgets/{self.pk}/"


class GadgetStock(models.Model):
    gadget = models.ForeignKey(Gadget, on_delete=models.CASCADE, related_name="stock")
    num_in_stock = models.IntegerField(default=0)
    num_allocated = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.gadget_id}: {self.num_in_stock - self.num_allocated}"


def gadget_available(stock):
    """``STOCK_AVAILABLE`` as a callable: what is in stock and not promised to an order."""
    return stock.num_in_stock - stock.num_allocated


class Order(models.Model):
    """An order line as a shop keeps it: ``ORDER_MODEL`` in tests that watch orders."""

    number = models.CharField(max_length=20)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    email = models.EmailField(blank=True)
    quantity = models.PositiveIntegerField(default=1)

    def __str__(self):
        return self.number
