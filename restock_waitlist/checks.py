"""System checks: a misconfigured ``RESTOCK_WAITLIST`` is reported by key at start-up."""

import numbers
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from restock_waitlist import addresses, limits
from restock_waitlist.conf import DEFAULTS, SETTINGS_NAME, app_settings, import_cached

TAG = "restock_waitlist"


def register():
    checks.register(check_settings, TAG)
    checks.register(check_queue_tally, TAG, checks.Tags.database)


def error(key, message, id_, hint=None):
    return checks.Error(
        f"{SETTINGS_NAME}[{key!r}]: {message}", hint=hint, id=f"restock_waitlist.{id_}"
    )


def check_settings(app_configs=None, **kwargs):
    errors = []
    user_settings = getattr(settings, SETTINGS_NAME, None) or {}
    if not isinstance(user_settings, dict):
        return [checks.Error(f"{SETTINGS_NAME} must be a dict.", id="restock_waitlist.E000")]
    for key in sorted(set(user_settings) - set(DEFAULTS)):
        errors.append(
            checks.Warning(
                f"{SETTINGS_NAME}[{key!r}] is not a setting of restock_waitlist and is ignored.",
                hint="Check the spelling against the settings reference.",
                id="restock_waitlist.W001",
            )
        )
    models = {}
    for key, id_ in (("PRODUCT_MODEL", "E001"), ("VARIANT_MODEL", "E002"), ("STOCK_MODEL", "E003")):
        try:
            models[key] = app_settings.model(key)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id=f"restock_waitlist.{id_}"))
    errors += _check_paths(models)
    errors += _check_channels()
    errors += _check_imports()
    errors += _check_numbers()
    errors += _check_throttle_rates()
    errors += _check_dispatch()
    errors += _check_channel_options()
    errors += _check_templates()
    errors += _check_site_url()
    errors += _check_urls()
    errors += _check_safety()
    errors += _check_demand(models)
    return errors


def _related_model_at(model, path):
    """The model an attribute path ends at; raises ``LookupError`` naming the bad hop."""
    for hop in path.split("."):
        try:
            field = model._meta.get_field(hop)
        except FieldDoesNotExist as exc:
            raise LookupError(f"{model._meta.label} has no field {hop!r}") from exc
        if not field.is_relation:
            raise LookupError(f"{model._meta.label}.{hop} is not a relation")
        model = field.related_model
    return model


def _check_path(key, source, path, target, id_):
    if not isinstance(path, str) or not path:
        return [error(key, "must be an attribute path such as 'product'.", id_)]
    try:
        found = _related_model_at(source, path)
    except LookupError as exc:
        return [error(key, f"{path!r} does not resolve: {exc}.", id_)]
    if found is not target:
        return [
            error(key, f"{path!r} leads to {found._meta.label}, not {target._meta.label}.", id_)
        ]
    return []


#: The triggers that keep the queue tallies on PostgreSQL (migration 0008).
TALLY_TRIGGERS = ("insert", "update", "delete", "truncate")


