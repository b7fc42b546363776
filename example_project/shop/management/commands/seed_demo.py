"""Seed the example shop: a catalogue with sold-out variants, demo users and waiters."""

from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from restock_waitlist import services
from restock_waitlist.models import StockWaitlist
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
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo shop ready: {Product.objects.count()} products, "
                f"{len(sold_out)} sold-out variants, {StockWaitlist.objects.count()} waitlist "
                "entries. Log in as alice, bob or merchant (password 'demo')."
            )
        )
