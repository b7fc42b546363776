"""Data rights: export and erasure of one person's data, retention, and deletions in flight."""

import importlib
import json
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Task

from restock_waitlist import privacy, services
from restock_waitlist.models import Notification, Purchase, RestockEvent, StockWaitlist
from tests import factories, flaky

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status
SendStatus = Notification.Status


@pytest.fixture
def flaky_sms(settings):
    """SMS through the test backend that fails as told, so a send can wait in the queue."""
    channels = {
        "sms": {"BACKEND": "tests.flaky.FlakyChannel", "OPTIONS": {"CONTACT_KIND": "phone"}}
    }
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNELS": channels}
    yield
    flaky.failures.clear()


@pytest.fixture
def held_tasks(monkeypatch):
    """django-q2 tasks are held instead of run: a test runs them when it chooses, as a
    worker would after the rest of the world moved on."""
    held = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kwargs: held.append((func, args))
    )

    def run_held():
        """Run the tasks held now; the tasks they queue wait for the next call."""
        batch = held[:]
        held.clear()
        for func, args in batch:
            module, name = func.rsplit(".", 1)
            getattr(importlib.import_module(module), name)(*args)
        return [func.rsplit(".", 1)[1] for func, _args in batch]

    return run_held


def counts():
    """What forecasts and funnels count: entries by item and status, notifications by status."""
    return (
        Counter(StockWaitlist.objects.values_list("product_key", "variant_key", "status")),
        Counter(Notification.objects.values_list("event_id", "channel", "status")),
    )


def guest(variant, email="jisoo@example.com", **kwargs):
    return factories.EntryFactory(
        variant=variant,
        user=None,
        email=email,
        phone="+821012345678",
        time_zone="Asia/Seoul",
        **kwargs,
    )


class TestExport:
    def test_everything_about_one_address(self, variant, restock):
        mine = guest(variant, consent_source="product_page", consent_version="3")
        account = factories.UserFactory(email="Jisoo@Example.com")
        as_user = factories.EntryFactory(variant=variant, user=account)
        factories.EntryFactory(variant=variant, user=None, email="someone@example.com")
        restock(variant, 5)
        data = privacy.export_subscriber_data(email="JISOO@example.com")
        json.dumps(data)  # ready for a file or an HTTP response
        assert data["subject"] == {"email": "JISOO@example.com", "user": None}
        assert {row["id"] for row in data["entries"]} == {str(mine.pk), str(as_user.pk)}
        row = next(row for row in data["entries"] if row["id"] == str(mine.pk))
        assert (row["email"], row["phone"], row["time_zone"]) == (
            "jisoo@example.com",
            "+821012345678",
            "Asia/Seoul",
        )
        assert row["item_name"] == f"{variant.product} – {variant}"
        consent = next(c for c in data["consent"] if c["entry"] == str(mine.pk))
        assert (consent["consent_source"], consent["consent_version"]) == ("product_page", "3")
        assert {n["entry"] for n in data["notifications"]} == {str(mine.pk), str(as_user.pk)}

    def test_by_account(self, user, variant):
        entry = factories.EntryFactory(variant=variant, user=user)
        data = services.export_subscriber_data(user=user)
        assert [row["id"] for row in data["entries"]] == [str(entry.pk)]

    def test_someone_is_needed(self):
        with pytest.raises(ValidationError) as info:
            privacy.export_subscriber_data()
        assert list(info.value.message_dict) == ["email"]


class TestPurchases:
    def test_exported_and_erased_and_the_sale_still_counts(self, user, variant, restock):
        entry = factories.EntryFactory(variant=variant, user=user)
        restock(variant, 1)
        credited = services.record_purchase(variant.product, variant, user=user, order_ref="A-1")
        assert credited.pk == entry.pk
        other = factories.VariantFactory(product=variant.product)
        services.record_purchase(variant.product, other, user=user, order_ref="A-2")
        data = privacy.export_subscriber_data(user=user)
        assert sorted((p["order_ref"], p["attributed"]) for p in data["purchases"]) == [
            ("A-1", True),
            ("A-2", False),
        ]
        assert privacy.erase_subscriber_data(user=user)["purchases"] == 2
        assert not Purchase.objects.filter(user=user).exists()
        assert set(Purchase.objects.values_list("attributed", flat=True)) == {True, False}
        assert all(
            ref.startswith("erased:")
            for ref in Purchase.objects.values_list("order_ref", flat=True)
        )
        assert privacy.export_subscriber_data(user=user)["purchases"] == []

    def test_old_purchase_records_are_anonymised_by_the_purge(self, user, variant):
        services.record_purchase(variant.product, variant, user=user, order_ref="OLD")
        services.record_purchase(variant.product, variant, user=user, order_ref="NEW")
        Purchase.objects.filter(order_ref="OLD").update(
            purchased_at=timezone.now() - timedelta(days=800)
        )
        assert privacy.purge_old_records() == {"deleted": 0, "anonymised": 1}
        assert set(Purchase.objects.values_list("order_ref", "user")) >= {("NEW", user.pk)}
        assert Purchase.objects.filter(user=None, order_ref__startswith="erased:").count() == 1


