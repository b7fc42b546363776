import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from restock_waitlist.adapters import DefaultAdapter, ItemReading, get_adapter, key_at_path
from restock_waitlist.models import StockWaitlist
from tests import factories
from tests.testshop.models import Gadget, GadgetStock, StockLevel

pytestmark = pytest.mark.django_db


class ShopAdapter(DefaultAdapter):
    def display_name(self, product, variant=None):
        return f"[{product}]"


def test_adapter_setting_is_the_one_place_to_override(settings, variant):
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.test_adapters.ShopAdapter",
    }
    assert isinstance(get_adapter(), ShopAdapter)
    entry = factories.EntryFactory(variant=variant)
    assert entry.catalog_label == f"[{variant.product}]"


def test_keys_are_canonical_text(variant):
    adapter = get_adapter()
    assert adapter.product_key(variant.product) == str(variant.product.pk)
    assert adapter.product_key(str(variant.product.pk)) == str(variant.product.pk)
    assert adapter.variant_key(str(variant.pk).replace("-", "").upper()) == str(variant.pk)
    assert adapter.variant_key(None) == ""
    with pytest.raises(ValidationError):
        adapter.product_key(variant)  # a variant is not a product


def test_available_quantity_sums_every_row(variant, django_assert_num_queries):
    factories.StockLevelFactory(variant=variant, quantity=3)
    factories.StockLevelFactory(variant=variant, quantity=-1)
    other = factories.VariantFactory(product=variant.product)
    factories.StockLevelFactory(variant=other, quantity=5)
    adapter = get_adapter()
    with django_assert_num_queries(1):
        assert adapter.available_quantity(str(variant.product_id), str(variant.pk)) == 2
    assert adapter.available_quantity(str(variant.product_id)) == 7


def test_callable_available_quantity(gadget_settings):
    gadget = Gadget.objects.create(name="Lamp")
    GadgetStock.objects.create(gadget=gadget, num_in_stock=5, num_allocated=2)
    GadgetStock.objects.create(gadget=gadget, num_in_stock=1, num_allocated=0)
    assert get_adapter().available_quantity(str(gadget.pk)) == 4


class TestReadItem:
    """What a join checks of an item, in one statement (keys, existence, the stock's sum)."""

    def test_one_query_sums_every_stock_row(self, variant, django_assert_num_queries):
        factories.StockLevelFactory(variant=variant, quantity=3, warehouse="east")
        other = factories.VariantFactory(product=variant.product)
        factories.StockLevelFactory(variant=other, quantity=5)
        product_key, adapter = str(variant.product_id), get_adapter()
        with django_assert_num_queries(1):
            reading = adapter.read_item(product_key, str(variant.pk), stock=True)
        assert reading == ItemReading(True, True, True, 3)
        with django_assert_num_queries(1):
            reading = adapter.read_item(product_key, "", stock=True)
        assert reading == ItemReading(True, False, True, 8)
        assert adapter.read_item(product_key, str(other.pk)) == ItemReading(True, True, True)

    def test_missing_or_mismatched_keys(self, variant):
        adapter, elsewhere = get_adapter(), factories.VariantFactory()
        product_key = str(variant.product_id)
        missing_product = str(elsewhere.product_id + 1)
        assert adapter.read_item(missing_product, "", stock=True).product_found is False
        missing_variant = "00000000-0000-0000-0000-000000000000"
        assert adapter.read_item(product_key, missing_variant) == ItemReading(True, False, False)
        assert adapter.read_item(product_key, str(elsewhere.pk)) == ItemReading(True, True, False)

    def test_uuid_products_and_a_computed_quantity(
        self, gadget_settings, django_assert_num_queries
    ):
        """A quantity that is no column is summed in Python, after the one statement."""
        gadget = factories.GadgetFactory()
        GadgetStock.objects.create(gadget=gadget, num_in_stock=5, num_allocated=2)
        GadgetStock.objects.create(gadget=gadget, num_in_stock=1, num_allocated=0)
        with django_assert_num_queries(2):
            assert get_adapter().read_item(str(gadget.pk), stock=True) == ItemReading(
                True, False, True, 4
            )
        assert get_adapter().read_item(str(Gadget().pk)).product_found is False

    def test_an_overridden_look_up_is_called(self, settings, variant):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "ADAPTER": "tests.test_adapters.PublishedOnlyAdapter",
        }
        reading = get_adapter().read_item(str(variant.product_id), str(variant.pk), stock=True)
        assert reading == ItemReading(product_found=False)
        settings.RESTOCK_WAITLIST["ADAPTER"] = "tests.test_adapters.ShopAdapter"
        reading = get_adapter().read_item(str(variant.product_id), str(variant.pk), stock=True)
        assert reading == ItemReading(True, True, True, 0)


class PublishedOnlyAdapter(DefaultAdapter):
    """A shop whose unpublished products (here: all of them) take no waiters."""

    def get_product(self, key):
        return None


def test_no_stock_model_is_reported(settings):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "STOCK_MODEL": None}
    with pytest.raises(ImproperlyConfigured, match="STOCK_MODEL"):
        get_adapter().available_quantity("1")


def test_key_at_path_reads_the_foreign_key_without_loading(variant, django_assert_num_queries):
    stock = type(variant.stock_levels.get()).objects.select_related("variant").get(variant=variant)
    with django_assert_num_queries(0):
        assert key_at_path(stock, "variant.product") == variant.product_id


def test_with_catalog_loads_names_in_two_queries(django_assert_num_queries):
    for _ in range(5):
        factories.EntryFactory()
    with django_assert_num_queries(3):
        labels = [e.catalog_label for e in StockWaitlist.objects.with_catalog()]
    assert len(labels) == 5 and all(" – " in label for label in labels)


