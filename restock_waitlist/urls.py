"""The app's pages: ``path("waitlist/", include("restock_waitlist.urls"))``."""

from django.urls import path

from restock_waitlist import views

app_name = "restock_waitlist"

urlpatterns = [
    path("join/", views.join, name="join"),
    path("cancel/", views.cancel, name="cancel"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe-all/<str:token>/", views.unsubscribe_all, name="unsubscribe_all"),
    path("r/<str:token>/", views.click, name="click"),
]
