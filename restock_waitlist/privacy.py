"""Data rights: one person's waitlist data exported or erased, and old records purged.

``docs/security.rst`` says what is stored, why and for how long.

Each kind of record that holds a person's data is a :class:`DataSection` in
:data:`SECTIONS`: it exports the person's rows and erases them. A module that keeps more
(purchase records, say) appends its own section, and export, erasure and the management
commands cover it.

Erasure anonymises rather than deletes: addresses, numbers, the account link, language and
time zone go, and the subscriber key becomes an opaque ``erased:<random>`` key, but each
row keeps its status, item, channels and timestamps, so counts (forecasts, funnels) stay
what they were. Entries still in line are cancelled: nobody can be reached through them.
"""

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from restock_waitlist import services
from restock_waitlist.adapters import prefetch_catalog
from restock_waitlist.conf import app_settings
from restock_waitlist.models import Notification, Purchase, StockWaitlist

Status = StockWaitlist.Status
#: The subscriber key of an erased entry starts with this; the rest is random.
ERASED_PREFIX = "erased:"
#: ``Notification.error`` of a send that was still queued when its subscriber was erased.
ERASED_NOTE = "Not sent: the subscriber's data was erased."
#: Entries that have ended and are purged after ``RETENTION``; purchased ones are kept,
#: anonymised, as the record of a sale.
PURGED_STATUSES = (Status.CANCELLED, Status.EXPIRED, Status.NOTIFIED)
#: Rows deleted or anonymised per statement by the purge (memory stays flat).
BATCH_SIZE = 500


def erased_key():
    return f"{ERASED_PREFIX}{uuid.uuid4().hex}"


@dataclass
class Subject:
    """One person: an email address, an account, or both, and the entries that are theirs
    (ids fixed when the request starts, so erasing one section cannot hide rows from the next)."""

    email: str = ""
    user: object = None
    entry_ids: list = field(default_factory=list)

    def entries(self):
        return StockWaitlist.objects.filter(pk__in=self.entry_ids)


def subject_for(email=None, user=None):
    """The :class:`Subject` for an address and/or an account; ``ValidationError`` naming
    ``email`` for an invalid address, or when neither is given."""
    if not email and user is None:
        raise ValidationError({"email": _("Give an email address or a user.")}, code="required")
    query = Q(pk__in=[])
    if email:
        email = services.normalize_email(email)
        query |= services.address_filter(email)
    if user is not None:
        query |= Q(user=user) | Q(subscriber_key=services.subscriber_key_for(user, ""))
    entries = StockWaitlist.objects.filter(query).order_by("created_at")
    return Subject(
        email=email or "", user=user, entry_ids=list(entries.values_list("pk", flat=True))
    )


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def as_named(*names):
    """Export fields whose key is the attribute's own name."""
    return {name: name for name in names}


def _rows(objects, fields):
    """``fields`` (exported key: attribute) of each object, JSON-ready."""
    return [{key: _jsonable(getattr(obj, attr)) for key, attr in fields.items()} for obj in objects]


class DataSection:
    """A kind of record holding personal data: ``name`` is its key in an export."""

    name = ""

    def export(self, subject):
        """The subject's rows as JSON-ready dicts."""
        raise NotImplementedError

    def erase(self, subject):
        """Anonymise (or delete) the subject's rows; how many were changed."""
        raise NotImplementedError


class EntriesSection(DataSection):
    """Waitlist entries: who waited for what, by which channels, in which language."""

    name = "entries"
    #: Exported key: attribute of the entry.
    fields = {
        "id": "pk",
        "product": "product_key",
        "variant": "variant_key",
        "item_name": "catalog_label",
        "user": "user_id",
        **as_named("status", "channels", "email", "phone", "locale", "time_zone", "tier"),
        **as_named("created_at", "confirmed_at", "notified_at", "purchased_at", "cancelled_at"),
        **as_named("cancelled_by"),
    }

    def export(self, subject):
        entries = list(subject.entries().order_by("created_at", "pk"))
        prefetch_catalog(entries)
        return _rows(entries, self.fields)

    def erase(self, subject):
        services.cancel_entries(
            subject.entries().filter(status__in=StockWaitlist.ACTIVE_STATUSES),
            by=StockWaitlist.CancelledBy.SHOPPER,
        )
        return anonymise_entries(subject.entries())


class ConsentSection(DataSection):
    """The consent each entry was given with: when, on which form, which wording. Kept on
    erasure (it no longer points at anyone once the entry is anonymised)."""

    name = "consent"
    fields = {"entry": "pk", **as_named("consent_at", "consent_source", "consent_version")}

    def export(self, subject):
        return _rows(subject.entries().order_by("created_at", "pk"), self.fields)

    def erase(self, subject):
        return 0


class NotificationsSection(DataSection):
    """The log of restock alerts sent to the subject."""

    name = "notifications"
    fields = {
        "id": "pk",
        "entry": "entry_id",
        "restock": "event_id",
        **as_named("channel", "wave", "status", "attempts", "provider_message_id", "error"),
        **as_named("note", "created_at", "sent_at"),
    }

    def export(self, subject):
        notifications = Notification.objects.filter(entry__in=subject.entries())
        return _rows(notifications.order_by("created_at", "pk"), self.fields)

    def erase(self, subject):
        return anonymise_notifications(subject.entries())


