"""Plain query-parameter filters (no django-filter): each parameter is parsed, and a bad
one answers 400 naming it. The parameters are documented in the OpenAPI schema."""

from datetime import datetime, time
from datetime import timezone as dt_timezone

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

from restock_waitlist.adapters import get_adapter
from restock_waitlist.models import ForecastReport, RestockEvent, StockWaitlist

SMALLINT_RANGE = range(-32768, 32768)


class Param:
    """One query parameter: its name, its OpenAPI schema, and ``lookups(raw)`` → filter kwargs.

    ``lookups`` raises ``django.core.exceptions.ValidationError`` for a bad value.
    """

    schema = {"type": "string"}

    def __init__(self, name, description):
        self.name = name
        self.description = description

    def lookups(self, raw):
        raise NotImplementedError

    def openapi(self):
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": str(self.description),
            "schema": self.schema,
        }


class ItemParam(Param):
    """``product`` or ``variant``: a primary key, checked through the adapter."""

    def __init__(self, name, description, *, key_method, field):
        super().__init__(name, description)
        self.key_method, self.field = key_method, field

    def lookups(self, raw):
        return {self.field: getattr(get_adapter(), self.key_method)(raw)}


class ChoicesParam(Param):
    """Comma-separated values out of a fixed set, e.g. ``status=pending,waiting``."""

    def __init__(self, name, description, *, field, choices):
        super().__init__(name, description)
        self.field, self.choices = field, list(choices)
        self.schema = {"type": "string", "example": ",".join(self.choices[:2])}

    def lookups(self, raw):
        values = [value.strip() for value in raw.split(",") if value.strip()]
        unknown = [value for value in values if value not in self.choices]
        if unknown or not values:
            raise DjangoValidationError(
                _("Unknown value: %(values)s. Choose from: %(choices)s.")
                % {"values": ", ".join(unknown) or raw, "choices": ", ".join(self.choices)}
            )
        return {f"{self.field}__in": values}


class IntegerParam(Param):
    schema = {
        "type": "integer",
        "minimum": SMALLINT_RANGE.start,
        "maximum": SMALLINT_RANGE.stop - 1,
    }

    def __init__(self, name, description, *, field):
        super().__init__(name, description)
        self.field = field

    def lookups(self, raw):
        try:
            value = int(raw)
        except ValueError as exc:
            raise DjangoValidationError(_("Give a whole number.")) from exc
        if value not in SMALLINT_RANGE:
            raise DjangoValidationError(_("Give a whole number.")) from None
        return {self.field: value}


class DateTimeParam(Param):
    """An ISO 8601 date or date-time; a date means its midnight in the current time zone."""

    schema = {"type": "string", "format": "date-time"}

    def __init__(self, name, description, *, lookup):
        super().__init__(name, description)
        self.lookup = lookup

    def lookups(self, raw):
        try:
            moment = parse_datetime(raw)
            if moment is None:
                day = parse_date(raw)
                moment = day and datetime.combine(day, time.min)
        except ValueError:
            moment = None
        if moment is None:
            raise DjangoValidationError(_("Give a date (2025-01-31) or an ISO 8601 date-time."))
        try:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            moment = moment.astimezone(dt_timezone.utc)
        except (OverflowError, ValueError) as exc:
            raise DjangoValidationError(_("This date is out of range.")) from exc
        return {self.lookup: moment}


class QueryParamFilter(BaseFilterBackend):
    """Applies ``params`` on the view's ``filtered_actions``; any bad one answers 400."""

    params = ()

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) not in getattr(view, "filtered_actions", ("list",)):
            return queryset
        lookups, errors = {}, {}
        for param in self.params:
            raw = request.query_params.get(param.name)
            if raw in (None, ""):
                continue
            try:
                lookups.update(param.lookups(raw))
            except DjangoValidationError as exc:
                errors[param.name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return queryset.filter(**lookups)

    def get_schema_operation_parameters(self, view):
        return [param.openapi() for param in self.params]


def item_params():
    return (
        ItemParam(
            "product",
            gettext_lazy("Only this product (its primary key)."),
            key_method="product_key",
            field="product_key",
        ),
        ItemParam(
            "variant",
            gettext_lazy("Only this variant (its primary key)."),
            key_method="variant_key",
            field="variant_key",
        ),
    )


def date_params(after, before):
    return (
        DateTimeParam("created_after", after, lookup="created_at__gte"),
        DateTimeParam("created_before", before, lookup="created_at__lt"),
    )


ENTRY_STATUS = ChoicesParam(
    "status",
    gettext_lazy("Only entries with these statuses, comma-separated."),
    field="status",
    choices=StockWaitlist.Status.values,
)


class OwnEntryFilter(QueryParamFilter):
    """A shopper's own entries: by status."""

    params = (ENTRY_STATUS,)


class EntryFilter(QueryParamFilter):
    """All entries, for merchants: by item, status, tier and join date."""

    params = (
        *item_params(),
        ENTRY_STATUS,
        IntegerParam("tier", gettext_lazy("Only entries of this priority tier."), field="tier"),
        *date_params(
            gettext_lazy("Only entries joined at or after this date or time."),
            gettext_lazy("Only entries joined before this date or time."),
        ),
    )


class RestockEventFilter(QueryParamFilter):
    """Restock events, for merchants: by item, status and date."""

    params = (
        *item_params(),
        ChoicesParam(
            "status",
            gettext_lazy("Only restocks with these statuses, comma-separated."),
            field="status",
            choices=RestockEvent.Status.values,
        ),
        *date_params(
            gettext_lazy("Only restocks detected at or after this date or time."),
            gettext_lazy("Only restocks detected before this date or time."),
        ),
    )


class ForecastReportFilter(QueryParamFilter):
    """Forecast reports, for merchants: by item, why they were written, level and date."""

    params = (
        *item_params(),
        ChoicesParam(
            "reason",
            gettext_lazy("Only reports written for these reasons, comma-separated."),
            field="reason",
            choices=ForecastReport.Reason.values,
        ),
        ChoicesParam(
            "cvr_level",
            gettext_lazy("Only reports whose conversion was measured on these levels."),
            field="cvr_level",
            choices=ForecastReport.Level.values,
        ),
        *date_params(
            gettext_lazy("Only reports written at or after this date or time."),
            gettext_lazy("Only reports written before this date or time."),
        ),
    )
