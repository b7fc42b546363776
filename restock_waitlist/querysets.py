"""Querysets for entries and restock events: dispatch order, live positions, catalog prefetch."""

from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable

WAITING = "waiting"
ACTIVE = ("pending", "waiting")

#: The dispatch order, defined once: higher tier first, then first come, then id. Variant
#: and product-wide ("any variant") waiters of an item share one queue in this order.
DISPATCH_ORDER = ("-tier", "created_at", "id")


class CatalogQuerySet(models.QuerySet):
    """A queryset whose rows can carry their shop product and variant, loaded in bulk."""

    _with_catalog = False

    def with_catalog(self):
        """Attach ``product``/``variant`` to every row in two queries, however many rows."""
        clone = self._chain()
        clone._with_catalog = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._with_catalog = self._with_catalog
        return clone

    def _fetch_all(self):
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching and self._with_catalog and self._iterable_class is ModelIterable:
            from restock_waitlist.adapters import prefetch_catalog

            prefetch_catalog(self._result_cache)


def item_filter(product_key, variant_key=""):
    """Entries waiting for a product/variant: the variant's own and the product-wide ones."""
    variant_keys = {variant_key, ""}
    return Q(product_key=product_key, variant_key__in=variant_keys)


def ahead_of(outer):
    """Q for entries ahead of ``outer`` in dispatch order: higher tier, then earlier join."""
    return (
        Q(tier__gt=outer("tier"))
        | Q(tier=outer("tier"), created_at__lt=outer("created_at"))
        | Q(tier=outer("tier"), created_at=outer("created_at"), id__lt=outer("id"))
    )


class WaitlistQuerySet(CatalogQuerySet):
    def active(self):
        """Entries that hold a place in line (waiting, or pending confirmation)."""
        return self.filter(status__in=ACTIVE)

    def waiting(self):
        return self.filter(status=WAITING)

    def for_item(self, product_key, variant_key=""):
        """Entries for exactly this product/variant (``""``: the product-wide ones)."""
        return self.filter(product_key=product_key, variant_key=variant_key)

    def waiting_for_restock(self, product_key, variant_key=""):
        """Waiting entries a restock of this item serves, in dispatch order."""
        return (
            self.waiting().filter(item_filter(product_key, variant_key)).order_by(*DISPATCH_ORDER)
        )

    def with_positions(self):
        """Annotate ``position``: the 1-based place in line, ``None`` unless active.

        One correlated subquery, so a page of entries costs one query whatever its size.
        """
        ahead = (
            self.model._default_manager.filter(
                status=WAITING,
                product_key=OuterRef("product_key"),
                variant_key=OuterRef("variant_key"),
            )
            .filter(ahead_of(OuterRef))
            .exclude(pk=OuterRef("pk"))
            .order_by()
            .values("product_key")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            position=models.Case(
                models.When(
                    status__in=ACTIVE,
                    then=Coalesce(Subquery(ahead), Value(0)) + Value(1),
                ),
                default=None,
                output_field=models.IntegerField(),
            )
        )

    def position_of(self, entry):
        """The 1-based place of ``entry`` among waiting entries of its item, or ``None``."""
        if entry.status not in ACTIVE:
            return None
        ahead = (
            self.waiting()
            .for_item(entry.product_key, entry.variant_key)
            .filter(ahead_of(lambda name: getattr(entry, name)))
            .exclude(pk=entry.pk)
        )
        return ahead.count() + 1
