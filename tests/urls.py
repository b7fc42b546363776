from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("waitlist/", include("restock_waitlist.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("tests.testshop.urls")),
    path("api/waitlist/", include("restock_waitlist.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
