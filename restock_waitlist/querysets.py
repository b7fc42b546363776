"""Querysets for entries and restock events: dispatch order, live positions, catalog prefetch."""

import zoneinfo
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.apps import apps
from django.db import connections, models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable
from django.utils import timezone

from restock_waitlist.prepared import Bind, prepared

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

    def anyone_waiting_sql(self, product_key, variant_key=""):
        """``(sql, params)`` of one entry :meth:`waiting_for_restock` gives, for an ``EXISTS``
        (the restock's check, in the merchant's ``save()``): compiled once per connection
        (:mod:`restock_waitlist.prepared`), 0.01 ms of CPU instead of 0.7."""
        field = self.model._meta.get_field

        def build():
            variant = Bind("variant", field("variant_key")) if variant_key else ""
            queue = self.waiting_for_restock(Bind("product", field("product_key")), variant)
            return queue.order_by().values("pk")[:1]

        query = prepared(("anyone_waiting", bool(variant_key)), build, using=self.db)
        return query.sql_with(product=product_key, variant=variant_key)

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

        The same place, read without a nested query per row: what stands ahead of the
        subscriber's first entry in each queue, summed from the queue tallies on PostgreSQL
        (:func:`_tallied_ahead`), counted over the dispatch-order index elsewhere
        (:func:`_counted_ahead`).
        """
        if entry.status not in ACTIVE:
            return None
        waiting = self.model._default_manager.filter(status=WAITING, product_key=entry.product_key)
        own = {e.variant_key: e for e in waiting.filter(subscriber_key=entry.subscriber_key)}
        uses_tallies = connections[self.db].vendor == "postgresql"
        counts = _tallied_ahead if uses_tallies else _counted_ahead
        if entry.variant_key:
            pivot = _first(entry, own.get(""))
            ahead = counts(waiting, pivot, [entry.variant_key, ""])
            return _served_before(ahead, entry.variant_key) + 1
        # A product-wide entry: the nearest place over the variants people wait for, from
        # the subscriber's own entry where it stands ahead of this one.
        pivots = {key: e for key, e in own.items() if key and _first(entry, e) is e}
        ahead = counts(waiting, entry, None)
        places = [_served_before(ahead, key) for key in ahead if key and key not in pivots]
        places += [
            _served_before(counts(waiting, pivot, [key, ""]), key) for key, pivot in pivots.items()
        ]
        return min(places, default=ahead.get("", (0, 0))[0]) + 1


def _first(*entries):
    """The entry served first of ``entries`` (``None`` ignored), by :data:`DISPATCH_ORDER`."""
    return min((e for e in entries if e is not None), key=dispatch_key)


def _served_before(ahead, variant_key):
    """Subscribers a restock of ``variant_key`` serves before the pivot of ``ahead``: the
    variant's entries and the product-wide ones ahead, each subscriber with both counted once."""
    entries, pairs = ahead.get(variant_key, (0, 0))
    return entries + ahead.get("", (0, 0))[0] - pairs


def _counted_ahead(waiting, pivot, variant_keys):
    """``{variant_key: (entries ahead of pivot, pairs ahead)}`` for every variant of
    ``waiting`` (or of ``variant_keys``) and ``""``, counted from the entries; a pair is a
    subscriber with a variant's and a product-wide entry both ahead, counted for the variant."""
    if variant_keys is not None:
        waiting = waiting.filter(variant_key__in=variant_keys)
    ahead = ahead_of(lambda name: getattr(pivot, name))
    product_wide_ahead = waiting.filter(ahead, variant_key="")
    rows = (
        waiting.values("variant_key")
        .annotate(
            entries=Count("pk", filter=ahead),
            pairs=Count(
                "pk",
                filter=ahead
                & ~Q(variant_key="")
                & Q(Exists(product_wide_ahead.filter(subscriber_key=OuterRef("subscriber_key")))),
            ),
        )
        .values_list("variant_key", "entries", "pairs")
    )
    return {key: (entries, pairs) for key, entries, pairs in rows}


EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def _tallied_ahead(waiting, pivot, variant_keys):
    """:func:`_counted_ahead` in one query on PostgreSQL: the queue tallies of whole hours
    ahead of the pivot and of its hour's whole seconds ahead of it, and the entries ahead
    within its own second (``migrations/0008_queue_tally.py`` keeps the tallies)."""
    from restock_waitlist.models import QueueTally

    connection = connections[waiting.db]
    joined = pivot.created_at
    if timezone.is_naive(joined):  # USE_TZ = False: the database reads it in TIME_ZONE
        joined = timezone.make_aware(joined, zoneinfo.ZoneInfo(connection.timezone_name))
    # As the triggers bucket join times: floor(epoch seconds / span).
    second = (joined - EPOCH) // timedelta(seconds=QueueTally.SECOND)
    sql = TALLIED_AHEAD.format(
        tally=QueueTally._meta.db_table, entries=waiting.model._meta.db_table
    )
    params = {
        "product": pivot.product_key,
        "variants": variant_keys,
        "tier": pivot.tier,
        "created_at": pivot.created_at,
        "id": pivot.id,
        "hour": QueueTally.HOUR,
        "second": QueueTally.SECOND,
        "hour_block": second * QueueTally.SECOND // QueueTally.HOUR,
        "second_block": second,
        "second_start": EPOCH + timedelta(seconds=second * QueueTally.SECOND),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: (entries, pairs) for key, entries, pairs in cursor.fetchall()}


#: The SQL of :func:`_tallied_ahead`: ``(variant_key, entries ahead, pairs ahead)`` for each
#: variant with a tally (people wait for it), or each of ``%(variants)s``. The pivot's hour
#: and second are constants, so the planner sees how few rows they bound.
TALLIED_AHEAD = """
WITH tallied AS (
    SELECT t.variant_key,
           coalesce(sum(t.waiting) FILTER (WHERE t.span = %(second)s OR t.tier > %(tier)s
               OR (t.tier = %(tier)s AND t.block < %(hour_block)s)), 0) AS entries,
           coalesce(sum(t.paired) FILTER (WHERE t.span = %(second)s OR t.tier > %(tier)s
               OR (t.tier = %(tier)s AND t.block < %(hour_block)s)), 0) AS pairs
    FROM {tally} t
    WHERE t.product_key = %(product)s
      AND (%(variants)s::text[] IS NULL OR t.variant_key = ANY (%(variants)s::text[]))
      AND (t.span = %(hour)s
           OR (t.span = %(second)s AND t.tier = %(tier)s
               AND t.block >= %(hour_block)s * %(hour)s / %(second)s
               AND t.block < %(second_block)s))
    GROUP BY t.variant_key
), in_second AS (
    SELECT y.* FROM {entries} y
    WHERE y.product_key = %(product)s
      AND y.variant_key = ANY (ARRAY(SELECT variant_key FROM tallied))
      AND y.status = 'waiting' AND y.tier = %(tier)s
      AND y.created_at >= %(second_start)s AND y.created_at <= %(created_at)s
      AND (y.created_at, y.id) < (%(created_at)s, %(id)s::uuid)
), pairs_in_second AS (
    -- The other entry of each subscriber of the second who waits twice, if it stands
    -- ahead: one index probe per entry of the second (OFFSET 0 keeps the planner from
    -- turning the probes into a join over the whole line).
    SELECT partner.variant_key, count(*) AS pairs
    FROM in_second y, LATERAL (
        SELECT CASE WHEN y.variant_key = '' THEN z.variant_key ELSE y.variant_key END
        FROM {entries} z
        WHERE z.subscriber_key = y.subscriber_key AND z.product_key = y.product_key
          AND z.status = 'waiting' AND (z.variant_key = '') <> (y.variant_key = '')
          AND z.variant_key = ANY (ARRAY(SELECT variant_key FROM tallied))
          AND (-z.tier, z.created_at, z.id) < (-y.tier, y.created_at, y.id)
        OFFSET 0
    ) AS partner (variant_key)
    GROUP BY 1
)
SELECT t.variant_key,
       t.entries + (SELECT count(*) FROM in_second y WHERE y.variant_key = t.variant_key),
       t.pairs + coalesce((SELECT p.pairs FROM pairs_in_second p
                           WHERE p.variant_key = t.variant_key), 0)
FROM tallied t
"""