class TestErase:
    def test_personal_data_goes_and_counts_stay(self, variant, restock):
        notified = guest(variant)
        factories.EntryFactory(variant=variant, user=None, email="other@example.com")
        restock(variant, 1)
        waiting = guest(factories.StockLevelFactory(quantity=0).variant)
        purchased = guest(
            factories.StockLevelFactory(quantity=0).variant,
            status=Status.PURCHASED,
            purchased_at=timezone.now(),
        )
        before_entries, before_notifications = counts()
        assert services.erase_subscriber_data(email="jisoo@example.com") == {
            "entries": 3,
            "consent": 0,
            "notifications": 1,
            "purchases": 0,
        }
        after_entries, after_notifications = counts()
        # Only the entry still in line changed status: nobody can reach it any more.
        moved = Counter({(waiting.product_key, waiting.variant_key, Status.WAITING): 1})
        assert before_entries - moved == after_entries - Counter(
            {(waiting.product_key, waiting.variant_key, Status.CANCELLED): 1}
        )
        assert before_notifications == after_notifications
        keys = set()
        for entry in (notified, waiting, purchased):
            entry.refresh_from_db()
            assert (entry.email, entry.phone, entry.user, entry.locale, entry.time_zone) == (
                "",
                "",
                None,
                "",
                "",
            )
            assert entry.subscriber_key.startswith("erased:")
            keys.add(entry.subscriber_key)
        assert len(keys) == 3  # nothing links the erased rows to each other
        assert (notified.status, purchased.status, waiting.status) == (
            Status.NOTIFIED,
            Status.PURCHASED,
            Status.CANCELLED,
        )
        assert notified.notified_at is not None and notified.created_at is not None
        notification = Notification.objects.get(entry=notified)
        assert notification.subscriber_key == notified.subscriber_key
        assert notification.status == SendStatus.SENT and notification.provider_message_id == ""
        assert privacy.export_subscriber_data(email="jisoo@example.com")["entries"] == []
        assert StockWaitlist.objects.filter(email="other@example.com").count() == 1

    def test_a_queued_retry_is_not_sent_after_erasure(self, flaky_sms, variant, restock):
        entry = guest(variant, channels=["sms"])
        flaky.fail("+821012345678", "transient")
        restock(variant, 5)
        notification = Notification.objects.get(entry=entry)
        assert notification.status == SendStatus.QUEUED
        privacy.erase_subscriber_data(email="jisoo@example.com")
        Notification.objects.update(next_attempt_at=timezone.now())
        from restock_waitlist import dispatch

        dispatch.send_notifications([notification.pk])
        notification.refresh_from_db()
        assert notification.status == SendStatus.SKIPPED
        assert notification.error == privacy.ERASED_NOTE

    def test_more_kinds_of_records_plug_in(self, monkeypatch, variant):
        """The extension point: e.g. the purchase records of the demand module."""
        erased = []

        class Purchases(privacy.DataSection):
            name = "purchases"

            def export(self, subject):
                return [{"entries": len(subject.entry_ids)}]

            def erase(self, subject):
                erased.append(subject.email)
                return 7

        monkeypatch.setattr(privacy, "SECTIONS", [*privacy.SECTIONS, Purchases()])
        guest(variant)
        assert privacy.export_subscriber_data(email="jisoo@example.com")["purchases"] == [
            {"entries": 1}
        ]
        assert privacy.erase_subscriber_data(email="jisoo@example.com")["purchases"] == 7
        assert erased == ["jisoo@example.com"]


