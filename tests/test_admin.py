"""The merchant's admin: names on every page, actions through services, permissions, queries
constant in the number of rows, the merchant's time zone and language."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from restock_waitlist.admin import rule_text, shown_note
from restock_waitlist.models import Notification, RestockEvent, RestockWave, StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db

Status = StockWaitlist.Status
SendStatus = Notification.Status
EventStatus = RestockEvent.Status


def admin_url(name, *args):
    return reverse(f"admin:restock_waitlist_{name}", args=args)


def staff_with(*codenames, username="clerk"):
    staff = factories.UserFactory(username=username, is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def named_tiers(settings):
    """The shop's adapter names tier 1 "VIP", as the example shop's does."""
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "ADAPTER": "tests.testshop.priority.NamedTiersAdapter",
    }


@pytest.fixture
def shop(db):
    """A sold-out "Canvas Sneaker" in size "Small" that kim (VIP) and a guest wait for; a
    restock of it whose first wave told kim, and a second wave is due."""
    product = factories.ProductFactory(name="Canvas Sneaker")
    small = factories.VariantFactory(product=product, name="Small")
    factories.StockLevelFactory(variant=small, quantity=0)
    kim = factories.UserFactory(username="vip-kim")
    told = factories.EntryFactory(
        variant=small,
        user=kim,
        tier=1,
        channels=["sms", "email"],
        phone="+821012345678",
        status=Status.NOTIFIED,
    )
    guest = factories.EntryFactory(
        variant=small,
        user=None,
        email="guest@example.com",
        subscriber_key="email:guest@example.com",
    )
    event = factories.RestockEventFactory(
        variant=small, quantity=1, status=EventStatus.WAITING_NEXT_WAVE, waves_sent=1
    )
    RestockWave.objects.create(
        event=event,
        number=1,
        available=1,
        size=3,
        rule="oversubscription",
        inputs={"available": 1, "oversubscription": 3.0},
    )
    send = add_send(told, event, channel="sms", status=SendStatus.SENT)
    return {
        "product": product,
        "small": small,
        "kim": kim,
        "told": told,
        "guest": guest,
        "event": event,
        "send": send,
    }


def add_send(entry, event, channel="email", status=SendStatus.SENT, **fields):
    return Notification.objects.create(
        entry=entry,
        event=event,
        subscriber_key=entry.subscriber_key,
        channel=channel,
        status=status,
        **fields,
    )


def more_rows(count):
    """``count`` more entries, restocks and sends, each of another product and subscriber."""
    for _ in range(count):
        entry = factories.EntryFactory(channels=["email", "sms"], phone="+821099998888")
        event = factories.RestockEventFactory(
            product_key=entry.product_key, variant_key=entry.variant_key
        )
        RestockWave.objects.create(event=event, number=1, available=5, size=15, rule="x")
        add_send(entry, event, status=SendStatus.FAILED, error="No email contact.")


def get_page(client, url):
    """The page and its query count, once caches (content types, permissions) are warm."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response
    return response, len(queries)


def html(response):
    return response.content.decode()


LIST_PAGES = ["stockwaitlist_changelist", "restockevent_changelist", "notification_changelist"]


