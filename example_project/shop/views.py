from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from shop.models import Product, StockLevel, Variant
from shop.stock import available_to_sell


def _variants_with_stock():
    stock = Prefetch("stock_levels", queryset=StockLevel.objects.order_by("warehouse"))
    return Prefetch("variants", queryset=Variant.objects.prefetch_related(stock))


def _with_availability(variants):
    """Each variant with ``available``: what the warehouses hold and no order has claimed."""
    for variant in variants:
        variant.available = sum(available_to_sell(stock) for stock in variant.stock_levels.all())
    return variants


def product_list(request):
    """Every product with its sold-out count; the template preloads the buttons in bulk."""
    products = list(Product.objects.prefetch_related(_variants_with_stock()))
    for product in products:
        variants = _with_availability(product.variants.all())
        product.sold_out_count = sum(1 for variant in variants if variant.available <= 0)
    return render(request, "shop/product_list.html", {"products": products})


def product_detail(request, slug):
    """A product's colours and sizes, each with its stock and its "Notify me" button."""
    product = get_object_or_404(Product.objects.prefetch_related(_variants_with_stock()), slug=slug)
    variants = _with_availability(product.variants.all())
    colours = {}
    for variant in variants:
        colours.setdefault(variant.colour, []).append(variant)
    return render(
        request,
        "shop/product_detail.html",
        {"product": product, "variants": variants, "colours": colours.items()},
    )
