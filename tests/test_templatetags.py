"""``{% restock_notify_button %}`` and ``{% restock_preload %}``: states, options, queries."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.template import engines
from django.test import RequestFactory
from django.utils import translation

from restock_waitlist import storefront
from restock_waitlist.adapters import get_adapter
from restock_waitlist.channels.push import PushChannel
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status

BUTTON = "{% load restock_waitlist %}{% restock_notify_button product variant %}"


def request_for(user=None, path="/products/1/"):
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    return request


def render(source, request, **context):
    return engines["django"].from_string(source).render(context, request)


def render_button(variant, user=None, product=None, request=None):
    request = request or request_for(user)
    return render(BUTTON, request, product=product or variant.product, variant=variant)


def in_stock(variant, quantity=3):
    factories.StockLevelFactory(variant=variant, quantity=quantity)


def channel_choices(html):
    return re.findall(r'name="channels" value="(\w+)"', html)


@pytest.fixture
def settings_with(settings):
    def update(**values):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, **values}

    return update


class TestStates:
    def test_in_stock_renders_nothing(self, variant):
        in_stock(variant)
        assert render_button(variant).strip() == ""

    def test_in_stock_block_from_setting(self, variant, settings_with):
        in_stock(variant)
        settings_with(IN_STOCK_TEMPLATE="restock_waitlist/in_stock.html")
        assert "In stock" in render_button(variant)

    def test_consent_names_the_one_channel_offered(self, variant, settings_with):
        settings_with(
            CHANNELS={
                "pager": {
                    "BACKEND": "restock_waitlist.channels.locmem.LocmemChannel",
                    "OPTIONS": {"LABEL": "Pager"},
                }
            },
            DEFAULT_CHANNELS=("pager",),
        )
        assert "in the ways I choose above (Pager)" in render_button(variant)

    def test_sold_out_guest_gets_the_form(self, variant):
        html = render_button(variant)
        assert 'data-state="join"' in html
        assert 'action="/waitlist/join/"' in html and "csrfmiddlewaretoken" in html
        assert 'type="email" name="email"' in html and "required" in html
        assert 'name="consent" value="1" required' in html
        assert "in the ways I choose above (Email, Text message)" in html
        # Push needs an account; the test shop enables push, email and sms.
        assert channel_choices(html) == ["email", "sms"]
        assert 'name="phone"' in html

    def test_phone_hint_shows_the_format_the_shop_reads(self, variant, settings_with):
        """With ``PHONE_REGION`` national numbers are read, so the hint does not ask for +82."""
        assert "in international format, e.g. +821012345678" in render_button(variant)
        settings_with(PHONE_REGION="KR")
        html = render_button(variant)
        assert "For text messages, e.g. 010-2000-0000." in html
        assert "international" not in html

    def test_guest_with_email_only(self, variant, settings_with):
        settings_with(
            CHANNELS={"email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"}}
        )
        html = render_button(variant)
        assert '<input type="hidden" name="channels" value="email">' in html
        assert "<fieldset" not in html and 'name="phone"' not in html
        assert "I agree to receive an email alert" in html

    def test_guest_without_a_usable_channel_is_asked_to_sign_in(self, variant, settings_with):
        settings_with(
            CHANNELS={"push": {"BACKEND": "tests.testshop.channels.DevicePushChannel"}},
            DEFAULT_CHANNELS=("push",),
        )
        html = render_button(variant)
        assert "<form" not in html
        assert "Sign in to get an alert" in html and "/accounts/login/?next=" in html

    def test_user_gets_channels_but_no_guest_fields(self, variant, user):
        html = render_button(variant, user)
        assert channel_choices(html) == ["email", "sms"]  # no push device
        assert 'name="email"' not in html and 'name="consent"' not in html
        assert re.search(r'value="email" checked', html)  # DEFAULT_CHANNELS

    def test_push_offered_only_with_a_device(self, variant):
        with_device = factories.UserFactory(username="phone-owner")
        without = factories.UserFactory(username="desktop-only")
        assert channel_choices(render_button(variant, with_device)) == ["push", "email", "sms"]
        assert channel_choices(render_button(variant, without)) == ["email", "sms"]

    def test_subscribed_shows_position_and_cancel(self, variant, user):
        factories.EntryFactory(variant=variant)  # someone ahead
        entry = factories.EntryFactory(variant=variant, user=user)
        html = render_button(variant, user)
        assert 'data-state="subscribed"' in html
        assert 'You are #<span data-rw-position="">2</span> in line.' in html
        assert 'action="/waitlist/cancel/"' in html
        assert f'name="entry" value="{entry.pk}"' in html
        # The join form waits in a <template> for the script to show after a cancel.
        assert '<template data-rw-template="join">' in html

    def test_product_wide_entry_is_not_the_variants(self, variant, user):
        factories.EntryFactory(variant=variant, user=user, variant_key="")
        assert 'data-state="join"' in render_button(variant, user)
        assert 'data-state="subscribed"' in render(
            BUTTON, request_for(user), product=variant.product, variant=None
        )

    def test_notified_and_back_in_stock_links_to_buy(self, variant, user):
        factories.EntryFactory(variant=variant, user=user, status=Status.NOTIFIED)
        in_stock(variant)
        html = render_button(variant, user)
        assert 'data-state="notified"' in html and "Back in stock!" in html
        link = re.search(r'href="([^"]+)"', html).group(1)
        assert link == f"/products/{variant.product_id}/?ref=restock"

    def test_notified_but_sold_out_again_may_join_again(self, variant, user):
        factories.EntryFactory(variant=variant, user=user, status=Status.NOTIFIED)
        assert 'data-state="join"' in render_button(variant, user)

    def test_cancelled_entry_shows_the_form(self, variant, user):
        factories.EntryFactory(variant=variant, user=user, status=Status.CANCELLED)
        assert 'data-state="join"' in render_button(variant, user)

    def test_korean(self, variant):
        with translation.override("ko"):
            html = render_button(variant)
        assert "품절" in html and "재입고 알림 받기" in html
        assert 'name="locale" value="ko"' in html


class TestCustomization:
    def test_template_per_call(self, variant):
        html = render(
            "{% load restock_waitlist %}"
            '{% restock_notify_button product variant template="testshop/custom_button.html" %}',
            request_for(),
            product=variant.product,
            variant=variant,
        )
        assert html.strip() == f'<p class="custom-button">join {variant.product} – {variant}</p>'

    def test_template_from_setting(self, variant, settings_with):
        settings_with(BUTTON_TEMPLATE="testshop/custom_button.html")
        assert 'class="custom-button"' in render_button(variant)

    def test_source_names_the_form(self, variant):
        html = render(
            '{% load restock_waitlist %}{% restock_notify_button product source="quick_view" %}',
            request_for(),
            product=variant.product,
        )
        assert 'name="source" value="quick_view"' in html

    def test_api_url_only_when_the_api_is_mounted(self, variant, settings):
        assert 'data-api-url="/api/waitlist/entries/"' in render_button(variant)
        settings.ROOT_URLCONF = "tests.testshop.urls_without_api"
        assert "data-api-url" not in render_button(variant)

    def test_needs_the_request(self, variant):
        with pytest.raises(ImproperlyConfigured, match=r"context_processors\.request"):
            engines["django"].from_string(BUTTON).render(
                {"product": variant.product, "variant": variant}
            )

    def test_assets(self):
        html = render("{% load restock_waitlist %}{% restock_assets %}", request_for())
        assert '<script src="/static/restock_waitlist/notify.js" defer></script>' in html
        assert 'href="/static/restock_waitlist/notify.css"' in html


class TestQueries:
    def test_a_button_costs_at_most_two_queries(self, variant, user, django_assert_max_num_queries):
        factories.EntryFactory(variant=variant, user=user)
        with django_assert_max_num_queries(2):
            assert "#<span" in render_button(variant, user)
        with django_assert_max_num_queries(1):
            render_button(variant)  # a guest: the stock only

    def test_the_push_device_is_asked_once_a_page(
        self, variant, settings_with, django_assert_num_queries
    ):
        request = request_for(factories.UserFactory(username="phone-owner"))
        others = [factories.StockLevelFactory(quantity=0).variant for _ in range(3)]
        # Stock, entries and the device for the first button; the device is not asked again.
        with django_assert_num_queries(3):
            render_button(variant, request=request)
        for other in others:
            with django_assert_num_queries(2):
                assert 'value="push"' in render_button(other, request=request)

    @pytest.mark.parametrize("count", [1, 20])
    def test_a_list_page_costs_the_same_for_1_or_20_products(
        self, count, client, user, django_assert_num_queries
    ):
        for n in range(count):
            stock = factories.StockLevelFactory(quantity=0 if n % 2 else 5)
            factories.EntryFactory(variant=stock.variant, user=user, variant_key="")
            factories.EntryFactory(variant=stock.variant, variant_key="")
        client.force_login(user)
        # session + user, the products, then the preload: stock and entries. No more.
        with django_assert_num_queries(5):
            html = client.get("/products/").content.decode()
        assert html.count('data-state="subscribed"') == count // 2

    def test_a_product_page_preloads_its_variants(self, user, client, django_assert_num_queries):
        product = factories.ProductFactory()
        for name in ("S", "M", "L", "XL"):
            factories.StockLevelFactory(variant__product=product, variant__name=name, quantity=0)
        client.force_login(user)
        # session + user, the product, its variants, the preload's two.
        with django_assert_num_queries(6):
            html = client.get(f"/products/{product.pk}/").content.decode()
        assert html.count('data-state="join"') == 4


class TestAvailableQuantities:
    def test_matches_one_by_one_sums(self, variant):
        other = factories.VariantFactory(product=variant.product)
        factories.StockLevelFactory(variant=other, quantity=4)
        factories.StockLevelFactory(variant=other, quantity=-1)
        items = {
            (str(variant.product_id), ""),
            (str(variant.product_id), str(variant.pk)),
            (str(variant.product_id), str(other.pk)),
            ("999999", ""),
        }
        adapter = get_adapter()
        assert adapter.available_quantities(items) == {
            item: adapter.available_quantity(*item) for item in items
        }
        assert adapter.available_quantities(items)[(str(variant.product_id), str(other.pk))] == 3

    def test_computed_quantity_without_variants(self, gadget_settings, django_assert_num_queries):
        gadgets = [factories.GadgetFactory() for _ in range(3)]
        factories.GadgetStockFactory(gadget=gadgets[0], num_in_stock=5, num_allocated=2)
        factories.GadgetStockFactory(gadget=gadgets[1], num_in_stock=1, num_allocated=1)
        adapter = get_adapter()
        with django_assert_num_queries(1):
            found = adapter.available_quantities({(str(g.pk), "") for g in gadgets})
        assert [found[str(g.pk), ""] for g in gadgets] == [3, 0, 0]

    def test_item_keys(self, variant):
        assert storefront.item_keys(variant) == (str(variant.product_id), str(variant.pk))
        assert storefront.item_keys(variant.product) == (str(variant.product_id), "")
        assert storefront.item_keys((variant.product, None)) == (str(variant.product_id), "")


def test_push_device_needs_push_notifications_installed(user, settings):
    assert "push_notifications" not in settings.INSTALLED_APPS
    assert PushChannel("push").offered_to(user) is False


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("BUTTON_TEMPLATE", "nope/missing.html"),
        ("IN_STOCK_TEMPLATE", "nope/missing.html"),
        ("BUTTON_TEMPLATE", None),
    ],
)
def test_checks_name_a_missing_template(settings_with, key, value):
    from restock_waitlist.checks import check_settings

    settings_with(**{key: value})
    errors = [e for e in check_settings() if e.id == "restock_waitlist.E020"]
    assert len(errors) == 1 and f"['{key}']" in errors[0].msg
