"""Push notifications to a user's registered devices through django-push-notifications.

Install the ``push`` extra (``pip install restock-waitlist[push]``) and add
``"push_notifications"`` to ``INSTALLED_APPS``. The contact is the waiting user; every
active FCM, APNs and Web Push device of theirs gets the alert.

``OPTIONS``: ``DEVICE_MODELS`` (default ``["GCMDevice", "APNSDevice", "WebPushDevice"]``),
``APPLICATION_ID`` (only devices of this application, default: any).
"""

import json
import operator
from functools import reduce

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from restock_waitlist import contacts
from restock_waitlist.channels.base import (
    BaseChannel,
    NoContact,
    PermanentError,
    TransientError,
)

DEFAULT_DEVICE_MODELS = ("GCMDevice", "APNSDevice", "WebPushDevice")

#: APNs reasons that mean the token is dead, not that APNs is having a bad moment.
APNS_DEAD_TOKEN = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}


def push_models():
    """The ``push_notifications.models`` module, imported only when push is used."""
    try:
        from push_notifications import models
    except ImportError as exc:
        raise ImproperlyConfigured(
            "The push channel needs django-push-notifications: "
            "pip install 'restock-waitlist[push]' and add 'push_notifications' to INSTALLED_APPS."
        ) from exc
    return models


class PushChannel(BaseChannel):
    contact_kind = contacts.USER
    label = _("App notification")
    quiet_hours = True

    def offered_to(self, user):
        """Only to a signed-in user with an active device (one query)."""
        return user is not None and self.has_device(user)

    def device_models(self):
        models = push_models()
        return [
            getattr(models, name)
            for name in self.options.get("DEVICE_MODELS", DEFAULT_DEVICE_MODELS)
        ]

    def has_device(self, user):
        """Whether ``user`` has an active device; ``False`` without django-push-notifications."""
        if not apps.is_installed("push_notifications"):
            return False
        owned = []
        for model in self.device_models():
            devices = model.objects.filter(user=OuterRef("pk"), active=True)
            if self.options.get("APPLICATION_ID"):
                devices = devices.filter(application_id=self.options["APPLICATION_ID"])
            owned.append(Exists(devices))
        users = get_user_model()._default_manager.filter(pk=user.pk)
        return users.filter(reduce(operator.or_, owned)).exists()

    def devices_by_user(self, user_ids):
        """``{user_id: [device, ...]}`` for active devices: one query per device model."""
        found = {}
        for model in self.device_models():
            devices = model.objects.filter(user_id__in=user_ids, active=True)
            if self.options.get("APPLICATION_ID"):
                devices = devices.filter(application_id=self.options["APPLICATION_ID"])
            for device in devices:
                found.setdefault(device.user_id, []).append(device)
        return found

    def send_stream(self, messages):
        self._devices = self.devices_by_user({m.contact.pk for m in messages if m.contact})
        yield from super().send_stream(messages)

    def build_payload(self, message):
        devices = self._devices.get(getattr(message.contact, "pk", None))
        if not devices:
            raise NoContact("No active push device.")
        rendered = self.render(message)
        return devices, rendered, message.purchase_url

    def post(self, payload):
        devices, rendered, url = payload
        sent, errors = [], []
        for device in devices:
            try:
                response = self.send_to_device(device, rendered, url)
            except Exception as exc:
                errors.append(exc)
            else:
                sent.append(f"{type(device).__name__}:{device.pk}" if response is not False else "")
        if any(sent):
            return ",".join(filter(None, sent))
        if errors and all(self.is_dead_token(exc) for exc in errors):
            raise PermanentError(f"Every device refused the push: {errors[0]}")
        raise TransientError(f"Push failed: {errors[0] if errors else 'no device accepted it'}")

    def send_to_device(self, device, rendered, url):
        kind = type(device).__name__
        if kind == "APNSDevice":
            return device.send_message(
                {"title": rendered.subject, "body": rendered.text}, extra={"url": url}
            )
        if kind == "WebPushDevice":
            return device.send_message(
                json.dumps({"title": rendered.subject, "body": rendered.text, "url": url})
            )
        return device.send_message(rendered.text, extra={"title": rendered.subject, "url": url})

    @staticmethod
    def is_dead_token(exc):
        reason = str(getattr(exc, "status", "") or exc)
        return any(dead in reason for dead in APNS_DEAD_TOKEN)
