"""A project that forgot ``include("restock_waitlist.urls")`` (system check E052)."""

from django.urls import include, path

urlpatterns = [path("", include("tests.testshop.urls"))]
