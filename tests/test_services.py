from functools import partial

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save

from restock_waitlist import jobs, services, signals
from restock_waitlist.models import RestockEvent, StockWaitlist
from tests import factories
from tests.testshop.models import Gadget, GadgetStock

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status


class TestJoin:
    def test_user_joins_a_variant(self, user, variant):
        entry, created = services.join_waitlist(variant.product, variant, user=user)
        assert created
        assert entry.status == Status.WAITING
        assert entry.product_key == str(variant.product.pk)
        assert entry.variant_key == str(variant.pk)
        assert entry.product == variant.product
        assert entry.variant == variant
        assert entry.channels == ["email"]
        assert entry.locale == "en"
        assert entry.tier == 0
        assert entry.consent_at is not None

    def test_repeat_join_returns_the_active_entry(self, user, variant):
        first, _ = services.join_waitlist(variant.product, variant, user=user)
        again, created = services.join_waitlist(variant.product, variant, user=user)
        assert (again.pk, created) == (first.pk, False)
        assert StockWaitlist.objects.count() == 1

    def test_product_wide_entries_are_not_duplicated(self, user, product):
        services.join_waitlist(product, None, user=user)
        _, created = services.join_waitlist(product, user=user)
        assert not created
        assert StockWaitlist.objects.filter(variant_key="").count() == 1

    def test_database_forbids_a_second_active_null_variant_entry(self, user, product):
        entry, _ = services.join_waitlist(product, user=user)
        duplicate = StockWaitlist(
            product_key=entry.product_key,
            variant_key="",
            user=user,
            subscriber_key=entry.subscriber_key,
            channels=["email"],
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            duplicate.save()

    def test_rejoin_after_notification_is_allowed(self, user, variant):
        first, _ = services.join_waitlist(variant.product, variant, user=user)
        StockWaitlist.objects.filter(pk=first.pk).update(status=Status.NOTIFIED)
        second, created = services.join_waitlist(variant.product, variant, user=user)
        assert created and second.pk != first.pk

    def test_rejoin_after_cancelling_is_allowed(self, user, variant):
        first, _ = services.join_waitlist(variant.product, variant, user=user)
        services.leave_waitlist(first, user=user)
        _, created = services.join_waitlist(variant.product, variant, user=user)
        assert created

    def test_guest_joins_with_email_and_phone(self, variant):
        entry, created = services.join_waitlist(
            variant.product,
            variant,
            email=" Kim@Example.COM ",
            phone="+82 10-1234-5678",
            channels=["sms", "email"],
            consent=True,
        )
        assert created
        assert entry.user is None
        assert entry.email == "Kim@example.com"
        assert entry.phone == "+821012345678"
        assert entry.channels == ["email", "sms"]  # CHANNEL_ORDER: push, email, sms

    def test_guest_email_is_matched_case_insensitively(self, variant):
        services.join_waitlist(variant.product, variant, email="kim@example.com", consent=True)
        _, created = services.join_waitlist(
            variant.product, variant, email="KIM@example.com", consent=True
        )
        assert not created

    def test_vip_tier_comes_from_priority_setting(self, vip, variant):
        entry, _ = services.join_waitlist(variant.product, variant, user=vip)
        assert entry.tier == 1

    def test_locale_is_stored(self, user, variant):
        entry, _ = services.join_waitlist(variant.product, variant, user=user, locale="ko-kr")
        assert entry.locale == "ko"

    def test_accepts_primary_keys(self, user, variant):
        entry, _ = services.join_waitlist(variant.product.pk, str(variant.pk), user=user)
        assert entry.variant == variant

    def test_signal_sent_after_commit_for_new_entries_only(
        self, user, variant, django_capture_on_commit_callbacks
    ):
        received = []
        signals.waitlist_joined.connect(
            lambda **kw: received.append(kw["entry"]), weak=False, dispatch_uid="t"
        )
        try:
            with django_capture_on_commit_callbacks(execute=True):
                entry, _ = services.join_waitlist(variant.product, variant, user=user)
                services.join_waitlist(variant.product, variant, user=user)
                assert received == []
        finally:
            signals.waitlist_joined.disconnect(dispatch_uid="t")
        assert received == [entry]


class TestJoinQueries:
    """A guest join by keys, as the API and the form give them, reads the item (product,
    variant, stock) in one query and the address's active rows in another, then inserts;
    the cap on unconfirmed entries costs no query of its own."""

    @pytest.mark.django_db(transaction=True)
    def test_a_guest_join_in_autocommit_costs_three_queries(
        self, variant, monkeypatch, django_assert_num_queries
    ):
        queued = []
        monkeypatch.setattr(jobs, "enqueue", lambda *args: queued.append(args))
        with django_assert_num_queries(3):  # no BEGIN and COMMIT around the one INSERT
            entry, created = services.join_waitlist(
                variant.product_id, str(variant.pk), email="kim@example.com", consent=True
            )
        assert created
        assert queued == [("send_confirmation", str(entry.pk))]

    @pytest.mark.django_db(transaction=True)
    def test_a_failing_post_save_receiver_leaves_no_entry(self, variant, monkeypatch):
        """With a receiver listening, the INSERT and the receiver's work share a transaction."""
        monkeypatch.setattr(jobs, "enqueue", lambda *args: None)

        def fail(**kwargs):
            raise RuntimeError("the host's receiver failed")

        post_save.connect(fail, sender=StockWaitlist, dispatch_uid="fail")
        try:
            with pytest.raises(RuntimeError):
                services.join_waitlist(
                    variant.product_id, str(variant.pk), email="kim@example.com", consent=True
                )
        finally:
            post_save.disconnect(dispatch_uid="fail", sender=StockWaitlist)
        assert not StockWaitlist.objects.exists()

    def test_inside_a_transaction_the_insert_takes_a_savepoint(
        self, variant, django_assert_num_queries
    ):
        join = partial(services.join_waitlist, email="kim@example.com", consent=True)
        with django_assert_num_queries(3 + 2):  # SAVEPOINT, RELEASE SAVEPOINT
            join(variant.product_id, str(variant.pk))
        with django_assert_num_queries(2):  # already waiting: nothing written
            join(variant.product_id, str(variant.pk))

    def test_a_repeat_join_at_the_pending_cap_returns_the_entry(self, settings):
        """The address's own entry for the item is found before the cap is applied."""
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "MAX_PENDING_PER_ADDRESS": 2}
        first, second, third = (factories.StockLevelFactory(quantity=0).variant for _ in "abc")
        join = partial(services.join_waitlist, email="kim@example.com", consent=True)
        entry, _ = join(first.product, first)
        join(second.product, second)
        assert join(first.product, first) == (entry, False)
        assert join(third.product, third) == (None, False)  # held back by the cap
        assert StockWaitlist.objects.count() == 2