class TestNames:
    """Products, variants, subscribers, tiers and channels by name on every page; keys only
    in small print on detail pages."""

    @pytest.mark.parametrize(
        ("page", "names"),
        [
            ("stockwaitlist_changelist", ["vip-kim", "Text message", "guest@<wbr>example.com"]),
            ("restockevent_changelist", ["1 sent", "1 wave"]),
            ("notification_changelist", ["vip-kim", "Text message", "wave 1"]),
        ],
    )
    def test_lists_name_things(self, staff_client, shop, page, names):
        page_html = html(staff_client.get(admin_url(page)))
        for name in ["Canvas Sneaker", "Small", *names]:
            assert name in page_html
        assert str(shop["small"].pk) not in page_html
        assert shop["told"].subscriber_key not in page_html

    def test_entry_list_names_tiers_and_channels(self, staff_client, shop, named_tiers):
        page_html = html(staff_client.get(admin_url("stockwaitlist_changelist")))
        assert "VIP" in page_html and "Standard" in page_html
        assert "Text message, Email" in page_html
        assert "guest@<wbr>example.com" in page_html  # a long address may wrap
        assert '["sms", "email"]' not in page_html

    @pytest.mark.parametrize("page", LIST_PAGES)
    def test_filters_with_their_counts(self, staff_client, shop, named_tiers, page):
        response = staff_client.get(admin_url(page), {"_facets": "True"})
        assert response.status_code == 200
        if page == "stockwaitlist_changelist":
            assert "VIP (1)" in html(response)

    def test_history_page(self, staff_client, shop):
        response = staff_client.get(admin_url("stockwaitlist_history", shop["told"].pk))
        assert "Change history: vip-kim: Canvas Sneaker – Small" in html(response)

    def test_a_channel_no_longer_configured_shows_its_key(self, staff_client, shop):
        StockWaitlist.objects.filter(pk=shop["guest"].pk).update(channels=["pager"])
        assert "pager" in html(staff_client.get(admin_url("stockwaitlist_changelist")))

    def test_entry_page(self, staff_client, shop, named_tiers):
        entry = shop["told"]
        response = staff_client.get(admin_url("stockwaitlist_change", entry.pk))
        page_html = html(response)
        assert "vip-kim: Canvas Sneaker – Small" in page_html  # title and breadcrumbs
        assert f'<span class="rw-key">key {entry.product_key} / {entry.variant_key}</span>' in (
            page_html
        )
        assert '<option value="1" selected>VIP</option>' in page_html
        assert "Text message, Email" in page_html
        # the inline of sends: restock, channel, by name
        assert "Text message to vip-kim about Canvas Sneaker – Small" in page_html
        # the subscriber key's help text is whole (its quotes were once swallowed as HTML)
        assert "Subscriber key" in page_html
        assert "“user:” and the account's number, or “email:” and the address." in page_html

    def test_adaptive_waves_read_in_words_not_keys(self):
        """AdaptivePolicy's rule and inputs are named, the rate in per cent, the level by name."""
        wave = RestockWave(
            rule="conversion",
            inputs={"available": 3, "cvr": 0.25, "cvr_level": "shop", "cvr_sample": 40},
        )
        assert rule_text(wave) == (
            "Measured conversion: units available 3, conversion rate 25.0 %, "
            "rate measured on the whole shop, waiters reached 40"
        )
        with translation.override("ko"):
            assert "cvr" not in rule_text(wave) and "conversion" not in rule_text(wave)

    def test_restock_page_shows_its_waves_and_sends_by_status(self, staff_client, shop):
        event = shop["event"]
        add_send(shop["guest"], event, status=SendStatus.QUEUED)
        page_html = html(staff_client.get(admin_url("restockevent_change", event.pk)))
        assert "Canvas Sneaker – Small, restocked" in page_html
        assert "Waiting for the next wave" in page_html
        assert "Oversubscription: units available 1, waiters per unit 3.0" in page_html
        assert '<progress value="1" max="3">' in page_html
        assert "1 of 3 sent" in page_html
        assert "1 still in flight" in page_html
        assert f"?event__id__exact={event.pk}&amp;status__exact=queued" in page_html

    def test_notification_page(self, staff_client, shop):
        page_html = html(staff_client.get(admin_url("notification_change", shop["send"].pk)))
        assert "Text message to vip-kim about Canvas Sneaker – Small" in page_html
        assert "Canvas Sneaker – Small, restocked" in page_html

    def test_delete_confirmation(self, staff_client, shop):
        page_html = html(staff_client.get(admin_url("stockwaitlist_delete", shop["told"].pk)))
        assert "vip-kim: Canvas Sneaker – Small" in page_html
        assert "Text message to vip-kim about Canvas Sneaker – Small" in page_html

    def test_a_deleted_product_shows_its_key(self, staff_client, shop):
        key = shop["product"].pk
        shop["product"].delete()
        page_html = html(staff_client.get(admin_url("stockwaitlist_changelist")))
        assert f"Deleted product {key}" in page_html
        assert "vip-kim" in page_html

    def test_dispatch_notes_are_translated(self):
        with translation.override("ko"):
            assert shown_note("Wave 2 sent to up to 6; more are waiting.") == (
                "2차를 최대 6명에게 보냈고, 아직 기다리는 사람이 있습니다."
            )
            assert shown_note("No sms contact.") == "Text message 연락처가 없습니다."
            assert shown_note("SMTP 421") == "SMTP 421"


