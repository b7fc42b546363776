"""Abuse limits: who is asking (one client-address rule for views and API) and how often.

Counters live in Django's cache under a salted hash of what they count, so the cache never
holds an address or an IP in clear. Each counter is a fixed window that starts with its
first hit and is bumped with the cache's atomic ``incr``: concurrent requests cannot slip
past it on Redis or Memcached (Django's local-memory cache counts per process).
"""

import ipaddress
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from restock_waitlist.conf import DEFAULTS, app_settings

#: Join requests per signed-in user, or per client IP for guests (views and API).
JOIN = "restock_waitlist_join"
#: New guest entries, and so confirmation emails, per email address (never shown).
ADDRESS = "restock_waitlist_address"
#: Requests carrying a guest's manage token, per client IP (API).
GUEST = "restock_waitlist_guest"
SCOPES = (JOIN, ADDRESS, GUEST)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: IPv6 clients are counted per /64, the block one subscriber line usually gets.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float | None = None


ALLOWED = Verdict(True)


def client_ip(request):
    """The client's address: ``REMOTE_ADDR``, or with ``TRUSTED_PROXY_COUNT`` proxies in
    front, the ``X-Forwarded-For`` entry the outermost trusted proxy added. Entries a client
    sent itself sit further left and are never read."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return remote


def ip_bucket(address):
    """The bucket an address is counted in: itself, or its /64 for IPv6. A port some
    proxies append (``203.0.113.9:51234``, ``[2001:db8::1]:443``) is dropped: the client
    picks its own port."""
    host = address.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def request_ident(request):
    """Whom a request counts against: the signed-in user, else the client's IP bucket."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{ip_bucket(client_ip(request))}"


def rate(scope):
    """``(requests, seconds)`` of a scope, or ``None`` when it is off. ``THROTTLE_RATES``
    overlays the defaults: a scope left out keeps its default, ``None`` turns it off."""
    rates = app_settings.THROTTLE_RATES
    rates = {**DEFAULTS["THROTTLE_RATES"], **(rates if isinstance(rates, dict) else {})}
    value = rates.get(scope)
    if not value:
        return None
    count, _slash, period = value.partition("/")
    return int(count), PERIODS[period[0]]


def hit(scope, ident):
    """Count one request of ``ident`` in ``scope``; whether it is within the rate."""
    limit = rate(scope)
    if limit is None:
        return ALLOWED
    count_allowed, period = limit
    digest = salted_hmac(
        "restock_waitlist.limits", f"{scope}\0{ident}", algorithm="sha256"
    ).hexdigest()[:32]
    key, started_key = f"restock_waitlist:limit:{digest}", f"restock_waitlist:limit:{digest}:t"
    now = time.time()
    # ``incr`` counts atomically within a window; when there is none, ``add`` starts one
    # (once: a concurrent first hit fails to add and counts on the next ``incr``). Within a
    # window that is one cache call (two on Django's Redis cache, which checks the key first).
    for _attempt in range(2):
        try:
            count = cache.incr(key)
            break
        except ValueError:
            if cache.add(key, 1, timeout=period):
                cache.set(started_key, now, timeout=period)
                count = 1
                break
    else:
        return ALLOWED
    if count <= count_allowed:
        return ALLOWED
    started = cache.get(started_key) or now
    return Verdict(False, retry_after=max(1.0, started + period - now))


def join_request(request):
    """The ``restock_waitlist_join`` verdict for this request, shared by views and API."""
    return hit(JOIN, request_ident(request))


def new_guest_entry(address_key):
    """Count one new guest entry for this address (``restock_waitlist_address``)."""
    return hit(ADDRESS, f"email:{address_key}")
