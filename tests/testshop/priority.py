def tier_from_username(user):
    """``PRIORITY`` for tests: users named ``vip…`` are tier 1, everyone else tier 0."""
    return 1 if user is not None and user.username.startswith("vip") else 0