class TestQueryCounts:
    """A page costs the same number of queries whatever the number of rows it shows."""

    @pytest.mark.parametrize("page", LIST_PAGES)
    def test_lists(self, staff_client, shop, page):
        _response, few = get_page(staff_client, admin_url(page))
        more_rows(6)
        response, many = get_page(staff_client, admin_url(page))
        assert len(response.context["cl"].result_list) > 6
        assert many == few

    def test_entry_page_with_its_sends(self, staff_client, shop):
        entry = shop["told"]
        _response, few = get_page(staff_client, admin_url("stockwaitlist_change", entry.pk))
        for _ in range(4):
            add_send(entry, factories.RestockEventFactory(variant=shop["small"]))
        _response, many = get_page(staff_client, admin_url("stockwaitlist_change", entry.pk))
        assert many == few

    def test_restock_page_with_its_waves(self, staff_client, shop):
        event = shop["event"]
        _response, few = get_page(staff_client, admin_url("restockevent_change", event.pk))
        for number in (2, 3):
            RestockWave.objects.create(event=event, number=number, available=1, size=3, rule="x")
        add_send(shop["guest"], event, wave=2)
        _response, many = get_page(staff_client, admin_url("restockevent_change", event.pk))
        assert many == few

    def test_delete_confirmation(self, staff_client, shop):
        event = shop["event"]
        _response, few = get_page(staff_client, admin_url("restockevent_delete", event.pk))
        for _ in range(4):
            add_send(factories.EntryFactory(variant=shop["small"]), event)
        response, many = get_page(staff_client, admin_url("restockevent_delete", event.pk))
        assert html(response).count("Email to shopper") == 4
        assert many == few


class TestPermissions:
    PAGES = [
        *LIST_PAGES,
        "restockevent_add",
        "stockwaitlist_products",
        "restockevent_item",
    ]

    def test_staff_without_the_apps_permissions_sees_none_of_it(self, client, shop):
        client.force_login(staff_with())
        assert "Restock waitlist" not in html(client.get(reverse("admin:index")))
        for page in self.PAGES:
            assert client.get(admin_url(page)).status_code == 403, page
        for name, obj in (
            ("stockwaitlist", shop["told"]),
            ("restockevent", shop["event"]),
            ("notification", shop["send"]),
        ):
            assert client.get(admin_url(f"{name}_change", obj.pk)).status_code == 403

    def test_viewing_is_not_acting(self, client, shop):
        client.force_login(
            staff_with("view_stockwaitlist", "view_restockevent", "view_notification")
        )
        response = client.get(admin_url("stockwaitlist_changelist"))
        assert response.status_code == 200
        assert response.context["action_form"] is None  # no action to offer
        page_html = html(client.get(admin_url("stockwaitlist_change", shop["guest"].pk)))
        assert "Cancel entry" not in page_html
        client.post(
            admin_url("stockwaitlist_changelist"),
            {"action": "cancel_selected", "_selected_action": [shop["guest"].pk], "index": 0},
        )
        assert StockWaitlist.objects.get(pk=shop["guest"].pk).status == Status.WAITING
        assert client.get(admin_url("restockevent_add")).status_code == 403

    def test_each_action_needs_its_permission(self, client, shop):
        client.force_login(staff_with("view_stockwaitlist", "change_stockwaitlist"))
        response = client.get(admin_url("stockwaitlist_changelist"))
        choices = {
            name for name, _label in response.context["action_form"].fields["action"].choices
        }
        assert {"cancel_selected", "reopen_selected"} <= choices
        assert "notify_now" not in choices  # notifying is recording a restock's work

        client.force_login(staff_with("view_restockevent", username="viewer"))
        response = client.get(admin_url("restockevent_changelist"))
        assert response.context["action_form"] is None
        assert "Send the next wave now" not in html(
            client.get(admin_url("restockevent_change", shop["event"].pk))
        )


