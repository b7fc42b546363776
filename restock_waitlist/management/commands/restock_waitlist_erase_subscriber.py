from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restock_waitlist import privacy
from restock_waitlist.management.commands.restock_waitlist_export_subscriber import (
    error_text,
    find_user,
    subscriber_arguments,
)


class Command(BaseCommand):
    help = (
        "Erase one person's waitlist data (by --email, --user or both): addresses, numbers "
        "and the account link are removed, entries still in line are cancelled; statuses, "
        "items and times stay, so counts do not change."
    )

    def add_arguments(self, parser):
        subscriber_arguments(parser)

    def handle(self, email=None, user=None, **options):
        try:
            erased = privacy.erase_subscriber_data(email=email, user=find_user(user))
        except ValidationError as exc:
            raise CommandError(error_text(exc)) from exc
        counts = ", ".join(f"{count} {name}" for name, count in erased.items())
        self.stdout.write(f"Erased: {counts}.")
