"""Absolute links for messages: purchase (attributed), confirm, unsubscribe.

Messages leave the request cycle, so links are made absolute with
``RESTOCK_WAITLIST["SITE_URL"]`` (e.g. ``"https://shop.example"``). Every link a message
carries is built here from a :mod:`~restock_waitlist.tokens` token naming an entry: no link
holds an address or a phone number (they end up in server logs, mail scanners and
``Referer`` headers).
"""

from urllib.parse import urlencode, urljoin, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from restock_waitlist import tokens
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings

#: The query parameter that marks a visit as coming from a restock alert.
REF_VALUE = "restock"


def absolute(url):
    """``url`` made absolute against ``SITE_URL``; already absolute URLs pass through."""
    if urlsplit(url).scheme:
        return url
    site = app_settings.SITE_URL
    if not site:
        raise ImproperlyConfigured(
            "RESTOCK_WAITLIST['SITE_URL'] must be set (e.g. 'https://shop.example') "
            "to put links in messages."
        )
    return urljoin(site.rstrip("/") + "/", url.lstrip("/"))


def purchase_path(entry):
    """The item's page with ``?ref=restock&t=<signed token>`` for attribution, as the shop's
    URL gives it (relative, usually): for links on the shop's own pages."""
    url = get_adapter().product_url(entry.product, entry.variant)
    separator = "&" if "?" in url else "?"
    query = urlencode({"ref": REF_VALUE, "t": tokens.entry_token(entry, tokens.PURCHASE)})
    return f"{url}{separator}{query}"


def purchase_url(entry):
    """:func:`purchase_path` made absolute, for messages."""
    return absolute(purchase_path(entry))


def confirm_url(entry):
    token = tokens.entry_token(entry, tokens.CONFIRM)
    return absolute(reverse("restock_waitlist:confirm", args=[token]))


def unsubscribe_path(entry):
    """The page that cancels this one entry, for links on the shop's own pages."""
    token = tokens.entry_token(entry, tokens.MANAGE)
    return reverse("restock_waitlist:unsubscribe", args=[token])


def unsubscribe_url(entry):
    """:func:`unsubscribe_path` made absolute; also the one-click ``List-Unsubscribe-Post``
    target."""
    return absolute(unsubscribe_path(entry))


def unsubscribe_all_url(entry):
    """Cancels every entry of this entry's email address; the link names the entry, never
    the address."""
    token = tokens.entry_token(entry, tokens.UNSUBSCRIBE_ALL)
    return absolute(reverse("restock_waitlist:unsubscribe_all", args=[token]))
