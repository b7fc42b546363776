"""Querysets for entries and restock events: dispatch order, live positions, catalog prefetch."""

from django.apps import apps
from django.db import connections, models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable

WAITING = "waiting"
ACTIVE = ("pending", "waiting")
NOTIFIED, PURCHASED = "notified", "purchased"

#: The dispatch order, defined once: higher tier first, then first come, then id. Variant
#: and product-wide ("any variant") waiters of an item share one queue in this order.
DISPATCH_ORDER = ("-tier", "created_at", "id")


def dispatch_key(entry):
    """An entry's sort key in :data:`DISPATCH_ORDER`."""
    return (-entry.tier, entry.created_at, entry.id)


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
    """Entries a restock of this item serves: the variant's own and the product-wide ones."""
    variant_keys = {variant_key, ""}
    return Q(product_key=product_key, variant_key__in=variant_keys)


def ahead_of(outer):
    """Q for rows ahead of ``outer`` in :data:`DISPATCH_ORDER`: higher tier, then earlier
    join, then lower id. ``outer(name)`` gives the compared value (or an ``OuterRef``)."""
    return (
        Q(tier__gt=outer("tier"))
        | Q(tier=outer("tier"), created_at__lt=outer("created_at"))
        | Q(tier=outer("tier"), created_at=outer("created_at"), id__lt=outer("id"))
    )


def behind(outer):
    """Q for rows behind ``outer`` in :data:`DISPATCH_ORDER` (a keyset cursor)."""
    return (
        Q(tier__lt=outer("tier"))
        | Q(tier=outer("tier"), created_at__gt=outer("created_at"))
        | Q(tier=outer("tier"), created_at=outer("created_at"), id__gt=outer("id"))
    )


def outer_ref(depth):
    """``name -> OuterRef`` reaching ``depth`` queries out."""

    def ref(name):
        value = name
        for _level in range(depth):
            value = OuterRef(value)
        return value

    return ref


def told_condition():
    """Q for entries a restock alert was sent for: notified (and since purchased or
    cancelled, or not); an entry marked notified or purchased counts even without the time."""
    return Q(notified_at__isnull=False) | Q(status__in=(NOTIFIED, PURCHASED))


def alert_failed_condition():
    """Q for entries whose messages about their restock all failed, were skipped or are
    still to go: some message, none sent."""
    messages = apps.get_model("restock_waitlist", "Notification").objects.filter(
        event=OuterRef("notified_by"), subscriber_key=OuterRef("subscriber_key")
    )
    return Exists(messages.exclude(status="sent")) & ~Exists(messages.filter(status="sent"))


def reached_condition():
    """Q for entries whose subscriber a restock alert reached: told
    (:func:`told_condition`), unless every message about that restock failed or was skipped
    (:func:`alert_failed_condition`).

    The one definition of "notified" for attribution, conversion rates and the funnel. An
    entry notified through its subscriber's other entry (a variant and "any variant") has
    no message of its own and counts.
    """
    return told_condition() & ~alert_failed_condition()


