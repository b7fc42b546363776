"""django-q2 entry points, the schedules and dispatch commands, and the dispatch checks."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from restock_waitlist import tasks
from restock_waitlist.checks import check_settings
from restock_waitlist.models import Notification, RestockEvent
from tests import factories
from tests.testshop.models import StockLevel

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(variant):
    for _ in range(5):
        factories.EntryFactory(variant=variant)
    StockLevel.objects.filter(variant=variant).update(quantity=1)
    return factories.RestockEventFactory(variant=variant, quantity=1)


def command(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_schedules_command_is_idempotent():
    first = command("restock_waitlist_schedules")
    assert first.count("Created schedule") == 7
    Schedule.objects.filter(name="restock_waitlist: retries").update(minutes=9)
    second = command("restock_waitlist_schedules")
    assert second.count("Updated schedule") == 7
    assert Schedule.objects.count() == 7
    retries = Schedule.objects.get(name="restock_waitlist: retries")
    assert (retries.func, retries.schedule_type, retries.minutes, retries.repeats) == (
        "restock_waitlist.tasks.requeue_notifications",
        Schedule.MINUTES,
        1,
        -1,
    )
    assert set(Schedule.objects.values_list("func", flat=True)) == {
        "restock_waitlist.tasks.run_due_waves",
        "restock_waitlist.tasks.requeue_notifications",
        "restock_waitlist.tasks.reconcile_stock",
        "restock_waitlist.tasks.expire_unconfirmed",
        "restock_waitlist.tasks.send_due_confirmations",
        "restock_waitlist.tasks.purge_old_records",
        "restock_waitlist.tasks.daily_forecast_reports",
    }


def test_schedules_go_to_the_configured_cluster(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "Q_OPTIONS": {"cluster": "alerts"}}
    command("restock_waitlist_schedules")
    assert set(Schedule.objects.values_list("cluster", flat=True)) == {"alerts"}


def test_dispatch_command_starts_a_pending_event(event):
    out = command("restock_waitlist_dispatch", str(event.pk))
    assert f"Restock #{event.pk}: waiting for the next wave, wave 1." in out
    assert Notification.objects.count() == 3


def test_dispatch_command_sends_the_next_wave_now(event):
    command("restock_waitlist_dispatch", str(event.pk))
    command("restock_waitlist_dispatch", str(event.pk))
    event.refresh_from_db()
    assert (event.waves_sent, event.status) == (2, RestockEvent.Status.COMPLETED)
    assert Notification.objects.count() == 5


def test_dispatch_command_refuses_finished_events(event):
    RestockEvent.objects.filter(pk=event.pk).update(status="skipped", detail="Nobody is waiting.")
    with pytest.raises(CommandError, match="is skipped: Nobody is waiting"):
        command("restock_waitlist_dispatch", str(event.pk))
    with pytest.raises(CommandError, match="No restock event #999"):
        command("restock_waitlist_dispatch", "999")


def test_dispatch_command_can_hand_the_event_to_the_workers(settings, event):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "Q_OPTIONS": {"sync": False}}
    assert "Queued restock" in command("restock_waitlist_dispatch", str(event.pk), "--enqueue")
    assert OrmQ.objects.count() == 1
    assert not Notification.objects.exists()


def test_tasks_take_ids_and_are_safe_to_repeat(event):
    tasks.dispatch_restock(event.pk)
    tasks.dispatch_restock(event.pk)
    assert Notification.objects.count() == 3
    notification_ids = list(Notification.objects.values_list("pk", flat=True))
    assert tasks.send_notifications(notification_ids) == 0  # already sent
    RestockEvent.objects.filter(pk=event.pk).update(next_wave_at=timezone.now())
    assert tasks.run_due_waves() == 1
    assert Notification.objects.count() == 5
    assert tasks.requeue_notifications() == 0
    assert tasks.reconcile_stock() == 0


def test_periodic_sweep_restarts_an_event_whose_task_was_lost(event):
    RestockEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert tasks.run_due_waves() == 1
    assert Notification.objects.count() == 3


# Checks ---------------------------------------------------------------------------------


def check_ids(settings, **values):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **values}
    return {(error.id, error.msg) for error in check_settings()}


@pytest.mark.parametrize(
    "backend, message",
    [
        ("restock_waitlist.channels.nope.Channel", "Could not import"),
        ("restock_waitlist.dispatch", "needs a 'BACKEND' naming a BaseChannel subclass"),
        (None, "needs a 'BACKEND'"),
    ],
)
def test_check_channel_backends(settings, backend, message):
    found = check_ids(settings, CHANNELS={"email": {"BACKEND": backend}})
    assert any(id_ == "restock_waitlist.E013" and message in msg for id_, msg in found), found


def test_check_channel_options_must_be_a_dict(settings):
    found = check_ids(
        settings,
        CHANNELS={
            "email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel", "OPTIONS": 1}
        },
    )
    assert (
        "restock_waitlist.E013",
        "RESTOCK_WAITLIST['CHANNELS']: 'email': 'OPTIONS' must be a dict.",
    ) in found


@pytest.mark.parametrize("value", ["21-8", ("25:00", "08:00"), 9, ("21:00",)])
def test_check_quiet_hours_format(settings, value):
    assert any(id_ == "restock_waitlist.E014" for id_, _ in check_ids(settings, QUIET_HOURS=value))


@pytest.mark.parametrize("value", [None, ("21:00", "08:00")])
def test_quiet_hours_accepted(settings, value):
    assert not any(
        id_ == "restock_waitlist.E014" for id_, _ in check_ids(settings, QUIET_HOURS=value)
    )


def test_check_contact_resolver(settings):
    found = check_ids(settings, CONTACT_RESOLVER="restock_waitlist.contacts.nope")
    assert any(id_ == "restock_waitlist.E015" for id_, _ in found)
    found = check_ids(settings, CONTACT_RESOLVER="restock_waitlist.contacts.__doc__")
    path = "restock_waitlist.contacts.__doc__"
    message = f"RESTOCK_WAITLIST['CONTACT_RESOLVER']: {path!r} is not callable."
    assert ("restock_waitlist.E015", message) in found


def test_check_q_options(settings):
    assert any(id_ == "restock_waitlist.E016" for id_, _ in check_ids(settings, Q_OPTIONS=[]))


def test_check_q_cluster_retry_above_timeout(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 300, "retry": 300}
    assert any(id_ == "restock_waitlist.W002" for id_, _ in check_ids(settings))
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 300, "retry": 360}
    assert not any(id_ == "restock_waitlist.W002" for id_, _ in check_ids(settings))
