"""Viewsets over the service functions: they parse, call a service, and serialize.

Ownership is a queryset filter, so someone else's entry answers 404 exactly as a missing
one does; guests reach the one entry their signed token names.
"""

import csv
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from functools import reduce
from itertools import islice
from operator import attrgetter, or_

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.fields import get_error_detail
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from restock_waitlist import forecast, services
from restock_waitlist.adapters import prefetch_catalog
from restock_waitlist.api.filters import (
    EntryFilter,
    ForecastReportFilter,
    OwnEntryFilter,
    RestockEventFilter,
)
from restock_waitlist.api.parsers import PARSER_CLASSES
from restock_waitlist.api.permissions import (
    TOKEN_HEADER,
    TOKEN_PARAM,
    FormPostsNeedCsrf,
    IsMerchant,
    IsShopperOrTokenHolder,
    token_entry_id,
    token_from,
)
from restock_waitlist.api.schema import (
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
    extend_schema_view,
    waitlist_schema,
)
from restock_waitlist.api.serializers import (
    ALREADY_REGISTERED,
    PENDING_CONFIRMATION,
    REGISTERED,
    EntrySerializer,
    ForecastReportSerializer,
    FunnelSerializer,
    GuestJoinResultSerializer,
    ItemSummarySerializer,
    JoinResultSerializer,
    JoinSerializer,
    MerchantEntrySerializer,
    RecordRestockSerializer,
    RestockEventSerializer,
)
from restock_waitlist.api.throttling import GuestRateThrottle, JoinRateThrottle
from restock_waitlist.conf import app_settings
from restock_waitlist.contacts import recipient_email
from restock_waitlist.models import (
    CatalogItemMixin,
    ForecastReport,
    Notification,
    RestockEvent,
    StockWaitlist,
)
from restock_waitlist.querysets import DISPATCH_ORDER

#: ``consent_source`` of entries joined through the API that name no form of their own.
CONSENT_SOURCE = "api"

TOKEN_PARAMETERS = [
    OpenApiParameter(
        TOKEN_PARAM,
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="A guest's manage token from their confirmation or notification message.",
    ),
    OpenApiParameter(
        TOKEN_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description=f"The guest token, as a header instead of ``?{TOKEN_PARAM}=``.",
    ),
]


@contextmanager
def service_errors():
    """A service's ``ValidationError`` answers 400 naming the field; ``DoesNotExist`` 404."""
    try:
        yield
    except DjangoValidationError as exc:
        detail = get_error_detail(exc)
        if not isinstance(detail, dict):
            detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
        raise ValidationError(detail) from exc
    except ObjectDoesNotExist as exc:
        raise NotFound from exc


#: Any id reaches the view, so a malformed one answers the API's JSON 404, not an HTML page.
LOOKUP_VALUE_REGEX = r"[^/]+"


class PlainNotFoundMixin:
    """Every 404 says just "Not found.", translated: no model names, and a malformed id
    reads exactly like a missing or someone else's."""

    def get_object(self):
        try:
            return super().get_object()
        except Http404 as exc:
            raise NotFound from exc


class WaitlistPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


