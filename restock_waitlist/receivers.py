"""Watches the shop's models and the app's own signals, and queues the work they cause.

Connected in ``AppConfig.ready()`` to ``RESTOCK_WAITLIST["STOCK_MODEL"]`` and
``["ORDER_MODEL"]``, and reconnected when that setting changes. The merchant's stock
``save()`` pays one query in ``pre_save``, and one more (the event, inserted only if
anyone waits) when stock goes from none to some; stock falling to none only queues a
forecast report once the transaction commits. A new order only queues its attribution.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.signals import post_save, pre_delete, pre_save

from restock_waitlist import privacy, services, signals
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import SETTINGS_NAME, app_settings
from restock_waitlist.jobs import enqueue_on_commit
from restock_waitlist.models import ForecastReport, RestockEvent

PENDING_ATTR = "_restock_waitlist_stock_change"
UID = "restock_waitlist.stock"
ORDER_UID = "restock_waitlist.order"

#: ``{dispatch_uid: model}``: the shop models the receivers are connected to now.
_connected = {}


def stock_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    """Note the item's available quantity before and after this save (one query)."""
    if raw:
        return
    adapter = get_adapter()
    field = adapter.available_field
    if update_fields is not None and field is not None and field.name not in update_fields:
        return
    if instance._state.adding:
        product_key, variant_key = adapter.stock_item_keys(instance)
        before = row_before = 0
        if product_key is not None:
            before = adapter.available_quantity(product_key, variant_key)
    else:
        product_key, variant_key, before, row_before = adapter.stock_before_save(instance)
    if product_key is None:
        return
    after = before - row_before + adapter.available_in_row(instance)
    setattr(instance, PENDING_ATTR, (product_key, variant_key, before, after))


def stock_post_save(sender, instance, raw=False, **kwargs):
    change = instance.__dict__.pop(PENDING_ATTR, None)
    if raw or change is None:
        return
    services.detect_restock(*change)
    services.detect_sell_out(*change)


def order_post_save(sender, instance, created=False, raw=False, **kwargs):
    """A new order: attribute it to a restock alert once the transaction commits."""
    if created and not raw:
        enqueue_on_commit("record_order", str(instance.pk))


def _reconnect(uid, setting, receivers):
    """(Re)connect ``receivers`` (``{signal: receiver}``) to the model ``setting`` names."""
    model = _connected.pop(uid, None)
    if model is not None:
        for signal in receivers:
            signal.disconnect(sender=model, dispatch_uid=uid)
    try:
        model = app_settings.model(setting)
    except ImproperlyConfigured:  # reported by the system checks
        return
    if model is None:
        return
    for signal, receiver in receivers.items():
        signal.connect(receiver, sender=model, dispatch_uid=uid)
    _connected[uid] = model


def connect_model_receivers():
    """(Re)connect to the configured stock and order models, where there are any."""
    _reconnect(UID, "STOCK_MODEL", {pre_save: stock_pre_save, post_save: stock_post_save})
    _reconnect(ORDER_UID, "ORDER_MODEL", {post_save: order_post_save})


def settings_changed(setting, **kwargs):
    if setting == SETTINGS_NAME:
        connect_model_receivers()


def enqueue_dispatch(sender, event, **kwargs):
    """``restock_detected``: hand the event to a worker once the transaction commits."""
    enqueue_on_commit("dispatch_restock", event.pk)


def erase_deleted_account(sender, instance, **kwargs):
    """A deleted account's entries are anonymised, not deleted, so what it waited for keeps
    counting; its queued alerts are stopped (``StockWaitlist.user`` is then set null)."""
    privacy.erase_subscriber_data(user=instance)


def enqueue_wave_report(sender, event, wave, **kwargs):
    """``restock_wave_sent`` with waiters left for a next wave: report what still waits."""
    if event.status == RestockEvent.Status.WAITING_NEXT_WAVE:
        enqueue_on_commit("report_restock", event.pk, ForecastReport.Reason.WAVE.value, wave.number)


def enqueue_end_report(sender, event, **kwargs):
    """``restock_ended`` after sending (not a skipped event): report what to reorder."""
    if event.status == RestockEvent.Status.COMPLETED:
        enqueue_on_commit("report_restock", event.pk, ForecastReport.Reason.RESTOCK_ENDED.value)


def connect():
    connect_model_receivers()
    setting_changed.connect(settings_changed, dispatch_uid=UID)
    signals.restock_detected.connect(enqueue_dispatch, dispatch_uid=UID)
    pre_delete.connect(erase_deleted_account, sender=get_user_model(), dispatch_uid=UID)
    signals.restock_wave_sent.connect(enqueue_wave_report, dispatch_uid=UID)
    signals.restock_ended.connect(enqueue_end_report, dispatch_uid=UID)
