from django.utils.translation import gettext as _

from restock_waitlist.adapters import DefaultAdapter

VIP_GROUP = "VIP"


def membership_tier(user):
    """``PRIORITY``: members of the "VIP" group are served first (tier 1)."""
    if user is None:
        return 0
    return 1 if user.groups.filter(name=VIP_GROUP).exists() else 0


class ShopAdapter(DefaultAdapter):
    """``ADAPTER``: the default reading of the catalogue, with the shop's tiers named."""

    def tier_name(self, tier):
        return _("VIP") if tier == 1 else super().tier_name(tier)
