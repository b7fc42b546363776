from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from shop.models import Order, Product, StockLevel, Variant


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VariantInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["variant", "product", "warehouse", "num_in_stock", "num_allocated"]
    list_editable = ["num_in_stock", "num_allocated"]
    list_filter = ["warehouse"]
    search_fields = ["variant__product__name", "variant__sku"]
    list_select_related = ["variant__product"]

    @admin.display(description=_("Product"), ordering="variant__product__name")
    def product(self, obj):
        return obj.variant.product


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["number", "variant", "customer", "email", "quantity", "created_at"]
    list_select_related = ["variant__product", "customer"]
    date_hierarchy = "created_at"
