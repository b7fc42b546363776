"""Queue tallies at a lower cost per statement: the triggers of 0008, new functions.

An update's moved entries are its old and new rows without a twin of the same key (an
anti-join on the primary key), not ``EXCEPT ALL`` twice over both; a statement that moves no
waiting entry stops after finding so; only subscribers waiting product-wide before or after
the statement (one index scan for all of the statement's) are joined back to their entries
for pairs, so a wave's page of variant waiters reads no other entry; deltas are summed per
second of join time before they are bucketed. The SQL is frozen here; the reverse puts
0008's triggers back.
"""

import importlib

from django.db import migrations

queue_tally = importlib.import_module("restock_waitlist.migrations.0008_queue_tally")
ENTRIES, KEY, APPLY = queue_tally.ENTRIES, queue_tally.KEY, queue_tally.APPLY
paired, on_postgresql = queue_tally.paired, queue_tally.on_postgresql

COLUMNS = KEY.split(", ")

def tally_function(event, moved):
    """The function of the trigger on ``event``: ``moved`` (a query of ``KEY`` and ``sign``:
    -1 for an entry that stopped waiting or moved away, 1 for one that started waiting or
    moved there) as tally deltas, with the pairs of the subscribers waiting product-wide
    before or after the statement."""
    return f"""
CREATE OR REPLACE FUNCTION restock_waitlist_queue_tally_{event}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    emptied bigint[];
    locks integer;
BEGIN
    -- Two transactions writing one subscriber's entries of a product at once would each
    -- miss the other's pair: writes to a product's tallies take turns, and the statement
    -- after the lock sees what the last holder committed.
    SELECT count(pg_advisory_xact_lock(hashtext('restock_waitlist.queue_tally'), h))
    INTO locks
    FROM (SELECT DISTINCT hashtext(product_key) AS h FROM ({moved}) AS moved ORDER BY 1) AS p;
    IF locks = 0 THEN
        RETURN NULL;
    END IF;
    WITH moved AS MATERIALIZED (
        {moved}
    ), gone AS (
        SELECT {KEY} FROM moved WHERE sign < 0
    ), came AS (
        SELECT {KEY} FROM moved WHERE sign > 0
    ), subscribers AS (
        -- Pairs change only for subscribers waiting product-wide, before or after.
        SELECT product_key, subscriber_key FROM moved WHERE variant_key = ''
        UNION
        SELECT product_key, subscriber_key FROM {ENTRIES}
        WHERE subscriber_key = ANY (ARRAY(SELECT DISTINCT subscriber_key FROM moved))
        AND product_key = ANY (ARRAY(SELECT DISTINCT product_key FROM moved))
        AND variant_key = '' AND status = 'waiting'
    ), after_rows AS (
        -- Their waiting entries (those of their other products of the statement too: the
        -- same before and after). Index scans by arrays rather than joins, whose plans,
        -- cached from a first statement on a small table, could read it all per row.
        SELECT {KEY} FROM {ENTRIES}
        WHERE subscriber_key = ANY (ARRAY(SELECT subscriber_key FROM subscribers))
        AND product_key = ANY (ARRAY(SELECT DISTINCT product_key FROM subscribers))
        AND status = 'waiting'
    ), before_rows AS (
        -- All the rows gone (the windows find their pairs) unless nobody waits product-wide.
        (SELECT * FROM after_rows EXCEPT ALL SELECT * FROM came)
        UNION ALL SELECT * FROM gone WHERE EXISTS (SELECT FROM subscribers)
    ), changes AS (
        SELECT product_key, variant_key, tier, created_at, sign, 0 FROM moved
        UNION ALL {paired("after_rows", 1)}
        UNION ALL {paired("before_rows", -1)}
    ), deltas AS (
        -- Summed per second of join time first: a page that joined in one second is a row.
        SELECT product_key, variant_key, tier, date_trunc('second', created_at),
               sum(waiting), sum(paired)
        FROM changes AS c (product_key, variant_key, tier, created_at, waiting, paired)
        GROUP BY 1, 2, 3, 4
    ), {APPLY}
    RETURN NULL;
END
$$;
"""


def waiting_in(rows, sign):
    return f"SELECT {KEY}, {sign} AS sign FROM {rows} WHERE status = 'waiting'"


def unmatched(rows, other, sign):
    """The waiting entries of ``rows`` without a waiting twin (the same ``KEY``) in
    ``other``: 0008's ``EXCEPT ALL``, as a hash anti-join, since ``id`` is unique on either
    side of an update (an update that changes ids moves the entries)."""
    same = " AND ".join(f"o.{column} = r.{column}" for column in COLUMNS)
    return (
        f"SELECT {', '.join(f'r.{column}' for column in COLUMNS)}, {sign} AS sign "
        f"FROM {rows} r WHERE r.status = 'waiting' AND NOT EXISTS ("
        f"SELECT FROM {other} o WHERE {same} AND o.status = 'waiting')"
    )


CREATE = (
    tally_function("insert", waiting_in("new_rows", 1))
    + tally_function(
        "update",
        f"{unmatched('old_rows', 'new_rows', -1)} UNION ALL {unmatched('new_rows', 'old_rows', 1)}",
    )
    + tally_function("delete", waiting_in("old_rows", -1))
)


class Migration(migrations.Migration):
    dependencies = [
        ("restock_waitlist", "0008_queue_tally"),
    ]

    operations = [
        migrations.RunPython(
            on_postgresql(CREATE), on_postgresql(queue_tally.DROP, queue_tally.CREATE)
        ),
    ]
