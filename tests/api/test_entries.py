"""Shopper and guest endpoints: join, list, retrieve, cancel; ownership and guest tokens."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail

from restock_waitlist import tokens
from restock_waitlist.api.serializers import JoinSerializer
from restock_waitlist.models import StockWaitlist
from tests import factories
from tests.api.conftest import url

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
NOT_FOUND = {"detail": "Not found."}


def join(client, **body):
    return client.post(url("entry-list"), body, format="json")


class TestShopperJoin:
    def test_new_entry_answers_201_with_its_place(self, shopper_api, user, variant):
        response = join(
            shopper_api,
            product=variant.product_id,
            variant=str(variant.pk),
            channels=["email", "push"],
        )
        assert response.status_code == 201
        body = response.json()
        entry = StockWaitlist.objects.get()
        assert body == {
            "id": str(entry.pk),
            "product": variant.product_id,
            "variant": str(variant.pk),
            "item_name": f"{variant.product.name} – {variant.name}",
            "channels": ["push", "email"],
            "status": "waiting",
            "position": 1,
            "email": "",
            "phone": "",
            "locale": "en",
            "time_zone": "UTC",
            "created_at": body["created_at"],
            "confirmed_at": None,
            "notified_at": None,
            "purchased_at": None,
            "cancelled_at": None,
            "result": "registered",
        }
        assert entry.user == user
        assert entry.consent_source == "api"

    def test_repeat_join_answers_200_with_the_same_entry(self, shopper_api, variant):
        first = join(shopper_api, product=variant.product_id, variant=str(variant.pk))
        again = join(shopper_api, product=variant.product_id, variant=str(variant.pk))
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["result"] == "already_registered"
        assert StockWaitlist.objects.count() == 1

    def test_position_counts_those_ahead(self, api, user, vip, variant):
        factories.EntryFactory.create_batch(2, variant=variant)
        api.force_login(user)
        assert (
            join(api, product=variant.product_id, variant=str(variant.pk)).json()["position"] == 3
        )
        api.force_login(vip)
        assert (
            join(api, product=variant.product_id, variant=str(variant.pk)).json()["position"] == 1
        )

    def test_product_wide_join_without_variant(self, shopper_api, product):
        response = join(shopper_api, product=str(product.pk), variant=None)
        assert response.status_code == 201
        assert response.json()["variant"] is None
        assert response.json()["item_name"] == product.name

    def test_locale_and_time_zone_are_stored(self, shopper_api, variant):
        response = join(
            shopper_api,
            product=variant.product_id,
            variant=str(variant.pk),
            locale="ko",
            time_zone="Asia/Seoul",
        )
        assert (response.json()["locale"], response.json()["time_zone"]) == ("ko", "Asia/Seoul")

    def test_locale_defaults_to_the_request_language(self, shopper_api, variant):
        response = shopper_api.post(
            url("entry-list"),
            {"product": variant.product_id, "variant": str(variant.pk)},
            format="json",
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        assert response.json()["locale"] == "ko"


class TestGuestJoin:
    def test_guest_join_answers_202_and_pending(
        self, api, variant, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = join(
                api,
                product=variant.product_id,
                variant=str(variant.pk),
                email="guest@example.com",
                consent=True,
            )
        assert response.status_code == 202
        assert response.json()["result"] == "pending_confirmation"
        entry = StockWaitlist.objects.get()
        assert (entry.user, entry.email, entry.status) == (
            None,
            "guest@example.com",
            Status.PENDING,
        )
        assert len(mail.outbox) == 1  # the confirmation

    def test_answer_is_the_same_whether_or_not_the_address_subscribed(self, api, variant):
        body = {"product": variant.product_id, "variant": str(variant.pk), "consent": True}
        factories.EntryFactory(variant=variant, user=None, email="taken@example.com")
        fresh = join(api, **body, email="fresh@example.com")
        taken = join(api, **body, email="TAKEN@example.com")
        repeat = join(api, **body, email="fresh@example.com")
        assert fresh.status_code == taken.status_code == repeat.status_code == 202
        assert fresh.json() == taken.json() == repeat.json()
        assert "id" not in fresh.json()

    def test_item_in_stock_answers_the_same_for_subscribed_and_new_addresses(self, api, variant):
        factories.EntryFactory(variant=variant, user=None, email="taken@example.com")
        factories.StockLevelFactory(variant=variant, quantity=2)
        body = {"product": variant.product_id, "variant": str(variant.pk), "consent": True}
        fresh = join(api, **body, email="fresh@example.com")
        taken = join(api, **body, email="taken@example.com")
        assert fresh.status_code == taken.status_code == 400
        assert fresh.json() == taken.json() == {"variant": ["This item is in stock right now."]}

    def test_without_double_opt_in_guests_are_registered(self, api, variant, settings):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "GUEST_DOUBLE_OPT_IN": False}
        response = join(api, product=variant.product_id, email="guest@example.com", consent=True)
        assert (response.status_code, response.json()["result"]) == (202, "registered")
        assert StockWaitlist.objects.get().status == Status.WAITING


class TestJoinErrors:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"channels": ["fax"]}, "channels"),
            ({"channels": "email"}, "channels"),
            ({"channels": [["email"]]}, "channels"),
            ({"channels": []}, "channels"),
            ({"channels": None}, "channels"),
            ({"email": "not-an-address"}, "email"),
            ({"email": ["a@example.com"]}, "email"),
            ({"phone": "12"}, "phone"),
            ({"phone": {"number": 1}}, "phone"),
            ({"locale": "xx-nope"}, "locale"),
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
            ({"time_zone": "../../etc/passwd"}, "time_zone"),
            ({"product": None}, "product"),
            ({"product": [1]}, "product"),
            ({"product": True}, "product"),
            ({"product": 1.5}, "product"),
            ({"product": "x" * 10_000}, "product"),
            ({"product": "9" * 60}, "product"),
            ({"product": 10**40}, "product"),
            ({"product": "1\x00"}, "product"),
            ({"variant": "not-a-uuid"}, "variant"),
            ({"variant": 7}, "variant"),
            ({"variant": {"id": 1}}, "variant"),
            ({"variant": str(uuid.uuid4())}, "variant"),
            ({"email": "a" * 300 + "@example.com"}, "email"),
            ({"locale": "k" * 1000}, "locale"),
        ],
    )
    def test_bad_input_answers_400_naming_the_field(self, shopper_api, variant, body, field):
        request = {"product": variant.product_id, "variant": str(variant.pk), **body}
        response = join(shopper_api, **request)
        assert response.status_code == 400, response.content
        assert field in response.json()
        assert not StockWaitlist.objects.exists()

    def test_each_join_is_validated_by_its_own_fields(self):
        """The join serializer's fields are copied, not shared: one request's errors and
        values never reach the next."""
        bad = JoinSerializer(data={"product": 1, "channels": ["x" * 40], "time_zone": "UTC"})
        good = JoinSerializer(data={"product": 2, "channels": ["email"]})
        assert not bad.is_valid() and set(bad.errors) == {"channels"}
        assert good.is_valid(), good.errors
        assert good.validated_data == {"product": 2, "channels": ["email"]}
        assert good.fields["channels"] is not bad.fields["channels"]
        assert good.fields["time_zone"].parent is good
        assert good.fields["time_zone"].source_attrs == ["timezone_name"]

    def test_unknown_product(self, shopper_api, db):
        response = join(shopper_api, product=999_999)
        assert response.status_code == 400
        assert response.json() == {"product": ["No such product."]}

    def test_variant_of_another_product(self, shopper_api, variant):
        other = factories.VariantFactory()
        response = join(shopper_api, product=variant.product_id, variant=str(other.pk))
        assert response.json() == {"variant": ["This variant belongs to another product."]}

    def test_disabled_channel(self, shopper_api, variant, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "CHANNELS": {"email": {"BACKEND": "restock_waitlist.channels.email.EmailChannel"}},
        }
        response = join(shopper_api, product=variant.product_id, channels=["sms"])
        assert response.status_code == 400
        assert "sms" in response.json()["channels"][0]

    def test_guest_needs_an_email(self, api, variant):
        response = join(api, product=variant.product_id, variant=str(variant.pk))
        assert response.status_code == 400
        assert list(response.json()) == ["email"]

    def test_guest_cannot_ask_for_push(self, api, variant):
        response = join(
            api, product=variant.product_id, email="g@example.com", channels=["push"], consent=True
        )
        assert list(response.json()) == ["channels"]

    def test_guest_text_messages_need_a_phone(self, api, variant):
        response = join(
            api, product=variant.product_id, email="g@example.com", channels=["sms"], consent=True
        )
        assert list(response.json()) == ["phone"]

    def test_item_in_stock(self, shopper_api, variant):
        factories.StockLevelFactory(variant=variant, quantity=3)
        response = join(shopper_api, product=variant.product_id, variant=str(variant.pk))
        assert response.json() == {"variant": ["This item is in stock right now."]}

    @pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "null", "{not json", "1e999999"])
    def test_a_body_that_is_not_an_object(self, shopper_api, db, payload):
        response = shopper_api.post(url("entry-list"), payload, content_type="application/json")
        assert response.status_code == 400

    def test_form_encoded_body(self, shopper_api, variant):
        response = shopper_api.post(
            url("entry-list"),
            {"product": variant.product_id, "channels": ["email", "sms"], "phone": "+821012345678"},
        )
        assert response.status_code == 201
        assert response.json()["channels"] == ["email", "sms"]

    def test_messages_are_translated(self, api, variant):
        response = api.post(
            url("entry-list"),
            {"product": variant.product_id},
            format="json",
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        assert response.status_code == 400
        assert response.json()["email"] != [
            "An email address is required to join without an account."
        ]

    def test_api_messages_are_translated(self, shopper_api, variant):
        response = shopper_api.post(
            url("entry-list"),
            {"product": variant.product_id, "time_zone": "Mars/Olympus"},
            format="json",
            HTTP_ACCEPT_LANGUAGE="ko",
        )
        assert response.json() == {"time_zone": ["알 수 없는 시간대입니다: Mars/Olympus."]}


class TestShopperEntries:
    def test_list_shows_only_own_entries_with_positions(self, shopper_api, user, variant):
        factories.EntryFactory(variant=variant)  # someone else, ahead
        mine = factories.EntryFactory(variant=variant, user=user)
        cancelled = factories.EntryFactory(user=user, status=Status.CANCELLED)
        response = shopper_api.get(url("entry-list"))
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 2
        positions = {row["id"]: row["position"] for row in body["results"]}
        assert positions == {str(mine.pk): 2, str(cancelled.pk): None}

    def test_list_filters_by_status(self, shopper_api, user):
        waiting = factories.EntryFactory(user=user)
        factories.EntryFactory(user=user, status=Status.NOTIFIED)
        factories.EntryFactory(user=user, status=Status.CANCELLED)
        response = shopper_api.get(url("entry-list"), {"status": "waiting,pending"})
        assert [row["id"] for row in response.json()["results"]] == [str(waiting.pk)]

    def test_unknown_status_filter_answers_400(self, shopper_api, db):
        response = shopper_api.get(url("entry-list"), {"status": "waiting,lost"})
        assert response.status_code == 400
        assert list(response.json()) == ["status"]

    def test_list_is_paginated(self, shopper_api, user):
        factories.EntryFactory.create_batch(3, user=user)
        body = shopper_api.get(url("entry-list"), {"page_size": 2}).json()
        assert (body["count"], len(body["results"])) == (3, 2)
        assert body["next"]
        assert shopper_api.get(url("entry-list"), {"page": 9}).status_code == 404

    def test_anonymous_list_is_not_authenticated(self, api, db):
        response = api.get(url("entry-list"))
        assert (response.status_code, response.json()) == (403, NOT_AUTHENTICATED)

    def test_retrieve_own_entry(self, shopper_api, user, variant):
        entry = factories.EntryFactory(variant=variant, user=user)
        response = shopper_api.get(url("entry-detail", entry.pk))
        assert response.status_code == 200
        assert (response.json()["id"], response.json()["position"]) == (str(entry.pk), 1)

    def test_someone_elses_entry_answers_exactly_like_a_missing_one(self, shopper_api, db):
        theirs = factories.EntryFactory()
        for target in (theirs.pk, uuid.uuid4(), "not-a-uuid"):
            for method in (shopper_api.get, shopper_api.delete):
                response = method(url("entry-detail", target))
                assert (response.status_code, response.json()) == (404, NOT_FOUND)
        theirs.refresh_from_db()
        assert theirs.status == Status.WAITING

    def test_delete_cancels_and_keeps_the_row(self, shopper_api, user):
        entry = factories.EntryFactory(user=user)
        response = shopper_api.delete(url("entry-detail", entry.pk))
        assert response.status_code == 204
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED and entry.cancelled_at is not None
        assert shopper_api.delete(url("entry-detail", entry.pk)).status_code == 204

    def test_anonymous_retrieve_is_not_authenticated(self, api, db):
        entry = factories.EntryFactory()
        response = api.get(url("entry-detail", entry.pk))
        assert (response.status_code, response.json()) == (403, NOT_AUTHENTICATED)


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_queries_do_not_grow_with_page_size(
    shopper_api, user, page_size, django_assert_num_queries
):
    for _ in range(12):
        factories.EntryFactory(user=user, variant_key="", variant=factories.VariantFactory())
        factories.EntryFactory(user=user)
    # session, user, count, page (positions included), products, variants
    with django_assert_num_queries(6):
        response = shopper_api.get(url("entry-list"), {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


class TestGuestToken:
    @pytest.fixture
    def guest_entry(self, variant):
        return factories.EntryFactory(variant=variant, user=None, email="guest@example.com")

    def test_token_opens_its_entry_by_query_or_header(self, api, guest_entry):
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        by_query = api.get(url("entry-detail", guest_entry.pk), {"token": token})
        by_header = api.get(url("entry-detail", guest_entry.pk), HTTP_X_WAITLIST_TOKEN=token)
        assert by_query.status_code == by_header.status_code == 200
        assert by_query.json()["email"] == "guest@example.com"

    def test_token_lists_only_its_entry(self, api, guest_entry):
        factories.EntryFactory(user=None, email="guest@example.com")
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        body = api.get(url("entry-list"), {"token": token}).json()
        assert [row["id"] for row in body["results"]] == [str(guest_entry.pk)]

    def test_token_cancels_its_entry(self, api, guest_entry):
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        response = api.delete(f"{url('entry-detail', guest_entry.pk)}?token={token}")
        assert response.status_code == 204
        guest_entry.refresh_from_db()
        assert guest_entry.status == Status.CANCELLED

    def test_token_for_one_entry_is_useless_for_another(self, api, guest_entry):
        other = factories.EntryFactory(user=None, email="guest@example.com")
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        for method in (api.get, api.delete):
            response = method(url("entry-detail", other.pk), HTTP_X_WAITLIST_TOKEN=token)
            assert (response.status_code, response.json()) == (404, NOT_FOUND)
        other.refresh_from_db()
        assert other.status == Status.WAITING

    @pytest.mark.parametrize(
        "make_token",
        [
            lambda entry: tokens.entry_token(entry, tokens.CONFIRM),
            lambda entry: tokens.entry_token(entry, tokens.MANAGE)[:-2] + "xx",
            lambda entry: "garbage",
        ],
        ids=["other-purpose", "tampered", "garbage"],
    )
    def test_bad_token_is_forbidden(self, api, guest_entry, make_token):
        response = api.get(url("entry-detail", guest_entry.pk), {"token": make_token(guest_entry)})
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "The link is not valid."},
        )

    def test_expired_token_is_forbidden(self, api, guest_entry, settings):
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "TOKEN_MAX_AGE": timedelta(seconds=-1),
        }
        response = api.get(url("entry-detail", guest_entry.pk), {"token": token})
        assert (response.status_code, response.json()) == (403, {"detail": "The link has expired."})

    def test_signed_in_shopper_with_a_guest_token_sees_both(self, shopper_api, user, guest_entry):
        mine = factories.EntryFactory(user=user)
        token = tokens.entry_token(guest_entry, tokens.MANAGE)
        body = shopper_api.get(url("entry-list"), {"token": token}).json()
        assert {row["id"] for row in body["results"]} == {str(mine.pk), str(guest_entry.pk)}