def check_queue_tally(app_configs=None, databases=None, **kwargs):
    """On PostgreSQL, the triggers that keep the queue tallies exist once their migration is
    recorded: a faked migration would leave every place in line wrong."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from restock_waitlist.models import StockWaitlist

    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        if ("restock_waitlist", "0008_queue_tally") not in MigrationRecorder(
            connection
        ).applied_migrations():
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = ANY(%s)",
                [
                    StockWaitlist._meta.db_table,
                    [f"restock_waitlist_tally_{event}" for event in TALLY_TRIGGERS],
                ],
            )
            if cursor.fetchone()[0] < len(TALLY_TRIGGERS):
                errors.append(
                    checks.Warning(
                        f"Database {alias!r} lacks the triggers that keep restock_waitlist's "
                        "queue tallies: places in line shown there are wrong.",
                        hint="Was migration restock_waitlist 0008 faked? Run 'manage.py migrate "
                        "restock_waitlist 0007' then 'manage.py migrate restock_waitlist'.",
                        id="restock_waitlist.W090",
                    )
                )
    return errors


def _check_paths(models):
    product, variant, stock = (
        models.get(k) for k in ("PRODUCT_MODEL", "VARIANT_MODEL", "STOCK_MODEL")
    )
    errors = []
    if product is not None and variant is not None:
        errors += _check_path(
            "VARIANT_PRODUCT", variant, app_settings.VARIANT_PRODUCT, product, "E007"
        )
    if stock is None:
        return errors
    if product is not None:
        errors += _check_path("STOCK_PRODUCT", stock, app_settings.STOCK_PRODUCT, product, "E004")
    stock_variant = app_settings.STOCK_VARIANT
    if stock_variant and variant is None and "VARIANT_MODEL" in models:
        errors.append(error("STOCK_VARIANT", "is set, but VARIANT_MODEL is None.", "E005"))
    elif stock_variant and variant is not None:
        errors += _check_path("STOCK_VARIANT", stock, stock_variant, variant, "E005")
    available = app_settings.STOCK_AVAILABLE
    if not isinstance(available, str) or not available:
        errors.append(error("STOCK_AVAILABLE", "must be a field name or a dotted path.", "E006"))
    elif "." in available:
        try:
            if not callable(import_cached(available)):
                errors.append(error("STOCK_AVAILABLE", f"{available!r} is not callable.", "E006"))
        except ImproperlyConfigured as exc:
            errors.append(error("STOCK_AVAILABLE", str(exc), "E006"))
    elif not _has_field_or_attribute(stock, available):
        errors.append(
            error(
                "STOCK_AVAILABLE",
                f"{stock._meta.label} has no field or attribute {available!r}.",
                "E006",
                hint="Name a field, or give a dotted path to a callable taking a stock row.",
            )
        )
    return errors


def _has_field_or_attribute(model, name):
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return hasattr(model, name)
    return True


def _check_channels():
    errors = []
    channels = app_settings.CHANNELS
    if not isinstance(channels, dict) or not channels:
        return [error("CHANNELS", "must be a non-empty dict of channel name to options.", "E008")]
    for name, config in channels.items():
        if not isinstance(config, dict) or "BACKEND" not in config:
            errors.append(
                error(
                    "CHANNELS",
                    f"{name!r} must be a dict with a 'BACKEND' dotted path.",
                    "E008",
                    hint="e.g. {'BACKEND': 'restock_waitlist.channels.email.EmailChannel'}.",
                )
            )
    # The default CHANNEL_ORDER names channels a shop may not have; a project's own may not.
    explicit = ["DEFAULT_CHANNELS"] + (
        ["CHANNEL_ORDER"] if "CHANNEL_ORDER" in app_settings.user_settings else []
    )
    for key in ("CHANNEL_ORDER", "DEFAULT_CHANNELS"):
        names = getattr(app_settings, key)
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            errors.append(error(key, "must be a list of channel names.", "E008"))
            continue
        missing = [c for c in names if c not in channels]
        if key in explicit and missing:
            errors.append(
                error(
                    key,
                    f"{', '.join(map(repr, missing))} not in CHANNELS.",
                    "E008",
                    hint=f"Channels are {', '.join(map(repr, channels))}.",
                )
            )
    if app_settings.CHANNEL_STRATEGY not in ("first_success", "all"):
        errors.append(error("CHANNEL_STRATEGY", "must be 'first_success' or 'all'.", "E009"))
    return errors


def _check_imports():
    errors = []
    for key in ("ADAPTER", "POLICY", "PRIORITY"):
        path = getattr(app_settings, key)
        if path is None and key == "PRIORITY":
            continue
        try:
            imported = import_cached(path)
        except (ImproperlyConfigured, TypeError, ValueError) as exc:
            errors.append(error(key, f"{path!r} cannot be imported: {exc}", "E010"))
            continue
        if not callable(imported):
            errors.append(
                error(
                    key,
                    f"{path!r} is not callable.",
                    "E053",
                    hint="Give the dotted path of a class or function.",
                )
            )
    return errors


def _check_numbers():
    errors = []
    oversubscription = app_settings.OVERSUBSCRIPTION
    if not isinstance(oversubscription, numbers.Real) or oversubscription <= 0:
        errors.append(error("OVERSUBSCRIPTION", "must be a number above 0, e.g. 3.0.", "E011"))
    for key in ("CHUNK_SIZE", "MAX_ATTEMPTS"):
        value = getattr(app_settings, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(error(key, "must be a whole number of at least 1.", "E011"))
    for key in (
        "WAVE_INTERVAL",
        "RESTOCK_COOLDOWN",
        "CONFIRMATION_EXPIRY",
        "TOKEN_MAX_AGE",
        "RETRY_BACKOFF",
        "STUCK_AFTER",
    ):
        if not isinstance(getattr(app_settings, key), timedelta):
            errors.append(error(key, "must be a datetime.timedelta.", "E012"))
    return errors


def _check_templates():
    """The storefront templates must exist, or every product page would fail to render."""
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    errors = []
    for key, required in (("BUTTON_TEMPLATE", True), ("IN_STOCK_TEMPLATE", False)):
        name = getattr(app_settings, key)
        if name is None and not required:
            continue
        if not isinstance(name, str) or not name:
            errors.append(error(key, "must be a template name.", "E020"))
            continue
        try:
            get_template(name)
        except TemplateDoesNotExist:
            errors.append(
                error(
                    key,
                    f"template {name!r} does not exist.",
                    "E020",
                    hint="Check the name and that its app or directory is in TEMPLATES.",
                )
            )
    return errors


def _check_dispatch():
    """Channel backends, the contact resolver, quiet hours and django-q2's retry window."""
    from restock_waitlist import contacts
    from restock_waitlist.channels.base import BaseChannel
    from restock_waitlist.policies import parse_quiet_hours

    errors = []
    channels = app_settings.CHANNELS if isinstance(app_settings.CHANNELS, dict) else {}
    for name, config in channels.items():
        if not isinstance(config, dict) or "BACKEND" not in config:
            continue  # E008
        path = config["BACKEND"]
        try:
            backend = import_cached(path) if isinstance(path, str) else None
        except ImproperlyConfigured as exc:
            errors.append(error("CHANNELS", f"{name!r}: {exc}", "E013"))
            continue
        if not (isinstance(backend, type) and issubclass(backend, BaseChannel)):
            errors.append(
                error(
                    "CHANNELS",
                    f"{name!r} needs a 'BACKEND' naming a BaseChannel subclass, not {path!r}.",
                    "E013",
                    hint="e.g. 'restock_waitlist.channels.email.EmailChannel'.",
                )
            )
        elif not isinstance(config.get("OPTIONS", {}), dict):
            errors.append(error("CHANNELS", f"{name!r}: 'OPTIONS' must be a dict.", "E013"))
        else:
            kind = (config.get("OPTIONS") or {}).get("CONTACT_KIND", backend.contact_kind)
            if kind not in contacts.KINDS:
                errors.append(
                    error(
                        "CHANNELS",
                        f"{name!r}: contact kind {kind!r} is not one of "
                        f"{', '.join(map(repr, contacts.KINDS))}.",
                        "E013",
                    )
                )
    try:
        parse_quiet_hours(app_settings.QUIET_HOURS)
    except (TypeError, ValueError):
        errors.append(
            error(
                "QUIET_HOURS",
                f"{app_settings.QUIET_HOURS!r} is not a (start, end) pair of times.",
                "E014",
                hint='e.g. ("21:00", "08:00"), or None to send at any hour.',
            )
        )
    resolver = app_settings.CONTACT_RESOLVER
    try:
        if not callable(import_cached(resolver)):
            errors.append(error("CONTACT_RESOLVER", f"{resolver!r} is not callable.", "E015"))
    except (ImproperlyConfigured, TypeError, ValueError) as exc:
        errors.append(error("CONTACT_RESOLVER", f"{resolver!r} cannot be imported: {exc}", "E015"))
    if not isinstance(app_settings.Q_OPTIONS, dict):
        errors.append(error("Q_OPTIONS", "must be a dict of django-q2 task options.", "E016"))
    errors += _check_q_cluster()
    return errors