class TestJoinValidation:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({}, "email"),
            ({"email": "not-an-email"}, "email"),
            ({"email": "a@example.com", "channels": ["fax"]}, "channels"),
            ({"email": "a@example.com", "channels": "email"}, "channels"),
            ({"email": "a@example.com", "channels": []}, "channels"),
            ({"email": "a@example.com", "channels": ["push"]}, "channels"),
            ({"email": "a@example.com", "channels": ["sms"]}, "phone"),
            ({"email": "a@example.com", "phone": "call me"}, "phone"),
            ({"email": "a@example.com", "locale": "xx"}, "locale"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, variant, kwargs, field):
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, variant, consent=True, **kwargs)
        assert field in info.value.message_dict
        assert not StockWaitlist.objects.exists()

    @pytest.mark.parametrize("consent", [False, None, ""])
    def test_a_guest_needs_consent_on_every_path(self, variant, consent):
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, variant, email="a@example.com", consent=consent)
        assert list(info.value.message_dict) == ["consent"]
        assert not StockWaitlist.objects.exists()

    def test_variant_of_another_product(self, user, variant):
        other = factories.VariantFactory()
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, other, user=user)
        assert "variant" in info.value.message_dict

    def test_unknown_product_and_variant(self, user, variant):
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(999999, user=user)
        assert "product" in info.value.message_dict
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, "not-a-uuid", user=user)
        assert "variant" in info.value.message_dict

    def test_in_stock_item_is_refused_unless_allowed(self, user, variant, settings):
        factories.StockLevelFactory(variant=variant, quantity=2)
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, variant, user=user)
        assert "variant" in info.value.message_dict
        assert not StockWaitlist.objects.exists()
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "ALLOW_JOIN_IN_STOCK": True}
        _, created = services.join_waitlist(variant.product, variant, user=user)
        assert created

    def test_disabled_channel_is_refused(self, user, variant, settings):
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "CHANNELS": {"email": {"BACKEND": "x.Y"}},
        }
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, variant, user=user, channels=["sms"])
        assert "channels" in info.value.message_dict


