"""How the app reads the shop: products, variants, stock, URLs, names and priority.

``get_adapter()`` returns the class named by ``RESTOCK_WAITLIST["ADAPTER"]``; a shop
whose catalogue does not fit the settings subclasses :class:`DefaultAdapter` and
overrides only what differs, as with django-allauth's adapters.
"""

from collections import defaultdict
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db import models, router
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from restock_waitlist.conf import app_settings, import_cached
from restock_waitlist.prepared import Bind, field_at_path, prepared


def get_adapter(request=None):
    """An instance of the configured adapter class."""
    return app_settings.imported("ADAPTER")(request)


def path_lookup(path):
    """An attribute path ``"variant.product"`` as an ORM lookup ``"variant__product"``."""
    return path.replace(".", "__")


def key_at_path(obj, path):
    """The primary key at the end of an attribute path, without loading the last object.

    ``key_at_path(stock, "variant.product")`` reads ``stock.variant.product_id``.
    """
    *hops, last = path.split(".")
    for hop in hops:
        obj = getattr(obj, hop)
        if obj is None:
            return None
    try:
        field = obj._meta.get_field(last)
    except FieldDoesNotExist:
        target = getattr(obj, last)
        return None if target is None else target.pk
    if field.is_relation:
        return getattr(obj, field.attname)
    return getattr(obj, last)


def value_at_path(obj, path):
    """The value at the end of an attribute path (``"customer.email"``), ``None`` past a
    missing hop."""
    for hop in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, hop)
    return obj


def prefetch_catalog(rows):
    """Fill ``product``/``variant`` on rows that carry ``product_key``/``variant_key``.

    Two queries for any number of rows; rows whose product was deleted get ``None``.
    """
    if not rows:
        return
    adapter = get_adapter()
    products = adapter.products_in_bulk({row.product_key for row in rows})
    variant_keys = {row.variant_key for row in rows if row.variant_key}
    variants = adapter.variants_in_bulk(variant_keys) if variant_keys else {}
    for row in rows:
        row._product_cache = products.get(row.product_key)
        if row.variant_key:
            row._variant_cache = variants.get(row.variant_key)


@dataclass(frozen=True)
class ItemReading:
    """What a join checks of an item (:meth:`DefaultAdapter.read_item`). Past a missing
    product, or a variant that is missing or another product's, the rest may be unread."""

    product_found: bool
    #: Whether the variant asked for exists; ``False`` for "any variant".
    variant_found: bool = False
    #: Whether it is the product's; ``True`` for "any variant".
    variant_of_product: bool = False
    #: The available quantity, when asked for.
    available: int | None = None


#: What :meth:`DefaultAdapter.read_item` reads in one statement. An adapter that overrides
#: any of these has them called one by one instead, as they were before.
READ_ITEM_HOOKS = (
    "product_model",
    "variant_model",
    "stock_model",
    "get_product",
    "products_in_bulk",
    "get_variant",
    "variants_in_bulk",
    "product_key_of_variant",
    "stock_rows",
    "available_field",
    "available_quantity",
)


#: What :meth:`DefaultAdapter.stock_before_save` reads in one statement. An adapter that
#: overrides any of these has them called one by one instead, as they were before.
BEFORE_SAVE_HOOKS = (
    "stock_model",
    "stock_item_keys",
    "stock_rows",
    "available_field",
    "available_in_row",
    "available_before_save",
)

#: A key :func:`loaded_key` cannot read without a query.
UNLOADED = object()


def loaded_key(obj, path):
    """:func:`key_at_path`, or :data:`UNLOADED` when a hop before the last is a related
    object not loaded yet (reading it would cost a query)."""
    *hops, _last = path.split(".")
    for hop in hops:
        field = obj._meta.get_field(hop)
        if field.is_relation and not field.is_cached(obj):
            return UNLOADED
        obj = getattr(obj, hop)
        if obj is None:
            return None
    return key_at_path(obj, path.rpartition(".")[2])


def total_and_share(rows, pk):
    """``(total, share)`` of ``(pk, available)`` stock rows: their sum, and the row ``pk``'s
    part of it; an empty quantity counts as none."""
    rows = [(row_pk, value or 0) for row_pk, value in rows]
    return sum(value for _pk, value in rows), sum(value for row_pk, value in rows if row_pk == pk)


