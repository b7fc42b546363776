"""Scoped throttles whose rates come from ``RESTOCK_WAITLIST["THROTTLE_RATES"]``.

DRF's own ``DEFAULT_THROTTLE_RATES`` is read once at import; these read ours on every
request, so ``override_settings`` and per-deployment settings just work. A scope set to
``None`` (or left out) is not throttled.
"""

from rest_framework.throttling import SimpleRateThrottle

from restock_waitlist.conf import app_settings


class WaitlistRateThrottle(SimpleRateThrottle):
    """Counts per signed-in user, or per client address for guests."""

    def get_rate(self):
        return (app_settings.THROTTLE_RATES or {}).get(self.scope)

    def get_cache_key(self, request, view):
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class JoinRateThrottle(WaitlistRateThrottle):
    """Joins (``POST entries/``), by shoppers and guests."""

    scope = "restock_waitlist_join"


class GuestRateThrottle(WaitlistRateThrottle):
    """Requests that carry a guest token."""

    scope = "restock_waitlist_guest"
