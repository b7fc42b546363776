"""Statements the ORM cannot write in one round trip."""

from django.db import connections, router


def insert_if_exists(obj, condition):
    """Insert the new ``obj`` only if ``condition`` (a queryset) has a row; whether it did.

    One ``INSERT ... SELECT ... WHERE EXISTS (...) RETURNING`` where the database returns
    inserted rows (PostgreSQL, SQLite, MariaDB), else the check and the insert apart. No
    model signals are sent, as for ``bulk_create``.
    """
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    connection = connections[using]
    if not connection.features.can_return_columns_from_insert:
        if not condition.using(using).exists():
            return False
        obj.save(force_insert=True, using=using)
        return True
    meta, quote = model._meta, connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    exists_sql, exists_params = (
        condition.using(using).order_by().values("pk")[:1].query.get_compiler(using).as_sql()
    )
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
