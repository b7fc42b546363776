"""Scoped throttles over :mod:`restock_waitlist.limits`, with rates from ``THROTTLE_RATES``.

DRF's own ``DEFAULT_THROTTLE_RATES`` and ``NUM_PROXIES`` are read once at import and trust a
client-sent ``X-Forwarded-For``; these read our settings on every request and count with the
same client address and the same counters as the app's views, so a visitor gets one budget
whichever path they take. A scope set to ``None`` is not throttled.
"""

from rest_framework.throttling import BaseThrottle

from restock_waitlist import limits


class WaitlistRateThrottle(BaseThrottle):
    """Counts per signed-in user, or per client IP (``TRUSTED_PROXY_COUNT``) for guests."""

    scope = None

    def allow_request(self, request, view):
        self.verdict = limits.hit(self.scope, limits.request_ident(request))
        return self.verdict.allowed

    def get_ident(self, request):
        return limits.client_ip(request)

    def wait(self):
        return self.verdict.retry_after


class JoinRateThrottle(WaitlistRateThrottle):
    """Joins (``POST entries/``), by shoppers and guests; shared with the join view."""

    scope = limits.JOIN


class GuestRateThrottle(WaitlistRateThrottle):
    """Requests that carry a guest token."""

    scope = limits.GUEST
