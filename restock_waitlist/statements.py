"""Statements the ORM cannot write in one round trip."""

from functools import partial

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import F, Lookup, Q, QuerySet
from django.db.models.sql import UpdateQuery


def insert_if_exists(obj, condition):
    """Insert the new ``obj`` only if ``condition`` has a row; whether it did.

    ``condition`` is a queryset, or ``(sql, params)`` of a query for the database ``obj``
    is written to. One ``INSERT ... SELECT ... WHERE EXISTS (...) RETURNING`` where the
    database returns inserted rows (PostgreSQL, SQLite, MariaDB), else the check and the
    insert apart. No model signals are sent, as for ``bulk_create``.
    """
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    connection = connections[using]
    if isinstance(condition, QuerySet):
        query = condition.using(using).order_by().values("pk")[:1].query
        condition = query.get_compiler(using).as_sql()
    exists_sql, exists_params = condition
    if not connection.features.can_return_columns_from_insert:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS ({exists_sql})", exists_params)
            if not cursor.fetchone()[0]:
                return False
        obj.save(force_insert=True, using=using)
        return True
    meta, quote = model._meta, connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    values = _values_to_insert(obj, fields, connection)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"SELECT {', '.join(['%s'] * len(fields))} WHERE EXISTS ({exists_sql}) "
        f"RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *exists_params])
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = meta.pk.to_python(row[0])
    obj._state.adding, obj._state.db = False, using
    return True


