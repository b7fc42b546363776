from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
    path("products/<slug:slug>/buy/", views.buy, name="buy"),
]
