"""What the API reads and writes. Input serializers check shapes and types only; the
services decide what is allowed and name the field when it is not."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from restock_waitlist import channels as registry
from restock_waitlist import storefront
from restock_waitlist.conf import app_settings
from restock_waitlist.models import (
    ForecastReport,
    Notification,
    RestockEvent,
    RestockWave,
    StockWaitlist,
)

#: ``result`` of a signed-in shopper's join: a new entry, or the active one they had.
REGISTERED, ALREADY_REGISTERED = "registered", "already_registered"
#: ``result`` of a guest's join, the same whether or not the address had subscribed.
PENDING_CONFIRMATION = "pending_confirmation"

MAX_INT = 2**31 - 1


class CatalogKeyField(serializers.Field):
    """A product or variant primary key in the type of the shop's model (number or UUID).

    Input goes to the services unchanged: they check that the item exists and that the
    variant belongs to the product.
    """

    default_error_messages = {
        "invalid": _("Give a primary key: a number or a string."),
        "max_length": _("Ensure this field has no more than {max_length} characters."),
    }
    max_length = 64

    def __init__(self, model_setting, **kwargs):
        self.model_setting = model_setting
        super().__init__(**kwargs)

    def get_validators(self):
        return [ProhibitNullCharactersValidator(), ProhibitSurrogateCharactersValidator()]

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid")
        if isinstance(data, str) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return data

    def to_representation(self, key):
        if key in (None, ""):
            return None
        model = app_settings.model(self.model_setting)
        if model is None:
            return key
        try:
            return model._meta.pk.to_python(key)
        except DjangoValidationError:
            return key


class ChannelChoiceField(serializers.ChoiceField):
    """The name of a channel the shop has enabled, read from ``CHANNELS`` when the serializer
    is built (DRF builds fields afresh for each serializer instance)."""

    def __init__(self, **kwargs):
        super().__init__(choices=registry.enabled_names(), **kwargs)


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose OpenAPI enum gets its own name: ``status`` means different
    things on entries and on restocks."""

    def __init__(self, *, schema_name, **kwargs):
        self.schema_name = schema_name
        super().__init__(**kwargs)


def counts_serializer(name, statuses, prefix):
    """A serializer of one whole number per status, read from ``<prefix><status>``."""
    fields = {
        status: serializers.IntegerField(source=f"{prefix}{status}", read_only=True)
        for status in statuses
    }
    return type(name, (serializers.Serializer,), fields)


EntryStatusCountsSerializer = counts_serializer(
    "EntryStatusCountsSerializer", StockWaitlist.Status.values, "status_"
)
NotificationCountsSerializer = counts_serializer(
    "NotificationCountsSerializer", Notification.Status.values, "notifications_"
)


# Shoppers and guests ------------------------------------------------------------------


