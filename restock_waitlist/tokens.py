"""Signed, expiring tokens for links in messages: one purpose and one entry each.

A token for one entry is useless for any other entry and for any other purpose: the
entry id and the purpose are inside the signed payload. Signed is not encrypted: anyone
holding a link can read its payload, so a payload holds an entry id (a random UUID) and a
purpose, never an address or a phone number.
"""

import functools
import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings
from django.core import signing
from django.utils.encoding import force_bytes
from django.utils.translation import gettext as _

from restock_waitlist.conf import app_settings

SALT = "restock_waitlist.tokens"

#: Manage (view, cancel) one entry: guests' API access and the unsubscribe link.
MANAGE = "manage"
#: Confirm a guest's pending entry (double opt-in).
CONFIRM = "confirm"
#: The purchase link of a notification: counts its click, then leads to the item.
PURCHASE = "purchase"
#: Cancel every entry of the address of one entry.
UNSUBSCRIBE_ALL = "unsubscribe_all"


class BadToken(Exception):
    """The token is malformed, tampered with, expired, or for another purpose."""


def max_age_for(purpose):
    if purpose == CONFIRM:
        return app_settings.CONFIRMATION_EXPIRY
    return app_settings.TOKEN_MAX_AGE


def entry_token(entry, purpose):
    """A token for ``purpose`` on this one entry."""
    return _dumps({"e": entry.pk.hex, "p": purpose})


def entry_id_from_token(token, purpose):
    """The entry id a token was made for; raises :class:`BadToken` otherwise."""
    payload = _load(token, purpose)
    try:
        return uuid.UUID(hex=payload["e"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadToken(_("The link is not valid.")) from exc


def legacy_email_from_token(token):
    """The address in an unsubscribe-all link made before 0.2 (which carried it in clear),
    or ``None`` for any other token; such links work until ``TOKEN_MAX_AGE`` ends them."""
    try:
        payload = _load(token, UNSUBSCRIBE_ALL)
    except BadToken:
        return None
    email = payload.get("m")
    return email if isinstance(email, str) and "e" not in payload else None


def notification_token(notification_id):
    """The token of a notification's purchase link: the notification id, signed, and nothing
    about the subscriber."""
    return _dumps({"n": int(notification_id), "p": PURCHASE})


def notification_id_from_token(token, *, expired_ok=False):
    """The notification id a purchase-link token was made for; raises :class:`BadToken`
    otherwise. With ``expired_ok``, a genuine but expired token still gives its id (the link
    may lead to the item, but no longer counts a click)."""
    payload = _load(token, PURCHASE, check_age=not expired_ok)
    notification_id = payload.get("n")
    if not isinstance(notification_id, int) or isinstance(notification_id, bool):
        raise BadToken(_("The link is not valid."))
    return notification_id


def _load(token, purpose, check_age=True):
    max_age = max_age_for(purpose) if check_age else None
    try:
        payload = signing.loads(str(token), salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise BadToken(_("The link has expired.")) from exc
    except signing.BadSignature as exc:
        raise BadToken(_("The link is not valid.")) from exc
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        raise BadToken(_("The link is not valid."))
    return payload


@functools.lru_cache(maxsize=4)
def _primed_mac(secret):
    """An HMAC keyed as Django's signer keys it for ``SALT``; deriving the key and the HMAC
    pads costs as much as signing a token, so a process does it once per secret."""
    key = hashlib.sha256(force_bytes(SALT + "signer") + force_bytes(secret)).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


#: ``json.dumps(..., separators=(",", ":"))`` builds this encoder on every call.
_json = json.JSONEncoder(separators=(",", ":")).encode

#: ``(second, its base 62)``: the timestamp of every token signed within that second.
_stamp = (None, "")


def _timestamp():
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, signing.b62_encode(now))
    return _stamp[1]


def _dumps(payload):
    """``signing.dumps(payload, salt=SALT)``, the same token byte for byte (so
    ``signing.loads`` checks it, with ``SECRET_KEY_FALLBACKS``), at a fraction of the cost:
    a dispatch wave signs two or three links per message."""
    data = signing.b64_encode(_json(payload).encode("latin-1"))
    value = f"{data.decode()}:{_timestamp()}"
    mac = _primed_mac(settings.SECRET_KEY).copy()
    mac.update(value.encode())
    return f"{value}:{signing.b64_encode(mac.digest()).decode()}"