def _check_channel_options():
    """Each channel backend checks its own ``OPTIONS`` (``BaseChannel.check_options``), so a
    missing API key is named at start-up rather than at the first restock."""
    from restock_waitlist.channels.base import BaseChannel

    errors = []
    channels = app_settings.CHANNELS if isinstance(app_settings.CHANNELS, dict) else {}
    for name, config in channels.items():
        if not isinstance(config, dict) or not isinstance(config.get("BACKEND"), str):
            continue  # E008
        options = config.get("OPTIONS") or {}
        try:
            backend = import_cached(config["BACKEND"])
        except ImproperlyConfigured:
            continue  # E013
        is_channel = isinstance(backend, type) and issubclass(backend, BaseChannel)
        if is_channel and isinstance(options, dict):
            errors += backend.check_options(name, options)
    return errors


def _check_q_cluster():
    """django-q2 re-delivers a task after ``retry`` seconds: keep it above ``timeout``."""
    from django.conf import settings

    q_cluster = getattr(settings, "Q_CLUSTER", None) or {}
    timeout, retry = q_cluster.get("timeout"), q_cluster.get("retry", 60)
    if timeout is not None and retry is not None and retry <= timeout:
        return [
            checks.Warning(
                f"Q_CLUSTER['retry'] ({retry}) is not above Q_CLUSTER['timeout'] ({timeout}): "
                "a long dispatch task would be started again while still running.",
                hint="Set retry a little above timeout, e.g. timeout=300, retry=360.",
                id="restock_waitlist.W002",
            )
        ]
    return []


