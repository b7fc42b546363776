"""All of the app's settings, read from the one ``RESTOCK_WAITLIST`` dict.

Every read goes back to ``django.conf.settings``, so ``override_settings`` works in tests
and nothing is frozen at import time. The settings reference in ``docs/integration.rst``
documents each key.
"""

from datetime import timedelta
from functools import lru_cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

SETTINGS_NAME = "RESTOCK_WAITLIST"

DEFAULTS = {
    # The shop's own models.
    "PRODUCT_MODEL": None,
    "VARIANT_MODEL": None,
    "VARIANT_PRODUCT": "product",
    "STOCK_MODEL": None,
    "STOCK_PRODUCT": "product",
    "STOCK_VARIANT": None,
    "STOCK_AVAILABLE": "quantity",
    "ADAPTER": "restock_waitlist.adapters.DefaultAdapter",
    "POLICY": "restock_waitlist.policies.DefaultPolicy",
    # Joining.
    "PRIORITY": None,
    "ALLOW_JOIN_IN_STOCK": False,
    "DEFAULT_CHANNELS": ("email",),
    "GUEST_DOUBLE_OPT_IN": True,
    "CONFIRMATION_EXPIRY": timedelta(days=2),
    "CONSENT_VERSION": "1",
    "TOKEN_MAX_AGE": timedelta(days=60),
    "SITE_URL": None,
    "PHONE_REGION": None,
    # Storefront: the "Notify me" template tag.
    "BUTTON_TEMPLATE": "restock_waitlist/notify_button.html",
    "IN_STOCK_TEMPLATE": None,
    # Dispatch.
    "OVERSUBSCRIPTION": 3.0,
    "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"}},
    "CHANNEL_ORDER": ("push", "email", "sms"),
    "CHANNEL_STRATEGY": "first_success",
    "CONTACT_RESOLVER": "restock_waitlist.contacts.resolve_contacts",
    "WAVE_INTERVAL": timedelta(hours=24),
    "RESTOCK_COOLDOWN": timedelta(minutes=30),
    "CHUNK_SIZE": 1000,
    "QUIET_HOURS": None,
    "MAX_ATTEMPTS": 5,
    "RETRY_BACKOFF": timedelta(minutes=1),
    "STUCK_AFTER": timedelta(minutes=15),
    "Q_OPTIONS": {},
    # Demand: attribution, forecasts, adaptive waves, reports.
    "ORDER_MODEL": None,
    "ORDER_PRODUCT": "product",
    "ORDER_VARIANT": None,
    "ORDER_USER": None,
    "ORDER_EMAIL": None,
    "ORDER_REF": "pk",
    "ORDER_QUANTITY": None,
    "ATTRIBUTION_WINDOW": timedelta(days=7),
    "FORECAST_MIN_SAMPLE": 30,
    "DEFAULT_CVR": 0.35,
    "SAFETY_MARGIN": 0.2,
    "OVERSUBSCRIPTION_MAX": 5.0,
    "FORECAST_SCHEDULE": "0 6 * * *",
    "REPORT_RECIPIENTS": (),
    # Abuse limits (docs/security.rst): joins per user or client IP, new guest entries per
    # address, guest-token requests per IP; unconfirmed entries per address.
    "THROTTLE_RATES": {
        "restock_waitlist_join": "20/hour",
        "restock_waitlist_address": "10/day",
        "restock_waitlist_guest": "60/hour",
    },
    "MAX_PENDING_PER_ADDRESS": 3,
    "TRUSTED_PROXY_COUNT": 0,
    # Data kept: ended entries and their notification logs are purged after this.
    "RETENTION": timedelta(days=730),
}


@lru_cache(maxsize=64)
def import_cached(dotted_path):
    """Import ``dotted_path`` once; an unresolvable path names itself in the error."""
    try:
        return import_string(dotted_path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Could not import {dotted_path!r}: {exc}") from exc


class AppSettings:
    """Attribute access to ``RESTOCK_WAITLIST`` with defaults, e.g. ``app_settings.CHUNK_SIZE``."""

    @property
    def user_settings(self):
        """The project's dict; anything else reads as empty (the system checks report it)."""
        value = getattr(settings, SETTINGS_NAME, None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, key):
        if key not in DEFAULTS:
            raise AttributeError(f"{SETTINGS_NAME} has no setting {key!r}")
        return self.user_settings.get(key, DEFAULTS[key])

    def imported(self, key):
        """The object a dotted-path setting names, or ``None`` when it is unset."""
        path = getattr(self, key)
        return import_cached(path) if path else None

    def model(self, key):
        """The model class an "app_label.Model" setting names, or ``None`` when it is unset."""
        label = getattr(self, key)
        if not label:
            if key == "PRODUCT_MODEL":
                raise ImproperlyConfigured(
                    f"{SETTINGS_NAME}['PRODUCT_MODEL'] is required: set it to your product model, "
                    "e.g. 'shop.Product'."
                )
            return None
        try:
            return apps.get_model(label, require_ready=False)
        except (ValueError, LookupError) as exc:
            raise ImproperlyConfigured(
                f"{SETTINGS_NAME}[{key!r}] = {label!r} does not name an installed model: {exc}"
            ) from exc


app_settings = AppSettings()
