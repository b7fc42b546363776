from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from restock_waitlist import services


class Command(BaseCommand):
    help = (
        "Record a restock of a product (or one variant) whose stock changed without post_save, "
        "e.g. after QuerySet.update() or an import; waiters are then notified as usual."
    )

    def add_arguments(self, parser):
        parser.add_argument("product", help="Primary key of the product.")
        parser.add_argument("--variant", help="Primary key of the variant, if only one came back.")
        parser.add_argument(
            "--quantity", type=int, help="Units available now (default: read from the stock model)."
        )

    def handle(self, product, variant=None, quantity=None, **options):
        try:
            event = services.record_restock(product, variant, quantity)
        except ValidationError as exc:
            errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(errors) from exc
        self.stdout.write(f"Recorded restock #{event.pk}: {event.quantity} available.")