class TestLeave:
    def test_owner_cancels(self, user, variant):
        entry, _ = services.join_waitlist(variant.product, variant, user=user)
        services.leave_waitlist(entry, user=user)
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED and entry.cancelled_at is not None

    def test_someone_elses_entry_looks_missing(self, user, variant):
        entry, _ = services.join_waitlist(variant.product, variant, user=user)
        stranger = factories.UserFactory()
        with pytest.raises(ObjectDoesNotExist) as theirs:
            services.leave_waitlist(entry, user=stranger)
        with pytest.raises(ObjectDoesNotExist) as missing:
            services.leave_waitlist("00000000-0000-0000-0000-000000000000", user=stranger)
        assert type(theirs.value) is type(missing.value)
        assert str(theirs.value) == str(missing.value)
        entry.refresh_from_db()
        assert entry.status == Status.WAITING

    def test_purchased_entry_stays_purchased(self, user, variant):
        entry = factories.EntryFactory(user=user, variant=variant, status=Status.PURCHASED)
        services.leave_waitlist(entry, user=user)
        entry.refresh_from_db()
        assert entry.status == Status.PURCHASED


class TestPosition:
    def test_first_come_first_served_with_vip_ahead(self, variant):
        first = factories.EntryFactory(variant=variant)
        second = factories.EntryFactory(variant=variant)
        vip = factories.EntryFactory(variant=variant, tier=1)
        assert services.waitlist_position(vip) == 1
        assert services.waitlist_position(first) == 2
        assert services.waitlist_position(second) == 3

    def test_only_waiting_entries_of_the_same_item_count(self, variant):
        factories.EntryFactory(variant=variant, status=Status.NOTIFIED)
        factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        factories.EntryFactory(variant=factories.VariantFactory(product=variant.product))
        mine = factories.EntryFactory(variant=variant)
        assert services.waitlist_position(mine) == 1

    def test_inactive_entry_has_no_position(self, variant):
        entry = factories.EntryFactory(variant=variant, status=Status.NOTIFIED)
        assert services.waitlist_position(entry) is None

    def test_positions_annotation_matches_and_costs_one_query(
        self, variant, django_assert_num_queries
    ):
        for tier in (0, 1, 0, 2, 0):
            factories.EntryFactory(variant=variant, tier=tier)
        with django_assert_num_queries(1):
            annotated = {e.pk: e.position for e in StockWaitlist.objects.with_positions()}
        for entry in StockWaitlist.objects.all():
            assert annotated[entry.pk] == services.waitlist_position(entry)
        assert sorted(annotated.values()) == [1, 2, 3, 4, 5]


class TestRecordRestock:
    def test_records_current_quantity_and_signals_on_commit(
        self, variant, django_capture_on_commit_callbacks
    ):
        factories.StockLevelFactory(variant=variant, quantity=4)
        events = []
        signals.restock_detected.connect(
            lambda **kw: events.append(kw["event"]), weak=False, dispatch_uid="t"
        )
        try:
            with django_capture_on_commit_callbacks(execute=True):
                event = services.record_restock(variant.product, variant)
                assert events == []
        finally:
            signals.restock_detected.disconnect(dispatch_uid="t")
        assert events == [event]
        assert (event.quantity, event.source) == (4, RestockEvent.Source.RECORDED)

    def test_explicit_quantity(self, product):
        event = services.record_restock(product, quantity=7, previous_quantity=0)
        assert (event.quantity, event.previous_quantity, event.variant_key) == (7, 0, "")

    def test_bad_quantity(self, product):
        with pytest.raises(ValidationError) as info:
            services.record_restock(product, quantity="7")
        assert "quantity" in info.value.message_dict
        assert not RestockEvent.objects.exists()


class TestUuidCatalogueWithoutVariants:
    def test_join_position_and_restock(self, gadget_settings, user):
        gadget = Gadget.objects.create(name="Lamp")
        GadgetStock.objects.create(gadget=gadget, num_in_stock=3, num_allocated=3)
        entry, created = services.join_waitlist(gadget, user=user)
        assert created and entry.product == gadget and entry.variant is None
        assert services.waitlist_position(entry) == 1
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(gadget, "1", user=user)
        assert "variant" in info.value.message_dict
        entry_by_key, created = services.join_waitlist(str(gadget.pk).upper(), user=user)
        assert not created and entry_by_key.pk == entry.pk


class TestTimeZone:
    def test_stored_for_quiet_hours(self, user, variant):
        entry, _ = services.join_waitlist(
            variant.product, variant, user=user, timezone_name="Asia/Seoul"
        )
        assert entry.time_zone == "Asia/Seoul"

    @pytest.mark.parametrize("bad", ["Mars/Olympus", "../etc/passwd", "\x00"])
    def test_unknown_time_zone_names_the_field(self, user, variant, bad):
        with pytest.raises(ValidationError) as info:
            services.join_waitlist(variant.product, variant, user=user, timezone_name=bad)
        assert "time_zone" in info.value.message_dict
        assert not StockWaitlist.objects.exists()