class JoinSerializer(serializers.Serializer):
    """``POST entries/``: a product, optionally one variant of it, and how to notify."""

    product = CatalogKeyField("PRODUCT_MODEL")
    variant = CatalogKeyField(
        "VARIANT_MODEL", required=False, allow_null=True, help_text=_("Omit or null: any variant.")
    )
    channels = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=10,
        help_text=_(
            "Names of channels the shop has enabled, e.g. email; omit for the shop's defaults."
        ),
    )
    email = serializers.EmailField(
        required=False, allow_blank=True, max_length=254, help_text=_("Required for guests.")
    )
    phone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text=_("International format, e.g. +821012345678; for text messages."),
    )
    locale = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=15,
        help_text=_("Language of the messages; omit for the request's language."),
    )
    time_zone = serializers.CharField(
        source="timezone_name",
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("IANA time zone, e.g. Asia/Seoul, for quiet hours."),
    )
    consent = serializers.BooleanField(
        required=False,
        help_text=_(
            "Required for guests: true once they agreed to the alert (the wording of your "
            "consent box, whose version is CONSENT_VERSION)."
        ),
    )
    source = serializers.RegexField(
        storefront.SOURCE_RE,
        required=False,
        help_text=_(
            "The form the shopper joined from, for the consent record (e.g. product_page); "
            "omit for api."
        ),
    )

    def get_fields(self):
        """Shallow copies of the declared fields. DRF deep-copies them for every serializer,
        building each field afresh (a fifth of a millisecond a join, on the hottest path),
        so that a view may change one serializer's fields; nothing changes these, and a
        bound copy holds its own name and parent."""
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class EntrySerializer(serializers.ModelSerializer):
    """One waitlist entry as its owner sees it, with its live place in line."""

    product = CatalogKeyField("PRODUCT_MODEL", source="product_key", read_only=True)
    variant = CatalogKeyField(
        "VARIANT_MODEL", source="variant_key", read_only=True, allow_null=True
    )
    item_name = serializers.CharField(source="catalog_label", read_only=True)
    channels = serializers.ListField(child=ChannelChoiceField(), read_only=True)
    status = NamedChoiceField(
        choices=StockWaitlist.Status.choices, schema_name="EntryStatusEnum", read_only=True
    )
    email = serializers.CharField(
        read_only=True, help_text=_("A guest's address; blank for signed-in shoppers.")
    )
    position = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=_("1-based place in line while pending or waiting, else null."),
    )

    class Meta:
        model = StockWaitlist
        fields = [
            "id",
            "product",
            "variant",
            "item_name",
            "channels",
            "status",
            "position",
            "email",
            "phone",
            "locale",
            "time_zone",
            "created_at",
            "confirmed_at",
            "notified_at",
            "purchased_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class JoinResultSerializer(EntrySerializer):
    """A signed-in shopper's join: the entry and whether it is new."""

    result = serializers.ChoiceField(
        source="join_result", choices=[REGISTERED, ALREADY_REGISTERED], read_only=True
    )

    class Meta(EntrySerializer.Meta):
        fields = [*EntrySerializer.Meta.fields, "result"]
        read_only_fields = fields


class GuestJoinResultSerializer(serializers.Serializer):
    """A guest's join. It never says whether the address was already on the list."""

    result = serializers.ChoiceField(choices=[PENDING_CONFIRMATION, REGISTERED], read_only=True)
    detail = serializers.CharField(read_only=True)


# Merchants ----------------------------------------------------------------------------


class MerchantEntrySerializer(EntrySerializer):
    """An entry with what a merchant needs: who, their tier, and the consent record."""

    class Meta(EntrySerializer.Meta):
        fields = [
            *EntrySerializer.Meta.fields,
            "user",
            "tier",
            "consent_at",
            "consent_source",
            "consent_version",
            "notified_by",
        ]
        read_only_fields = fields


class TierCountSerializer(serializers.Serializer):
    tier = serializers.IntegerField(read_only=True)
    count = serializers.IntegerField(read_only=True)


class ItemSummarySerializer(serializers.Serializer):
    """Entries of one product (``by=product``) or one variant, counted by status and tier."""

    product = CatalogKeyField("PRODUCT_MODEL", source="product_key", read_only=True)
    variant = CatalogKeyField(
        "VARIANT_MODEL",
        source="variant_key",
        read_only=True,
        allow_null=True,
        help_text=_("Null for product-wide entries, and for every row with by=product."),
    )
    item_name = serializers.CharField(source="catalog_label", read_only=True)
    total = serializers.IntegerField(read_only=True)
    by_status = EntryStatusCountsSerializer(source="*", read_only=True)
    by_tier = TierCountSerializer(many=True, read_only=True)


class RestockWaveSerializer(serializers.ModelSerializer):
    """One wave: the units it was planned for, how many waiters, and the dispatch policy's
    rule (``oversubscription``, ``conversion``) with the numbers it used."""

    inputs = serializers.DictField(read_only=True)

    class Meta:
        model = RestockWave
        fields = ["number", "available", "size", "rule", "inputs", "created_at"]
        read_only_fields = fields


class RestockEventSerializer(serializers.ModelSerializer):
    """A restock with its waves, its progress and its notifications counted by status."""

    product = CatalogKeyField("PRODUCT_MODEL", source="product_key", read_only=True)
    variant = CatalogKeyField(
        "VARIANT_MODEL", source="variant_key", read_only=True, allow_null=True
    )
    item_name = serializers.CharField(source="catalog_label", read_only=True)
    source = NamedChoiceField(
        choices=RestockEvent.Source.choices, schema_name="RestockSourceEnum", read_only=True
    )
    status = NamedChoiceField(
        choices=RestockEvent.Status.choices, schema_name="RestockStatusEnum", read_only=True
    )
    notifications = NotificationCountsSerializer(source="*", read_only=True)
    waves = RestockWaveSerializer(many=True, read_only=True)

    class Meta:
        model = RestockEvent
        fields = [
            "id",
            "product",
            "variant",
            "item_name",
            "quantity",
            "previous_quantity",
            "source",
            "status",
            "waves_sent",
            "next_wave_at",
            "created_at",
            "completed_at",
            "notifications",
            "waves",
        ]
        read_only_fields = fields


class RecordRestockSerializer(serializers.Serializer):
    """``POST merchant/restocks/``: what came back, and how many units."""

    product = CatalogKeyField("PRODUCT_MODEL")
    variant = CatalogKeyField(
        "VARIANT_MODEL", required=False, allow_null=True, help_text=_("Omit or null: the product.")
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_INT)
    previous_quantity = serializers.IntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )


class ForecastReportSerializer(serializers.ModelSerializer):
    """A forecast report: what waited for the item, how many were expected to buy at which
    conversion rate, and what to reorder."""

    product = CatalogKeyField("PRODUCT_MODEL", source="product_key", read_only=True)
    variant = CatalogKeyField(
        "VARIANT_MODEL",
        source="variant_key",
        read_only=True,
        allow_null=True,
        help_text=_("Null for a product-wide report (every waiter of the product)."),
    )
    item_name = serializers.CharField(source="catalog_label", read_only=True)
    reason = NamedChoiceField(
        choices=ForecastReport.Reason.choices, schema_name="ForecastReasonEnum", read_only=True
    )
    cvr_level = NamedChoiceField(
        choices=ForecastReport.Level.choices, schema_name="ConversionLevelEnum", read_only=True
    )
    waiting_by_tier = TierCountSerializer(many=True, read_only=True)

    class Meta:
        model = ForecastReport
        fields = [
            "id",
            "product",
            "variant",
            "item_name",
            "reason",
            "occasion",
            "event",
            "created_at",
            *ForecastReport.NUMBERS,
        ]
        read_only_fields = fields


class FunnelSerializer(serializers.Serializer):
    """How far the matching entries got, each step counted in entries."""

    joined = serializers.IntegerField(read_only=True)
    confirmed = serializers.IntegerField(
        read_only=True, help_text=_("Held a place in line (guests: confirmed their address).")
    )
    notified = serializers.IntegerField(
        read_only=True, help_text=_("A restock alert reached them (failed sends do not count).")
    )
    clicked = serializers.IntegerField(
        read_only=True, help_text=_("Followed the alert's link to the item.")
    )
    purchased = serializers.IntegerField(
        read_only=True,
        help_text=_("Bought within the attribution window of the alert, clicked or not."),
    )
