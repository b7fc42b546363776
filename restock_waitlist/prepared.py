"""Queries the hot paths run often in one shape: built and compiled by the ORM once per
database connection, then run with new values.

Building a queryset and compiling its SQL costs the ORM 0.5 to 1 ms of CPU a query, several
times the round trip of a small statement. A query written with :class:`Bind` placeholders
where its values go is compiled once per connection and ``key``, the key naming everything
its shape depends on (the settings it reads, whether a value is empty); each run then only
prepares the values and converts the rows, as the ORM would.
"""

from django.db import connections
from django.db.models import Expression

#: Where a connection keeps its prepared queries (``{key: Prepared}``).
CACHE_ATTR = "_restock_waitlist_prepared"


class Bind(Expression):
    """A value given when the query runs: one placeholder, prepared for ``output_field``."""

    def __init__(self, name, output_field):
        super().__init__(output_field=output_field)
        self.name = name

    def __repr__(self):
        return f"Bind({self.name!r})"

    def as_sql(self, compiler, connection):
        return "%s", [self]


class Prepared:
    """A compiled query: its SQL, its parameters (some of them :class:`Bind`) and the
    compiler that converts the rows it returns."""

    def __init__(self, queryset):
        self.compiler = queryset.query.get_compiler(queryset.db)
        self.sql, self.params = self.compiler.as_sql()
        self.connection = self.compiler.connection

    def bound(self, values):
        """The parameters with each :class:`Bind` replaced by its prepared value."""
        return [
            param.output_field.get_db_prep_value(values[param.name], self.connection)
            if isinstance(param, Bind)
            else param
            for param in self.params
        ]

    def rows(self, **values):
        """The rows, as tuples of Python values (what ``values_list()`` gives)."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, self.bound(values))
            fetched = cursor.fetchall()
        return list(self.compiler.results_iter(results=[fetched], tuple_expected=True))

    def instances(self, **values):
        """The rows as instances of the query's model, for a query of its whole rows (no
        ``values()``, annotations, ``only()`` or ``select_related()``)."""
        model, using = self.compiler.query.model, self.connection.alias
        names = [field.attname for field in model._meta.concrete_fields]
        return [model.from_db(using, names, row) for row in self.rows(**values)]

    def sql_with(self, **values):
        """``(sql, params)``: the query with these values, to embed in another statement."""
        return self.sql, self.bound(values)


def prepared(key, build, using="default"):
    """The :class:`Prepared` query ``build()`` returns, compiled once for ``key`` on the
    current connection to ``using``."""
    connection = connections[using]
    cache = connection.__dict__.setdefault(CACHE_ATTR, {})
    if key not in cache:
        cache[key] = Prepared(build().using(using))
    return cache[key]


def field_at_path(model, lookup):
    """The concrete field an ORM lookup path (``"variant__product"``) compares: for a
    foreign key, the key it points at."""
    *hops, last = lookup.split("__")
    for hop in hops:
        model = model._meta.get_field(hop).related_model
    field = model._meta.get_field(last)
    return field.target_field if field.is_relation else field
