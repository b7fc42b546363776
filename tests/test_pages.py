"""The pages behind message links and after a join: the shopper's language, the shop's look."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from restock_waitlist import tokens
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status

#: A shopper who signed up in Korean opens the link on a new, English-speaking device.
ENGLISH_DEVICE = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def korean_entry(variant, **kwargs):
    return factories.EntryFactory(
        variant=variant, user=None, email="kim@example.com", locale="ko", **kwargs
    )


def join(variant, **fields):
    """A guest joins on the no-JavaScript form; the messages the page then shows."""
    headers = {key: fields.pop(key) for key in list(fields) if key.startswith("HTTP_")}
    form = {
        "product": str(variant.product_id),
        "variant": str(variant.pk),
        "channels": ["email"],
        "email": "kim@example.com",
        "consent": "1",
        **fields,
    }
    response = Client().post("/waitlist/join/", form, **headers)
    return [str(m) for m in get_messages(response.wsgi_request)]


def channel_checked(html, name):
    return f'name="channels" value="{name}" checked' in html


def page(client, path, method="get"):
    response = getattr(client, method)(path, **ENGLISH_DEVICE)
    return response, response.content.decode()


class TestShoppersLanguage:
    """Issue #12: the pages followed the browser's language, not the shopper's."""

    def test_confirm_page(self, client, variant):
        entry = korean_entry(variant, status=Status.PENDING)
        path = f"/waitlist/confirm/{tokens.entry_token(entry, tokens.CONFIRM)}/"
        response, html = page(client, path)
        assert '<html lang="ko"' in html and "재입고 알림 신청을 확인하세요" in html
        assert response["Content-Language"] == "ko"
        response, html = page(client, path, "post")
        assert "알림 신청이 완료되었습니다" in html
        assert "Confirm" not in html

    @pytest.mark.parametrize(
        ("route", "purpose", "question"),
        [
            ("unsubscribe", tokens.MANAGE, "재입고 알림을 중단할까요?"),
            ("unsubscribe-all", tokens.UNSUBSCRIBE_ALL, "모든 재입고 알림을 중단할까요?"),
        ],
    )
    def test_unsubscribe_pages(self, client, variant, route, purpose, question):
        entry = korean_entry(variant)
        path = f"/waitlist/{route}/{tokens.entry_token(entry, purpose)}/"
        _response, html = page(client, path)
        assert question in html
        _response, html = page(client, path, "post")
        assert '<html lang="ko"' in html and "알림이 취소되었습니다" in html

    def test_a_bad_link_speaks_the_browsers_language(self, client):
        _response, html = page(client, "/waitlist/unsubscribe/nonsense/")
        assert '<html lang="en"' in html and "This link can no longer be used" in html

    def test_the_message_after_a_join_is_in_the_joins_language(self, variant):
        [message] = join(variant, locale="ko", **ENGLISH_DEVICE)
        assert "받은편지함" in message


class TestUnsubscribeSaysWhatHappened:
    def path(self, entry, purpose=tokens.MANAGE):
        route = "unsubscribe" if purpose == tokens.MANAGE else "unsubscribe-all"
        return f"/waitlist/{route}/{tokens.entry_token(entry, purpose)}/"

    @pytest.mark.parametrize("status", [Status.CANCELLED, Status.EXPIRED, Status.PURCHASED])
    def test_an_ended_alert_is_not_offered_for_cancelling_again(self, client, variant, status):
        entry = factories.EntryFactory(variant=variant, status=status)
        _response, html = page(client, self.path(entry))
        assert "Nothing to cancel" in html and "has ended already" in html
        assert "Yes, cancel" not in html and "<form" not in html
        assert f'href="/products/{variant.product_id}/' in html  # back to the item

    def test_after_cancelling_the_page_leads_back_to_the_item(self, client, variant):
        entry = factories.EntryFactory(variant=variant)
        _response, html = page(client, self.path(entry), "post")
        assert "Alert cancelled" in html and f'href="/products/{variant.product_id}/' in html

    def test_the_confirm_link_of_a_cancelled_alert_leads_to_the_item(self, client, variant):
        entry = factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        path = f"/waitlist/confirm/{tokens.entry_token(entry, tokens.CONFIRM)}/"
        response, html = page(client, path)
        assert response.status_code == 400 and "sign up again on the product page" in html
        assert f'href="/products/{variant.product_id}/' in html
        _response, html = page(client, "/waitlist/confirm/nonsense/")
        assert "Back to the product" not in html

    def test_cancelling_every_alert_says_alerts(self, client, variant):
        entry = factories.EntryFactory(variant=variant, user=None, email="kim@example.com")
        _response, html = page(client, self.path(entry, tokens.UNSUBSCRIBE_ALL), "post")
        assert "<h1" in html and "Alerts cancelled" in html


