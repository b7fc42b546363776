from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from restock_waitlist import dispatch
from restock_waitlist.models import RestockEvent

EventStatus = RestockEvent.Status


class Command(BaseCommand):
    help = (
        "Dispatch a restock event by hand: start a pending one, or send the next wave of one "
        "waiting for it now. Chunks go to the django-q2 workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_id", type=int, help="Id of the RestockEvent.")
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Hand the dispatch to a worker instead of running the wave here.",
        )

    def handle(self, event_id, enqueue=False, **options):
        event = RestockEvent.objects.filter(pk=event_id).first()
        if event is None:
            raise CommandError(f"No restock event #{event_id}.")
        if event.status == EventStatus.PENDING:
            task, run = "dispatch_restock", dispatch.dispatch_event
        elif event.status == EventStatus.WAITING_NEXT_WAVE:
            # The operator wants the next wave now rather than at next_wave_at.
            RestockEvent.objects.filter(pk=event.pk, status=event.status).update(
                next_wave_at=timezone.now()
            )
            task, run = "run_wave", dispatch.run_wave
        else:
            raise CommandError(
                f"Restock #{event.pk} is {event.get_status_display().lower()}"
                f"{': ' + event.detail if event.detail else ''}. "
                "Record a new restock (restock_waitlist_record_restock) to notify again."
            )
        if enqueue:
            dispatch.enqueue(task, event.pk)
            self.stdout.write(f"Queued restock #{event.pk} for the workers.")
            return
        event = run(event.pk)
        if event is None:
            raise CommandError(f"Restock #{event_id} is being dispatched by a worker right now.")
        self.stdout.write(
            f"Restock #{event.pk}: {event.get_status_display().lower()}, wave {event.waves_sent}. "
            f"{event.detail}"
        )