# Shoppers and guests ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="The caller's entries", parameters=TOKEN_PARAMETERS, tags=["entries"]
    ),
    retrieve=extend_schema(summary="One entry", parameters=TOKEN_PARAMETERS, tags=["entries"]),
    destroy=extend_schema(
        summary="Leave the waitlist (the entry is kept, cancelled)",
        parameters=TOKEN_PARAMETERS,
        tags=["entries"],
    ),
)
class EntryViewSet(
    PlainNotFoundMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A signed-in shopper's own entries, or the one entry a guest's token opens."""

    serializer_class = EntrySerializer
    lookup_value_regex = LOOKUP_VALUE_REGEX
    parser_classes = PARSER_CLASSES
    permission_classes = [FormPostsNeedCsrf, IsShopperOrTokenHolder]
    filter_backends = [OwnEntryFilter]
    pagination_class = WaitlistPagination
    schema = waitlist_schema()

    def get_queryset(self):
        owned = []
        user = self.request.user
        if user and user.is_authenticated:
            owned.append(Q(user=user))
        entry_id = token_entry_id(self.request)
        if entry_id is not None:
            owned.append(Q(pk=entry_id))
        if not owned:
            return StockWaitlist.objects.none()
        return (
            StockWaitlist.objects.filter(reduce(or_, owned))
            .with_positions()
            .with_catalog()
            .order_by("-created_at", "-id")
        )

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "create":
            throttles.append(JoinRateThrottle())
        elif token_from(self.request):
            throttles.append(GuestRateThrottle())
        return throttles

    @extend_schema(
        summary="Join a waitlist",
        tags=["entries"],
        request=JoinSerializer,
        responses={
            201: JoinResultSerializer,
            200: JoinResultSerializer,
            202: GuestJoinResultSerializer,
        },
    )
    def create(self, request):
        """Signed-in: 201 with the new entry, 200 with the active one. Guests: always 202."""
        join = JoinSerializer(data=request.data)
        join.is_valid(raise_exception=True)
        data = dict(join.validated_data)
        user = request.user if request.user.is_authenticated else None
        with service_errors():
            entry, created = services.join_waitlist(
                user=user,
                consent=data.pop("consent", False),
                consent_source=data.pop("source", "") or CONSENT_SOURCE,
                **data,
            )
        if user is None:
            return Response(guest_join_result(), status=status.HTTP_202_ACCEPTED)
        entry.position = services.waitlist_position(entry)
        entry.join_result = REGISTERED if created else ALREADY_REGISTERED
        return Response(
            JoinResultSerializer(entry, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def destroy(self, request, pk=None):
        entry = self.get_object()
        with service_errors():
            services.leave_waitlist(entry)
        return Response(status=status.HTTP_204_NO_CONTENT)


def guest_join_result():
    """The one answer every guest join gets, so it reveals nobody's subscriptions."""
    if app_settings.GUEST_DOUBLE_OPT_IN:
        result = PENDING_CONFIRMATION
        detail = _("If this address is not on the waitlist yet, we have sent it a link to confirm.")
    else:
        result = REGISTERED
        detail = _("You are on the waitlist. We will write when the item is back.")
    return GuestJoinResultSerializer({"result": result, "detail": detail}).data


# Merchants ----------------------------------------------------------------------------


class ItemSummary(CatalogItemMixin):
    """One row of the summary: an item's keys, its counts, and its tiers."""

    def __init__(self, row):
        self.__dict__.update(row)
        self.variant_key = row.get("variant_key", "")
        self.by_tier = []


def item_summaries(entries, group):
    """Entries grouped by ``group`` keys, counted in total and by status; biggest first."""
    counts = {
        f"status_{value}": Count("pk", filter=Q(status=value))
        for value in StockWaitlist.Status.values
    }
    return (
        entries.order_by()
        .values(*group)
        .annotate(total=Count("pk"), **counts)
        .order_by("-total", *group)
    )


def attach_tiers(items, entries, group):
    """Fill ``by_tier`` of each summary row; one query for the page."""
    rows = (
        entries.filter(product_key__in={item.product_key for item in items})
        .order_by()
        .values(*group, "tier")
        .annotate(count=Count("pk"))
        .order_by("-tier")
    )
    tiers = defaultdict(list)
    for row in rows:
        tiers[tuple(row[key] for key in group)].append({"tier": row["tier"], "count": row["count"]})
    for item in items:
        item.by_tier = tiers[tuple(getattr(item, key) for key in group)]


#: The export's columns: header, and how to read it off an entry (catalog loaded).
EXPORT_COLUMNS = {
    "id": attrgetter("pk"),
    "product": attrgetter("product_key"),
    "variant": attrgetter("variant_key"),
    "item_name": attrgetter("catalog_label"),
    "status": attrgetter("status"),
    "position": attrgetter("position"),
    "tier": attrgetter("tier"),
    "user": attrgetter("user_id"),
    "email": recipient_email,
    "phone": attrgetter("phone"),
    "channels": lambda entry: " ".join(entry.channels),
    "locale": attrgetter("locale"),
    "time_zone": attrgetter("time_zone"),
    "created_at": attrgetter("created_at"),
    "confirmed_at": attrgetter("confirmed_at"),
    "notified_at": attrgetter("notified_at"),
    "purchased_at": attrgetter("purchased_at"),
    "cancelled_at": attrgetter("cancelled_at"),
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value, zone=None):
    """A CSV cell that a spreadsheet will not run as a formula (phone numbers stay as they are);
    times in ``zone`` (default: the active time zone), as the API's JSON gives them."""
    if value is None:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value, zone)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not text[1:].isdigit():
        return f"'{text}"
    return text


