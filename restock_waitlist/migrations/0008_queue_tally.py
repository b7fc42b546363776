"""Queue tallies: a waiter's place in line summed from per-second and per-hour counts.

On PostgreSQL, statement-level triggers on the entry table keep ``QueueTally`` exact
through every write (ORM, bulk updates, raw SQL, deletes, TRUNCATE), and the tallies are
counted from the rows already there. Elsewhere the table stays empty and places are
counted from the entries. The SQL is frozen here: a later change is a new migration.
"""

from django.db import migrations, models

ENTRIES = "restock_waitlist_stockwaitlist"
TALLY = "restock_waitlist_queuetally"

KEY = "id, product_key, variant_key, subscriber_key, tier, created_at"


def counted(rows, sign):
    """Tally deltas of ``sign``: one per waiting entry in ``rows``."""
    return f"SELECT product_key, variant_key, tier, created_at, {sign}, 0 FROM {rows}"


def paired(rows, sign):
    """Tally deltas of ``sign``: one per subscriber with a variant's and a product-wide entry
    in ``rows``, for that variant, at the later of the two in the dispatch order. A window
    over each subscriber's entries of a product, not a self-join: a statement's transition
    table has no statistics, and a nested loop over a wave's rows would be quadratic."""
    later = "(-tier, created_at, id) > (-any_tier, any_created_at, any_id)"
    product_wide = "FILTER (WHERE variant_key = '') OVER subscriber"
    return f"""
        SELECT product_key, variant_key,
               CASE WHEN {later} THEN tier ELSE any_tier END,
               CASE WHEN {later} THEN created_at ELSE any_created_at END, 0, {sign}
        FROM (
            SELECT r.*, min(tier) {product_wide} AS any_tier,
                   min(created_at) {product_wide} AS any_created_at,
                   (array_agg(id) {product_wide})[1] AS any_id
            FROM {rows} r
            WINDOW subscriber AS (PARTITION BY product_key, subscriber_key)
        ) AS entries
        WHERE variant_key <> '' AND any_id IS NOT NULL"""


# The ``deltas`` CTE (product_key, variant_key, tier, created_at, waiting, paired) summed
# into tally rows (an hour and a second of join time) and applied in key order (two
# writers never wait for each other's rows crosswise); rows left at zero are deleted.
APPLY = f"""
    summed AS (
        SELECT d.product_key, s.span, d.tier,
               floor(extract(epoch FROM d.created_at) / s.span)::bigint AS block,
               d.variant_key, sum(d.waiting) AS waiting, sum(d.paired) AS paired
        FROM deltas AS d (product_key, variant_key, tier, created_at, waiting, paired)
        CROSS JOIN (VALUES (3600), (1)) AS s (span)
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(d.waiting) <> 0 OR sum(d.paired) <> 0
    ), applied AS (
        INSERT INTO {TALLY} AS t (product_key, span, tier, block, variant_key, waiting, paired)
        SELECT * FROM summed ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (product_key, span, tier, block, variant_key) DO UPDATE
        SET waiting = t.waiting + excluded.waiting, paired = t.paired + excluded.paired
        RETURNING t.id, t.waiting, t.paired
    )
    SELECT array_agg(id) INTO emptied FROM applied WHERE waiting = 0 AND paired = 0;
    DELETE FROM {TALLY} WHERE id = ANY (emptied) AND waiting = 0 AND paired = 0;
"""


