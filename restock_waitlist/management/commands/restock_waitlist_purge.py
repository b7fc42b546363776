from django.core.management.base import BaseCommand

from restock_waitlist import privacy


class Command(BaseCommand):
    help = (
        "Delete cancelled, expired and notified entries and their notification logs older "
        "than RETENTION, and anonymise purchased ones as old (also a daily schedule)."
    )

    def handle(self, **options):
        result = privacy.purge_old_records()
        self.stdout.write(
            f"Deleted {result['deleted']} entries with their notifications; "
            f"anonymised {result['anonymised']} purchased entries."
        )
