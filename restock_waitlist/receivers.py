"""Watches the shop's stock model: a save that brings an item back records a restock.

Connected in ``AppConfig.ready()`` to ``RESTOCK_WAITLIST["STOCK_MODEL"]`` and
reconnected when that setting changes. The merchant's ``save()`` pays one query in
``pre_save``, and two more (a waiter check and the event insert) only when stock
goes from none to some.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db.models.signals import post_save, pre_delete, pre_save

from restock_waitlist import privacy, services, signals
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import SETTINGS_NAME, app_settings
from restock_waitlist.jobs import enqueue_on_commit

PENDING_ATTR = "_restock_waitlist_stock_change"
UID = "restock_waitlist.stock"

_connected_to = None


def stock_pre_save(sender, instance, raw=False, update_fields=None, **kwargs):
    """Note the item's available quantity before and after this save (one query)."""
    if raw:
        return
    adapter = get_adapter()
    field = adapter.available_field
    if update_fields is not None and field is not None and field.name not in update_fields:
        return
    product_key, variant_key = adapter.stock_item_keys(instance)
    if product_key is None:
        return
    if instance._state.adding:
        before, row_before = adapter.available_quantity(product_key, variant_key), 0
    else:
        before, row_before = adapter.available_before_save(instance, product_key, variant_key)
    after = before - row_before + adapter.available_in_row(instance)
    setattr(instance, PENDING_ATTR, (product_key, variant_key, before, after))


def stock_post_save(sender, instance, raw=False, **kwargs):
    change = instance.__dict__.pop(PENDING_ATTR, None)
    if raw or change is None:
        return
    services.detect_restock(*change)


def connect_stock_receivers():
    """(Re)connect the receivers to the configured stock model, if there is one."""
    global _connected_to
    disconnect_stock_receivers()
    try:
        model = app_settings.model("STOCK_MODEL")
    except ImproperlyConfigured:  # reported by the system checks
        return
    if model is None:
        return
    pre_save.connect(stock_pre_save, sender=model, dispatch_uid=UID)
    post_save.connect(stock_post_save, sender=model, dispatch_uid=UID)
    _connected_to = model


def disconnect_stock_receivers():
    global _connected_to
    if _connected_to is not None:
        pre_save.disconnect(sender=_connected_to, dispatch_uid=UID)
        post_save.disconnect(sender=_connected_to, dispatch_uid=UID)
        _connected_to = None


def settings_changed(setting, **kwargs):
    if setting == SETTINGS_NAME:
        connect_stock_receivers()


def enqueue_dispatch(sender, event, **kwargs):
    """``restock_detected``: hand the event to a worker once the transaction commits."""
    enqueue_on_commit("dispatch_restock", event.pk)


def erase_deleted_account(sender, instance, **kwargs):
    """A deleted account's entries are anonymised, not deleted, so what it waited for keeps
    counting; its queued alerts are stopped (``StockWaitlist.user`` is then set null)."""
    privacy.erase_subscriber_data(user=instance)


def connect():
    connect_stock_receivers()
    setting_changed.connect(settings_changed, dispatch_uid=UID)
    signals.restock_detected.connect(enqueue_dispatch, dispatch_uid=UID)
    pre_delete.connect(erase_deleted_account, sender=get_user_model(), dispatch_uid=UID)
