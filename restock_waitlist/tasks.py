"""django-q2 entry points. Thin: ids in, services called; each is safe to run twice."""

from restock_waitlist import dispatch, privacy, reports, services


def send_confirmation(entry_id):
    """Email a guest the link that confirms their pending entry (double opt-in), once."""
    return services.send_confirmation(entry_id)


def send_due_confirmations():
    """Periodic: confirmations whose mail never went out."""
    return services.send_due_confirmations()


def expire_unconfirmed():
    """Periodic: expire guest entries never confirmed."""
    return services.expire_unconfirmed()


def purge_old_records():
    """Periodic: delete ended entries and their logs older than ``RETENTION``."""
    return privacy.purge_old_records()


# Dispatch (restock_waitlist.dispatch) ------------------------------------------------------


def dispatch_restock(event_id):
    """A restock was detected: start its first wave."""
    dispatch.dispatch_event(event_id)


def run_wave(event_id, remaining=None):
    """Send the event's next wave (due, resumed after a stalled worker, or the ``remaining``
    of one whose first pages another task claimed)."""
    dispatch.run_wave(event_id, remaining)


def send_span(event_id, first_id, last_id):
    """Send a wave's queued notifications with ids from ``first_id`` to ``last_id``."""
    return dispatch.send_span(event_id, first_id, last_id)


def send_notifications(notification_ids):
    """Send queued notifications that are due (retries, quiet hours, re-queued)."""
    return dispatch.send_notifications(notification_ids)


def run_due_waves():
    """Periodic: start due waves, resume stalled ones, restart lost events, complete ended ones."""
    return dispatch.run_due_waves()


def requeue_notifications():
    """Periodic: enqueue again sends whose task was lost or whose worker died; due retries."""
    return dispatch.requeue_notifications()


def reconcile_stock():
    """Periodic: record restocks whose stock changed without a signal."""
    return len(dispatch.reconcile_stock())


# Demand: purchases and forecast reports (restock_waitlist.reports) --------------------------


def record_order(order_pk):
    """An order of ``ORDER_MODEL`` was placed: credit it to the alert that won it back."""
    services.record_order(order_pk)


def report_restock(event_id, reason, wave=None, attempt=0):
    """After a wave, or at the end of a restock: the item's forecast report."""
    reports.report_restock(event_id, reason, wave, attempt)


def report_sold_out(product_key, variant_key, at):
    """An item's stock fell to zero: its forecast report, if anyone waits."""
    reports.report_sold_out(product_key, variant_key, at)


def daily_forecast_reports():
    """Scheduled (``FORECAST_SCHEDULE``): a forecast report for every item with waiters."""
    return len(reports.write_daily_reports())
