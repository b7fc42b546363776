from restock_waitlist.adapters import DefaultAdapter


def tier_from_username(user):
    """``PRIORITY`` for tests: users named ``vip…`` are tier 1, everyone else tier 0."""
    return 1 if user is not None and user.username.startswith("vip") else 0


class NamedTiersAdapter(DefaultAdapter):
    """``ADAPTER`` for tests: tier 1 is "VIP", as a shop with memberships names it."""

    def tier_name(self, tier):
        return "VIP" if tier == 1 else super().tier_name(tier)


def broken(user):
    """A ``PRIORITY`` with a bug in it."""
    raise KeyError("membership")


def too_high(user):
    """A ``PRIORITY`` returning a tier a ``SmallIntegerField`` cannot hold."""
    return 100_000


NOT_CALLABLE = "gold"
