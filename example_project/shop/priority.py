VIP_GROUP = "VIP"


def membership_tier(user):
    """``PRIORITY``: members of the "VIP" group are served first (tier 1)."""
    if user is None:
        return 0
    return 1 if user.groups.filter(name=VIP_GROUP).exists() else 0
