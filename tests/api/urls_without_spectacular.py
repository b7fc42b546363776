from django.urls import include, path

urlpatterns = [path("api/waitlist/", include("restock_waitlist.api.urls"))]