def post_action(client, changelist, action, objects, **extra):
    return client.post(
        admin_url(changelist),
        {"action": action, "_selected_action": [obj.pk for obj in objects], "index": 0, **extra},
    )


class TestEntryActions:
    def test_cancel(self, staff_client, shop):
        purchased = factories.EntryFactory(status=Status.PURCHASED)
        post_action(
            staff_client, "stockwaitlist_changelist", "cancel_selected", [shop["guest"], purchased]
        )
        guest = StockWaitlist.objects.get(pk=shop["guest"].pk)
        assert (guest.status, guest.cancelled_by) == (Status.CANCELLED, "merchant")
        assert StockWaitlist.objects.get(pk=purchased.pk).status == Status.PURCHASED

    def test_reopen(self, staff_client, shop):
        left = factories.EntryFactory(status=Status.CANCELLED, cancelled_by="shopper")
        response = post_action(
            staff_client, "stockwaitlist_changelist", "reopen_selected", [shop["told"], left]
        )
        assert StockWaitlist.objects.get(pk=shop["told"].pk).status == Status.WAITING
        assert StockWaitlist.objects.get(pk=left.pk).status == Status.CANCELLED
        texts = [str(m) for m in response.wsgi_request._messages]
        assert texts == [
            "1 entry is back in line at the place it joined.",
            "1 entry stays as it is: only notified entries and entries a merchant cancelled "
            "can be re-opened, and not when the subscriber has joined again since.",
        ]

    def test_reopen_of_nothing_reopenable_only_says_why(self, staff_client, shop):
        left = factories.EntryFactory(status=Status.CANCELLED, cancelled_by="shopper")
        response = post_action(staff_client, "stockwaitlist_changelist", "reopen_selected", [left])
        texts = [str(m) for m in response.wsgi_request._messages]
        assert texts == [
            "1 entry stays as it is: only notified entries and entries a merchant cancelled "
            "can be re-opened, and not when the subscriber has joined again since."
        ]

    def test_notify_now_says_when_the_stock_is_empty(self, staff_client, shop):
        response = post_action(
            staff_client, "stockwaitlist_changelist", "notify_now", [shop["guest"]]
        )
        [message] = response.wsgi_request._messages
        assert str(message) == (
            "Canvas Sneaker – Small: nobody was notified, because the shop's stock shows none "
            "available. Add stock first."
        )

    def test_notify_now_sends_the_next_wave(
        self, staff_client, shop, django_capture_on_commit_callbacks
    ):
        shop["small"].stock_levels.update(quantity=1)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_action(
                staff_client, "stockwaitlist_changelist", "notify_now", [shop["guest"]]
            )
        [message] = response.wsgi_request._messages
        assert str(message) == "Canvas Sneaker – Small: the next wave is being sent now."
        assert StockWaitlist.objects.get(pk=shop["guest"].pk).status == Status.NOTIFIED
        assert shop["event"].waves.count() == 2

    def test_a_button_on_the_entry_page_comes_back_to_it(self, staff_client, shop):
        page = admin_url("stockwaitlist_change", shop["guest"].pk)
        assert "Cancel entry" in html(staff_client.get(page))
        response = post_action(
            staff_client,
            "stockwaitlist_changelist",
            "cancel_selected",
            [shop["guest"]],
            _rw_next=page,
        )
        assert response.status_code == 302
        assert response["Location"] == page
        response = post_action(
            staff_client,
            "stockwaitlist_changelist",
            "cancel_selected",
            [shop["told"]],
            _rw_next="https://evil.example/",
        )
        assert response["Location"] == admin_url("stockwaitlist_changelist")

    def test_status_is_read_only_and_the_tier_is_chosen_by_name(
        self, staff_client, shop, named_tiers
    ):
        entry = shop["guest"]
        url = admin_url("stockwaitlist_change", entry.pk)
        form = staff_client.get(url).context["adminform"].form
        assert list(form.fields) == ["tier"]
        assert form.fields["tier"].choices == [(0, "Standard"), (1, "VIP"), (2, "Tier 2")]
        response = staff_client.post(
            url,
            {
                "tier": 1,
                "status": "cancelled",
                "channels": "[]",
                "notifications-TOTAL_FORMS": 0,
                "notifications-INITIAL_FORMS": 0,
            },
        )
        assert response.status_code == 302
        entry.refresh_from_db()
        assert (entry.tier, entry.status, entry.channels) == (1, Status.WAITING, ["email"])


