"""Signed, expiring tokens for links in messages: one purpose and one entry each.

A token for one entry is useless for any other entry and for any other purpose: the
entry id and the purpose are inside the signed payload. Signed is not encrypted: anyone
holding a link can read its payload, so a payload holds an entry id (a random UUID) and a
purpose, never an address or a phone number.
"""

import uuid

from django.core import signing
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
    return signing.dumps({"e": entry.pk.hex, "p": purpose}, salt=SALT, compress=True)


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
    return signing.dumps({"n": int(notification_id), "p": PURCHASE}, salt=SALT, compress=True)


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
