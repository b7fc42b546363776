"""Mount at any prefix: ``path("api/waitlist/", include("restock_waitlist.api.urls"))``."""

from rest_framework.routers import DefaultRouter

from restock_waitlist.api.views import (
    EntryViewSet,
    ForecastReportViewSet,
    MerchantEntryViewSet,
    RestockEventViewSet,
)

app_name = "restock_waitlist_api"

router = DefaultRouter()
router.register("entries", EntryViewSet, basename="entry")
router.register("merchant/entries", MerchantEntryViewSet, basename="merchant-entry")
router.register("merchant/restocks", RestockEventViewSet, basename="merchant-restock")
router.register("merchant/forecasts", ForecastReportViewSet, basename="merchant-forecast")

urlpatterns = router.urls