class TestCommands:
    def test_export_erase_purge(self, tmp_path, variant, user):
        guest(variant)
        out = StringIO()
        call_command("restock_waitlist_export_subscriber", email="jisoo@example.com", stdout=out)
        assert json.loads(out.getvalue())["entries"][0]["email"] == "jisoo@example.com"
        target = tmp_path / "export.json"
        call_command(
            "restock_waitlist_export_subscriber",
            user=str(user.pk),
            output=str(target),
            stderr=StringIO(),
        )
        assert json.loads(target.read_text())["entries"] == []
        out = StringIO()
        call_command("restock_waitlist_erase_subscriber", email="jisoo@example.com", stdout=out)
        erased = "Erased: 1 entries, 0 consent, 0 notifications, 0 purchases."
        assert out.getvalue().strip() == erased
        out = StringIO()
        call_command("restock_waitlist_purge", stdout=out)
        assert out.getvalue().startswith("Deleted 0 entries")

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({}, "email: Give an email address or a user."),
            ({"email": "nope"}, "email: Enter a valid email address."),
            ({"user": "424242"}, "No user with primary key '424242'."),
        ],
    )
    def test_bad_subjects(self, options, message):
        for command in ("restock_waitlist_export_subscriber", "restock_waitlist_erase_subscriber"):
            with pytest.raises(CommandError, match=message):
                call_command(command, **options, stdout=StringIO())


class TestDeletionsInFlight:
    def test_a_deleted_account_is_anonymised_not_deleted(self, variant):
        user = factories.UserFactory(username="leaving")
        entry = factories.EntryFactory(variant=variant, user=user, status=Status.NOTIFIED)
        user.delete()
        entry.refresh_from_db()
        assert (entry.user, entry.status) == (None, Status.NOTIFIED)
        assert entry.subscriber_key.startswith("erased:")

    def test_deleting_a_user_during_a_wave(self, variant, restock, held_tasks):
        leaving, staying = factories.UserFactory(), factories.UserFactory()
        gone = factories.EntryFactory(variant=variant, user=leaving)
        kept = factories.EntryFactory(variant=variant, user=staying)
        restock(variant, 1)
        assert held_tasks() == ["dispatch_restock"]  # the first wave claims its waiters
        leaving.delete()
        assert held_tasks() == ["send_span"]  # the send runs after the account is gone
        assert [m.to for m in mail.outbox] == [[staying.email]]
        gone.refresh_from_db()
        kept.refresh_from_db()
        # Claimed by the wave before the account went: its queued alert was stopped.
        assert (gone.status, kept.status) == (Status.NOTIFIED, Status.NOTIFIED)
        assert Notification.objects.get(entry=gone).status == SendStatus.SKIPPED
        assert not Task.objects.filter(success=False).exists()

    def test_deleting_a_user_after_the_claim(self, variant, restock, held_tasks, flaky_sms):
        """The account goes between the claim and the send: its queued alert is stopped."""
        leaving = factories.UserFactory()
        entry = factories.EntryFactory(
            variant=variant, user=leaving, channels=["sms"], phone="+821012345678"
        )
        flaky.fail("+821012345678", "transient")
        restock(variant, 1)
        assert held_tasks() == ["dispatch_restock"]
        assert held_tasks() == ["send_span"]
        assert Notification.objects.get(entry=entry).status == SendStatus.QUEUED
        leaving.delete()
        Notification.objects.update(next_attempt_at=timezone.now())
        from restock_waitlist import dispatch

        dispatch.requeue_notifications()
        held_tasks()
        assert Notification.objects.get(entry=entry).status == SendStatus.SKIPPED

    def test_deleting_a_product_during_a_wave(self, variant, restock, held_tasks):
        """The shop deletes the product (its stock goes with it) while chunks are queued."""
        factories.EntryFactory(variant=variant)
        event = restock(variant, 1)
        assert held_tasks() == ["dispatch_restock"]
        variant.product.delete()
        assert held_tasks() == ["send_span"]
        event.refresh_from_db()
        assert event.status == RestockEvent.Status.COMPLETED
        assert mail.outbox == []
        assert not Task.objects.filter(success=False).exists()

    def test_deleting_a_product_whose_stock_stays(self, variant, restock, held_tasks, monkeypatch):
        """A shop whose stock rows outlive the product (another table, another system)."""
        from restock_waitlist.adapters import DefaultAdapter

        entry = factories.EntryFactory(variant=variant)
        restock(variant, 1)
        assert held_tasks() == ["dispatch_restock"]
        monkeypatch.setattr(DefaultAdapter, "products_in_bulk", lambda self, keys: {})
        monkeypatch.setattr(DefaultAdapter, "variants_in_bulk", lambda self, keys: {})
        assert held_tasks() == ["send_span"]
        assert mail.outbox == []
        entry.refresh_from_db()
        assert entry.status == Status.WAITING  # in line for the product, should it come back
        assert held_tasks() == []  # nothing left to retry
        assert not Notification.objects.exclude(status=SendStatus.SKIPPED).exists()

    def test_a_queued_retry_of_a_deleted_product_fails_for_good(
        self, flaky_sms, variant, restock, monkeypatch
    ):
        from restock_waitlist import dispatch
        from restock_waitlist.adapters import DefaultAdapter

        entry = guest(variant, channels=["sms"])
        flaky.fail("+821012345678", "transient")
        restock(variant, 1)
        monkeypatch.setattr(DefaultAdapter, "products_in_bulk", lambda self, keys: {})
        Notification.objects.update(next_attempt_at=timezone.now())
        dispatch.send_notifications(list(Notification.objects.values_list("pk", flat=True)))
        notification = Notification.objects.get(entry=entry)
        assert (notification.status, notification.error) == (
            SendStatus.FAILED,
            "The product no longer exists.",
        )


