"""The merchant's view: entries, restocks and every send, by name, in the merchant's time zone.

Every page names products, variants, subscribers, tiers and channels, loaded in bulk for the
whole page (:func:`load_names`), so a page costs the same few queries whatever its length.
Statuses are read-only: merchants change them through actions that call
:mod:`restock_waitlist.services` and :mod:`restock_waitlist.operations`.
"""

import json
import re
from itertools import chain

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import NestedObjects, quote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import get_select2_language
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, router
from django.db.models import Count, prefetch_related_objects
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.text import capfirst
from django.utils.translation import get_language_info, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from restock_waitlist import charts, dashboard, operations, policies, services
from restock_waitlist.adapters import get_adapter, prefetch_catalog
from restock_waitlist.api.views import csv_response
from restock_waitlist.channels import enabled_channels, label_for
from restock_waitlist.models import (
    Dashboard,
    ForecastReport,
    Notification,
    RestockEvent,
    RestockWave,
    StockWaitlist,
)
from restock_waitlist.querysets import item_filter

EntryStatus = StockWaitlist.Status
EventStatus = RestockEvent.Status
SendStatus = Notification.Status
#: Sends still under way: queued (due now, retrying, or held for quiet hours) or sending.
IN_FLIGHT = Notification.IN_FLIGHT
#: How many products the product picker offers for what the merchant typed.
PICKER_LIMIT = 20
#: Rows held in memory at a time while a CSV download streams.
EXPORT_CHUNK_SIZE = 500


# Names, loaded in bulk --------------------------------------------------------------------


def load_names(objects):
    """Load what ``str()`` and the list cells of these objects name, for all of them at once:
    products and variants through the adapter, subscribers' accounts, restocks. A few queries
    whatever the number of objects (Django skips relations already loaded)."""
    objects = list(objects)
    entries = [obj for obj in objects if isinstance(obj, StockWaitlist)]
    sends = [obj for obj in objects if isinstance(obj, Notification)]
    waves = [obj for obj in objects if isinstance(obj, RestockWave)]
    prefetch_related_objects(sends, "entry__user", "event")
    prefetch_related_objects(entries, "user")
    prefetch_related_objects(waves, "event")
    events = [obj for obj in objects if isinstance(obj, RestockEvent)]
    events += [send.event for send in sends] + [wave.event for wave in waves]
    prefetch_catalog([row for row in chain(entries, events) if not _catalog_loaded(row)])


def _catalog_loaded(row):
    return hasattr(row, "_product_cache") and (
        not row.variant_key or hasattr(row, "_variant_cache")
    )


# Cells ------------------------------------------------------------------------------------


def breakable(name):
    """A name that may wrap after the "@" of an email address, so long ones fit a column."""
    local, at, domain = str(name).partition("@")
    return format_html("{}@<wbr>{}", local, domain) if at else name


def two_lines(main, sub=""):
    """A list cell: the name on top, what qualifies it below in small print."""
    if not sub:
        return format_html('<span class="rw-main">{}</span>', main)
    return format_html('<span class="rw-main">{}</span><span class="rw-sub">{}</span>', main, sub)


def local_time(value):
    """A time in the active time zone: date and time on two short lines, in full on hover."""
    if value is None:
        return "–"
    local = timezone.localtime(value)
    return format_html(
        '<time class="rw-when" datetime="{}" title="{}"><span>{}</span> <span>{}</span></time>',
        local.isoformat(),
        date_format(local, "DATETIME_FORMAT"),
        date_format(local, "SHORT_DATE_FORMAT"),
        date_format(local, "TIME_FORMAT"),
    )


def product_name(row):
    """The product as the adapter names it; a product since deleted shows its key."""
    if row.product is None:
        return _("Deleted product %(key)s") % {"key": row.product_key}
    return get_adapter().display_name(row.product)


def variant_name(row):
    if not row.variant_key:
        return _("Any variant")
    if row.variant is None:
        return _("Deleted variant %(key)s") % {"key": row.variant_key}
    return str(row.variant)


def item_cell(row, extra=""):
    sub = variant_name(row)
    return two_lines(product_name(row), f"{sub} · {extra}" if extra else sub)


def item_with_keys(row):
    """The item by name, its keys beside it in small print (for detail pages)."""
    keys = row.product_key + (f" / {row.variant_key}" if row.variant_key else "")
    return format_html(
        '{} <span class="rw-key">{} {}</span>',
        get_adapter().display_name(row.product, row.variant)
        if row.product is not None
        else product_name(row),
        _("key"),
        keys,
    )


def find_product(text):
    """The product whose key is ``text``, or ``None`` (a malformed key included)."""
    adapter = get_adapter()
    try:
        return adapter.get_product(adapter.product_key(text))
    except ValidationError:
        return None


def waiting_for(product_key, variant_key):
    """How many wait for what a restock of this item serves (its own and "any variant")."""
    return StockWaitlist.objects.waiting().filter(item_filter(product_key, variant_key)).count()


def channel_names(names):
    return ", ".join(str(label_for(name)) for name in names or ())


def tier_label(tier):
    return get_adapter().tier_name(tier)


def admin_link(obj, text=None):
    """A link to the object's admin page (its name when ``text`` is not given)."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


def select2_media():
    """The admin's own select2 (the one its autocomplete fields use), in the active language."""
    extra = "" if settings.DEBUG else ".min"
    language = get_select2_language()
    return forms.Media(
        js=(
            f"admin/js/vendor/jquery/jquery{extra}.js",
            f"admin/js/vendor/select2/select2.full{extra}.js",
            *([f"admin/js/vendor/select2/i18n/{language}.js"] if language else []),
            "admin/js/jquery.init.js",
            "admin/js/autocomplete.js",
            "restock_waitlist/admin/admin.js",
        ),
        css={
            "screen": (
                f"admin/css/vendor/select2/select2{extra}.css",
                "admin/css/autocomplete.css",
                "restock_waitlist/admin/admin.css",
            )
        },
    )


class ProductPicker(forms.Select):
    """A select that searches the shop's products as the merchant types (the admin's
    select2), answered by :meth:`MerchantAdmin.products_view`."""

    def __init__(self, url_name, attrs=None):
        super().__init__(attrs)
        self.url_name = url_name

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.update(
            {
                "class": "admin-autocomplete rw-product-picker",
                "data-ajax--url": reverse(self.url_name),
                "data-ajax--cache": "true",
                "data-ajax--delay": 250,
                "data-theme": "admin-autocomplete",
                "data-allow-clear": "true",
                "data-minimum-input-length": 1,
                "data-placeholder": _("Type a product name or key"),
                "lang": get_select2_language() or "",
            }
        )
        return attrs

    @property
    def media(self):
        return select2_media()


# Filters ----------------------------------------------------------------------------------