class _Echo:
    """A file-like whose ``write`` hands the line back, for streaming ``csv.writer``."""

    def write(self, value):
        return value


def csv_lines(queryset, columns, chunk_size, zone=None):
    """An export, line by line: a header of ``columns`` (``{header: reader}``), then one line
    per row, ``chunk_size`` rows in memory at a time, names loaded per chunk.

    The response streams after the view has returned, when the request's time zone may no
    longer be active: :func:`csv_response` passes it in as ``zone``.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(columns)
    rows = queryset.iterator(chunk_size=chunk_size)
    while chunk := list(islice(rows, chunk_size)):
        prefetch_catalog(chunk)
        for row in chunk:
            yield writer.writerow([csv_cell(read(row), zone) for read in columns.values()])


class CsvExportMixin:
    """A viewset whose ``export`` action streams CSV, whatever the ``Accept`` header says (its
    errors stay JSON)."""

    #: Rows held in memory at a time while streaming the CSV export.
    export_chunk_size = 500

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=force or self.action == "export")


def csv_response(queryset, columns, chunk_size, filename):
    """A streamed CSV download of ``queryset``."""
    response = StreamingHttpResponse(
        csv_lines(queryset, columns, chunk_size, timezone.get_current_timezone()),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


SUMMARY_BY = ("variant", "product")


@extend_schema_view(
    list=extend_schema(summary="All entries", tags=["merchant"]),
    retrieve=extend_schema(summary="One entry", tags=["merchant"]),
)
class MerchantEntryViewSet(PlainNotFoundMixin, CsvExportMixin, viewsets.ReadOnlyModelViewSet):
    """Every entry, for staff with ``view_stockwaitlist``: lists, summaries, CSV export."""

    serializer_class = MerchantEntrySerializer
    lookup_value_regex = LOOKUP_VALUE_REGEX
    parser_classes = PARSER_CLASSES
    permission_classes = [IsMerchant]
    filter_backends = [EntryFilter]
    filtered_actions = ("list", "summary", "export", "funnel")
    pagination_class = WaitlistPagination
    schema = waitlist_schema()

    def get_queryset(self):
        return StockWaitlist.objects.with_positions().with_catalog().order_by("-created_at", "-id")

    @extend_schema(
        summary="Waitlist summary per variant or per product",
        tags=["merchant"],
        parameters=[
            OpenApiParameter(
                "by",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                enum=list(SUMMARY_BY),
                description="Group by variant (default) or by product.",
            )
        ],
        responses=ItemSummarySerializer(many=True),
    )
    @action(detail=False)
    def summary(self, request):
        by = request.query_params.get("by") or SUMMARY_BY[0]
        if by not in SUMMARY_BY:
            raise ValidationError({"by": [_("Choose variant or product.")]})
        group = ["product_key"] if by == "product" else ["product_key", "variant_key"]
        entries = self.filter_queryset(StockWaitlist.objects.all())
        items = [ItemSummary(row) for row in self.paginate_queryset(item_summaries(entries, group))]
        attach_tiers(items, entries, group)
        prefetch_catalog(items)
        return self.get_paginated_response(ItemSummarySerializer(items, many=True).data)

    @extend_schema(
        summary="Export entries as CSV (streamed)",
        tags=["merchant"],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, pagination_class=None)
    def export(self, request):
        entries = (
            self.filter_queryset(StockWaitlist.objects.with_positions())
            .select_related("user")
            .order_by("product_key", "variant_key", *DISPATCH_ORDER)
        )
        return csv_response(entries, EXPORT_COLUMNS, self.export_chunk_size, "waitlist.csv")

    @extend_schema(
        summary="Funnel: joined, confirmed, notified, clicked, purchased",
        tags=["merchant"],
        responses=FunnelSerializer,
    )
    @action(detail=False, pagination_class=None)
    def funnel(self, request):
        entries = self.filter_queryset(StockWaitlist.objects.all())
        return Response(FunnelSerializer(forecast.funnel(entries)).data)


@extend_schema_view(
    list=extend_schema(summary="Restocks with wave progress", tags=["merchant"]),
    retrieve=extend_schema(summary="One restock", tags=["merchant"]),
)
class RestockEventViewSet(
    PlainNotFoundMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Restock events with their waves and notification counts; merchants record new ones."""

    serializer_class = RestockEventSerializer
    parser_classes = PARSER_CLASSES
    permission_classes = [IsMerchant]
    filter_backends = [RestockEventFilter]
    pagination_class = WaitlistPagination
    lookup_value_regex = LOOKUP_VALUE_REGEX
    schema = waitlist_schema()

    def get_queryset(self):
        counts = {
            f"notifications_{value}": Count("notifications", filter=Q(notifications__status=value))
            for value in Notification.Status.values
        }
        return (
            RestockEvent.objects.annotate(**counts)
            .prefetch_related("waves")
            .with_catalog()
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        summary="Record a restock (notifies the waitlist)",
        tags=["merchant"],
        request=RecordRestockSerializer,
        responses={201: RestockEventSerializer},
    )
    def create(self, request):
        restock = RecordRestockSerializer(data=request.data)
        restock.is_valid(raise_exception=True)
        with service_errors():
            event = services.record_restock(
                **restock.validated_data, source=RestockEvent.Source.MERCHANT
            )
        event = self.get_queryset().get(pk=event.pk)
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)