THROTTLE_SCOPES = limits.SCOPES
THROTTLE_RATE_RE = re.compile(r"^\d+/[smhd]\w*$")


def _check_throttle_rates():
    """The API's throttle rates: DRF would fail on the first request with a bad one."""
    rates = app_settings.THROTTLE_RATES
    if rates is None:
        return []
    if not isinstance(rates, dict):
        return [error("THROTTLE_RATES", "must be a dict of scope to rate, e.g. '20/hour'.", "E030")]
    errors = []
    for scope, rate in rates.items():
        if scope not in THROTTLE_SCOPES:
            errors.append(
                checks.Warning(
                    f"{SETTINGS_NAME}['THROTTLE_RATES']: {scope!r} is not a throttle scope of "
                    "restock_waitlist and is ignored.",
                    hint=f"Scopes are {', '.join(THROTTLE_SCOPES)}.",
                    id="restock_waitlist.W030",
                )
            )
        elif rate is not None and not (isinstance(rate, str) and THROTTLE_RATE_RE.match(rate)):
            errors.append(
                error(
                    "THROTTLE_RATES",
                    f"{scope!r}: {rate!r} is not a rate.",
                    "E030",
                    hint="Give requests per period, e.g. '20/hour', or None for no limit.",
                )
            )
    return errors


