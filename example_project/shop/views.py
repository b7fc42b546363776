from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from shop.models import Product, Variant


def _variants_with_stock():
    return Prefetch("variants", queryset=Variant.objects.prefetch_related("stock_levels"))


def product_list(request):
    products = Product.objects.prefetch_related(_variants_with_stock())
    return render(request, "shop/product_list.html", {"products": products})


def product_detail(request, slug):
    product = get_object_or_404(Product.objects.prefetch_related(_variants_with_stock()), slug=slug)
    return render(request, "shop/product_detail.html", {"product": product})
