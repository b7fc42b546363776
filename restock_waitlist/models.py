"""Waitlist entries, the restocks that wake them, and the log of every send.

Products and variants belong to the shop, so entries refer to them by key (the
primary key as text) rather than by a foreign key: the shipped migrations stay
independent of any shop app, and int and UUID keys work alike. ``variant_key``
is ``""`` (never NULL) for "any variant", so the database's unique constraint
holds for product-wide entries too.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from restock_waitlist.channels import label_for
from restock_waitlist.querysets import (
    DISPATCH_ORDER,
    CatalogQuerySet,
    WaitlistQuerySet,
)


def local_datetime(value):
    """A time as the merchant reads it: in the active time zone, in the language's format."""
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")


class CatalogItemMixin:
    """``product`` / ``variant`` resolved through the adapter, cached per instance.

    ``WaitlistQuerySet.with_catalog()`` and ``prefetch_catalog()`` fill the caches
    for a whole list in two queries.
    """

    @property
    def product(self):
        if not hasattr(self, "_product_cache"):
            from restock_waitlist.adapters import get_adapter

            self._product_cache = get_adapter().get_product(self.product_key)
        return self._product_cache

    @property
    def variant(self):
        if not self.variant_key:
            return None
        if not hasattr(self, "_variant_cache"):
            from restock_waitlist.adapters import get_adapter

            self._variant_cache = get_adapter().get_variant(self.variant_key)
        return self._variant_cache

    @property
    def catalog_label(self):
        """ "Product" or "Product – Variant", for admin lists and messages."""
        from restock_waitlist.adapters import get_adapter

        return get_adapter().display_name(self.product, self.variant)