class ProductFilter(admin.ListFilter):
    """Filter by product: the merchant types, the shop's products are searched through the
    adapter (a bounded prefix search, fast however large the catalogue), the list reloads."""

    title = gettext_lazy("product")
    parameter_name = "product"
    template = "admin/restock_waitlist/product_filter.html"
    #: The lookup from the listed model to the product key.
    lookup = "product_key"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.model_admin = model_admin
        if self.parameter_name in params:
            self.used_parameters[self.parameter_name] = params.pop(self.parameter_name)[-1]

    def value(self):
        return self.used_parameters.get(self.parameter_name)

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.lookup: self.value()})
        return queryset

    def choices(self, changelist):
        value = self.value()
        label = ""
        if value:
            product = find_product(value)
            label = get_adapter().display_name(product) if product is not None else value
        picker = ProductPicker(self.model_admin.admin_url_name("products"))
        picker.choices = [("", "")] + ([(value, label)] if value else [])
        kept = [  # the list's other filters, search and ordering, as hidden fields
            (key, item)
            for key, values in changelist.params.items()
            if key not in (self.parameter_name, "p")
            for item in values
        ]
        yield {
            "picker": picker.render(
                self.parameter_name,
                value,
                {"id": f"id_{self.parameter_name}", "data-rw-autosubmit": ""},
            ),
            "kept": kept,
            "selected": bool(value),
            "clear_url": changelist.get_query_string(remove=[self.parameter_name, "p"]),
        }


class EventProductFilter(ProductFilter):
    lookup = "event__product_key"


class ChannelFilter(admin.SimpleListFilter):
    """Filter by channel, by label; entries keep a list of channels, sends one."""

    title = gettext_lazy("channel")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return [(channel.name, channel.label) for channel in enabled_channels()]

    def queryset(self, request, queryset):
        name = self.value()
        if not name:
            return queryset
        if queryset.model is Notification:
            return queryset.filter(channel=name)
        if connection.features.supports_json_field_contains:
            return queryset.filter(channels__contains=[name])
        return queryset.filter(channels__icontains=json.dumps(name))


class TierFilter(admin.SimpleListFilter):
    """Filter by tier, by the names the adapter gives them."""

    title = gettext_lazy("priority tier")
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        tiers = (
            model_admin.model.objects.order_by("-tier").values_list("tier", flat=True).distinct()
        )
        return [(tier, tier_label(tier)) for tier in tiers]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            return queryset.filter(tier=int(self.value()))
        except ValueError:
            return queryset.none()


# The shared base ------------------------------------------------------------------------


class NamedChangeList(ChangeList):
    """A change list whose page has its names loaded in bulk before it is shown."""

    def get_results(self, request):
        super().get_results(request)
        self.model_admin.load_page(list(self.result_list))