def insert_row(obj, using):
    """``obj.save(force_insert=True, using=using)`` without the model signals (for callers
    that checked that none listen), its ``INSERT`` written once per model and database
    rather than by the ORM each time. A model whose insert needs a value back from the
    database (an auto-increment key, a database default) or a placeholder of a field's own
    is saved by the ORM."""
    model, connection = type(obj), connections[using]
    key = (model, using)
    if key not in _inserts:
        meta, quote = model._meta, connection.ops.quote_name
        fields = meta.concrete_fields
        plain = not meta.parents and not meta.db_returning_fields
        if plain and not any(hasattr(field, "get_placeholder") for field in fields):
            columns = ", ".join(quote(field.column) for field in fields)
            placeholders = ", ".join(["%s"] * len(fields))
            _inserts[key] = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
            )
        else:
            _inserts[key] = None
    if _inserts[key] is None or obj.pk is None:
        obj.save(force_insert=True, using=using)
        return
    obj._prepare_related_fields_for_save(operation_name="save")
    values = _values_to_insert(obj, model._meta.concrete_fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(_inserts[key], values)
    obj._state.adding, obj._state.db = False, using


#: ``insert_row``'s statements: ``{(model, database): SQL, or None to save by the ORM}``.
_inserts = {}


def _values_to_insert(obj, fields, connection):
    """The values of ``fields`` of the new ``obj`` as the ORM inserts them."""
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def update_returning(queryset, assignments, related=""):
    """``queryset.update(**assignments)`` that returns the rows it updated, as instances with
    the foreign keys of ``related`` (a ``select_related`` path such as ``"entry__user"``)
    loaded, in one statement (in no order): ``WITH claimed AS (UPDATE … RETURNING …)``, each
    related row then read by its primary key (a ``LATERAL`` lookup per row, so the planner
    never scans a related table whole to hash it). ``None`` on databases other than
    PostgreSQL: update and select apart.
    """
    using = queryset.db
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    quote = connection.ops.quote_name
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(assignments)
    try:
        update_sql, params = query.get_compiler(using).as_sql()
    except EmptyResultSet:
        return []  # e.g. ``pk__in=[]``
    # The chain of models to load: the updated one, then each foreign key's target.
    model = queryset.model
    chain, joins = [(model, "claimed", None)], []
    for depth, name in enumerate(related.split("__") if related else (), start=1):
        field = model._meta.get_field(name)
        model, alias = field.related_model, f"r{depth}"
        joins.append(
            f"{'LEFT OUTER' if field.null else 'INNER'} JOIN LATERAL (SELECT * FROM "
            f"{quote(model._meta.db_table)} WHERE {quote(field.target_field.column)} = "
            f"{chain[-1][1]}.{quote(field.column)} OFFSET 0) {alias} ON true"
        )
        chain.append((model, alias, field))
    if any(model._meta.parents for model, _alias, _fk in chain):
        return None  # multi-table inheritance: a model's columns span tables
    returning = ", ".join(quote(field.column) for field in queryset.model._meta.concrete_fields)
    columns = ", ".join(
        f"{alias}.{quote(field.column)}"
        for model, alias, _fk in chain
        for field in model._meta.concrete_fields
    )
    sql = (
        f"WITH claimed AS ({update_sql} RETURNING {returning}) "
        f"SELECT {columns} FROM claimed {' '.join(joins)}"
    )
    with connection.cursor() as cursor:
        zoned = _parse_timestamps_in_c(cursor.cursor, connection)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    loaders = [_loader(model, alias, fk, using, connection, zoned) for model, alias, fk in chain]
    return [_instances(row, loaders) for row in rows]


def _parse_timestamps_in_c(cursor, connection):
    """psycopg's own ``timestamptz`` loader on this cursor (its C one with ``psycopg[c]`` or
    ``[binary]``), where Django's is its Python one with the zone swapped after: a claimed
    row carries four to six timestamps, and Django's loader was half the claim's CPU. Whether
    it was done: then the converters of :func:`_loader` set Django's zone, as its loader
    does (psycopg 2 has no per-cursor loaders: nothing done)."""
    adapters = getattr(cursor, "adapters", None)
    if adapters is None:
        return False
    import psycopg
    from psycopg.pq import Format

    oid = psycopg.adapters.types["timestamptz"].oid
    adapters.register_loader(oid, psycopg.adapters.get_loader(oid, Format.TEXT))
    return True


def _loader(model, alias, fk, using, connection, zoned=False):
    """``(fk, width, load)``: ``load(values)`` makes ``model``'s instance (``None`` for a
    missing outer-joined row) from its columns, with the converters the ORM applies (and,
    when ``zoned``, Django's zone on each timestamp, as its ``timestamptz`` loader sets)."""
    fields = model._meta.concrete_fields
    names, pk_index = [field.attname for field in fields], fields.index(model._meta.pk)
    converters = []
    for i, field in enumerate(fields):
        col = field.get_col(alias)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if zoned and field.get_internal_type() == "DateTimeField":
            found = [partial(_in_zone, connection.timezone), *found]
        converters += [(i, convert, col) for convert in found]

    def load(values):
        if values[pk_index] is None:
            return None
        values = list(values)
        for i, convert, col in converters:
            values[i] = convert(values[i], col, connection)
        return model.from_db(using, names, values)

    return fk, len(fields), load


def _in_zone(zone, value, expression, connection):
    return value if value is None else value.replace(tzinfo=zone)


def _instances(row, loaders):
    """The first model's instance of ``row``, each next one cached on the one before."""
    objects, start = [], 0
    for fk, width, load in loaders:
        obj = load(row[start : start + width])
        start += width
        if fk is not None and objects[-1] is not None:
            fk.set_cached_value(objects[-1], obj)
        objects.append(obj)
    return objects[0]


class AnyOf(Lookup):
    """``lhs = ANY(%s)``: the values as one array parameter (PostgreSQL). A claim's page of
    thousands of ids as ``IN (%s, %s, ...)`` costs the driver and the server a placeholder
    each: about twice the client CPU of the array. Used as an expression, not registered."""

    lookup_name = "any_of"
    prepare_rhs = False

    def process_rhs(self, compiler, connection):
        placeholder, array = array_of(self.lhs.output_field, self.rhs, connection)
        return placeholder, [array]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def array_of(field, values, connection):
    """``(placeholder, parameter)``: ``values`` of ``field`` as one PostgreSQL array. UUIDs
    go as one text literal: as a list, they cost the driver five times the CPU."""
    if field.get_internal_type() == "UUIDField":
        values = ",".join(field.to_python(value).hex for value in values)
        return "%s::uuid[]", f"{{{values}}}"
    return "%s", [field.get_db_prep_value(value, connection) for value in values]


def among(field, values, connection):
    """``(sql, params)``: "is one of ``values``" (of ``field``) after a column in raw SQL;
    ``= ANY(%s)`` with one array on PostgreSQL (:func:`array_of`), ``IN (%s, …)`` elsewhere."""
    if connection.vendor == "postgresql":
        placeholder, array = array_of(field, values, connection)
        return f"= ANY({placeholder})", [array]
    params = [field.get_db_prep_value(value, connection) for value in values]
    return f"IN ({', '.join(['%s'] * len(params))})", params


def one_of(field_name, values, using="default"):
    """A filter: ``field_name`` is one of ``values``; one array parameter on PostgreSQL
    (:class:`AnyOf`), ``IN (...)`` elsewhere."""
    if connections[using].vendor == "postgresql":
        return AnyOf(F(field_name), list(values))
    return Q(**{f"{field_name}__in": values})