class TestRestockActions:
    def test_send_the_next_wave_now(self, staff_client, shop, django_capture_on_commit_callbacks):
        shop["small"].stock_levels.update(quantity=1)
        with django_capture_on_commit_callbacks(execute=True):
            post_action(
                staff_client, "restockevent_changelist", "send_next_wave_now", [shop["event"]]
            )
        assert shop["event"].waves.count() == 2
        assert StockWaitlist.objects.get(pk=shop["guest"].pk).status == Status.NOTIFIED

    def test_stop(self, staff_client, shop):
        held = add_send(shop["guest"], shop["event"], status=SendStatus.QUEUED)
        StockWaitlist.objects.filter(pk=shop["guest"].pk).update(
            status=Status.NOTIFIED, notified_by=shop["event"]
        )
        page = admin_url("restockevent_change", shop["event"].pk)
        assert "Stop sending" in html(staff_client.get(page))
        response = post_action(
            staff_client, "restockevent_changelist", "stop_selected", [shop["event"]], _rw_next=page
        )
        assert response["Location"] == page
        assert RestockEvent.objects.get().status == EventStatus.SKIPPED
        assert Notification.objects.get(pk=held.pk).status == SendStatus.SKIPPED
        assert StockWaitlist.objects.get(pk=shop["guest"].pk).status == Status.WAITING
        assert "Stop sending" not in html(staff_client.get(page))


class TestRetryFailed:
    def test_retry(self, staff_client, shop, django_capture_on_commit_callbacks):
        send = add_send(shop["told"], shop["event"], channel="email", status=SendStatus.FAILED)
        Notification.objects.filter(pk=shop["send"].pk).update(status=SendStatus.FAILED)
        shop["small"].stock_levels.update(quantity=1)
        page = admin_url("notification_change", send.pk)
        assert ">Retry<" in html(staff_client.get(page))
        with django_capture_on_commit_callbacks(execute=True):
            response = post_action(
                staff_client, "notification_changelist", "retry_failed", [send, shop["send"]]
            )
        assert [str(m) for m in response.wsgi_request._messages] == ["2 failed sends queued again."]
        assert set(Notification.objects.values_list("status", flat=True)) == {SendStatus.SENT}
        assert len(mail.outbox) == 1


