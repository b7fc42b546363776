"""Channel backends: how a restock alert reaches a waiter (email, push, SMS, console, locmem).

``RESTOCK_WAITLIST["CHANNELS"]`` maps each channel name to ``{"BACKEND": dotted path,
"OPTIONS": {...}}``, read at call time like Django's email backends.
"""

from django.core.exceptions import ImproperlyConfigured

from restock_waitlist.conf import SETTINGS_NAME, app_settings, import_cached


def get_channel(name):
    """An instance of the backend configured for channel ``name``, with its ``OPTIONS``."""
    config = (app_settings.CHANNELS or {}).get(name)
    if not isinstance(config, dict) or not config.get("BACKEND"):
        raise ImproperlyConfigured(
            f"{SETTINGS_NAME}['CHANNELS'][{name!r}] must be a dict with a 'BACKEND' dotted path."
        )
    backend = import_cached(config["BACKEND"])
    return backend(name, **(config.get("OPTIONS") or {}))
