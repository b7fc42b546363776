"""The merchant's view: entries, restocks and every send, with names loaded in bulk."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from restock_waitlist import services
from restock_waitlist.models import Notification, RestockEvent, StockWaitlist


@admin.display(description=_("item"))
def catalog_label(obj):
    return obj.catalog_label


@admin.register(StockWaitlist)
class StockWaitlistAdmin(admin.ModelAdmin):
    list_display = [
        catalog_label,
        "subscriber",
        "status",
        "tier",
        "channels",
        "created_at",
        "notified_at",
    ]
    list_filter = ["status", "tier", "created_at", "notified_at"]
    search_fields = [
        "email",
        "phone",
        "user__email",
        "user__username",
        "product_key",
        "variant_key",
    ]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "notified_by"]
    actions = ["cancel_selected"]
    # Channels are what the shopper consented to, so only the shopper changes them.
    readonly_fields = [
        "id",
        "channels",
        "subscriber_key",
        "product_key",
        "variant_key",
        "created_at",
        "confirmed_at",
        "notified_at",
        "notified_by",
        "purchased_at",
        "cancelled_at",
        "consent_at",
        "consent_source",
        "consent_version",
    ]
    fieldsets = [
        (None, {"fields": ["id", "product_key", "variant_key", "status", "tier", "channels"]}),
        (
            _("Subscriber"),
            {"fields": ["user", "email", "phone", "subscriber_key", "locale", "time_zone"]},
        ),
        (
            _("History"),
            {
                "fields": [
                    "created_at",
                    "confirmed_at",
                    "notified_at",
                    "notified_by",
                    "purchased_at",
                    "cancelled_at",
                ]
            },
        ),
        (_("Consent"), {"fields": ["consent_at", "consent_source", "consent_version"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_catalog()

    def has_add_permission(self, request):
        return False  # entries are made by shoppers, through join_waitlist

    @admin.display(description=_("subscriber"))
    def subscriber(self, obj):
        return obj.user or obj.email

    @admin.action(description=_("Cancel selected entries"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        count = services.cancel_entries(queryset, by=StockWaitlist.CancelledBy.MERCHANT)
        self.message_user(
            request,
            ngettext("%(count)d entry cancelled.", "%(count)d entries cancelled.", count)
            % {"count": count},
            messages.SUCCESS,
        )


class RecordRestockForm(forms.ModelForm):
    """A merchant records a restock by product (and variant) key, through ``record_restock``."""

    quantity = forms.IntegerField(
        label=_("quantity available"),
        required=False,
        help_text=_("Leave empty to read it from the stock model."),
    )

    class Meta:
        model = RestockEvent
        fields = ["product_key", "variant_key", "quantity"]

    def clean(self):
        cleaned = super().clean()
        try:
            self.product_key, self.variant_key = services.resolve_item(
                cleaned.get("product_key"), cleaned.get("variant_key") or None
            )
        except ValidationError as exc:
            field_errors = {
                {"product": "product_key", "variant": "variant_key"}.get(field): errors
                for field, errors in exc.message_dict.items()
            }
            raise ValidationError(field_errors) from exc
        return cleaned


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    fields = ["entry", "channel", "wave", "status", "attempts", "sent_at", "error"]
    readonly_fields = fields
    show_change_link = True
    max_num = 0


@admin.register(RestockEvent)
class RestockEventAdmin(admin.ModelAdmin):
    list_display = [
        catalog_label,
        "quantity",
        "previous_quantity",
        "source",
        "status",
        "waves_sent",
        "sent_count",
        "failed_count",
        "created_at",
    ]
    list_filter = ["status", "source", "created_at"]
    search_fields = ["product_key", "variant_key"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .with_catalog()
            .annotate(
                sent=Count("notifications", filter=Q(notifications__status="sent")),
                failed=Count("notifications", filter=Q(notifications__status="failed")),
            )
        )

    @admin.display(description=_("sent"), ordering="sent")
    def sent_count(self, obj):
        return obj.sent

    @admin.display(description=_("failed"), ordering="failed")
    def failed_count(self, obj):
        return obj.failed

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = RecordRestockForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in RestockEvent._meta.fields]

    def get_inlines(self, request, obj):
        return [NotificationInline] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        event = services.record_restock(
            form.product_key,
            form.variant_key or None,
            form.cleaned_data.get("quantity"),
            source=RestockEvent.Source.MERCHANT,
        )
        obj.pk = event.pk
        obj.refresh_from_db()


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "entry",
        "event",
        "channel",
        "wave",
        "status",
        "attempts",
        "sent_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "created_at"]
    search_fields = ["provider_message_id", "entry__email", "entry__user__email"]
    list_select_related = ["entry", "event"]
    raw_id_fields = ["entry", "event"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False
