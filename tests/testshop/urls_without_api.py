"""The storefront without the JSON API mounted: the button's script must leave the form alone."""

from django.urls import include, path

urlpatterns = [
    path("waitlist/", include("restock_waitlist.urls")),
    path("", include("tests.testshop.urls")),
]
