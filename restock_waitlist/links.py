"""Links for messages and pages: purchase (through the click counter), confirm, unsubscribe.

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


def item_path(product, variant=None):
    """The item's page with ``?ref=restock``, as the shop's URL gives it (relative, usually)."""
    url = get_adapter().product_url(product, variant)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'ref': REF_VALUE})}"


def purchase_path(entry):
    """:func:`item_path` of the entry's item: for links on the shop's own pages."""
    return item_path(entry.product, entry.variant)


def click_url(notification_id):
    """A message's purchase link: through the app, which counts the first click on the
    notification and redirects to the item (:func:`click_target`)."""
    token = tokens.notification_token(notification_id)
    return absolute(reverse("restock_waitlist:click", args=[token]))


def click_target(notification):
    """Where a purchase link leads: the page of the item restocked with ``?ref=restock``,
    or the site's root when the notification (or its product) is gone. Never elsewhere."""
    event = notification.event if notification is not None else None
    if event is None or event.product is None:
        return "/"
    return item_path(event.product, event.variant)


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