def tally_function(event, transition_tables, gone, came):
    """The trigger on ``event``, and its function: the entries that stopped waiting or
    moved (``gone``: a query of old rows' ``KEY``) and that started waiting or moved
    (``came``) as tally deltas, with the pairs of their subscribers before and after."""
    return f"""
CREATE FUNCTION restock_waitlist_queue_tally_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    emptied bigint[];
BEGIN
    -- Two transactions writing one subscriber's entries of a product at once would each
    -- miss the other's pair: writes to a product's tallies take turns.
    PERFORM pg_advisory_xact_lock(hashtext('restock_waitlist.queue_tally'), h)
    FROM (
        SELECT DISTINCT hashtext(product_key) AS h
        FROM ({gone} UNION ALL {came}) AS moved
        ORDER BY 1
    ) AS products;
    WITH gone AS ({gone}), came AS ({came}), subscribers AS (
        SELECT product_key, subscriber_key FROM gone
        UNION SELECT product_key, subscriber_key FROM came
    ), after_rows AS (
        SELECT e.id, e.product_key, e.variant_key, e.subscriber_key, e.tier, e.created_at
        FROM subscribers s JOIN {ENTRIES} e
        ON e.subscriber_key = s.subscriber_key AND e.product_key = s.product_key
        AND e.status = 'waiting'
    ), before_rows AS (
        (SELECT * FROM after_rows EXCEPT ALL SELECT * FROM came) UNION ALL SELECT * FROM gone
    ), deltas AS (
        {counted("came", 1)}
        UNION ALL {counted("gone", -1)}
        UNION ALL {paired("after_rows", 1)}
        UNION ALL {paired("before_rows", -1)}
    ), {APPLY}
    RETURN NULL;
END
$$;
CREATE TRIGGER restock_waitlist_tally_{event} AFTER {event.upper()} ON {ENTRIES}
REFERENCING {transition_tables}
FOR EACH STATEMENT EXECUTE FUNCTION restock_waitlist_queue_tally_{event}();
"""


def waiting_in(rows):
    return f"SELECT {KEY} FROM {rows} WHERE status = 'waiting'"


NONE = f"SELECT {KEY} FROM {ENTRIES} WHERE false"

CREATE = (
    tally_function("insert", "NEW TABLE AS new_rows", gone=NONE, came=waiting_in("new_rows"))
    + tally_function(
        "update",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        gone=f"{waiting_in('old_rows')} EXCEPT ALL {waiting_in('new_rows')}",
        came=f"{waiting_in('new_rows')} EXCEPT ALL {waiting_in('old_rows')}",
    )
    + tally_function("delete", "OLD TABLE AS old_rows", gone=waiting_in("old_rows"), came=NONE)
    + f"""
CREATE FUNCTION restock_waitlist_queue_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TALLY};
    RETURN NULL;
END
$$;
CREATE TRIGGER restock_waitlist_tally_truncate AFTER TRUNCATE ON {ENTRIES}
FOR EACH STATEMENT EXECUTE FUNCTION restock_waitlist_queue_tally_truncate();
"""
)

# The tallies of the entries already there.
BACKFILL = f"""
DO $$
DECLARE
    emptied bigint[];
BEGIN
    WITH waiting AS (
        SELECT {KEY} FROM {ENTRIES} WHERE status = 'waiting'
    ), deltas AS (
        {counted("waiting", 1)}
        UNION ALL {paired("waiting", 1)}
    ), {APPLY}
END
$$;
"""

DROP = "".join(
    f"DROP TRIGGER IF EXISTS restock_waitlist_tally_{event} ON {ENTRIES};"
    f"DROP FUNCTION IF EXISTS restock_waitlist_queue_tally_{event}();"
    for event in ("insert", "update", "delete", "truncate")
)


def on_postgresql(*statements):
    """A migration step running ``statements`` on PostgreSQL, and nothing elsewhere."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("restock_waitlist", "0007_notification_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("product_key", models.CharField(max_length=64)),
                ("span", models.IntegerField()),
                ("tier", models.SmallIntegerField()),
                ("block", models.BigIntegerField()),
                ("variant_key", models.CharField(blank=True, max_length=64)),
                ("waiting", models.IntegerField(default=0)),
                ("paired", models.IntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("product_key", "span", "tier", "block", "variant_key"),
                        name="restock_waitlist_one_tally",
                    )
                ],
            },
        ),
        migrations.RunPython(on_postgresql(CREATE, BACKFILL), on_postgresql(DROP)),
    ]