@pytest.mark.parametrize("bad", ["abc", 10**30, -(10**30), [1], {"a": 1}, None, 1.5j])
def test_bad_product_keys_are_validation_errors(bad):
    with pytest.raises(ValidationError) as info:
        get_adapter().product_key(bad)
    assert "product" in info.value.message_dict


@pytest.mark.parametrize("bad", ["abc", [1], "0" * 33, 1.5])
def test_bad_variant_keys_are_validation_errors(bad):
    with pytest.raises(ValidationError) as info:
        get_adapter().variant_key(bad)
    assert "variant" in info.value.message_dict


def test_tiers_are_named(settings):
    adapter = get_adapter()
    assert [adapter.tier_name(tier) for tier in (0, 1, 2)] == ["Standard", "Tier 1", "Tier 2"]
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.testshop.priority.NamedTiersAdapter",
    }
    assert get_adapter().tier_name(1) == "VIP"


class TestProductSearch:
    def test_by_name_prefix_in_any_case_and_by_key(self, django_assert_num_queries):
        sneaker = factories.ProductFactory(name="Canvas Sneaker")
        tote = factories.ProductFactory(name="Canvas Tote")
        factories.ProductFactory(name="Wool Canvas Beanie")  # "contains" is not matched
        adapter = get_adapter()
        with django_assert_num_queries(1):
            assert adapter.search_products("canvas") == [sneaker, tote]
        with django_assert_num_queries(1):  # a key found is the answer
            assert adapter.search_products(str(tote.pk)) == [tote]
        with django_assert_num_queries(2):  # a key not found: then the names
            assert adapter.search_products("999999") == []
        assert adapter.search_products("  ") == []

    def test_at_most_the_limit(self):
        factories.ProductFactory.create_batch(5, name="Sock")
        assert len(get_adapter().search_products("so", limit=3)) == 3

    def test_uuid_keys(self, gadget_settings):
        gadget = factories.GadgetFactory(name="Gizmo")
        adapter = get_adapter()
        assert adapter.search_products(str(gadget.pk).upper()) == [gadget]
        assert adapter.search_products("giz") == [gadget]

    def test_a_shop_names_its_search_fields(self, settings, variant):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "ADAPTER": "tests.test_adapters.NoSearchAdapter",
        }
        assert get_adapter().search_products(variant.product.name) == []


class NoSearchAdapter(DefaultAdapter):
    product_search_fields = ()


def test_variants_of_a_product(variant):
    other = factories.VariantFactory(product=variant.product)
    factories.VariantFactory()
    adapter = get_adapter()
    assert set(adapter.variants_of(str(variant.product_id))) == {variant, other}


# A stock row's item and stock before its save --------------------------------------------


def apart(stock):
    """What ``stock_before_save`` stands for, read one by one."""
    adapter = get_adapter()
    product_key, variant_key = adapter.stock_item_keys(stock)
    return product_key, variant_key, *adapter.available_before_save(stock, product_key, variant_key)


@pytest.fixture
def split_stock(variant):
    """The variant's stock over three warehouses (2 + 3 + 0), and another variant's row."""
    rows = [variant.stock_levels.get()]
    rows[0].quantity = 2
    rows[0].save()
    rows += [
        factories.StockLevelFactory(variant=variant, warehouse="b", quantity=3),
        factories.StockLevelFactory(variant=variant, warehouse="c", quantity=0),
    ]
    factories.StockLevelFactory(
        variant=factories.VariantFactory(product=variant.product), quantity=9
    )
    return rows


def test_stock_before_save_reads_the_product_through_the_variant_in_the_same_query(
    split_stock, django_assert_num_queries
):
    stock = StockLevel.objects.get(pk=split_stock[1].pk)  # its variant not loaded
    stock.quantity = 7
    with django_assert_num_queries(1):
        found = get_adapter().stock_before_save(stock)
    variant = split_stock[0].variant
    assert found == (str(variant.product_id), str(variant.pk), 5, 3)
    assert found == apart(StockLevel.objects.get(pk=stock.pk))


def test_stock_before_save_of_a_row_moving_to_another_variant(split_stock):
    moving = split_stock[0]
    empty = factories.VariantFactory()  # no stock rows yet
    neighbour = moving.variant.product.variants.exclude(pk=moving.variant_id).get()
    for variant, before in ((empty, (0, 0)), (neighbour, (9, 0))):
        stock = StockLevel.objects.get(pk=moving.pk)
        stock.variant_id = variant.pk
        found = get_adapter().stock_before_save(stock)
        assert found == (str(variant.product_id), str(variant.pk), *before) == apart(stock)


def test_stock_before_save_with_a_uuid_product_key_on_the_row(settings):
    settings.RESTOCK_WAITLIST = {**settings.GADGET_SETTINGS, "STOCK_AVAILABLE": "num_in_stock"}
    gadget = factories.GadgetFactory()
    rows = [factories.GadgetStockFactory(gadget=gadget, num_in_stock=n) for n in (4, 1)]
    stock = GadgetStock.objects.get(pk=rows[1].pk)
    assert get_adapter().stock_before_save(stock) == (str(gadget.pk), "", 5, 1)


class RowsAdapter(DefaultAdapter):
    def stock_rows(self, product_key, variant_key=""):
        return super().stock_rows(product_key, variant_key).exclude(warehouse="b")


def test_an_adapter_overriding_a_hook_reads_one_by_one(settings, split_stock):
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.test_adapters.RowsAdapter",
    }
    stock = StockLevel.objects.get(pk=split_stock[0].pk)
    assert get_adapter().stock_before_save(stock)[2:] == (2, 2)  # warehouse b left out
