"""Notifications drop the indexes of their entry and event keys: the unique constraints
begin with each, and every index is written again when a send changes status."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("restock_waitlist", "0006_engine"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="entry",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="restock_waitlist.stockwaitlist",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="event",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="restock_waitlist.restockevent",
            ),
        ),
    ]
