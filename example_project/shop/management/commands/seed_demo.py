"""Seed the example shop: a catalogue with sold-out variants, demo users and waiters, and a
month of history for the admin's demand dashboard."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from restock_waitlist import reports, services
from restock_waitlist.models import (
    ForecastReport,
    Notification,
    RestockEvent,
    RestockWave,
    StockWaitlist,
)
from shop.models import Product, StockLevel, Variant
from shop.priority import VIP_GROUP

CATALOGUE = [
    ("Canvas Sneaker", "canvas-sneaker", "29.00", ["White", "Black"], ["240", "250", "260", "270"]),
    ("Wool Beanie", "wool-beanie", "15.00", ["Grey", "Navy"], ["One size"]),
    ("Rain Jacket", "rain-jacket", "89.00", ["Yellow"], ["S", "M", "L"]),
    ("Linen Tote", "linen-tote", "35.00", ["Natural"], ["One size"]),
]
SOLD_OUT = {
    ("canvas-sneaker", "Black", "260"),
    ("canvas-sneaker", "White", "250"),
    ("wool-beanie", "Navy", "One size"),
    ("rain-jacket", "Yellow", "M"),
    ("linen-tote", "Natural", "One size"),
}
GUESTS = ["jisoo@example.com", "minho@example.com", "sara@example.com"]
#: Past demand: guests who joined over the last month (a few cancelled since), a restock
#: of the yellow rain jacket twelve days ago (two waves, clicks, purchases) and one of the
#: navy beanie still sending.
HISTORY_DAYS = 30
PAST_RESTOCK = ("rain-jacket", "Yellow", "M")
LIVE_RESTOCK = ("wool-beanie", "Navy", "One size")


class Command(BaseCommand):
    help = (
        "Create the demo catalogue, users (alice is VIP; password 'demo') and waiters. Idempotent."
    )

    @transaction.atomic
    def handle(self, **options):
        vip_group, _ = Group.objects.get_or_create(name=VIP_GROUP)
        users = {}
        for name, is_vip in (("alice", True), ("bob", False), ("chris", False)):
            user, created = User.objects.get_or_create(
                username=name, defaults={"email": f"{name}@example.com"}
            )
            if created:
                user.set_password("demo")
                user.save()
            if is_vip:
                user.groups.add(vip_group)
            users[name] = user
        merchant, created = User.objects.get_or_create(
            username="merchant",
            defaults={"email": "merchant@example.com", "is_staff": True, "is_superuser": True},
        )
        if created:
            merchant.set_password("demo")
            merchant.save()

        sold_out = []
        for name, slug, price, colours, sizes in CATALOGUE:
            product, _ = Product.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "price": Decimal(price),
                    "description": f"The {name.lower()} everyone is waiting for.",
                },
            )
            for colour in colours:
                for size in sizes:
                    variant, _ = Variant.objects.get_or_create(
                        product=product,
                        colour=colour,
                        size=size,
                        defaults={"sku": f"{slug}-{colour}-{size}".lower().replace(" ", "-")},
                    )
                    is_sold_out = (slug, colour, size) in SOLD_OUT
                    StockLevel.objects.get_or_create(
                        variant=variant,
                        warehouse="Seoul",
                        defaults={"num_in_stock": 0 if is_sold_out else 12, "num_allocated": 0},
                    )
                    if is_sold_out:
                        sold_out.append(variant)

        if not StockWaitlist.objects.exists():
            for variant in sold_out:
                services.join_waitlist(
                    variant.product,
                    variant,
                    user=users["bob"],
                    channels=["email", "sms"],
                    phone="+821012345678",
                )
                services.join_waitlist(
                    variant.product, variant, user=users["alice"], channels=["push", "email"]
                )
                for email in GUESTS:
                    entry, _ = services.join_waitlist(
                        variant.product, variant, email=email, consent=True, enforce_limits=False
                    )
                    services.confirm_entry(entry.pk)
        if not RestockEvent.objects.exists():
            seed_history(sold_out)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop ready: {Product.objects.count()} products, "
                f"{len(sold_out)} sold-out variants, {StockWaitlist.objects.count()} waitlist "
                "entries. Log in as alice, bob or merchant (password 'demo')."
            )
        )


def guest(variant, n, joined, **fields):
    email = f"guest{n}@example.com"
    return StockWaitlist.objects.create(
        product_key=str(variant.product_id),
        variant_key=str(variant.pk),
        email=email,
        subscriber_key=f"email:{email}",
        channels=["email"],
        created_at=joined,
        confirmed_at=joined,
        consent_at=joined,
        consent_source="demo",
        locale="ko",
        **fields,
    )


def restock(variant, *, at, waves, told, clicked=0, status, **fields):
    """A restock of ``variant`` at ``at`` whose waves (``[planned]``) told the first
    ``told`` of its waiters, ``clicked`` of whom followed the link."""
    event = RestockEvent.objects.create(
        product_key=str(variant.product_id),
        variant_key=str(variant.pk),
        quantity=sum(waves) // 3,
        previous_quantity=0,
        source=RestockEvent.Source.STOCK_SAVE,
        created_at=at,
        status=status,
        waves_sent=len(waves),
        **fields,
    )
    for number, size in enumerate(waves, start=1):
        RestockWave.objects.create(
            event=event,
            number=number,
            available=size // 3,
            size=size,
            rule="oversubscription",
            inputs={"available": size // 3, "oversubscription": 3.0},
            created_at=at + timedelta(days=number - 1),
        )
    entries = StockWaitlist.objects.waiting_for_restock(event.product_key, event.variant_key)
    for n, entry in enumerate(list(entries[:told])):
        sent = at + timedelta(days=0 if n < waves[0] else 1, minutes=n)
        StockWaitlist.objects.filter(pk=entry.pk).update(
            status=StockWaitlist.Status.NOTIFIED, notified_at=sent, notified_by=event
        )
        Notification.objects.create(
            entry=entry,
            event=event,
            subscriber_key=entry.subscriber_key,
            channel="email",
            wave=1 if n < waves[0] else 2,
            status=Notification.Status.SENT,
            attempts=1,
            created_at=sent,
            sent_at=sent,
            clicked_at=sent + timedelta(minutes=20) if n < clicked else None,
        )
    return event


def seed_history(sold_out):
    """A month of demand the dashboard can show: joins spread over past days, cancellations,
    a finished restock with purchases, one still sending, and daily forecast reports."""
    now = timezone.now()
    by_key = {(v.product.slug, v.colour, v.size): v for v in sold_out}
    for n in range(120):
        day = (n * 7) % HISTORY_DAYS
        variant = sold_out[n % len(sold_out)]
        cancelled = now - timedelta(days=day // 2) if n % 9 == 0 else None
        guest(
            variant,
            n,
            now - timedelta(days=day, hours=n % 11),
            status=StockWaitlist.Status.CANCELLED if cancelled else StockWaitlist.Status.WAITING,
            cancelled_at=cancelled,
            cancelled_by=StockWaitlist.CancelledBy.SHOPPER if cancelled else "",
        )
    jacket = by_key[PAST_RESTOCK]
    past = restock(
        jacket,
        at=now - timedelta(days=12),
        waves=[9, 6],
        told=15,
        clicked=9,
        status=RestockEvent.Status.COMPLETED,
        completed_at=now - timedelta(days=11),
        detail="Sold out during wave 2.",
    )
    for n, entry in enumerate(past.notified_entries.order_by("notified_at")[:5]):
        services.record_purchase(
            jacket.product,
            jacket,
            user=entry.user,
            email=None if entry.user_id else entry.email,
            order_ref=f"DEMO-{n + 1:04d}",
            at=entry.notified_at + timedelta(hours=2),
        )
    restock(
        by_key[LIVE_RESTOCK],
        at=now - timedelta(hours=30),
        waves=[6, 6],
        told=9,
        clicked=3,
        status=RestockEvent.Status.WAITING_NEXT_WAVE,
        next_wave_at=now + timedelta(hours=18),
        detail="Wave 2 sent to up to 6; more are waiting.",
    )
    for days_ago in (2, 1, 0):
        day = timezone.localdate() - timedelta(days=days_ago)
        reports.write_daily_reports(day)
        # By occasion: bulk_create(ignore_conflicts=True) leaves the reports without their pk.
        ForecastReport.objects.filter(
            reason=ForecastReport.Reason.DAILY, occasion=day.isoformat()
        ).update(created_at=now - timedelta(days=days_ago))
