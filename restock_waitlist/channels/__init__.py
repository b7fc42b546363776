"""Channel backends: how a restock alert reaches a waiter (email, push, SMS, console, locmem).

``RESTOCK_WAITLIST["CHANNELS"]`` maps each channel name to ``{"BACKEND": dotted path,
"OPTIONS": {...}}``, read at call time like Django's email backends. This registry is the
one place that turns that setting into channels: the storefront, joining, the API, the
system checks, contacts and dispatch all ask it.
"""

from django.core.exceptions import ImproperlyConfigured

from restock_waitlist.conf import SETTINGS_NAME, app_settings, import_cached


def configured():
    """``CHANNELS`` as a dict (anything else reads as empty: the system checks report it)."""
    channels = app_settings.CHANNELS
    return channels if isinstance(channels, dict) else {}


def channel_class(name):
    """The backend class configured for channel ``name``."""
    config = configured().get(name)
    if not isinstance(config, dict) or not config.get("BACKEND"):
        raise ImproperlyConfigured(
            f"{SETTINGS_NAME}['CHANNELS'][{name!r}] must be a dict with a 'BACKEND' dotted path."
        )
    return import_cached(config["BACKEND"])


def get_channel(name):
    """An instance of the backend configured for channel ``name``, with its ``OPTIONS``."""
    backend = channel_class(name)
    return backend(name, **(configured()[name].get("OPTIONS") or {}))


def enabled_names():
    """The configured channel names in send order: ``CHANNEL_ORDER``, then the rest."""
    channels = configured()
    order = [name for name in app_settings.CHANNEL_ORDER or () if name in channels]
    return order + [name for name in channels if name not in order]


def enabled_channels():
    """An instance of every configured channel, in send order."""
    return [get_channel(name) for name in enabled_names()]


def channel_for_kind(kind):
    """The first enabled channel sending to ``kind`` of contact (e.g. the double opt-in
    mail goes through the shop's email channel, its options and templates), else the plain
    email channel for email."""
    for channel in enabled_channels():
        if channel.contact_kind == kind:
            return channel
    from restock_waitlist.channels.email import EmailChannel

    return EmailChannel("email")


def in_send_order(names):
    """``names`` that are enabled, each once, in send order."""
    wanted = set(names)
    return [name for name in enabled_names() if name in wanted]


def label_for(name):
    """The label of channel ``name``; its name when it is no longer configured (an old entry)."""
    if not isinstance(configured().get(name), dict):
        return name
    return get_channel(name).label