class StockWaitlist(CatalogItemMixin, models.Model):
    """One subscriber waiting for one product, or one variant of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending confirmation")
        WAITING = "waiting", _("Waiting")
        NOTIFIED = "notified", _("Notified")
        PURCHASED = "purchased", _("Purchased")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class CancelledBy(models.TextChoices):
        SHOPPER = "shopper", _("The shopper")
        MERCHANT = "merchant", _("A merchant")

    #: Statuses that hold a place in line; at most one such entry per subscriber and item.
    ACTIVE_STATUSES = (Status.PENDING, Status.WAITING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product_key = models.CharField(_("product"), max_length=64)
    variant_key = models.CharField(_("variant"), max_length=64, blank=True, default="")
    # A deleted account's entries are anonymised first (receivers, privacy), then unlinked:
    # its waitlist history keeps counting.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="restock_waitlist_entries",
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    subscriber_key = models.CharField(
        _("subscriber"),
        max_length=320,
        editable=False,
        help_text=_("'user:<pk>' or 'email:<address>': who the entry belongs to."),
    )
    channels = models.JSONField(_("channels"), default=list)
    tier = models.SmallIntegerField(_("priority tier"), default=0)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.WAITING
    )
    locale = models.CharField(_("language"), max_length=15, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("joined at"), default=timezone.now)
    confirmation_sent_at = models.DateTimeField(
        _("confirmation sent at"), null=True, blank=True, editable=False
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    purchased_at = models.DateTimeField(_("purchased at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.CharField(
        _("cancelled by"), max_length=16, choices=CancelledBy.choices, blank=True
    )
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_source = models.CharField(_("consent source"), max_length=64, blank=True)
    consent_version = models.CharField(_("consent wording version"), max_length=32, blank=True)
    notified_by = models.ForeignKey(
        "RestockEvent",
        verbose_name=_("notified by restock"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notified_entries",
    )

    objects = WaitlistQuerySet.as_manager()

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist entries")
        ordering = list(DISPATCH_ORDER)
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber_key", "product_key", "variant_key"],
                condition=Q(status__in=["pending", "waiting"]),
                name="restock_waitlist_one_active_entry",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False)
                | ~Q(email="")
                | Q(subscriber_key__startswith="erased:"),
                name="restock_waitlist_entry_has_subscriber",
            ),
        ]
        indexes = [
            # The dispatch order: waiting entries of an item, higher tier first, then first come.
            models.Index(
                fields=["product_key", "variant_key", "-tier", "created_at", "id"],
                condition=Q(status="waiting"),
                name="restock_wl_dispatch_order",
            ),
            models.Index(
                fields=["product_key", "variant_key", "status"], name="restock_wl_item_status"
            ),
            models.Index(fields=["email"], name="restock_wl_email"),
            # The dashboard's growth chart: joins and cancellations per day.
            models.Index(fields=["created_at"], name="restock_wl_created"),
            models.Index(
                fields=["cancelled_at"],
                condition=Q(cancelled_at__isnull=False),
                name="restock_wl_cancelled",
            ),
        ]

    def __str__(self):
        return gettext("%(subscriber)s: %(item)s") % {
            "subscriber": self.subscriber_name,
            "item": self.catalog_label,
        }

    @property
    def subscriber_name(self):
        """Who the entry belongs to, as a merchant knows them: the account, else the email."""
        return str(self.user) if self.user_id else self.email

    @property
    def is_active(self):
        return self.status in self.ACTIVE_STATUSES


class QueueTally(models.Model):
    """How many entries of one item and tier wait in one span of join time, and how many
    subscribers of a variant's queue wait twice (for the variant and product-wide) with
    their later entry in that span: what ``position_of()`` sums on PostgreSQL instead of
    counting the line.

    Kept by triggers on the entry table (migrations 0008 and 0009), so every write counts,
    from the ORM or not; never written by the app. Two spans: hours, and seconds within the
    hour.
    """

    #: The spans of join time tallied, in seconds: an hour, and a second.
    HOUR, SECOND = 3600, 1

    product_key = models.CharField(max_length=64)
    span = models.IntegerField()
    tier = models.SmallIntegerField()
    #: ``floor(epoch seconds of created_at / span)``.
    block = models.BigIntegerField()
    variant_key = models.CharField(max_length=64, blank=True)
    waiting = models.IntegerField(default=0)
    #: Subscribers waiting for both this variant and the whole product, counted at the
    #: later of their two entries in the dispatch order.
    paired = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # One row per key; its index also serves the sums, by product, span and tier.
            models.UniqueConstraint(
                fields=["product_key", "span", "tier", "block", "variant_key"],
                name="restock_waitlist_one_tally",
            )
        ]

    def __str__(self):
        item = f"{self.product_key}/{self.variant_key or '*'}"
        return f"{item} tier {self.tier}, {self.span} s block {self.block}"


class RestockEvent(CatalogItemMixin, models.Model):
    """A product or variant whose available stock rose above zero, and its dispatch progress."""

    class Source(models.TextChoices):
        STOCK_SAVE = "stock_save", _("Stock saved")
        RECORDED = "recorded", _("Recorded by code or command")
        RECONCILED = "reconciled", _("Found by reconciliation")
        MERCHANT = "merchant", _("Recorded by a merchant")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DISPATCHING = "dispatching", _("Dispatching")
        WAITING_NEXT_WAVE = "waiting_next_wave", _("Waiting for the next wave")
        #: Every waiter of the last wave claimed; completed once all its sends have ended.
        SENDING = "sending", _("Sending the last wave")
        COMPLETED = "completed", _("Completed")
        SKIPPED = "skipped", _("Skipped")

    product_key = models.CharField(_("product"), max_length=64)
    variant_key = models.CharField(_("variant"), max_length=64, blank=True, default="")
    quantity = models.IntegerField(_("quantity available"))
    previous_quantity = models.IntegerField(_("quantity before"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(_("detected at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    waves_sent = models.PositiveSmallIntegerField(_("waves sent"), default=0)
    next_wave_at = models.DateTimeField(
        _("next wave at"),
        null=True,
        blank=True,
        help_text=_(
            "When the next wave is due; while dispatching, when a stalled wave is retried."
        ),
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    detail = models.CharField(
        _("detail"),
        max_length=255,
        blank=True,
        help_text=_("Why the dispatch stopped or was skipped."),
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("restock event")
        verbose_name_plural = _("restock events")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["product_key", "variant_key", "created_at"], name="restock_ev_item"
            ),
            models.Index(fields=["status", "next_wave_at"], name="restock_ev_status"),
        ]

    def __str__(self):
        return gettext("%(item)s, restocked %(date)s") % {
            "item": self.catalog_label,
            "date": local_datetime(self.created_at),
        }

    def progress(self):
        """Its sends by status (every status, zeros included), ``"held"`` (queued for later:
        a retry or quiet hours) and ``"in_flight"`` (not ended yet), in one query."""
        status = Notification.Status
        counts = self.notifications.aggregate(
            **{value: models.Count("pk", filter=Q(status=value)) for value in status.values},
            held=models.Count(
                "pk", filter=Q(status=status.QUEUED, next_attempt_at__gt=timezone.now())
            ),
        )
        counts["in_flight"] = sum(counts[value] for value in Notification.IN_FLIGHT)
        return counts


class RestockWave(models.Model):
    """One wave of a restock: how many waiters it was planned for, and what sized it.

    The dispatch policy (``POLICY``) plans each wave; its rule and numbers are kept here so
    a merchant can see why a wave reached as many people as it did.
    """

    event = models.ForeignKey(
        RestockEvent,
        verbose_name=_("restock event"),
        on_delete=models.CASCADE,
        related_name="waves",
    )
    number = models.PositiveSmallIntegerField(_("wave"))
    available = models.IntegerField(_("units available"))
    size = models.PositiveIntegerField(_("waiters planned"))
    rule = models.CharField(_("sized by"), max_length=32)
    inputs = models.JSONField(_("numbers used"), default=dict, blank=True)
    created_at = models.DateTimeField(_("started at"), default=timezone.now)

    class Meta:
        verbose_name = _("restock wave")
        verbose_name_plural = _("restock waves")
        ordering = ["event", "number"]
        constraints = [
            models.UniqueConstraint(fields=["event", "number"], name="restock_waitlist_one_wave")
        ]

    def __str__(self):
        return gettext("Wave %(number)s of %(event)s") % {
            "number": self.number,
            "event": self.event,
        }


class Notification(models.Model):
    """One send of one restock to one subscriber over one channel: unique, so never sent twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        CANCELLED = "cancelled", _("Cancelled")

    #: Not ended yet: an event completes only when none of its sends is in one of these.
    IN_FLIGHT = (Status.QUEUED, Status.SENDING)

    # No index of their own: the unique constraints below begin with each (every index is
    # written again whenever a send changes status).
    entry = models.ForeignKey(
        StockWaitlist, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    event = models.ForeignKey(
        RestockEvent, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    subscriber_key = models.CharField(_("subscriber"), max_length=320, editable=False)
    channel = models.CharField(_("channel"), max_length=16)
    wave = models.PositiveSmallIntegerField(_("wave"), default=1)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    note = models.CharField(
        _("delivery note"),
        max_length=255,
        blank=True,
        help_text=_("What the provider said about how the message went, e.g. sent as SMS."),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    clicked_at = models.DateTimeField(
        _("first clicked at"),
        null=True,
        blank=True,
        help_text=_("When the waiter first followed the message's link to the item."),
    )
    claim = models.CharField(
        _("claim"),
        max_length=32,
        blank=True,
        editable=False,
        help_text=_("Token of the worker that moved it to sending: only that worker sends it."),
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "channel", "event"], name="restock_waitlist_one_send"
            ),
            # A subscriber waiting for a variant and for "any variant" hears once per restock.
            models.UniqueConstraint(
                fields=["event", "subscriber_key", "channel"],
                name="restock_waitlist_one_send_per_subscriber",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="restock_nt_status"),
            # An event's sends by status; a send task's claim walks its id span in it.
            models.Index(fields=["event", "status", "id"], name="restock_nt_event_status_id"),
        ]

    def __str__(self):
        return gettext("%(channel)s to %(subscriber)s about %(item)s") % {
            "channel": label_for(self.channel),
            "subscriber": self.entry.subscriber_name,
            "item": self.event.catalog_label,
        }


class Purchase(CatalogItemMixin, models.Model):
    """One item of one order, as the shop reported it, and the alert it is credited to.

    Keeps no contact details: who bought is the credited entry, or the account. A purchase
    nobody was alerted for (or bought after ``ATTRIBUTION_WINDOW``) is kept, not attributed,
    and counts in no conversion rate.
    """

    order_ref = models.CharField(_("order"), max_length=255)
    product_key = models.CharField(_("product"), max_length=64)
    variant_key = models.CharField(_("variant"), max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    purchased_at = models.DateTimeField(_("purchased at"), default=timezone.now)
    attributed = models.BooleanField(
        _("attributed to an alert"),
        default=False,
        help_text=_("Bought within the attribution window by a waiter the restock alert reached."),
    )
    entry = models.ForeignKey(
        StockWaitlist,
        verbose_name=_("waitlist entry"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchases",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="restock_waitlist_purchases",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-purchased_at"]
        constraints = [
            # record_purchase is idempotent: one row per order and item.
            models.UniqueConstraint(
                fields=["order_ref", "product_key", "variant_key"],
                name="restock_waitlist_one_purchase_per_order_item",
            )
        ]
        indexes = [
            models.Index(
                fields=["product_key", "variant_key", "purchased_at"], name="restock_pu_item"
            )
        ]

    def __str__(self):
        return gettext("%(item)s × %(quantity)s, order %(order)s") % {
            "item": self.catalog_label,
            "quantity": self.quantity,
            "order": self.order_ref,
        }


class ForecastReport(CatalogItemMixin, models.Model):
    """A snapshot of an item's demand forecast: who waits, how many will buy, what to reorder.

    The numbers are those of :func:`restock_waitlist.forecast.estimate_restock_demand` when
    the report was written. One report per item and ``occasion`` (the day, the restock and
    wave, or the moment it sold out), so a task that runs twice writes it once.
    """

    class Reason(models.TextChoices):
        WAVE = "wave", _("After a wave")
        RESTOCK_ENDED = "restock_ended", _("Restock ended")
        SOLD_OUT = "sold_out", _("Sold out")
        DAILY = "daily", _("Daily")

    #: The fields that hold :func:`~restock_waitlist.forecast.estimate_restock_demand`'s
    #: numbers, named as its keys.
    NUMBERS = (
        "waitlist_count",
        "waiting_by_tier",
        "estimated_purchase",
        "recommended_restock_qty",
        "historical_cvr",
        "cvr_level",
        "cvr_sample",
        "cvr_purchased",
        "cvr_low",
        "cvr_high",
        "low",
        "high",
    )

    class Level(models.TextChoices):
        VARIANT = "variant", _("This variant")
        PRODUCT = "product", _("This product")
        SHOP = "shop", _("The whole shop")
        DEFAULT = "default", _("Default assumption")

    product_key = models.CharField(_("product"), max_length=64)
    variant_key = models.CharField(_("variant"), max_length=64, blank=True, default="")
    reason = models.CharField(_("written"), max_length=16, choices=Reason.choices)
    occasion = models.CharField(
        _("occasion"),
        max_length=64,
        editable=False,
        help_text=_("The day, the restock and wave, or the moment of selling out."),
    )
    event = models.ForeignKey(
        RestockEvent,
        verbose_name=_("restock event"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="forecast_reports",
    )
    waitlist_count = models.PositiveIntegerField(_("waiting"))
    waiting_by_tier = models.JSONField(_("waiting by tier"), default=list, blank=True)
    estimated_purchase = models.FloatField(_("estimated purchases"))
    recommended_restock_qty = models.PositiveIntegerField(_("recommended restock"))
    historical_cvr = models.FloatField(_("conversion rate"))
    cvr_level = models.CharField(_("conversion measured on"), max_length=8, choices=Level.choices)
    cvr_sample = models.PositiveIntegerField(_("waiters notified (sample)"))
    cvr_purchased = models.PositiveIntegerField(_("of whom bought"))
    cvr_low = models.FloatField(_("conversion, lower bound"))
    cvr_high = models.FloatField(_("conversion, upper bound"))
    low = models.PositiveIntegerField(_("purchases, lower bound"))
    high = models.PositiveIntegerField(_("purchases, upper bound"))
    created_at = models.DateTimeField(_("written at"), default=timezone.now)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        verbose_name = _("forecast report")
        verbose_name_plural = _("forecast reports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product_key", "variant_key", "reason", "occasion"],
                name="restock_waitlist_one_report_per_occasion",
            )
        ]
        indexes = [
            models.Index(
                fields=["product_key", "variant_key", "created_at"], name="restock_fr_item"
            ),
            models.Index(fields=["created_at"], name="restock_fr_created"),
        ]

    def __str__(self):
        return gettext("%(item)s: reorder %(quantity)s (%(reason)s, %(date)s)") % {
            "item": self.catalog_label,
            "quantity": self.recommended_restock_qty,
            "reason": self.get_reason_display(),
            "date": local_datetime(self.created_at),
        }


class Dashboard(StockWaitlist):
    """The demand dashboard's place in the admin: a proxy with no rows of its own, so the
    page is listed (and linked) with the app's models, and its one permission,
    ``restock_waitlist.view_dashboard``, is granted like any other."""

    class Meta:
        proxy = True
        verbose_name = _("demand dashboard")
        verbose_name_plural = _("demand dashboard")
        default_permissions = ()
        permissions = [("view_dashboard", _("Can view the demand dashboard"))]