def _check_site_url():
    """Links in messages are made absolute with ``SITE_URL``: without a usable one every
    confirmation email fails and every restock alert is retried, then lost."""
    site = app_settings.SITE_URL
    hint = "Set it to the shop's public address with its scheme, e.g. 'https://shop.example'."
    if not site:
        return [error("SITE_URL", "is not set, so messages cannot carry links.", "E050", hint)]
    parts = urlsplit(site) if isinstance(site, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return [error("SITE_URL", f"{site!r} is not an absolute http(s) URL.", "E051", hint)]
    if parts.query or parts.fragment:
        return [error("SITE_URL", f"{site!r} has a query or fragment.", "E051", hint)]
    if parts.scheme == "http" and not settings.DEBUG and parts.hostname not in LOCAL_HOSTS:
        return [
            checks.Warning(
                f"{SETTINGS_NAME}['SITE_URL'] = {site!r} is not https: the tokens in "
                "confirmation and unsubscribe links would cross the network in clear.",
                hint="Serve the shop over https and set SITE_URL to match.",
                id="restock_waitlist.W050",
            )
        ]
    return []


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _check_urls():
    """The confirm and unsubscribe links point at the app's URLconf: it must be mounted."""
    try:
        reverse("restock_waitlist:confirm", args=["token"])
    except NoReverseMatch:
        return [
            checks.Error(
                "The app's URLs are not mounted: confirmation and unsubscribe links would "
                "lead nowhere.",
                hint="Add path('waitlist/', include('restock_waitlist.urls')) to your URLconf "
                "(namespace 'restock_waitlist').",
                id="restock_waitlist.E052",
            )
        ]
    except Exception:  # a URLconf that fails to load is reported by Django's own checks
        return []
    return []


def _check_safety():
    """Phone region, proxies, the pending cap and retention."""
    errors = []
    region = app_settings.PHONE_REGION
    if region is not None and not addresses.is_phone_region(region):
        errors.append(
            error(
                "PHONE_REGION",
                f"{region!r} is not a region code.",
                "E054",
                hint="An ISO 3166 code such as 'KR', or None to take international numbers only.",
            )
        )
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if not isinstance(proxies, int) or isinstance(proxies, bool) or proxies < 0:
        errors.append(
            error(
                "TRUSTED_PROXY_COUNT",
                "must be the number of proxies in front of the app (0 or more).",
                "E055",
            )
        )
    cap = app_settings.MAX_PENDING_PER_ADDRESS
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        errors.append(
            error("MAX_PENDING_PER_ADDRESS", "must be a whole number of at least 1.", "E056")
        )
    backend = (getattr(settings, "CACHES", {}).get("default") or {}).get("BACKEND", "")
    if backend.endswith(".DummyCache") and any(limits.rate(scope) for scope in limits.SCOPES):
        errors.append(
            checks.Warning(
                f"{SETTINGS_NAME}['THROTTLE_RATES']: the default cache is a DummyCache, so the "
                "abuse limits count nothing.",
                hint="Use a cache shared by the web processes, e.g. Redis or Memcached.",
                id="restock_waitlist.W051",
            )
        )
    retention = app_settings.RETENTION
    if retention is not None and not (isinstance(retention, timedelta) and retention > timedelta()):
        errors.append(error("RETENTION", "must be a positive datetime.timedelta, or None.", "E057"))
    return errors


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_demand(models):
    """Attribution, forecasts, adaptive waves, reports and the order model (E070–E089)."""
    errors = []
    window = app_settings.ATTRIBUTION_WINDOW
    if not isinstance(window, timedelta) or window <= timedelta(0):
        errors.append(error("ATTRIBUTION_WINDOW", "must be a positive datetime.timedelta.", "E070"))
    sample = app_settings.FORECAST_MIN_SAMPLE
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        errors.append(error("FORECAST_MIN_SAMPLE", "must be a whole number of at least 1.", "E071"))
    cvr = app_settings.DEFAULT_CVR
    if not _is_number(cvr) or not 0 < cvr <= 1:
        errors.append(
            error("DEFAULT_CVR", "must be a rate above 0 and at most 1, e.g. 0.35.", "E072")
        )
    margin = app_settings.SAFETY_MARGIN
    if not _is_number(margin) or margin < 0:
        errors.append(error("SAFETY_MARGIN", "must be a number of at least 0, e.g. 0.2.", "E073"))
    maximum = app_settings.OVERSUBSCRIPTION_MAX
    if not _is_number(maximum) or maximum < 1:
        errors.append(
            error("OVERSUBSCRIPTION_MAX", "must be a number of at least 1, e.g. 5.0.", "E074")
        )
    errors += _check_forecast_schedule()
    recipients = app_settings.REPORT_RECIPIENTS
    if isinstance(recipients, str) or not isinstance(recipients, (list, tuple)):
        errors.append(error("REPORT_RECIPIENTS", "must be a list of email addresses.", "E076"))
    else:
        bad = [address for address in recipients if not _is_email(address)]
        if bad:
            errors.append(
                error(
                    "REPORT_RECIPIENTS",
                    f"not email addresses: {', '.join(map(repr, bad))}.",
                    "E076",
                )
            )
    errors += _check_order_model(models)
    return errors


def _is_email(value):
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(value)
    except (ValidationError, TypeError):
        return False
    return True


def _check_forecast_schedule():
    cron = app_settings.FORECAST_SCHEDULE
    if cron is None:
        return []
    try:
        from croniter import croniter
    except ImportError:  # pragma: no cover - croniter is a dependency
        return [error("FORECAST_SCHEDULE", "needs the croniter package.", "E075")]
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        return [
            error(
                "FORECAST_SCHEDULE",
                f"{cron!r} is not a cron expression.",
                "E075",
                hint='e.g. "0 6 * * *" (06:00 every day), or None for no daily reports.',
            )
        ]
    return []


def _check_attribute_path(key, model, path, id_):
    """A path of relations ending in any field or attribute, e.g. ``"customer.email"``."""
    if not isinstance(path, str) or not path:
        return [error(key, "must be an attribute path such as 'number'.", id_)]
    *hops, last = path.split(".")
    try:
        target = _related_model_at(model, ".".join(hops)) if hops else model
    except LookupError as exc:
        return [error(key, f"{path!r} does not resolve: {exc}.", id_)]
    if not _has_field_or_attribute(target, last):
        return [error(key, f"{target._meta.label} has no field or attribute {last!r}.", id_)]
    return []


def _check_order_model(models):
    """``ORDER_MODEL`` and the paths from an order to what ``record_purchase`` needs."""
    from django.contrib.auth import get_user_model

    try:
        order = app_settings.model("ORDER_MODEL")
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="restock_waitlist.E077")]
    if order is None:
        return []
    errors = []
    product, variant = models.get("PRODUCT_MODEL"), models.get("VARIANT_MODEL")
    if product is not None:
        errors += _check_path("ORDER_PRODUCT", order, app_settings.ORDER_PRODUCT, product, "E078")
    if app_settings.ORDER_VARIANT:
        if variant is None:
            errors.append(error("ORDER_VARIANT", "is set, but VARIANT_MODEL is None.", "E079"))
        else:
            errors += _check_path(
                "ORDER_VARIANT", order, app_settings.ORDER_VARIANT, variant, "E079"
            )
    if app_settings.ORDER_USER:
        errors += _check_path(
            "ORDER_USER", order, app_settings.ORDER_USER, get_user_model(), "E080"
        )
    errors += _check_attribute_path("ORDER_REF", order, app_settings.ORDER_REF, "E081")
    for key in ("ORDER_EMAIL", "ORDER_QUANTITY"):
        if getattr(app_settings, key):
            errors += _check_attribute_path(key, order, getattr(app_settings, key), "E081")
    return errors