class PurchasesSection(DataSection):
    """Purchases the shop reported for the subject (through their entries or account): what,
    when, which order, whether an alert was credited. Erasure unlinks the account and
    replaces the order reference (which points into the shop's own records of the person)
    with an opaque one; the sale still counts."""

    name = "purchases"
    fields = {
        "entry": "entry_id",
        "item_name": "catalog_label",
        **as_named("order_ref", "quantity", "purchased_at", "attributed"),
    }

    def purchases(self, subject):
        query = Q(entry__in=subject.entries())
        if subject.user is not None:
            query |= Q(user=subject.user)
        return Purchase.objects.filter(query)

    def export(self, subject):
        purchases = list(self.purchases(subject).order_by("purchased_at", "pk"))
        prefetch_catalog(purchases)
        return _rows(purchases, self.fields)

    def erase(self, subject):
        return anonymise_purchases(self.purchases(subject))


#: Every kind of record export and erasure cover, in order (entries before the rows that
#: copy their subscriber key).
SECTIONS = [EntriesSection(), ConsentSection(), NotificationsSection(), PurchasesSection()]


def anonymise_entries(entries):
    """Blank the personal fields of ``entries`` and give each an opaque erased key; their
    status, item, channels and timestamps stay. Returns how many."""
    rows = list(entries.only("pk"))
    for row in rows:
        row.subscriber_key = erased_key()
        row.email = row.phone = row.locale = row.time_zone = ""
        row.user = None
    StockWaitlist.objects.bulk_update(
        rows,
        ["subscriber_key", "email", "phone", "locale", "time_zone", "user"],
        batch_size=BATCH_SIZE,
    )
    return len(rows)


def anonymise_purchases(purchases):
    """Unlink ``purchases`` from the account and give each an opaque order reference; item,
    quantity, time and attribution stay. Returns how many."""
    rows = list(purchases.exclude(order_ref__startswith=ERASED_PREFIX).only("pk"))
    for row in rows:
        row.order_ref, row.user = erased_key(), None
    Purchase.objects.bulk_update(rows, ["order_ref", "user"], batch_size=BATCH_SIZE)
    return len(rows)


def anonymise_notifications(entries):
    """Give the notifications of ``entries`` their entry's (erased) key, blank what the
    provider returned, and stop the ones still queued. Returns how many."""
    notifications = Notification.objects.filter(entry__in=entries)
    changed = notifications.update(
        subscriber_key=Subquery(
            StockWaitlist.objects.filter(pk=OuterRef("entry_id")).values("subscriber_key")[:1]
        ),
        provider_message_id="",
        error="",
        note="",
    )
    notifications.filter(status=Notification.Status.QUEUED).update(
        status=Notification.Status.SKIPPED, next_attempt_at=None, error=ERASED_NOTE
    )
    return changed


def export_subscriber_data(email=None, user=None):
    """Everything the app holds about one person, by address, account or both: a
    JSON-ready dict with one list per :data:`SECTIONS` entry."""
    subject = subject_for(email, user)
    data = {
        "subject": {"email": subject.email, "user": _jsonable(getattr(user, "pk", None))},
        "exported_at": timezone.now().isoformat(),
    }
    for section in SECTIONS:
        data[section.name] = section.export(subject)
    return data


def erase_subscriber_data(email=None, user=None):
    """Erase one person's data (by address, account or both) in every section, in one
    transaction; returns ``{section name: rows changed}``."""
    with transaction.atomic():
        subject = subject_for(email, user)
        return {section.name: section.erase(subject) for section in SECTIONS}


def purge_old_records(now=None):
    """Delete ended entries (cancelled, expired, notified) and their notification logs whose
    last activity is older than ``RETENTION``, and anonymise purchased ones and purchase
    records as old; ``None`` keeps everything. Returns ``{"deleted": n, "anonymised": m}``
    (``m`` counts entries and purchase records).

    Restock events and their wave plans hold no personal data and stay.
    """
    retention = app_settings.RETENTION
    if retention is None:
        return {"deleted": 0, "anonymised": 0}
    cutoff = (now or timezone.now()) - retention
    old = StockWaitlist.objects.alias(
        ended_at=Coalesce("cancelled_at", "purchased_at", "notified_at", "created_at")
    ).filter(ended_at__lt=cutoff)
    deleted = 0
    ended = old.filter(status__in=PURGED_STATUSES).values_list("pk", flat=True)
    while ids := list(ended[:BATCH_SIZE]):
        with transaction.atomic():
            deleted += (
                StockWaitlist.objects.filter(pk__in=ids)
                .delete()[1]
                .get(StockWaitlist._meta.label, 0)
            )
    anonymised = 0
    purchased = old.filter(status=Status.PURCHASED).exclude(
        subscriber_key__startswith=ERASED_PREFIX
    )
    while ids := list(purchased.values_list("pk", flat=True)[:BATCH_SIZE]):
        with transaction.atomic():
            batch = StockWaitlist.objects.filter(pk__in=ids)
            anonymise_entries(batch)
            anonymise_notifications(batch)
            anonymised += len(ids)
    old_purchases = Purchase.objects.filter(purchased_at__lt=cutoff).exclude(
        order_ref__startswith=ERASED_PREFIX
    )
    while ids := list(old_purchases.values_list("pk", flat=True)[:BATCH_SIZE]):
        with transaction.atomic():
            anonymised += anonymise_purchases(Purchase.objects.filter(pk__in=ids))
    return {"deleted": deleted, "anonymised": anonymised}
