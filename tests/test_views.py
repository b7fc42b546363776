"""The button's form without JavaScript: join and cancel views (post/redirect/get)."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client

from restock_waitlist import services, tokens
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status

JOIN, CANCEL = "/waitlist/join/", "/waitlist/cancel/"


def form_for(variant, **fields):
    data = {
        "product": str(variant.product_id),
        "variant": str(variant.pk),
        "channels": ["email"],
        "next": f"/products/{variant.product_id}/",
        "locale": "en",
        "source": "product_page",
    }
    return {**data, **fields}


def guest_form(variant, **fields):
    return form_for(variant, **{"email": "kim@example.com", "consent": "1", **fields})


def flashed(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


class TestJoinAsUser:
    def test_joins_and_redirects_back_with_the_position(self, client, user, variant):
        factories.EntryFactory(variant=variant)  # someone ahead
        client.force_login(user)
        response = client.post(
            JOIN,
            form_for(variant, time_zone="Asia/Seoul", channels=["sms"], phone="+821012345678"),
        )
        assert response.status_code == 302
        assert response["Location"] == f"/products/{variant.product_id}/"
        assert flashed(response) == [
            (
                "success",
                f"You're on the list for {variant.product} – {variant}. You are #2 in line.",
            )
        ]
        entry = StockWaitlist.objects.get(user=user)
        assert (entry.status, entry.channels, entry.time_zone) == (
            Status.WAITING,
            ["sms"],
            "Asia/Seoul",
        )
        assert (entry.consent_source, entry.consent_version) == ("product_page", "1")
        assert entry.consent_at is not None

    def test_joining_again_keeps_the_one_entry(self, client, user, variant):
        client.force_login(user)
        client.post(JOIN, form_for(variant))
        response = client.post(JOIN, form_for(variant))
        assert flashed(response)[-1][1].startswith("You were already on the list")
        assert StockWaitlist.objects.filter(user=user).count() == 1

    def test_language_of_the_page_is_stored(self, client, user, variant):
        client.force_login(user)
        client.post(JOIN, form_for(variant, locale="ko"))
        assert StockWaitlist.objects.get(user=user).locale == "ko"

    def test_push_without_a_device_is_refused(self, client, user, variant):
        client.force_login(user)
        response = client.post(JOIN, form_for(variant, channels=["push"]))
        [(level, text)] = flashed(response)
        assert level == "error" and text.startswith("Notify me by: Select a valid choice.")
        assert not StockWaitlist.objects.exists()

    def test_an_item_in_stock_is_refused(self, client, user, variant):
        factories.StockLevelFactory(variant=variant, quantity=2)
        client.force_login(user)
        response = client.post(JOIN, form_for(variant))
        assert flashed(response) == [("error", "Variant: This item is in stock right now.")]
        assert not StockWaitlist.objects.exists()

    def test_unknown_product(self, client, user, variant):
        client.force_login(user)
        response = client.post(JOIN, form_for(variant, product="424242"))
        assert flashed(response) == [("error", "Product: No such product.")]
        assert not StockWaitlist.objects.exists()


class TestJoinAsGuest:
    def test_same_answer_whether_or_not_the_address_is_known(
        self, client, variant, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            first = client.post(JOIN, guest_form(variant))
        entry = StockWaitlist.objects.get()
        services.confirm_entry(entry.pk)
        other = Client()
        with django_capture_on_commit_callbacks(execute=True):
            second = other.post(JOIN, guest_form(variant))
        assert (first.status_code, first["Location"]) == (second.status_code, second["Location"])
        assert flashed(first) == flashed(second)
        assert flashed(first)[0][1].startswith("Check your inbox and follow the link to confirm")
        assert StockWaitlist.objects.count() == 1
        assert len(mail.outbox) == 1  # the known address is not mailed again

    def test_entry_is_pending_with_the_consent_record(self, client, variant):
        client.post(JOIN, guest_form(variant, source="product_list"))
        entry = StockWaitlist.objects.get()
        assert (entry.status, entry.email, entry.consent_source) == (
            Status.PENDING,
            "kim@example.com",
            "product_list",
        )

    def test_without_double_opt_in(self, client, variant, settings):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "GUEST_DOUBLE_OPT_IN": False}
        response = client.post(JOIN, guest_form(variant))
        assert flashed(response)[0][1].startswith("Thank you: we will let you know")
        assert StockWaitlist.objects.get().status == Status.WAITING

    @pytest.mark.parametrize(
        ("fields", "error"),
        [
            ({"consent": ""}, "Consent: Tick the box to agree to the restock alert."),
            ({"email": "not-an-address"}, "Email address: Enter a valid email address."),
            (
                {"email": ""},
                "Email address: An email address is required to join without an account.",
            ),
            ({"channels": []}, "Notify me by: Choose at least one way to be notified."),
            (
                {"channels": ["push"]},
                "Notify me by: Select a valid choice. push is not one of the available choices.",
            ),
            (
                {"channels": ["sms"]},
                "Mobile phone number: A mobile phone number is needed for alerts by "
                "“Text message”.",
            ),
            (
                {"channels": ["sms"], "phone": "12"},
                "Mobile phone number: Enter a phone number in international format, "
                "e.g. +821012345678.",
            ),
        ],
    )
    def test_errors_name_the_field_and_write_nothing(self, client, variant, fields, error):
        response = client.post(JOIN, guest_form(variant, **fields))
        assert response.status_code == 302
        assert response["Location"] == f"/products/{variant.product_id}/"
        assert ("error", error) in flashed(response)
        assert not StockWaitlist.objects.exists()
        assert mail.outbox == []

    def test_a_guest_with_a_phone(self, client, variant):
        client.post(JOIN, guest_form(variant, channels=["email", "sms"], phone="+82 10-1234-5678"))
        entry = StockWaitlist.objects.get()
        assert (entry.channels, entry.phone) == (["email", "sms"], "+821012345678")

    def test_unknown_time_zone_and_source_fall_back(self, client, variant):
        client.post(JOIN, guest_form(variant, time_zone="Mars/Olympus", source="<script>"))
        entry = StockWaitlist.objects.get()
        assert entry.time_zone == "UTC"  # the server's, as without a time zone
        assert entry.consent_source == "notify_button"


class TestSafety:
    def test_csrf_is_required(self, variant):
        response = Client(enforce_csrf_checks=True).post(JOIN, guest_form(variant))
        assert response.status_code == 403
        assert not StockWaitlist.objects.exists()

    def test_get_is_not_allowed(self, client):
        assert client.get(JOIN).status_code == 405
        assert client.get(CANCEL).status_code == 405

    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]
    )
    def test_next_must_stay_on_the_site(self, client, variant, target):
        response = client.post(JOIN, guest_form(variant, next=target))
        assert response["Location"] == f"/products/{variant.product_id}/"

    def test_after_an_error_next_or_the_referer(self, client, variant):
        response = client.post(JOIN, guest_form(variant, consent="", next="/products/"))
        assert response["Location"] == "/products/"
        response = client.post(
            JOIN, guest_form(variant, consent="", next=""), HTTP_REFERER="http://testserver/x/"
        )
        assert response["Location"] == "http://testserver/x/"


class TestCancel:
    def test_own_entry(self, client, user, variant):
        entry = factories.EntryFactory(variant=variant, user=user)
        client.force_login(user)
        response = client.post(CANCEL, {"entry": str(entry.pk), "next": "/products/"})
        assert response["Location"] == "/products/"
        assert flashed(response) == [
            ("success", f"Your alert for {variant.product} – {variant} is cancelled.")
        ]
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED

    def test_someone_elses_entry_reads_as_not_found(self, client, user, variant):
        theirs = factories.EntryFactory(variant=variant)
        client.force_login(user)
        for entry_id in (str(theirs.pk), "not-a-uuid", ""):
            response = client.post(CANCEL, {"entry": entry_id})
            assert flashed(response)[-1] == (
                "error",
                "This alert could not be found. It may have been cancelled already.",
            )
        theirs.refresh_from_db()
        assert theirs.status == Status.WAITING

    def test_guests_cannot_cancel_by_id(self, client, variant):
        guest_entry = factories.EntryFactory(variant=variant, user=None, email="kim@example.com")
        response = client.post(CANCEL, {"entry": str(guest_entry.pk)})
        assert flashed(response)[0][0] == "error"
        guest_entry.refresh_from_db()
        assert guest_entry.status == Status.WAITING


class TestGuestLinks:
    def test_confirmation_mail_links_to_cancel_one_and_all(
        self, variant, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.join_waitlist(variant.product, variant, email="Kim@Example.com", consent=True)
        body = mail.outbox[0].body
        assert "https://shop.example/waitlist/unsubscribe/" in body
        all_link = next(line for line in body.splitlines() if "/unsubscribe-all/" in line)
        token = all_link.rstrip("/").rsplit("/", 1)[1]
        entry = StockWaitlist.objects.get()
        assert tokens.entry_id_from_token(token, tokens.UNSUBSCRIBE_ALL) == entry.pk
        html = mail.outbox[0].alternatives[0][0]
        assert "/unsubscribe-all/" in html

    def test_confirmed_page_offers_to_cancel(self, client, variant):
        entry, _ = services.join_waitlist(
            variant.product, variant, email="kim@example.com", consent=True
        )
        response = client.post(f"/waitlist/confirm/{tokens.entry_token(entry, tokens.CONFIRM)}/")
        html = response.content.decode()
        assert f'href="/products/{variant.product_id}/"' in html
        unsubscribe = html.split('href="/waitlist/unsubscribe/', 1)[1].split("/", 1)[0]
        assert tokens.entry_id_from_token(unsubscribe, tokens.MANAGE) == entry.pk
