"""The example shop's own catalogue. restock_waitlist does not own these models: it is
pointed at them through ``RESTOCK_WAITLIST`` in settings. Products have UUID keys,
variants integer keys; stock is kept per warehouse as "in stock" and "allocated".
"""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("shop:product", args=[self.slug])


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    colour = models.CharField(max_length=30)
    size = models.CharField(max_length=10)
    sku = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["product", "colour", "size"]

    def __str__(self):
        return f"{self.colour} / {self.size}"


class StockLevel(models.Model):
    """Stock of one variant in one warehouse (``STOCK_MODEL``)."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="stock_levels")
    warehouse = models.CharField(max_length=30)
    num_in_stock = models.IntegerField(default=0)
    num_allocated = models.IntegerField(default=0)

    class Meta:
        unique_together = [("variant", "warehouse")]

    def __str__(self):
        return f"{self.variant.sku} @ {self.warehouse}"


class Order(models.Model):
    """A minimal order of one variant, by an account or a guest's address (``ORDER_MODEL``:
    restock_waitlist credits it to the restock alert that won it back)."""

    number = models.CharField(max_length=20, unique=True)
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField(blank=True)
    quantity = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.number
