from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.models import Product, StockLevel, Variant
from shop.orders import place_order
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


@require_POST
def buy(request, slug):
    """The "Buy" button: one unit of the chosen size, then back to the product page."""
    product = get_object_or_404(Product, slug=slug)
    variant = get_object_or_404(Variant, product=product, pk=request.POST.get("variant"))
    user = request.user if request.user.is_authenticated else None
    try:
        order = place_order(variant, user=user, email=request.POST.get("email", "").strip())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Thank you! Order %(number)s: %(product)s, %(variant)s.")
            % {"number": order.number, "product": product, "variant": variant},
        )
    return redirect(product)
