"""A small storefront over the test shop, using the template tag as a shop would."""

from django.shortcuts import get_object_or_404, render

from tests.testshop.models import Product


def product_list(request):
    products = Product.objects.order_by("pk")
    return render(request, "testshop/product_list.html", {"products": products})


def product_detail(request, pk):
    product = get_object_or_404(Product, pk=pk)
    variants = product.variants.order_by("name")
    return render(
        request, "testshop/product_detail.html", {"product": product, "variants": variants}
    )