class DefaultAdapter:
    """Reads the shop through the ``RESTOCK_WAITLIST`` settings."""

    def __init__(self, request=None):
        self.request = request

    def _overrides(self, hooks):
        """Whether this adapter's class overrides any of ``hooks`` (method names)."""
        return any(getattr(type(self), name) is not getattr(DefaultAdapter, name) for name in hooks)

    # Models ---------------------------------------------------------------------------

    @property
    def product_model(self):
        return app_settings.model("PRODUCT_MODEL")

    @property
    def variant_model(self):
        return app_settings.model("VARIANT_MODEL")

    @property
    def stock_model(self):
        return app_settings.model("STOCK_MODEL")

    # Keys -----------------------------------------------------------------------------

    def _key(self, model, value, field_name):
        """``value`` (an instance or a raw primary key) as the canonical text key."""
        invalid = ValidationError(
            {field_name: _("Not a valid %(name)s.") % {"name": model._meta.verbose_name}},
            code="invalid",
        )
        if isinstance(value, models.Model):
            if not isinstance(value, model):
                raise invalid
            value = value.pk
        pk = model._meta.pk
        try:
            value = pk.to_python(value)
            pk.run_validators(value)  # e.g. the database's integer range
        except (ValidationError, TypeError) as exc:
            raise invalid from exc
        if value is None:
            raise invalid
        return str(value)

    def product_key(self, product):
        return self._key(self.product_model, product, "product")

    def variant_key(self, variant):
        """The variant's key, ``""`` for ``None`` ("any variant")."""
        if variant is None or variant == "":
            return ""
        if self.variant_model is None:
            raise ValidationError({"variant": _("This shop sells no variants.")}, code="invalid")
        return self._key(self.variant_model, variant, "variant")

    def _in_bulk(self, model, keys):
        pk = model._meta.pk
        lookup = {pk.to_python(key): key for key in keys}
        found = model._default_manager.in_bulk(list(lookup))
        return {lookup[pk_value]: obj for pk_value, obj in found.items()}

    def products_in_bulk(self, keys):
        """``{key: product}`` for the keys that exist, in one query."""
        return self._in_bulk(self.product_model, keys)

    def variants_in_bulk(self, keys):
        """``{key: variant}`` for the keys that exist, in one query."""
        return self._in_bulk(self.variant_model, keys)

    def get_product(self, key):
        return self.products_in_bulk([key]).get(key)

    def get_variant(self, key):
        if not key or self.variant_model is None:
            return None
        return self.variants_in_bulk([key]).get(key)

    def product_key_of_variant(self, variant):
        """The key of the product a variant belongs to (``VARIANT_PRODUCT``)."""
        return str(key_at_path(variant, app_settings.VARIANT_PRODUCT))

    def read_item(self, product_key, variant_key="", *, stock=False):
        """An :class:`ItemReading` of valid keys: whether the product exists, whether the
        variant (``""``: any) exists and is the product's, and with ``stock`` the available
        quantity. What a join checks, in one query compiled once per connection
        (:mod:`restock_waitlist.prepared`); one by one when a subclass overrides any of
        :data:`READ_ITEM_HOOKS`, and the quantity apart when ``STOCK_AVAILABLE`` is not a
        column.
        """
        query = self._item_query(bool(variant_key), stock)
        if query is None:
            return self._read_item_apart(product_key, variant_key, stock=stock)
        rows = query.rows(product=product_key, variant=variant_key)
        if not rows:
            return ItemReading(product_found=False)
        _pk, *checks = rows[0]
        found = of_product = True  # "any variant"
        if variant_key:
            found, of_product, *checks = checks
        available = checks[0] if checks else None
        if stock and available is None and of_product:
            available = self.available_quantity(product_key, variant_key)
        return ItemReading(True, found and bool(variant_key), of_product, available)

    def _read_item_apart(self, product_key, variant_key, *, stock):
        if self.get_product(product_key) is None:
            return ItemReading(product_found=False)
        variant = self.get_variant(variant_key) if variant_key else None
        if variant_key and variant is None:
            return ItemReading(True)
        if variant_key and self.product_key_of_variant(variant) != product_key:
            return ItemReading(True, True, False)
        available = self.available_quantity(product_key, variant_key) if stock else None
        return ItemReading(True, bool(variant_key), True, available)

    def _item_query(self, variant, stock):
        """The prepared query of :meth:`read_item`, ``None`` when it must read one by one:
        the product's key, then whether the variant exists and is the product's (with a
        variant), then the stock's sum (with ``stock``, when ``STOCK_AVAILABLE`` is a
        column)."""
        if self._overrides(READ_ITEM_HOOKS):
            return None
        models_read = [self.product_model, *([self.variant_model] if variant else [])]
        stock = stock and self.stock_model is not None and self.available_field is not None
        if stock:
            models_read.append(self.stock_model)
        databases = {router.db_for_read(model) for model in models_read}
        if len(databases) > 1:
            return None
        paths = ("VARIANT_PRODUCT", "STOCK_PRODUCT", "STOCK_VARIANT", "STOCK_AVAILABLE")
        key = (
            "read_item",
            *models_read,
            *(getattr(app_settings, path) for path in paths),
            variant,
            stock,
        )
        return prepared(key, lambda: self._item_queryset(variant, stock), using=databases.pop())

    def _item_queryset(self, variant, stock):
        product = Bind("product", self.product_model._meta.pk)
        checks = {}
        if variant:
            variant = Bind("variant", self.variant_model._meta.pk)
            variants = self.variant_model._default_manager.filter(pk=variant)
            lookup = path_lookup(app_settings.VARIANT_PRODUCT)
            checks["variant_found"] = Exists(variants)
            checks["variant_of_product"] = Exists(variants.filter(**{lookup: OuterRef("pk")}))
        if stock:
            total = Func(F(self.available_field.name), function="SUM")
            rows = self.stock_rows(product, variant or "").order_by()
            checks["available"] = Coalesce(Subquery(rows.annotate(total=total).values("total")), 0)
        products = self.product_model._default_manager.filter(pk=product)
        return products.annotate(**checks).values_list("pk", *checks)

    # Stock ----------------------------------------------------------------------------

    def require_stock_model(self):
        """The stock model; ``ImproperlyConfigured`` naming the key when there is none."""
        if self.stock_model is None:
            raise ImproperlyConfigured(
                "RESTOCK_WAITLIST['STOCK_MODEL'] is not set, so stock cannot be read."
            )
        return self.stock_model

    def stock_item_keys(self, stock):
        """``(product_key, variant_key)`` of a stock row, without loading either object."""
        product_key = key_at_path(stock, app_settings.STOCK_PRODUCT)
        variant_key = ""
        if app_settings.STOCK_VARIANT:
            variant_key = key_at_path(stock, app_settings.STOCK_VARIANT)
            variant_key = "" if variant_key is None else str(variant_key)
        return (None if product_key is None else str(product_key)), variant_key

    def stock_rows(self, product_key, variant_key=""):
        """The stock rows whose sum is the item's available quantity."""
        query = Q(**{path_lookup(app_settings.STOCK_PRODUCT): product_key})
        if variant_key and app_settings.STOCK_VARIANT:
            query &= Q(**{path_lookup(app_settings.STOCK_VARIANT): variant_key})
        return self.stock_model._default_manager.filter(query)

    @property
    def available_field(self):
        """The concrete field ``STOCK_AVAILABLE`` names, summed in SQL, or ``None``."""
        name = app_settings.STOCK_AVAILABLE
        if "." in name:
            return None
        try:
            field = self.stock_model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if field.concrete else None

    def available_in_row(self, stock):
        """The available quantity one stock row holds (``STOCK_AVAILABLE``)."""
        name = app_settings.STOCK_AVAILABLE
        value = import_cached(name)(stock) if "." in name else getattr(stock, name)
        if callable(value):
            value = value()
        return int(value or 0)

    def available_quantity(self, product_key, variant_key=""):
        """The item's available quantity: the sum over its stock rows. One query."""
        self.require_stock_model()
        rows = self.stock_rows(product_key, variant_key)
        field = self.available_field
        if field is not None:
            # ``or 0``, not Coalesce(Sum(...), 0): the ORM's CPU for the query falls by a fifth.
            return rows.aggregate(total=Sum(field.name))["total"] or 0
        return sum(self.available_in_row(row) for row in rows)

    def available_before_save(self, stock, product_key, variant_key):
        """``(item total, this row's share)`` as stored before ``stock`` is saved. One query
        reading the item's few rows: summed here, it costs the ORM a quarter of the CPU of
        one aggregate with a filtered sum (0.5 ms against 2.2 ms a save on the test shop)."""
        rows = self.stock_rows(product_key, variant_key)
        field = self.available_field
        if field is not None:
            return total_and_share(rows.values_list("pk", field.name), stock.pk)
        return total_and_share([(row.pk, self.available_in_row(row)) for row in rows], stock.pk)

    def stock_before_save(self, stock):
        """``(product_key, variant_key, item total, this row's share)`` as stored before the
        stock row ``stock`` (not a new one) is saved; ``product_key`` ``None`` when the row
        names no product. What ``pre_save`` reads, in one query compiled once per connection
        (:mod:`restock_waitlist.prepared`); when the product is reached through a variant not
        loaded (``STOCK_PRODUCT = "variant.product"``), that query reads its key too, instead
        of a query loading the variant. :meth:`stock_item_keys` and
        :meth:`available_before_save` one by one when a subclass overrides any of
        :data:`BEFORE_SAVE_HOOKS`, or ``STOCK_AVAILABLE`` is not a column."""
        product_path, variant_path = app_settings.STOCK_PRODUCT, app_settings.STOCK_VARIANT
        field = None if self._overrides(BEFORE_SAVE_HOOKS) else self.available_field
        product_key = loaded_key(stock, product_path)
        variant_key = loaded_key(stock, variant_path) if variant_path else ""
        variant_key = "" if variant_key is None else variant_key
        through_variant = bool(variant_path) and product_path.startswith(f"{variant_path}.")
        if field is None or variant_key is UNLOADED or product_key is None:
            return self._stock_before_save_apart(stock)
        model, using = self.stock_model, router.db_for_read(self.stock_model)
        shape = ("stock_before_save", model, product_path, variant_path, field.name)
        if product_key is UNLOADED:
            if not through_variant or not variant_key:
                return self._stock_before_save_apart(stock)
            query = prepared((*shape, "by variant"), self._rows_of_variant, using=using)
            rows = query.rows(variant=variant_key)
            if not rows:  # the row moves to a variant with no stock rows yet
                return self._stock_before_save_apart(stock)
            product_key, rows = rows[0][0], [row[1:] for row in rows]
        else:
            build = partial(self._rows_of_item, bool(variant_key))
            query = prepared((*shape, bool(variant_key)), build, using=using)
            rows = query.rows(product=product_key, variant=variant_key)
        return str(product_key), str(variant_key), *total_and_share(rows, stock.pk)

    def _stock_before_save_apart(self, stock):
        product_key, variant_key = self.stock_item_keys(stock)
        if product_key is None:
            return None, variant_key, 0, 0
        return (
            product_key,
            variant_key,
            *self.available_before_save(stock, product_key, variant_key),
        )

    def _rows_of_item(self, with_variant):
        """The item's stock rows as ``(pk, available)``, its keys bound when run."""
        product = self._bound("product", app_settings.STOCK_PRODUCT)
        variant = self._bound("variant", app_settings.STOCK_VARIANT) if with_variant else ""
        rows = self.stock_rows(product, variant)
        return rows.order_by().values_list("pk", self.available_field.name)

    def _rows_of_variant(self):
        """A variant's stock rows as ``(product key, pk, available)``, its key bound when
        run."""
        variant = self._bound("variant", app_settings.STOCK_VARIANT)
        rows = self.stock_model._default_manager.filter(
            **{path_lookup(app_settings.STOCK_VARIANT): variant}
        )
        product = path_lookup(app_settings.STOCK_PRODUCT)
        return rows.order_by().values_list(product, "pk", self.available_field.name)

    def _bound(self, name, path):
        """A :class:`~restock_waitlist.prepared.Bind` for the stock model's key at ``path``."""
        return Bind(name, field_at_path(self.stock_model, path_lookup(path)))

    def available_quantities(self, items):
        """``{(product_key, variant_key): quantity}`` for many items in one query.

        What a list page's "Notify me" buttons need; ``variant_key`` ``""`` sums the whole
        product, as :meth:`available_quantity` does.
        """
        items = set(items)
        if not items:
            return {}
        self.require_stock_model()
        product_path, variant_path = app_settings.STOCK_PRODUCT, app_settings.STOCK_VARIANT
        product_lookup = path_lookup(product_path)
        rows = self.stock_model._default_manager.filter(
            **{f"{product_lookup}__in": {product_key for product_key, _variant in items}}
        )
        field = self.available_field
        if field is not None:
            lookups = [product_lookup, *([path_lookup(variant_path)] if variant_path else [])]
            grouped = rows.order_by().values(*lookups).annotate(total=Sum(field.name))
            per_row = [
                (row[lookups[0]], row[lookups[-1]] if variant_path else None, row["total"])
                for row in grouped
            ]
        else:
            hops = [path.rpartition(".")[0] for path in (product_path, variant_path or "")]
            related = {path_lookup(hop) for hop in hops if hop}
            if related:  # select_related() with no fields follows every foreign key
                rows = rows.select_related(*related)
            per_row = [(*self.stock_item_keys(row), self.available_in_row(row)) for row in rows]
        by_product, by_variant = defaultdict(int), defaultdict(int)
        for product_key, variant_key, quantity in per_row:
            by_product[str(product_key)] += quantity or 0
            if variant_key not in (None, ""):
                by_variant[str(product_key), str(variant_key)] += quantity or 0
        return {
            (product_key, variant_key): (
                by_variant[product_key, variant_key]
                if variant_key and variant_path
                else by_product[product_key]
            )
            for product_key, variant_key in items
        }

    # Presentation ---------------------------------------------------------------------

    def display_name(self, product, variant=None):
        """How merchants and shoppers see an item named."""
        if product is None:
            return "—"
        return f"{product} – {variant}" if variant is not None else str(product)

    def product_url(self, product, variant=None):
        """The item's page on the shop, relative unless the model's URL is absolute."""
        target = (
            variant if variant is not None and hasattr(variant, "get_absolute_url") else product
        )
        return target.get_absolute_url()

    def priority_for(self, user):
        """The user's tier, higher goes first (``PRIORITY``; guests pass ``None``)."""
        priority = app_settings.imported("PRIORITY")
        return int(priority(user)) if priority else 0

    def tier_name(self, tier):
        """How merchants see a tier named: "Standard" for 0, "Tier N" above. A shop whose
        ``PRIORITY`` stands for memberships overrides it (the example shop's 1 is "VIP")."""
        if tier == 0:
            return _("Standard")
        return _("Tier %(number)s") % {"number": tier}

    # Catalogue search (the admin's product picker and filter) ---------------------------

    #: Text fields of the product model that :meth:`search_products` matches by prefix;
    #: ``None``: the model's ``name`` or ``title`` field, whichever it has.
    product_search_fields = None

    def _product_search_fields(self):
        if self.product_search_fields is not None:
            return list(self.product_search_fields)
        names = {field.name for field in self.product_model._meta.concrete_fields}
        return [name for name in ("name", "title") if name in names][:1]

    def search_products(self, term, limit=20):
        """The product whose key is ``term``, else at most ``limit`` whose name starts with it.

        Bounded whatever the size of the catalogue: a key by primary key; names by a
        case-insensitive prefix match (never "contains", which no index serves) without
        sorting, so the database stops at the ``limit``-th match; the few found are sorted
        here. An index on the upper-cased name makes the prefix match an index scan.
        """
        term = (term or "").strip()
        if not term:
            return []
        try:
            found = self.products_in_bulk([self.product_key(term)])
        except ValidationError:
            found = {}
        if found:
            return list(found.values())
        prefix = Q()
        for name in self._product_search_fields():
            prefix |= Q(**{f"{name}__istartswith": term})
        if not prefix:
            return []
        named = self.product_model._default_manager.filter(prefix).order_by()[:limit]
        return sorted(named, key=lambda product: str(product).casefold())

    def variants_of(self, product_key, limit=200):
        """The product's variants (at most ``limit``), for the restock picker."""
        if self.variant_model is None:
            return []
        lookup = path_lookup(app_settings.VARIANT_PRODUCT)
        return list(self.variant_model._default_manager.filter(**{lookup: product_key})[:limit])

    # Orders -----------------------------------------------------------------------------

    def purchase_from_order(self, order):
        """The :func:`~restock_waitlist.services.record_purchase` arguments for one saved
        order of ``ORDER_MODEL``, read through the ``ORDER_*`` paths; ``None`` for a row
        that names no product.

        Override it when an order does not map onto those paths, e.g. to skip unpaid ones.
        """
        product_key = key_at_path(order, app_settings.ORDER_PRODUCT)
        if product_key is None:
            return None

        def read(key, reader=value_at_path):
            path = getattr(app_settings, key)
            return reader(order, path) if path else None

        quantity = read("ORDER_QUANTITY")
        return {
            "product": product_key,
            "variant": read("ORDER_VARIANT", key_at_path),
            "user": read("ORDER_USER"),
            "email": read("ORDER_EMAIL") or None,
            "order_ref": read("ORDER_REF"),
            "quantity": 1 if quantity is None else int(quantity),
        }

    # Contacts ---------------------------------------------------------------------------

    def user_phone_numbers(self, users):
        """``{user.pk: phone}`` (E.164) for users whose account holds a mobile number.

        Channels whose ``contact_kind`` is ``"phone"`` send to the entry's own number, else
        to this one. The default knows of none; a shop that keeps numbers on a profile
        overrides it and reads them for the whole list in one query.
        """
        return {}