#: The forecast export's columns: header, and how to read it off a report.
FORECAST_COLUMNS = {
    "id": attrgetter("pk"),
    "product": attrgetter("product_key"),
    "variant": attrgetter("variant_key"),
    "item_name": attrgetter("catalog_label"),
    "reason": attrgetter("reason"),
    "occasion": attrgetter("occasion"),
    "event": attrgetter("event_id"),
    "created_at": attrgetter("created_at"),
    **{name: attrgetter(name) for name in ForecastReport.NUMBERS if name != "waiting_by_tier"},
}


@extend_schema_view(
    list=extend_schema(summary="Forecast reports, newest first", tags=["merchant"]),
    retrieve=extend_schema(summary="One forecast report", tags=["merchant"]),
)
class ForecastReportViewSet(PlainNotFoundMixin, CsvExportMixin, viewsets.ReadOnlyModelViewSet):
    """Forecast reports for staff with ``view_forecastreport``: lists, filters, CSV export."""

    serializer_class = ForecastReportSerializer
    permission_classes = [IsMerchant]
    filter_backends = [ForecastReportFilter]
    filtered_actions = ("list", "export")
    pagination_class = WaitlistPagination
    lookup_value_regex = LOOKUP_VALUE_REGEX
    schema = waitlist_schema()

    def get_queryset(self):
        return ForecastReport.objects.with_catalog().order_by("-created_at", "-id")

    @extend_schema(
        summary="Export forecast reports as CSV (streamed)",
        tags=["merchant"],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=False, pagination_class=None)
    def export(self, request):
        reports = self.filter_queryset(ForecastReport.objects.order_by("-created_at", "-id"))
        return csv_response(reports, FORECAST_COLUMNS, self.export_chunk_size, "forecasts.csv")