class TestRetention:
    def age(self, entry, **fields):
        StockWaitlist.objects.filter(pk=entry.pk).update(**fields)

    def test_purges_ended_entries_and_their_logs_older_than_retention(self, variant, restock):
        long_ago = timezone.now() - timedelta(days=800)
        recent = timezone.now() - timedelta(days=10)
        old_notified = factories.EntryFactory(variant=variant)
        restock(variant, 1)
        self.age(old_notified, notified_at=long_ago, created_at=long_ago)
        old_cancelled = factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        self.age(old_cancelled, cancelled_at=long_ago, created_at=long_ago)
        old_expired = guest(variant, status=Status.EXPIRED)
        self.age(old_expired, created_at=long_ago)
        old_waiting = factories.EntryFactory(variant=variant)
        self.age(old_waiting, created_at=long_ago)
        recent_cancelled = factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        self.age(recent_cancelled, cancelled_at=recent, created_at=long_ago)
        old_purchase = guest(variant, email="buyer@example.com", status=Status.PURCHASED)
        self.age(old_purchase, purchased_at=long_ago, created_at=long_ago)
        assert Notification.objects.filter(entry=old_notified).exists()

        assert services.purge_old_records() == {"deleted": 3, "anonymised": 1}
        remaining = set(StockWaitlist.objects.values_list("pk", flat=True))
        assert remaining == {old_waiting.pk, recent_cancelled.pk, old_purchase.pk}
        assert not Notification.objects.filter(entry_id=old_notified.pk).exists()
        old_purchase.refresh_from_db()
        assert (old_purchase.status, old_purchase.email) == (Status.PURCHASED, "")
        assert RestockEvent.objects.exists()  # no personal data: kept
        assert services.purge_old_records() == {"deleted": 0, "anonymised": 0}

    def test_none_keeps_everything(self, settings, variant):
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "RETENTION": None}
        entry = factories.EntryFactory(variant=variant, status=Status.CANCELLED)
        self.age(entry, cancelled_at=timezone.now() - timedelta(days=5000))
        assert privacy.purge_old_records() == {"deleted": 0, "anonymised": 0}
        assert StockWaitlist.objects.filter(pk=entry.pk).exists()

    def test_the_scheduled_task(self, variant):
        from restock_waitlist import tasks

        entry = factories.EntryFactory(variant=variant, status=Status.EXPIRED)
        self.age(entry, created_at=timezone.now() - timedelta(days=731))
        assert tasks.purge_old_records() == {"deleted": 1, "anonymised": 0}


def test_the_migration_renormalises_guest_keys(variant):
    """Guest keys made before 0.2 case-folded ``straße.de`` into ``strasse.de``."""
    migration = importlib.import_module("restock_waitlist.migrations.0003_safety")
    old = factories.EntryFactory(variant=variant, user=None, email="anna@straße.de")
    StockWaitlist.objects.filter(pk=old.pk).update(subscriber_key="email:anna@strasse.de")
    clash = factories.EntryFactory(variant=variant, user=None, email="Kim@Ex.com")
    StockWaitlist.objects.filter(pk=clash.pk).update(subscriber_key="email:kim@ex.com ")
    factories.EntryFactory(variant=variant, user=None, email="kim@ex.com")
    migration.renormalise_guest_addresses(apps, None)
    old.refresh_from_db()
    clash.refresh_from_db()
    assert (old.email, old.subscriber_key) == (
        "anna@xn--strae-oqa.de",
        "email:anna@xn--strae-oqa.de",
    )
    assert clash.subscriber_key == "email:kim@ex.com "  # another active entry has the key