class TestLinksStayPrivate:
    def test_token_pages_send_no_referer_elsewhere_and_are_not_cached(self, client, variant):
        entry = korean_entry(variant)
        response = client.get(f"/waitlist/unsubscribe/{tokens.entry_token(entry, tokens.MANAGE)}/")
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cache-Control"] == "no-store"


class TestLook:
    def test_the_default_page_stands_on_its_own(self, client, variant):
        entry = factories.EntryFactory(variant=variant)
        _response, html = page(
            client, f"/waitlist/unsubscribe/{tokens.entry_token(entry, tokens.MANAGE)}/"
        )
        assert 'name="viewport"' in html
        assert "font-family: system-ui" in html
        assert 'href="/static/restock_waitlist/notify.css"' in html  # no CDN
        assert '<header class="rw-page__header">' in html
        assert 'href="https://shop.example"' in html and "shop.example" in html
        assert 'class="rw-button"' in html

    def test_one_template_override_gives_them_the_shops_layout(
        self, client, variant, settings, tmp_path
    ):
        """What the example shop does: ``restock_waitlist/page.html`` extends its base."""
        override = tmp_path / "restock_waitlist" / "page.html"
        override.parent.mkdir()
        override.write_text('{% extends "testshop/base.html" %}')
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
        entry = factories.EntryFactory(variant=variant)
        _response, html = page(
            client, f"/waitlist/unsubscribe/{tokens.entry_token(entry, tokens.MANAGE)}/"
        )
        assert '<select id="language" name="language">' in html  # the shop's header
        assert "<title>Cancel restock alerts</title>" in html
        assert '<section class="rw-card"' in html


class TestFormErrorsNameTheirField:
    def post(self, variant, **fields):
        return join(variant, **fields)

    def test_a_bad_time_zone(self, variant):
        """Issue #12: "None: Null characters are not allowed." named no field."""
        assert self.post(variant, time_zone="Asia/\x00Seoul") == [
            "Time zone: Null characters are not allowed."
        ]

    def test_a_right_to_left_override_in_the_address(self, variant):
        assert self.post(variant, email="jisoo@exa\u202emple.com") == [
            "Email address: Email addresses cannot contain invisible or text-direction characters."
        ]
        assert not StockWaitlist.objects.exists()

    def test_every_message_names_a_field(self, variant):
        messages = self.post(variant, product="", channels=[], email="x", consent="", locale="\x00")
        assert len(messages) == 5
        assert all(": " in message and not message.startswith("None") for message in messages)

    def test_a_refused_form_comes_back_as_it_was_filled(self, client, variant):
        """Without JavaScript the page reloads: the shopper's channels, address and number
        come back once, so only the field named needs fixing (consent is asked again)."""
        form = {
            "product": str(variant.product_id),
            "variant": str(variant.pk),
            "channels": ["email", "sms"],
            "email": "kim@example.com",
            "phone": "12345",
            "consent": "1",
            "next": f"/products/{variant.product_id}/",
        }
        response = client.post("/waitlist/join/", form, follow=True)
        html = response.content.decode()
        assert "Enter a phone number" in html
        assert channel_checked(html, "email") and channel_checked(html, "sms")
        assert 'value="kim@example.com"' in html and 'value="12345"' in html
        assert not StockWaitlist.objects.exists()
        html = client.get(f"/products/{variant.product_id}/").content.decode()
        assert not channel_checked(html, "sms") and 'value="kim@example.com"' not in html

    def test_full_width_digits_are_read(self, variant):
        self.post(variant, channels=["email", "sms"], phone="+８２ １０-１２３４-５６７８")
        assert StockWaitlist.objects.get().phone == "+821012345678"