class MerchantAdmin(admin.ModelAdmin):
    """What the app's admin pages share: names in bulk, the product picker's search,
    detail-page buttons that run the list's actions, and the delete confirmation by name."""

    #: Actions offered as buttons on an object's page: ``{action name: (label, applies(obj))}``.
    detail_actions = {}
    #: Whether the object's page has nothing to save (every field read-only).
    read_only_page = False

    @property
    def media(self):
        return super().media + select2_media()

    def get_changelist(self, request, **kwargs):
        return NamedChangeList

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": capfirst(self.opts.verbose_name_plural), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def load_page(self, rows):
        load_names(rows)

    #: The lookup from the listed model to the product key, for searching by product name.
    search_product_lookup = None

    def get_search_results(self, request, queryset, search_term):
        """The search box also finds rows by their product's name (its first few matches)."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if self.search_product_lookup and search_term.strip():
            adapter = get_adapter(request)
            keys = [
                adapter.product_key(product)
                for product in adapter.search_products(search_term, limit=PICKER_LIMIT)
            ]
            if keys:
                results |= queryset.filter(**{f"{self.search_product_lookup}__in": keys})
        return results, may_have_duplicates

    def admin_url_name(self, view):
        opts = self.opts
        return f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{view}"

    #: The page's JSON views: ``{URL segment: (method, permission check)}``.
    json_views = {"products": ("products_view", "has_view_or_change_permission")}

    def get_urls(self):
        opts = self.opts
        return [
            *(
                path(
                    f"{segment}/",
                    self.admin_site.admin_view(self.json_view(method, check)),
                    name=f"{opts.app_label}_{opts.model_name}_{segment}",
                )
                for segment, (method, check) in self.json_views.items()
            ),
            *super().get_urls(),
        ]

    def json_view(self, method, check):
        """``method`` behind the permission ``check``: a JSON 403 without it."""

        def view(request):
            if not getattr(self, check)(request):
                return JsonResponse({"error": _("Permission denied.")}, status=403)
            return getattr(self, method)(request)

        return view

    def products_view(self, request):
        """The product picker's answers: ``{"results": [{"id": key, "text": name}]}``."""
        adapter = get_adapter()
        products = adapter.search_products(request.GET.get("term", ""), limit=PICKER_LIMIT)
        return JsonResponse(
            {
                "results": [
                    {"id": adapter.product_key(product), "text": adapter.display_name(product)}
                    for product in products
                ],
                "pagination": {"more": False},
            }
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            load_names([obj])
        return obj

    def get_deleted_objects(self, objs, request):
        """Django's list of what a delete takes with it, with every name loaded in bulk."""
        objs = list(objs)
        if not objs:
            return [], {}, set(), []
        collector = NestedObjects(using=router.db_for_write(self.model), origin=objs)
        collector.collect(objs)
        load_names(chain.from_iterable(collector.model_objs.values()))
        perms_needed = set()

        def describe(obj):
            opts = obj._meta
            if not self.admin_site.is_registered(type(obj)):
                return f"{capfirst(opts.verbose_name)}: {obj}"
            model_admin = self.admin_site.get_model_admin(type(obj))
            if not model_admin.has_delete_permission(request, obj):
                perms_needed.add(opts.verbose_name)
            try:
                return format_html("{}: {}", capfirst(opts.verbose_name), admin_link(obj))
            except NoReverseMatch:
                return f"{capfirst(opts.verbose_name)}: {obj}"

        to_delete = collector.nested(describe)
        protected = [describe(obj) for obj in collector.protected]
        model_count = {
            model._meta.verbose_name_plural: len(found)
            for model, found in collector.model_objs.items()
        }
        return to_delete, model_count, perms_needed, protected

    # Actions as buttons on an object's page -------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "rw_buttons": self.detail_buttons(request)}
        if self.read_only_page:
            extra_context.update(
                title=capfirst(self.opts.verbose_name),
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def detail_buttons(self, request):
        """A callable the template calls with the object: the actions that apply to it."""
        actions = self.get_actions(request)

        def buttons(obj):
            return [
                {"name": name, "label": label}
                for name, (label, applies) in self.detail_actions.items()
                if name in actions and applies(obj)
            ]

        return buttons

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        buttons = context.pop("rw_buttons", None)
        if obj is not None and buttons is not None:
            context["rw_buttons"] = buttons(obj)
            context["rw_changelist_url"] = reverse(self.admin_url_name("changelist"))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_action(self, request, queryset, *args, **kwargs):
        """After a button on an object's page, go back to that page. (Django 6.1 passes
        ``action_location`` too.)"""
        response = super().response_action(request, queryset, *args, **kwargs)
        back = request.POST.get("_rw_next")
        if (
            response is not None
            and back
            and url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
        ):
            return HttpResponseRedirect(back)
        return response


# Waitlist entries -------------------------------------------------------------------------


class NamedInlineFormSet(BaseInlineFormSet):
    """An inline whose rows have their names loaded in bulk (each row's title is its name)."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if queryset._result_cache is None:
            load_names(queryset)
        return queryset


class SendCells:
    """How a send's channel, time and error read, in its list, its page and inlines."""

    @admin.display(description=gettext_lazy("channel"))
    def channel_label(self, obj):
        return label_for(obj.channel)

    @admin.display(description=gettext_lazy("sent at"), ordering="sent_at")
    def sent(self, obj):
        return local_time(obj.sent_at)

    @admin.display(description=gettext_lazy("error"))
    def error_note(self, obj):
        return shown_note(obj.error)


class NotificationInline(SendCells, admin.TabularInline):
    """An entry's sends: which restock, which channel, what became of it."""

    model = Notification
    formset = NamedInlineFormSet
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    fields = ["restock", "channel_label", "wave", "status", "attempts", "sent", "error_note"]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("notifications sent to this subscriber")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event").order_by("-created_at")

    @admin.display(description=gettext_lazy("restock"))
    def restock(self, obj):
        return admin_link(obj.event, local_time(obj.event.created_at))


class EntryForm(forms.ModelForm):
    class Meta:
        model = StockWaitlist
        fields = ["tier"]
        labels = {"subscriber_key": gettext_lazy("Subscriber key")}
        help_texts = {
            "subscriber_key": gettext_lazy(
                "How the app tells subscribers apart: “user:” and the account's number, or "
                "“email:” and the address."
            ),
        }


def _cancellable(entry):
    return entry.status in services.CANCELLABLE


def _reopenable(entry):
    return entry.status == EntryStatus.NOTIFIED or (
        entry.status == EntryStatus.CANCELLED
        and entry.cancelled_by == StockWaitlist.CancelledBy.MERCHANT
    )


@admin.register(StockWaitlist)
class StockWaitlistAdmin(MerchantAdmin):
    form = EntryForm
    list_display = ["item", "subscriber", "tier_name", "status_cell", "joined"]
    list_display_links = ["item"]
    list_filter = [ProductFilter, "status", TierFilter, ChannelFilter]
    search_fields = ["email", "phone", "user__email", "user__username"]
    search_product_lookup = "product_key"
    search_help_text = gettext_lazy("An email address, phone number, user name or product name.")
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    actions = ["cancel_selected", "reopen_selected", "notify_now"]
    detail_actions = {
        "notify_now": (
            gettext_lazy("Notify now"),
            lambda entry: entry.status == EntryStatus.WAITING,
        ),
        "reopen_selected": (gettext_lazy("Re-open"), _reopenable),
        "cancel_selected": (gettext_lazy("Cancel entry"), _cancellable),
    }
    inlines = [NotificationInline]
    # Only the tier is the merchant's to change: the status moves through the actions, the
    # channels and contacts are what the shopper consented to.
    readonly_fields = [
        "item_display",
        "status_display",
        "channels_display",
        "user",
        "email",
        "phone",
        "language",
        "time_zone",
        "subscriber_key",
        "created_at",
        "confirmation_sent_at",
        "confirmed_at",
        "notified_at",
        "notified_by",
        "purchased_at",
        "cancelled_at",
        "cancelled_by",
        "consent_at",
        "consent_source",
        "consent_version",
    ]
    fieldsets = [
        (None, {"fields": ["item_display", "status_display", "tier", "channels_display"]}),
        (
            gettext_lazy("Subscriber"),
            {"fields": ["user", "email", "phone", "language", "time_zone", "subscriber_key"]},
        ),
        (
            gettext_lazy("History"),
            {
                "fields": [
                    "created_at",
                    "confirmation_sent_at",
                    "confirmed_at",
                    "notified_at",
                    "notified_by",
                    "purchased_at",
                    "cancelled_at",
                    "cancelled_by",
                ]
            },
        ),
        (
            gettext_lazy("Consent"),
            {"fields": ["consent_at", "consent_source", "consent_version"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_catalog()

    def has_add_permission(self, request):
        return False  # entries are made by shoppers, through join_waitlist

    def has_notify_permission(self, request):
        """Sending a wave now is recording a restock's work: ``add_restockevent``."""
        return request.user.has_perm("restock_waitlist.add_restockevent")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "tier" in form.base_fields:
            top = max(obj.tier if obj else 0, 1) + 1
            form.base_fields["tier"] = forms.TypedChoiceField(
                label=capfirst(StockWaitlist._meta.get_field("tier").verbose_name),
                choices=[(tier, tier_label(tier)) for tier in range(top + 1)],
                coerce=int,
                help_text=_("Higher tiers are served first."),
            )
        return form

    # List cells --------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"), ordering="product_key")
    def item(self, obj):
        return item_cell(obj)

    @admin.display(description=gettext_lazy("subscriber"), ordering="subscriber_key")
    def subscriber(self, obj):
        return two_lines(breakable(obj.subscriber_name), channel_names(obj.channels))

    @admin.display(description=gettext_lazy("tier"), ordering="-tier")
    def tier_name(self, obj):
        return tier_label(obj.tier)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_cell(self, obj):
        when = {
            EntryStatus.NOTIFIED: obj.notified_at,
            EntryStatus.PURCHASED: obj.purchased_at,
            EntryStatus.CANCELLED: obj.cancelled_at,
        }.get(obj.status)
        sub = date_format(timezone.localtime(when), "SHORT_DATE_FORMAT") if when else ""
        return two_lines(obj.get_status_display(), sub)

    @admin.display(description=gettext_lazy("joined"), ordering="created_at")
    def joined(self, obj):
        return local_time(obj.created_at)

    # Detail fields ---------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"))
    def item_display(self, obj):
        return item_with_keys(obj)

    @admin.display(description=gettext_lazy("status"))
    def status_display(self, obj):
        position = services.waitlist_position(obj)
        if position is None:
            return obj.get_status_display()
        return _("%(status)s, number %(position)s in line") % {
            "status": obj.get_status_display(),
            "position": number_format(position),
        }

    @admin.display(description=gettext_lazy("channels"))
    def channels_display(self, obj):
        return channel_names(obj.channels)

    @admin.display(description=gettext_lazy("language"))
    def language(self, obj):
        try:
            return get_language_info(obj.locale)["name_translated"]
        except KeyError:
            return obj.locale

    # Actions -------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Cancel selected entries"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        count = services.cancel_entries(queryset, by=StockWaitlist.CancelledBy.MERCHANT)
        self.message_user(
            request,
            ngettext("%(count)d entry cancelled.", "%(count)d entries cancelled.", count)
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )

    @admin.action(
        description=gettext_lazy("Re-open selected entries (back in line)"),
        permissions=["change"],
    )
    def reopen_selected(self, request, queryset):
        selected = queryset.count()
        count = services.reopen_entries(queryset)
        if count:
            self.message_user(
                request,
                ngettext(
                    "%(count)d entry is back in line at the place it joined.",
                    "%(count)d entries are back in line at the place they joined.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
        if count < selected:
            self.message_user(
                request,
                ngettext(
                    "%(count)d entry stays as it is: only notified entries and entries a "
                    "merchant cancelled can be re-opened, and not when the subscriber has "
                    "joined again since.",
                    "%(count)d entries stay as they are: only notified entries and entries a "
                    "merchant cancelled can be re-opened, and not when the subscriber has "
                    "joined again since.",
                    selected - count,
                )
                % {"count": selected - count},
                messages.WARNING,
            )

    @admin.action(
        description=gettext_lazy("Notify now: send the next wave of these items"),
        permissions=["notify"],
    )
    def notify_now(self, request, queryset):
        outcomes = operations.notify_now(queryset)
        if not outcomes:
            self.message_user(
                request, _("None of the selected entries is waiting."), messages.WARNING
            )
        report_outcomes(self, request, outcomes)


#: How an outcome of :mod:`restock_waitlist.operations` reads: ``{action: (level, text)}``.
OUTCOMES = {
    operations.Outcome.WAVE_QUEUED: (
        messages.SUCCESS,
        gettext_lazy("%(item)s: the next wave is being sent now."),
    ),
    operations.Outcome.RESTOCK_RECORDED: (
        messages.SUCCESS,
        gettext_lazy(
            "%(item)s: restock recorded from the stock on hand; its first wave is being sent."
        ),
    ),
    operations.Outcome.ALREADY_SENDING: (
        messages.INFO,
        gettext_lazy("%(item)s: a wave is being sent already."),
    ),
    operations.Outcome.SOLD_OUT: (
        messages.WARNING,
        gettext_lazy(
            "%(item)s: nobody was notified, because the shop's stock shows none available. "
            "Add stock first."
        ),
    ),
    operations.Outcome.FINISHED: (
        messages.WARNING,
        gettext_lazy("%(item)s: this restock has finished; record a new one."),
    ),
}


def report_outcomes(model_admin, request, outcomes):
    """One message per item, by name."""
    names = load_item_names([(o.product_key, o.variant_key) for o in outcomes])
    for outcome in outcomes:
        level, text = OUTCOMES[outcome.action]
        name = names[outcome.product_key, outcome.variant_key]
        model_admin.message_user(request, text % {"item": name}, level)


def load_item_names(items):
    """``{(product_key, variant_key): name}`` for a few items, in two queries."""
    rows = [dashboard.Item(*item) for item in items]
    prefetch_catalog(rows)
    return {(row.product_key, row.variant_key): row.catalog_label for row in rows}


# Restock events -------------------------------------------------------------------------


class RecordRestockForm(forms.ModelForm):
    """A restock recorded by a merchant: picked by name, checked against the shop's stock,
    then handed to ``services.record_restock`` (waiters are notified as for any restock)."""

    product = forms.CharField(label=gettext_lazy("Product"))
    variant = forms.CharField(
        label=gettext_lazy("Variant"),
        required=False,
        widget=forms.Select,
        help_text=gettext_lazy(
            "Waiters for any variant of the product are notified along with the variant's own."
        ),
    )
    quantity = forms.IntegerField(
        label=gettext_lazy("Quantity available"),
        required=False,
        min_value=1,
        help_text=gettext_lazy(
            "Leave empty to take it from the shop's stock. Each wave is sized from the stock "
            "read again just before it is sent."
        ),
    )

    class Meta:
        model = RestockEvent
        fields = []

    #: Set by the admin: the URL name of the product search.
    picker_url_name = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].widget = ProductPicker(self.picker_url_name)
        self.item = None
        product_key = self.data.get(self.add_prefix("product")) if self.is_bound else None
        product = find_product(product_key) if product_key else None
        self.fields["product"].widget.choices = [("", "")]
        self.fields["variant"].widget.choices = [("", _("Any variant"))]
        if product is not None:
            adapter = get_adapter()
            key = adapter.product_key(product)
            self.fields["product"].widget.choices.append((key, adapter.display_name(product)))
            self.fields["variant"].widget.choices = variant_choices(key)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.item = services.resolve_item(
                cleaned.get("product"), cleaned.get("variant") or None
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        adapter = get_adapter()
        if adapter.stock_model is None and cleaned.get("quantity") is None:
            raise ValidationError(
                {"quantity": _("Give the quantity: this shop has no stock model to read.")}
            )
        problem = self.why_nobody_would_hear(adapter, *self.item)
        if problem:
            raise ValidationError(problem)
        return cleaned

    def why_nobody_would_hear(self, adapter, product_key, variant_key):
        """Why recording this restock would notify nobody, or ``None``."""
        name = load_item_names([self.item])[self.item]
        if adapter.stock_model is not None and (
            adapter.available_quantity(product_key, variant_key) <= 0
        ):
            return _(
                "The shop's stock shows no %(item)s available, so nobody would be notified: "
                "the stock is read again before every wave. Add the stock first; saving it "
                "notifies the waitlist by itself."
            ) % {"item": name}
        if not waiting_for(product_key, variant_key):
            return nobody_waiting_text(product_key, variant_key, name)
        under_way = RestockEvent.objects.filter(
            product_key=product_key, variant_key=variant_key, status__in=operations.OPEN
        ).first()
        if under_way is not None:
            return format_html(
                "{} {}",
                _("A restock of %(item)s is still under way (%(status)s).")
                % {"item": name, "status": under_way.get_status_display()},
                admin_link(under_way, _("Open it to send its next wave now or to stop it.")),
            )
        return None


def nobody_waiting_text(product_key, variant_key, name=None):
    """Why a restock of this item would notify nobody. A product as a whole serves only
    "any variant" waiters: then say how many wait for one of its variants, to pick instead."""
    for_variants = 0
    if not variant_key:
        waiting = StockWaitlist.objects.waiting().filter(product_key=product_key)
        for_variants = waiting.exclude(variant_key="").count()
    if for_variants:
        return ngettext(
            "Nobody asked for any variant of it, but %(count)s person waits for one of its "
            "variants: pick the variant that came back.",
            "Nobody asked for any variant of it, but %(count)s people wait for one of its "
            "variants: pick the variant that came back.",
            for_variants,
        ) % {"count": number_format(for_variants)}
    if name is None:
        return _("Nobody is waiting for it, so there is no one to notify.")
    return _("Nobody is waiting for %(item)s, so there is no one to notify.") % {"item": name}


def variant_choices(product_key):
    """The picker's variant options, each with the units in stock, in two queries."""
    adapter = get_adapter()
    variants = adapter.variants_of(product_key)
    keys = [adapter.variant_key(variant) for variant in variants]
    stock = {}
    if adapter.stock_model is not None:
        stock = adapter.available_quantities(
            [(product_key, "")] + [(product_key, key) for key in keys]
        )

    def label(name, key):
        if adapter.stock_model is None:
            return name
        return _("%(name)s (%(count)s in stock)") % {
            "name": name,
            "count": number_format(stock[product_key, key]),
        }

    return [("", label(_("Any variant"), ""))] + [
        (key, label(str(variant), key)) for key, variant in zip(keys, variants, strict=True)
    ]


def stock_summary(product_key, variant_key):
    """What the restock form says about an item: ``(text, warn)``, ``warn`` when recording it
    would notify nobody (no stock, or nobody waiting)."""
    adapter = get_adapter()
    waiting = waiting_for(product_key, variant_key)
    if waiting:
        waiters = ngettext(
            "%(count)s person is waiting.", "%(count)s people are waiting.", waiting
        ) % {"count": number_format(waiting)}
    else:
        waiters = nobody_waiting_text(product_key, variant_key)
    if adapter.stock_model is None:
        return waiters, not waiting
    available = adapter.available_quantity(product_key, variant_key)
    if available <= 0:
        return (
            _(
                "The shop's stock shows none available: add stock before recording a "
                "restock, or nobody will be notified. %(waiters)s"
            )
            % {"waiters": waiters},
            True,
        )
    return (
        ngettext(
            "The shop's stock shows %(count)s unit available. %(waiters)s",
            "The shop's stock shows %(count)s units available. %(waiters)s",
            available,
        )
        % {"count": number_format(available), "waiters": waiters},
        not waiting,
    )


def _stoppable(event):
    return (
        event.status in operations.OPEN
        or event.notifications.filter(status=SendStatus.QUEUED).exists()
    )


@admin.register(RestockEvent)
class RestockEventAdmin(MerchantAdmin):
    list_display = ["item", "detected", "units", "status_cell", "sends"]
    list_display_links = ["item"]
    list_filter = [ProductFilter, "status", "source"]
    date_hierarchy = "created_at"
    actions = ["send_next_wave_now", "stop_selected"]
    detail_actions = {
        "send_next_wave_now": (
            gettext_lazy("Send the next wave now"),
            lambda event: event.status in (EventStatus.PENDING, EventStatus.WAITING_NEXT_WAVE),
        ),
        "stop_selected": (gettext_lazy("Stop sending"), _stoppable),
    }
    read_only_page = True
    fieldsets = [
        (None, {"fields": ["item_display", "quantity", "previous_quantity", "source"]}),
        (
            gettext_lazy("Dispatch"),
            {
                "fields": [
                    "status",
                    "detail_note",
                    "waves_sent",
                    "created_at",
                    "next_wave_at",
                    "completed_at",
                ]
            },
        ),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).with_catalog()

    def load_page(self, rows):
        super().load_page(rows)
        attach_send_counts(rows)

    # Recording a restock -----------------------------------------------------------------

    json_views = {**MerchantAdmin.json_views, "item": ("item_view", "has_add_permission")}

    def item_view(self, request):
        """What the restock form shows for a picked item: its variants (with stock) and a
        sentence on its stock and waiters."""
        adapter = get_adapter()
        product = find_product(request.GET.get("product", ""))
        if product is None:
            return JsonResponse({"error": _("No such product.")}, status=404)
        product_key = adapter.product_key(product)
        variant_key = request.GET.get("variant", "")
        try:
            product_key, variant_key = services.resolve_item(product_key, variant_key or None)
        except ValidationError:
            variant_key = ""
        text, sold_out = stock_summary(product_key, variant_key)
        return JsonResponse(
            {
                "variants": [
                    {"id": key, "text": label} for key, label in variant_choices(product_key)
                ],
                "variant": variant_key,
                "stock": text,
                "sold_out": sold_out,
            }
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = super().get_form(request, obj, change=change, form=RecordRestockForm, **kwargs)
            form.picker_url_name = self.admin_url_name("products")
            return form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["product", "variant"]}), (None, {"fields": ["quantity"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "title": _("Record a restock"),
            "rw_item_url": reverse(self.admin_url_name("item")),
            "show_save_and_add_another": False,
            "show_save_and_continue": False,
        }
        return super().add_view(request, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if add and getattr(form, "item", None):
            context["rw_stock"] = stock_summary(*form.item)
        if obj is not None:
            context["rw_progress"] = self.progress(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        product_key, variant_key = form.item
        event = services.record_restock(
            product_key,
            variant_key or None,
            form.cleaned_data.get("quantity"),
            source=RestockEvent.Source.MERCHANT,
        )
        obj.pk = event.pk
        obj.refresh_from_db()
        load_names([obj])

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            _(
                "Restock of %(item)s recorded. Its waiters are notified in waves while the "
                "stock lasts; this page shows how far it has got."
            )
            % {"item": obj.catalog_label},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse(self.admin_url_name("change"), args=[obj.pk]))

    # A restock's page: its waves and sends -----------------------------------------------

    def progress(self, event):
        """Each wave with its sends by status, and the restock's totals. Two queries."""
        counts = {}
        for row in (
            Notification.objects.filter(event=event)
            .order_by()
            .values("wave", "status")
            .annotate(count=Count("pk"))
        ):
            counts.setdefault(row["wave"], {})[row["status"]] = row["count"]
        waves = []
        for wave in RestockWave.objects.filter(event=event).order_by("number"):
            by_status = counts.get(wave.number, {})
            waves.append(
                {
                    "wave": wave,
                    "started": local_time(wave.created_at),
                    "rule": rule_text(wave),
                    "sent": by_status.get(SendStatus.SENT, 0),
                    "in_flight": sum(by_status.get(status, 0) for status in IN_FLIGHT),
                    "failed": by_status.get(SendStatus.FAILED, 0),
                    "skipped": by_status.get(SendStatus.SKIPPED, 0),
                }
            )
        totals = {}
        for by_status in counts.values():
            for status, count in by_status.items():
                totals[status] = totals.get(status, 0) + count
        notifications_url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_notification_changelist"
        )
        return {
            "waves": waves,
            "statuses": [
                {
                    "label": label,
                    "count": totals.get(value, 0),
                    "url": f"{notifications_url}?event__id__exact={event.pk}&status__exact={value}",
                }
                for value, label in SendStatus.choices
            ],
            "in_flight": sum(totals.get(status, 0) for status in IN_FLIGHT),
            "total": sum(totals.values()),
            "all_url": f"{notifications_url}?event__id__exact={event.pk}",
        }

    # List cells ----------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"), ordering="product_key")
    def item(self, obj):
        return item_cell(obj)

    @admin.display(description=gettext_lazy("detected"), ordering="created_at")
    def detected(self, obj):
        return local_time(obj.created_at)

    @admin.display(description=gettext_lazy("units"), ordering="quantity")
    def units(self, obj):
        return number_format(obj.quantity)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_cell(self, obj):
        if obj.status == EventStatus.SKIPPED:
            return two_lines(obj.get_status_display(), shown_note(obj.detail))
        waves = ngettext("%(count)s wave", "%(count)s waves", obj.waves_sent) % {
            "count": obj.waves_sent
        }
        return two_lines(obj.get_status_display(), waves)

    @admin.display(description=gettext_lazy("notifications"))
    def sends(self, obj):
        counts = obj.send_counts
        sent = ngettext("%(count)s sent", "%(count)s sent", counts["sent"]) % {
            "count": number_format(counts["sent"])
        }
        rest = []
        if counts["in_flight"]:
            rest.append(_("%(count)s in flight") % {"count": number_format(counts["in_flight"])})
        if counts["failed"]:
            rest.append(_("%(count)s failed") % {"count": number_format(counts["failed"])})
        return two_lines(sent, " · ".join(rest))

    # Detail fields -------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"))
    def item_display(self, obj):
        return item_with_keys(obj)

    @admin.display(description=gettext_lazy("detail"))
    def detail_note(self, obj):
        return shown_note(obj.detail)

    # Actions -------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Send the next wave now"), permissions=["change"])
    def send_next_wave_now(self, request, queryset):
        report_outcomes(self, request, operations.send_next_wave_now(queryset))

    @admin.action(
        description=gettext_lazy("Stop: send no more for these restocks"), permissions=["change"]
    )
    def stop_selected(self, request, queryset):
        count = operations.stop_restocks(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d restock stopped: nothing more is sent, and its waiters not yet "
                "told keep their place in line.",
                "%(count)d restocks stopped: nothing more is sent, and their waiters not yet "
                "told keep their place in line.",
                count,
            )
            % {"count": count}
            if count
            else _("Nothing to stop: the selected restocks have nothing left to send."),
            messages.SUCCESS if count else messages.WARNING,
        )


def attach_send_counts(events):
    """``event.send_counts``: sent, in flight and failed, for a page of restocks in one query."""
    counts = {event.pk: {"sent": 0, "in_flight": 0, "failed": 0} for event in events}
    if not events:
        return
    rows = (
        Notification.objects.filter(event__in=[event.pk for event in events])
        .order_by()
        .values("event", "status")
        .annotate(count=Count("pk"))
    )
    for row in rows:
        key = {
            SendStatus.SENT: "sent",
            SendStatus.QUEUED: "in_flight",
            SendStatus.SENDING: "in_flight",
            SendStatus.FAILED: "failed",
        }.get(row["status"])
        if key:
            counts[row["event"]][key] += row["count"]
    for event in events:
        event.send_counts = counts[event.pk]


#: How the shipped policies' rules and numbers read; a policy of a shop's own shows its keys.
RULES = {
    policies.OVERSUBSCRIPTION_RULE: gettext_lazy("Oversubscription"),
    policies.CONVERSION_RULE: gettext_lazy("Measured conversion"),
}
INPUTS = {
    "available": gettext_lazy("units available"),
    "oversubscription": gettext_lazy("waiters per unit"),
    "oversubscription_max": gettext_lazy("at most waiters per unit"),
    "cvr": gettext_lazy("conversion rate"),
    "cvr_level": gettext_lazy("rate measured on"),
    "cvr_sample": gettext_lazy("waiters reached"),
}


def rule_text(wave):
    """The rule that sized a wave and the numbers it used, e.g. "Oversubscription: units
    available 3, waiters per unit 3.0"."""
    rule = RULES.get(wave.rule, wave.rule.replace("_", " "))
    numbers = ", ".join(
        f"{INPUTS.get(key, key.replace('_', ' '))} {shown_input(key, value)}"
        for key, value in (wave.inputs or {}).items()
    )
    return f"{rule}: {numbers}" if numbers else str(rule)


def shown_input(key, value):
    """A wave plan's number as the merchant reads it: the rate in per cent, the level by name."""
    if key == "cvr" and isinstance(value, (int, float)):
        return percent(value)
    if key == "cvr_level" and value in ForecastReport.Level.values:
        return str(ForecastReport.Level(value).label).lower()
    return shown_number(value)


def shown_number(value):
    return number_format(value) if isinstance(value, (int, float)) else value


#: What dispatch writes on restocks and sends, in the merchant's language. Dispatch keeps these
#: notes in English; a note not listed here is shown as written.
NOTES = [
    (
        r"Nothing to sell: quantity is zero\.",
        gettext_lazy("Nothing to sell: the quantity is zero."),
    ),
    (r"Nobody is waiting\.", gettext_lazy("Nobody is waiting.")),
    (
        r"Stock flapped within the cooldown; restock #(?P<pk>\d+) carries on\.",
        gettext_lazy("The stock came and went within the cooldown; restock #%(pk)s carries on."),
    ),
    (
        r"Stock flapped after restock #(?P<pk>\d+); first wave after the cooldown\.",
        gettext_lazy(
            "The stock came back just after restock #%(pk)s; the first wave waits for the cooldown."
        ),
    ),
    (r"Sold out before wave (?P<wave>\d+)\.", gettext_lazy("Sold out before wave %(wave)s.")),
    (r"Sold out during wave (?P<wave>\d+)\.", gettext_lazy("Sold out during wave %(wave)s.")),
    (r"Superseded by restock #(?P<pk>\d+)\.", gettext_lazy("Superseded by restock #%(pk)s.")),
    (
        r"Wave (?P<wave>\d+) sent to up to (?P<size>\d+); more are waiting\.",
        gettext_lazy("Wave %(wave)s sent to up to %(size)s; more are waiting."),
    ),
    (
        r"Wave (?P<wave>\d+) reached everyone waiting\.",
        gettext_lazy("Wave %(wave)s reached everyone waiting."),
    ),
    (re.escape(operations.STOPPED), gettext_lazy("Stopped by a merchant.")),
    (r"No enabled channel\.", gettext_lazy("No enabled channel.")),
    (r"No (?P<channel>\w+) contact\.", gettext_lazy("No contact for %(channel)s.")),
    (
        r"Re-queued: the worker stopped while sending\.",
        gettext_lazy("Queued again: the worker stopped while sending."),
    ),
    (
        r"Wave (?P<wave>\d+) waits for a waiter another transaction holds\.",
        gettext_lazy(
            "Wave %(wave)s waits for a waiter someone else is saving; it goes on shortly."
        ),
    ),
    (re.escape(services.CANCELLED_NOTE), gettext_lazy("Cancelled: the waiter left the waitlist.")),
]


def shown_note(text):
    """A dispatch note (a restock's detail, a send's error) in the merchant's language."""
    for pattern, translated in NOTES:
        match = re.fullmatch(pattern, text or "")
        if match:
            values = match.groupdict()
            if "channel" in values:
                values["channel"] = label_for(values["channel"])
            return translated % values if values else str(translated)
    return text


# Notifications --------------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(SendCells, MerchantAdmin):
    list_display = ["subscriber", "item", "status_cell", "attempts", "sent"]
    list_display_links = ["subscriber"]
    list_filter = [EventProductFilter, "status", ChannelFilter]
    date_hierarchy = "created_at"
    search_fields = ["provider_message_id", "entry__email", "entry__user__email"]
    search_product_lookup = "event__product_key"
    list_select_related = ["entry__user", "event"]
    actions = ["retry_failed"]
    detail_actions = {
        "retry_failed": (gettext_lazy("Retry"), lambda send: send.status == SendStatus.FAILED)
    }
    read_only_page = True
    fields = [
        "subscriber_display",
        "restock_display",
        "channel_label",
        "wave",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "sent_at",
        "provider_message_id",
        "note",
        "error_note",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("entry__user", "event")

    @admin.display(description=gettext_lazy("subscriber"), ordering="subscriber_key")
    def subscriber(self, obj):
        return two_lines(breakable(obj.entry.subscriber_name), label_for(obj.channel))

    @admin.display(description=gettext_lazy("item"))
    def item(self, obj):
        return item_cell(obj.event, _("wave %(number)s") % {"number": obj.wave})

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_cell(self, obj):
        return two_lines(obj.get_status_display(), shown_note(obj.error) or obj.note)

    @admin.display(description=gettext_lazy("subscriber"))
    def subscriber_display(self, obj):
        return admin_link(obj.entry, obj.entry.subscriber_name)

    @admin.display(description=gettext_lazy("restock"))
    def restock_display(self, obj):
        return admin_link(obj.event)

    @admin.action(description=gettext_lazy("Retry failed sends"), permissions=["change"])
    def retry_failed(self, request, queryset):
        count = operations.retry_failed(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed send queued again.",
                "%(count)d failed sends queued again.",
                count,
            )
            % {"count": count}
            if count
            else _(
                "Nothing to retry: only failed sends are retried, and not for waiters who "
                "have since cancelled or bought, or been reached on another channel."
            ),
            messages.SUCCESS if count else messages.WARNING,
        )


# Forecast reports -----------------------------------------------------------------------


def percent(rate):
    """A rate from 0 to 1 as the merchant reads it, e.g. "35.0 %"; "–" when there is none."""
    if rate is None:
        return "–"
    return _("%(percent)s %%") % {"percent": number_format(rate * 100, 1)}


def tiers_text(waiting_by_tier):
    """``[{"tier", "count"}]`` as "VIP 3, Standard 5"."""
    return ", ".join(
        f"{tier_label(row['tier'])} {number_format(row['count'])}" for row in waiting_by_tier
    )


def report_columns():
    """The CSV download's columns, headers in the merchant's language: ``{header: reader}``."""
    return {
        _("Item"): lambda r: r.catalog_label,
        _("Product key"): lambda r: r.product_key,
        _("Variant key"): lambda r: r.variant_key,
        _("Written"): lambda r: r.get_reason_display(),
        _("Written at"): lambda r: r.created_at,
        _("Restock"): lambda r: r.event_id,
        _("Waiting"): lambda r: r.waitlist_count,
        _("Waiting by tier"): lambda r: tiers_text(r.waiting_by_tier),
        _("Estimated purchases"): lambda r: round(r.estimated_purchase, 2),
        _("Recommended restock"): lambda r: r.recommended_restock_qty,
        _("Purchases, lower bound"): lambda r: r.low,
        _("Purchases, upper bound"): lambda r: r.high,
        _("Conversion rate"): lambda r: round(r.historical_cvr, 4),
        _("Conversion measured on"): lambda r: r.get_cvr_level_display(),
        _("Waiters notified (sample)"): lambda r: r.cvr_sample,
        _("Of whom bought"): lambda r: r.cvr_purchased,
        _("Conversion, lower bound"): lambda r: round(r.cvr_low, 4),
        _("Conversion, upper bound"): lambda r: round(r.cvr_high, 4),
    }


class ReasonFilter(admin.ChoicesFieldListFilter):
    """Filter by why a report was written ("After a wave", "Daily"...)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("reason")


@admin.register(ForecastReport)
class ForecastReportAdmin(MerchantAdmin):
    """Forecast reports: what waited for an item, what to reorder, and how sure that is;
    filtered by product, occasion, conversion level and date, downloadable as CSV."""

    list_display = ["item", "written", "waiting", "recommended", "conversion"]
    list_display_links = ["item"]
    list_filter = [ProductFilter, ("reason", ReasonFilter), "cvr_level"]
    date_hierarchy = "created_at"
    actions = None
    read_only_page = True
    fieldsets = [
        (None, {"fields": ["item_display", "reason", "created_at", "restock_display"]}),
        (
            gettext_lazy("Forecast"),
            {
                "fields": [
                    "waitlist_count",
                    "tiers_display",
                    "estimated_purchase",
                    "recommended_restock_qty",
                    "range_display",
                ]
            },
        ),
        (
            gettext_lazy("Conversion rate"),
            {
                "fields": [
                    "cvr_display",
                    "cvr_level",
                    "cvr_sample",
                    "cvr_purchased",
                    "cvr_range_display",
                ]
            },
        ),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def has_add_permission(self, request):
        return False  # written by the app (reports.py)

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).with_catalog().select_related("event")

    def get_urls(self):
        opts = self.opts
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name=f"{opts.app_label}_{opts.model_name}_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The list as it is filtered, as CSV: names, labels, times in the merchant's zone."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        reports = self.get_changelist_instance(request).get_queryset(request)
        return csv_response(
            reports.order_by("-created_at", "-id"),
            report_columns(),
            EXPORT_CHUNK_SIZE,
            "forecast-reports.csv",
        )

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        export = reverse(self.admin_url_name("export")) + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "rw_export": export})

    # List cells ----------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"), ordering="product_key")
    def item(self, obj):
        return item_cell(obj)

    @admin.display(description=gettext_lazy("written at"), ordering="created_at")
    def written(self, obj):
        return two_lines(local_time(obj.created_at), obj.get_reason_display())

    @admin.display(description=gettext_lazy("waiting"), ordering="waitlist_count")
    def waiting(self, obj):
        return two_lines(number_format(obj.waitlist_count), tiers_text(obj.waiting_by_tier))

    @admin.display(description=gettext_lazy("reorder"), ordering="recommended_restock_qty")
    def recommended(self, obj):
        return two_lines(number_format(obj.recommended_restock_qty), self.range_display(obj))

    @admin.display(description=gettext_lazy("conversion rate"), ordering="historical_cvr")
    def conversion(self, obj):
        return two_lines(percent(obj.historical_cvr), obj.get_cvr_level_display())

    # Detail fields -------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("item"))
    def item_display(self, obj):
        return item_with_keys(obj)

    @admin.display(description=gettext_lazy("restock"))
    def restock_display(self, obj):
        return admin_link(obj.event) if obj.event_id else "–"

    @admin.display(description=gettext_lazy("waiting by tier"))
    def tiers_display(self, obj):
        return tiers_text(obj.waiting_by_tier) or "–"

    @admin.display(description=gettext_lazy("purchases expected"))
    def range_display(self, obj):
        return _("%(low)s to %(high)s purchases") % {
            "low": number_format(obj.low),
            "high": number_format(obj.high),
        }

    @admin.display(description=gettext_lazy("conversion rate"))
    def cvr_display(self, obj):
        return percent(obj.historical_cvr)

    @admin.display(description=gettext_lazy("95 % interval"))
    def cvr_range_display(self, obj):
        return _("%(low)s to %(high)s") % {
            "low": percent(obj.cvr_low),
            "high": percent(obj.cvr_high),
        }


# Demand dashboard -----------------------------------------------------------------------

#: The funnel's steps as the merchant reads them.
FUNNEL_LABELS = {
    "joined": gettext_lazy("Joined"),
    "confirmed": gettext_lazy("Confirmed"),
    "notified": gettext_lazy("Notified"),
    "clicked": gettext_lazy("Clicked"),
    "purchased": gettext_lazy("Purchased"),
}


class PeriodForm(forms.Form):
    """The growth chart's period."""

    days = forms.TypedChoiceField(label=gettext_lazy("Period"), coerce=int, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].choices = [
            (days, _("Last %(days)s days") % {"days": days}) for days in dashboard.PERIODS
        ]


def funnel_rows(steps):
    """Funnel steps with their labels and rates as text, for a table."""
    return [
        {
            **step,
            "label": FUNNEL_LABELS[step["step"]],
            "of_joined_text": percent(step["of_joined"]),
            "of_previous_text": percent(step["of_previous"]),
        }
        for step in steps
    ]


def funnel_chart(steps, title):
    return charts.bar_chart(
        title,
        [(FUNNEL_LABELS[step["step"]], [step["count"]]) for step in steps],
        [_("entries")],
        _("How many entries reached each step, from joining to buying."),
    )


def tier_chart(title, bars, description):
    """Bars stacked by tier (the tiers' names in the legend); ``bars`` are ``(label,
    by_tier)`` with ``by_tier`` as :func:`dashboard.with_tier_names` gives it."""
    tiers = sorted({row["tier"] for _label, by_tier in bars for row in by_tier}, reverse=True)
    rows = [
        (label, [{r["tier"]: r["count"] for r in by_tier}.get(tier, 0) for tier in tiers])
        for label, by_tier in bars
    ]
    return charts.bar_chart(title, rows, [tier_label(tier) for tier in tiers], description)


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The demand dashboard, at ``admin:restock_waitlist_dashboard``: most-waited items with
    their forecasts, the waitlist's growth, the funnel overall and per restock, the restocks
    under way; and an item's page. Only for ``restock_waitlist.view_dashboard``."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(f"{self.opts.app_label}.view_dashboard")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        label = self.opts.app_label
        page = self.admin_site.admin_view(self.dashboard_view)
        return [
            path("", page, name=f"{label}_dashboard"),
            # The name the app list and the sidebar link to.
            path("", page, name=f"{label}_dashboard_changelist"),
            path(
                "item/<str:product_key>/",
                self.admin_site.admin_view(self.item_view),
                name=f"{label}_dashboard_item",
            ),
        ]

    def admin_url(self, name):
        return f"{self.admin_site.name}:{self.opts.app_label}_{name}"

    def check_permission(self, request):
        """Refuse (403) before any work, so the pages tell nothing to others."""
        if not self.has_view_permission(request):
            raise PermissionDenied

    def context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "dashboard_url": reverse(self.admin_url("dashboard")),
            **extra,
        }

    def dashboard_view(self, request):
        self.check_permission(request)
        period = PeriodForm(request.GET)
        days = (period.is_valid() and period.cleaned_data["days"]) or dashboard.PERIODS[0]
        context = self.context(request, _("Demand dashboard"), period=period, days=days)
        data = dashboard.summary(days)
        for item in data["most_waited"]:
            item.url = reverse(self.admin_url("dashboard_item"), args=[item.product_key])
        for event in chain(data["restocks"], data["in_progress"]):
            event.url = reverse(self.admin_url("restockevent_change"), args=[event.pk])
        growth = data["growth"]
        labels = [date_format(row["day"], "SHORT_DATE_FORMAT") for row in growth]
        context.update(
            most_waited=data["most_waited"],
            most_waited_chart=tier_chart(
                _("Most waited-for items"),
                [(item.catalog_label, item.by_tier) for item in data["most_waited"]],
                _("Waiting entries per item, by tier."),
            ),
            growth=[{**row, "label": label} for row, label in zip(growth, labels, strict=True)],
            growth_totals={
                "joined": sum(row["joined"] for row in growth),
                "cancelled": sum(row["cancelled"] for row in growth),
            },
            growth_chart=charts.column_chart(
                _("Joins and cancellations per day"),
                labels,
                [
                    (_("joined"), [row["joined"] for row in growth]),
                    (_("cancelled"), [row["cancelled"] for row in growth]),
                ],
                _("Entries that joined, and entries cancelled, on each of the last %(days)s days.")
                % {"days": days},
            ),
            funnel=funnel_rows(data["funnel"]),
            funnel_chart=funnel_chart(data["funnel"], _("Funnel, all entries")),
            restocks=[
                {"event": event, "funnel": funnel_rows(event.funnel)} for event in data["restocks"]
            ],
            in_progress=data["in_progress"],
            funnel_steps=list(FUNNEL_LABELS.values()),
        )
        return TemplateResponse(request, "admin/restock_waitlist/dashboard.html", context)

    def item_view(self, request, product_key):
        self.check_permission(request)
        data = dashboard.item_detail(product_key)
        product = data["product"]
        if product.product is None and not (data["variants"] or data["restocks"]):
            raise Http404(_("No such product."))
        for event in data["restocks"]:
            event.url = reverse(self.admin_url("restockevent_change"), args=[event.pk])
        for report in data["reports"]:
            report.url = reverse(self.admin_url("forecastreport_change"), args=[report.pk])
            report.range_text = _("%(low)s to %(high)s") % {
                "low": number_format(report.low),
                "high": number_format(report.high),
            }
            report.cvr_text = percent(report.historical_cvr)
        for variant in data["variants"]:
            variant.name = variant_name(variant)
        name = product_name(product)
        context = self.context(
            request,
            name,
            product=product,
            variants=data["variants"],
            variants_chart=tier_chart(
                _("Waiting for %(product)s") % {"product": name},
                [(variant.name, variant.by_tier) for variant in data["variants"]],
                _("Waiting entries per variant, by tier."),
            ),
            funnel=funnel_rows(data["funnel"]),
            funnel_chart=funnel_chart(data["funnel"], _("Funnel, %(product)s") % {"product": name}),
            restocks=data["restocks"],
            reports=data["reports"],
            entries_url=reverse(self.admin_url("stockwaitlist_changelist"))
            + "?"
            + urlencode({"product": product_key, "status__exact": EntryStatus.WAITING}),
            reports_url=reverse(self.admin_url("forecastreport_changelist"))
            + "?"
            + urlencode({"product": product_key}),
        )
        return TemplateResponse(request, "admin/restock_waitlist/dashboard_item.html", context)