class WaitlistQuerySet(CatalogQuerySet):
    def active(self):
        """Entries that hold a place in line (waiting, or pending confirmation)."""
        return self.filter(status__in=ACTIVE)

    def waiting(self):
        return self.filter(status=WAITING)

    def reached(self):
        """Entries whose subscriber a restock alert reached (:func:`reached_condition`)."""
        return self.filter(reached_condition())

    def for_item(self, product_key, variant_key=""):
        """Entries for exactly this product/variant (``""``: the product-wide ones)."""
        return self.filter(product_key=product_key, variant_key=variant_key)

    def waiting_for_restock(self, product_key, variant_key=""):
        """Waiting entries a restock of this item serves, in dispatch order."""
        return (
            self.waiting().filter(item_filter(product_key, variant_key)).order_by(*DISPATCH_ORDER)
        )

    def head_of_queue(self, product_key, variant_key, count):
        """The ids of the first ``count`` entries of :meth:`waiting_for_restock`, read from
        the dispatch index alone: the variant's queue and the product-wide one are each read
        in order and merged (``UNION ALL``), as ``variant_key IN (...)`` would sort them all."""
        features = connections[self.db].features
        if not variant_key or not features.supports_slicing_ordering_in_compound:
            queue = self.waiting_for_restock(product_key, variant_key)
            return list(queue.values_list("pk", flat=True)[:count])
        columns = [name.lstrip("-") for name in DISPATCH_ORDER]
        variant, product_wide = (
            self.waiting()
            .filter(product_key=product_key, variant_key=key)
            .order_by(*DISPATCH_ORDER)
            .values_list(*columns)[:count]
            for key in (variant_key, "")
        )
        merged = variant.union(product_wide, all=True).order_by(*DISPATCH_ORDER)[:count]
        return [row[-1] for row in merged]

    def with_positions(self):
        """Annotate ``position``: the 1-based place in line, ``None`` unless active.

        The place is the one dispatch serves: among the subscribers a restock of the item
        reaches (the variant's waiters and the product-wide ones, in :data:`DISPATCH_ORDER`,
        each subscriber once, at their first entry in that queue), how many come before this
        subscriber, plus one. A product-wide entry takes its place on the restock of the
        variant where it stands nearest the front, among the variants people wait for. A
        pending entry gets the place it will take once confirmed. One query for any page.
        """
        manager = self.model._default_manager

        def ahead_in_queue(depth, queue_variant):
            """Other subscribers ahead of the entry ``depth`` queries out, in the queue of a
            restock of ``queue_variant(levels_out)``: each counted once, and only when ahead
            of every entry the subscriber has in that queue (where they are served)."""
            entry, row = outer_ref(depth), outer_ref(1)
            own_entry_ahead = (
                manager.filter(
                    status=WAITING,
                    product_key=outer_ref(depth + 1)("product_key"),
                    subscriber_key=outer_ref(depth + 1)("subscriber_key"),
                )
                .filter(Q(variant_key=queue_variant(2)) | Q(variant_key=""))
                .filter(ahead_of(row))
            )
            return (
                manager.filter(status=WAITING, product_key=entry("product_key"))
                .filter(Q(variant_key=queue_variant(1)) | Q(variant_key=""))
                .exclude(subscriber_key=entry("subscriber_key"))
                .filter(ahead_of(entry))
                .exclude(Exists(own_entry_ahead))
                .order_by()
                .values("product_key")
                .annotate(n=Count("subscriber_key", distinct=True))
                .values("n")
            )

        # A variant's entry: the queue of that variant (named one query out from the rows
        # counted, two from the subscriber's own entries).
        def queue_variant(levels_out):
            return outer_ref(levels_out)("variant_key")

        variant_ahead = ahead_in_queue(1, queue_variant)
        # A product-wide entry: the smallest count over the variants people wait for (each
        # waiting row of a variant names one, as the entry itself names its variant above),
        # else the product-wide queue alone.
        per_variant = (
            manager.filter(status=WAITING, product_key=OuterRef("product_key"))
            .exclude(variant_key="")
            .annotate(n=Coalesce(Subquery(ahead_in_queue(2, queue_variant)), Value(0)))
            .order_by("n")
            .values("n")[:1]
        )
        product_wide_only = ahead_in_queue(1, lambda out: Value(""))
        return self.annotate(
            position=Case(
                When(
                    status__in=ACTIVE,
                    variant_key="",
                    then=Coalesce(Subquery(per_variant), Subquery(product_wide_only), Value(0))
                    + Value(1),
                ),
                When(
                    status__in=ACTIVE,
                    then=Coalesce(Subquery(variant_ahead), Value(0)) + Value(1),
                ),
                default=None,
                output_field=models.IntegerField(),
            )
        )

    def position_of(self, entry):
        """The 1-based place of ``entry`` in line (as :meth:`with_positions`), or ``None``.

        The same place, counted without a nested query per row: a few counts over the
        dispatch-order index, from the subscriber's first entry in each queue.
        """
        if entry.status not in ACTIVE:
            return None
        waiting = self.model._default_manager.filter(status=WAITING, product_key=entry.product_key)
        own = {e.variant_key: e for e in waiting.filter(subscriber_key=entry.subscriber_key)}
        if entry.variant_key:
            pivot = _first(entry, own.get(""))
            return _served_before(waiting, entry.variant_key, pivot) + 1
        # A product-wide entry: the nearest place over the variants people wait for, from
        # the subscriber's own entry where it stands ahead of this one.
        ahead = ahead_of(lambda name: getattr(entry, name))
        product_wide = waiting.filter(ahead, variant_key="")
        pivots = {key: e for key, e in own.items() if key and _first(entry, e) is e}
        per_variant = (
            waiting.exclude(variant_key="")
            .exclude(variant_key__in=list(pivots))
            .values("variant_key")
            .annotate(
                n=Count("pk", filter=ahead)
                - Count(
                    "pk",
                    filter=ahead
                    & Q(Exists(product_wide.filter(subscriber_key=OuterRef("subscriber_key")))),
                )
            )
            .values_list("n", flat=True)
        )
        ahead_any = product_wide.count()
        counts = [n + ahead_any for n in per_variant]
        counts += [_served_before(waiting, key, pivot) for key, pivot in pivots.items()]
        return min(counts, default=ahead_any) + 1


def _first(*entries):
    """The entry served first of ``entries`` (``None`` ignored), by :data:`DISPATCH_ORDER`."""
    return min((e for e in entries if e is not None), key=lambda e: (-e.tier, e.created_at, e.id))


def _served_before(waiting, variant_key, pivot):
    """Subscribers served before ``pivot`` by a restock of ``variant_key``, the pivot being
    its subscriber's first entry in that queue: entries ahead (one index-only count), less
    one for each subscriber with both a variant and a product-wide entry ahead."""
    queue = waiting.filter(variant_key__in=(variant_key, "")).filter(
        ahead_of(lambda name: getattr(pivot, name))
    )
    twice = queue.filter(variant_key="").filter(
        Exists(queue.filter(variant_key=variant_key, subscriber_key=OuterRef("subscriber_key")))
    )
    return queue.count() - twice.count()
