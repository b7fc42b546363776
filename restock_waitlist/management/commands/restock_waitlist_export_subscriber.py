import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restock_waitlist import privacy


def subscriber_arguments(parser):
    parser.add_argument("--email", help="The subscriber's email address.")
    parser.add_argument("--user", help="Primary key of the subscriber's account.")


def find_user(pk):
    """The account with this primary key; ``CommandError`` when there is none."""
    if pk is None:
        return None
    model = get_user_model()
    try:
        return model._default_manager.get(pk=pk)
    except (model.DoesNotExist, ValueError, ValidationError) as exc:
        raise CommandError(f"No user with primary key {pk!r}.") from exc


def error_text(exc):
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())


class Command(BaseCommand):
    help = (
        "Print everything restock_waitlist holds about one person (by --email, --user or "
        "both) as JSON: entries, consent records and notifications."
    )

    def add_arguments(self, parser):
        subscriber_arguments(parser)
        parser.add_argument("--output", help="Write the JSON to this file instead of stdout.")

    def handle(self, email=None, user=None, output=None, **options):
        try:
            data = privacy.export_subscriber_data(email=email, user=find_user(user))
        except ValidationError as exc:
            raise CommandError(error_text(exc)) from exc
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text + "\n")
            self.stderr.write(f"Wrote {len(data['entries'])} entries to {output}.")
        else:
            self.stdout.write(text)
