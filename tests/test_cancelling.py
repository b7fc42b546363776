"""One cancel path: every way an entry is cancelled goes through ``services.cancel_entries``,
records who cancelled it and sends ``waitlist_left`` once per entry after the commit; a
merchant re-opens only what a merchant may."""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission

from restock_waitlist import links, services, signals, tokens
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status
By = StockWaitlist.CancelledBy


@pytest.fixture
def left():
    """Entries ``waitlist_left`` was sent for."""
    received = []

    def receiver(sender, entry, **kwargs):
        received.append(entry.pk)

    signals.waitlist_left.connect(receiver)
    yield received
    signals.waitlist_left.disconnect(receiver)


def merchant_client(client):
    merchant = factories.UserFactory(username="merchant", is_staff=True)
    merchant.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_stockwaitlist", "change_stockwaitlist"])
    )
    client.force_login(merchant)
    return client


def shopper_cancels(client, user, entries):
    services.leave_waitlist(entries[0], user=user)


def storefront_cancel(client, user, entries):
    client.force_login(user)
    client.post("/waitlist/cancel/", {"entry": str(entries[0].pk)})


def api_cancel(client, user, entries):
    client.force_login(user)
    client.delete(f"/api/waitlist/entries/{entries[0].pk}/")


def guest_token_cancel(client, user, entries):
    token = tokens.entry_token(entries[0], tokens.MANAGE)
    client.delete(f"/api/waitlist/entries/{entries[0].pk}/?token={token}")


def unsubscribe_link(client, user, entries):
    client.post(links.unsubscribe_path(entries[0]))


def unsubscribe_all_link(client, user, entries):
    client.post(urlsplit(links.unsubscribe_all_url(entries[0])).path)


def admin_action(client, user, entries):
    merchant_client(client).post(
        "/admin/restock_waitlist/stockwaitlist/",
        {"action": "cancel_selected", "_selected_action": [str(e.pk) for e in entries]},
    )


def bulk(client, user, entries):
    services.cancel_entries(
        StockWaitlist.objects.filter(pk__in=[e.pk for e in entries]), by=By.MERCHANT
    )


@pytest.mark.parametrize(
    ("cancel", "guest", "count", "by"),
    [
        (shopper_cancels, False, 1, By.SHOPPER),
        (storefront_cancel, False, 1, By.SHOPPER),
        (api_cancel, False, 1, By.SHOPPER),
        (guest_token_cancel, True, 1, By.SHOPPER),
        (unsubscribe_link, True, 1, By.SHOPPER),
        (unsubscribe_all_link, True, 2, By.SHOPPER),
        (admin_action, False, 2, By.MERCHANT),
        (bulk, False, 2, By.MERCHANT),
    ],
)
def test_every_cancel_sends_waitlist_left_once_per_entry(
    cancel, guest, count, by, client, user, variant, left, django_capture_on_commit_callbacks
):
    other = factories.VariantFactory(product=variant.product)
    owner = {"user": None, "email": "guest@example.com"} if guest else {"user": user}
    entries = [factories.EntryFactory(variant=v, **owner) for v in (variant, other)]
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client, user, entries)
    cancelled = StockWaitlist.objects.filter(status=Status.CANCELLED)
    assert sorted(left) == sorted(cancelled.values_list("pk", flat=True))
    assert len(left) == count
    assert set(cancelled.values_list("cancelled_by", flat=True)) == {by}
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client, user, entries)  # again: nothing more is sent
    assert len(left) == count


class TestReopen:
    def test_notified_and_merchant_cancelled_entries_go_back_to_their_place(self, variant):
        first = factories.EntryFactory(variant=variant, status=Status.NOTIFIED)
        second = factories.EntryFactory(variant=variant)
        services.cancel_entries(StockWaitlist.objects.filter(pk=second.pk), by=By.MERCHANT)
        third = factories.EntryFactory(variant=variant)
        reopened = services.reopen_entries(
            StockWaitlist.objects.filter(pk__in=[first.pk, second.pk])
        )
        assert reopened == 2
        for entry in (first, second):
            entry.refresh_from_db()
            assert (entry.status, entry.cancelled_at, entry.cancelled_by) == (
                Status.WAITING,
                None,
                "",
            )
        positions = [services.waitlist_position(e) for e in (first, second, third)]
        assert positions == [1, 2, 3]

    def test_a_shoppers_own_cancel_or_an_unconfirmed_guest_stays_as_it_is(self, user, variant):
        mine = factories.EntryFactory(variant=variant, user=user)
        services.leave_waitlist(mine, user=user)
        expired = factories.EntryFactory(
            variant=variant, user=None, email="late@example.com", status=Status.EXPIRED
        )
        bought = factories.EntryFactory(variant=variant, status=Status.PURCHASED)
        entries = StockWaitlist.objects.filter(pk__in=[mine.pk, expired.pk, bought.pk])
        assert services.reopen_entries(entries) == 0
        assert sorted(entries.values_list("status", flat=True)) == sorted(
            [Status.CANCELLED, Status.EXPIRED, Status.PURCHASED]
        )

    def test_not_when_the_subscriber_has_joined_again(self, user, variant):
        old = factories.EntryFactory(variant=variant, user=user, status=Status.NOTIFIED)
        factories.EntryFactory(variant=variant, user=user)  # joined again since
        assert services.reopen_entries(StockWaitlist.objects.filter(pk=old.pk)) == 0
        old.refresh_from_db()
        assert old.status == Status.NOTIFIED
