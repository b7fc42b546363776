"""Signed, expiring tokens for links in messages: one purpose, one entry (or one email) each.

A token for one entry is useless for any other entry and for any other purpose: the
entry id and the purpose are inside the signed payload.
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
#: The purchase link of a notification, for attribution.
PURCHASE = "purchase"
#: Cancel every entry of one email address.
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


def email_token(email):
    """A token to cancel every entry of one email address."""
    return signing.dumps({"m": email.casefold(), "p": UNSUBSCRIBE_ALL}, salt=SALT, compress=True)


def email_from_token(token):
    payload = _load(token, UNSUBSCRIBE_ALL)
    if not isinstance(payload.get("m"), str):
        raise BadToken(_("The link is not valid."))
    return payload["m"]


def _load(token, purpose):
    try:
        payload = signing.loads(str(token), salt=SALT, max_age=max_age_for(purpose))
    except signing.SignatureExpired as exc:
        raise BadToken(_("The link has expired.")) from exc
    except signing.BadSignature as exc:
        raise BadToken(_("The link is not valid.")) from exc
    if not isinstance(payload, dict) or payload.get("p") != purpose:
        raise BadToken(_("The link is not valid."))
    return payload