class TestRecordRestock:
    @pytest.mark.parametrize(
        ("page", "found"),
        [("stockwaitlist_changelist", 2), ("notification_changelist", 1)],
    )
    def test_the_list_search_finds_rows_by_product_name(self, staff_client, shop, page, found):
        other = factories.EntryFactory(variant=factories.VariantFactory(), email="x@example.com")
        add_send(other, factories.RestockEventFactory(variant=other.variant))
        response = staff_client.get(admin_url(page), {"q": "canvas"})
        assert response.context["cl"].result_count == found
        assert response.context["cl"].result_count < response.context["cl"].full_result_count
        # the other fields still match as before
        response = staff_client.get(admin_url(page), {"q": "guest@example.com"})
        assert response.context["cl"].result_count == (1 if page.startswith("stock") else 0)

    def test_the_product_picker_searches_by_name(self, staff_client, shop):
        factories.ProductFactory(name="Wool Beanie")
        response = staff_client.get(admin_url("restockevent_products"), {"term": "canv"})
        assert response.json() == {
            "results": [{"id": str(shop["product"].pk), "text": "Canvas Sneaker"}],
            "pagination": {"more": False},
        }

    def test_picking_a_product_lists_its_variants_with_their_stock(self, staff_client, shop):
        large = factories.VariantFactory(product=shop["product"], name="Large")
        factories.StockLevelFactory(variant=large, quantity=4)
        data = staff_client.get(
            admin_url("restockevent_item"), {"product": shop["product"].pk}
        ).json()
        assert [v["text"] for v in data["variants"]] == [
            "Any variant (4 in stock)",
            "Small (0 in stock)",
            "Large (4 in stock)",
        ]
        data = staff_client.get(
            admin_url("restockevent_item"),
            {"product": shop["product"].pk, "variant": str(shop["small"].pk)},
        ).json()
        assert data["sold_out"] is True
        assert data["stock"].startswith("The shop's stock shows none available")

    def test_the_form_says_when_the_stock_is_empty(self, staff_client, shop):
        response = staff_client.post(
            admin_url("restockevent_add"),
            {"product": shop["product"].pk, "variant": str(shop["small"].pk), "quantity": "1"},
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.non_field_errors() == [
            "The shop's stock shows no Canvas Sneaker – Small available, so nobody would be "
            "notified: the stock is read again before every wave. Add the stock first; saving "
            "it notifies the waitlist by itself."
        ]
        assert "rw-stock rw-sold-out" in html(response)
        assert RestockEvent.objects.count() == 1

    def test_the_form_says_when_nobody_waits(self, staff_client, shop):
        large = factories.VariantFactory(product=shop["product"], name="Large")
        factories.StockLevelFactory(variant=large, quantity=4)
        StockWaitlist.objects.all().delete()
        response = staff_client.post(
            admin_url("restockevent_add"), {"product": shop["product"].pk, "variant": large.pk}
        )
        assert response.context["adminform"].form.non_field_errors() == [
            "Nobody is waiting for Canvas Sneaker – Large, so there is no one to notify."
        ]

    def test_the_product_as_a_whole_points_at_its_variants_waiters(self, staff_client, shop):
        """Waiters for a variant are not served by a restock of "any variant": the form says
        so, instead of "nobody is waiting" while people wait for the product."""
        data = staff_client.get(
            admin_url("restockevent_item"), {"product": shop["product"].pk, "variant": ""}
        ).json()
        assert StockWaitlist.objects.waiting().filter(product_key=shop["product"].pk).count() == 1
        assert "Nobody is waiting" not in data["stock"]
        assert "but 1 person waits for one of its variants: pick" in data["stock"]
        shop["small"].stock_levels.update(quantity=2)
        RestockEvent.objects.update(status=EventStatus.COMPLETED)
        response = staff_client.post(
            admin_url("restockevent_add"), {"product": shop["product"].pk, "variant": ""}
        )
        [error] = response.context["adminform"].form.non_field_errors()
        assert "pick the variant that came back" in error

    def test_records_from_the_stock_and_shows_the_restock(
        self, staff_client, shop, django_capture_on_commit_callbacks
    ):
        shop["small"].stock_levels.update(quantity=2)
        RestockEvent.objects.update(  # long over, so the new one is no stock flapping
            status=EventStatus.COMPLETED, created_at=timezone.now() - timedelta(days=1)
        )
        page = staff_client.get(admin_url("restockevent_add"))
        assert page.context["title"] == "Record a restock"
        assert "Record the restock and notify" in html(page)
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(
                admin_url("restockevent_add"),
                {"product": shop["product"].pk, "variant": str(shop["small"].pk)},
            )
        event = RestockEvent.objects.latest("pk")
        assert response["Location"] == admin_url("restockevent_change", event.pk)
        assert (event.quantity, event.source) == (2, RestockEvent.Source.MERCHANT)
        assert StockWaitlist.objects.get(pk=shop["guest"].pk).status == Status.NOTIFIED

    def test_the_form_says_when_a_restock_is_under_way(self, staff_client, shop):
        shop["small"].stock_levels.update(quantity=2)
        response = staff_client.post(
            admin_url("restockevent_add"),
            {"product": shop["product"].pk, "variant": str(shop["small"].pk)},
        )
        [error] = response.context["adminform"].form.non_field_errors()
        assert error.startswith(
            "A restock of Canvas Sneaker – Small is still under way (Waiting for the next wave)."
        )
        assert admin_url("restockevent_change", shop["event"].pk) in error

    def test_a_variant_of_another_product_is_refused_at_its_field(self, staff_client, shop):
        other = factories.VariantFactory()
        response = staff_client.post(
            admin_url("restockevent_add"),
            {"product": shop["product"].pk, "variant": str(other.pk), "quantity": "3"},
        )
        assert response.context["adminform"].form.errors["variant"] == [
            "This variant belongs to another product."
        ]


class TestFilters:
    def test_by_product(self, staff_client, shop):
        other = factories.EntryFactory()
        url = admin_url("stockwaitlist_changelist")
        response = staff_client.get(url, {"product": shop["product"].pk, "status": "waiting"})
        assert list(response.context["cl"].result_list) == [shop["guest"]]
        page_html = html(response)
        assert f'<option value="{shop["product"].pk}" selected>Canvas Sneaker</option>' in page_html
        assert '<input type="hidden" name="status" value="waiting">' in page_html
        assert other.subscriber_name not in page_html

    def test_by_the_products_of_sends(self, staff_client, shop):
        more_rows(2)
        response = staff_client.get(
            admin_url("notification_changelist"), {"product": shop["product"].pk}
        )
        assert list(response.context["cl"].result_list) == [shop["send"]]

    def test_by_channel(self, staff_client, shop):
        response = staff_client.get(admin_url("stockwaitlist_changelist"), {"channel": "sms"})
        assert list(response.context["cl"].result_list) == [shop["told"]]
        response = staff_client.get(admin_url("notification_changelist"), {"channel": "email"})
        assert list(response.context["cl"].result_list) == []

    def test_by_tier_by_name(self, staff_client, shop, named_tiers):
        response = staff_client.get(admin_url("stockwaitlist_changelist"), {"tier": "1"})
        assert list(response.context["cl"].result_list) == [shop["told"]]
        assert ">VIP</a>" in html(response)


class TestTimeAndLanguage:
    def test_times_are_in_the_merchants_time_zone(self, staff_client, shop, settings):
        settings.TIME_ZONE = "Asia/Seoul"
        StockWaitlist.objects.filter(pk=shop["guest"].pk).update(
            created_at=datetime(2026, 1, 1, 0, 30, tzinfo=dt_timezone.utc)
        )
        page_html = html(staff_client.get(admin_url("stockwaitlist_changelist")))
        assert '<time class="rw-when" datetime="2026-01-01T09:30:00+09:00"' in page_html
        assert "<span>01/01/2026</span> <span>9:30 a.m.</span>" in page_html

    def test_korean(self, staff_client, shop):
        staff_client.cookies["django_language"] = "ko"
        page_html = html(staff_client.get(admin_url("stockwaitlist_changelist")))
        assert "일반" in page_html  # the standard tier
        page_html = html(staff_client.get(admin_url("restockevent_change", shop["event"].pk)))
        assert "발송 차수" in page_html
        assert "3명 중 1명 발송" in page_html
        page_html = html(staff_client.get(admin_url("restockevent_add")))
        assert "재입고 기록" in page_html
