from django.contrib import admin

from shop.models import Product, StockLevel, Variant


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "price"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VariantInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["variant", "warehouse", "num_in_stock", "num_allocated"]
    list_editable = ["num_in_stock", "num_allocated"]
    list_select_related = ["variant__product"]
