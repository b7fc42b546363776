"""Links for messages and pages: purchase (through the click counter), confirm, unsubscribe.

Messages leave the request cycle, so links are made absolute with
``RESTOCK_WAITLIST["SITE_URL"]`` (e.g. ``"https://shop.example"``). Every link a message
carries is built here from a :mod:`~restock_waitlist.tokens` token naming an entry: no link
holds an address or a phone number (they end up in server logs, mail scanners and
``Referer`` headers).
"""

import contextlib
import functools
import threading
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_script_prefix, get_urlconf, reverse

from restock_waitlist import tokens
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings

#: The query parameter that marks a visit as coming from a restock alert.
REF_VALUE = "restock"

#: Stands for the token while a link's URL is reversed once (see :func:`token_url`).
TOKEN_MARK = "restock_waitlist_token"


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
    return token_url("restock_waitlist:click", tokens.notification_token(notification_id))


def click_target(notification):
    """Where a purchase link leads: the page of the item restocked with ``?ref=restock``,
    or the site's root when the notification (or its product) is gone. Never elsewhere."""
    event = notification.event if notification is not None else None
    if event is None or event.product is None:
        return "/"
    return item_path(event.product, event.variant)


def confirm_url(entry):
    return token_url("restock_waitlist:confirm", tokens.entry_token(entry, tokens.CONFIRM))


def unsubscribe_path(entry):
    """The page that cancels this one entry, for links on the shop's own pages."""
    token = tokens.entry_token(entry, tokens.MANAGE)
    return reverse("restock_waitlist:unsubscribe", args=[token])


def unsubscribe_url(entry):
    """:func:`unsubscribe_path` made absolute; also the one-click ``List-Unsubscribe-Post``
    target."""
    return token_url("restock_waitlist:unsubscribe", tokens.entry_token(entry, tokens.MANAGE))


def unsubscribe_all_url(entry):
    """Cancels every entry of this entry's email address; the link names the entry, never
    the address."""
    token = tokens.entry_token(entry, tokens.UNSUBSCRIBE_ALL)
    return token_url("restock_waitlist:unsubscribe_all", token)


def token_url(view_name, token):
    """The absolute URL of ``view_name`` for ``token``: the same as ``absolute(reverse(...))``
    (tokens hold only characters URLs keep as they are), reversed once per process and
    configuration rather than once per link: a wave makes two or three links per message."""
    fixed = getattr(_fixed, "around", None)
    if fixed is None:
        prefix, suffix = _current_around(view_name)
    else:
        if view_name not in fixed:
            fixed[view_name] = _current_around(view_name)
        prefix, suffix = fixed[view_name]
    return f"{prefix}{token}{suffix}"


#: The views' URLs around their tokens inside :func:`fixed_configuration`, in this thread.
_fixed = threading.local()


@contextlib.contextmanager
def fixed_configuration():
    """Within the block, this thread's links are made for the URL configuration it had at
    the first link of each view: a send batch's hundreds of links skip reading the
    configuration (the urlconf, the script prefix, ``SITE_URL``) for each, about half of
    what a link costs."""
    outer = getattr(_fixed, "around", None)
    _fixed.around = {} if outer is None else outer
    try:
        yield
    finally:
        _fixed.around = outer


def _current_around(view_name):
    return _around_token(
        view_name, get_urlconf(), settings.ROOT_URLCONF, get_script_prefix(), app_settings.SITE_URL
    )


@functools.lru_cache(maxsize=64)
def _around_token(view_name, urlconf, root_urlconf, script_prefix, site_url):
    """``(before, after)`` the token in the view's absolute URL; the arguments after the
    first are the cache key (all that the URL depends on)."""
    url = absolute(reverse(view_name, args=[TOKEN_MARK], urlconf=urlconf))
    before, _mark, after = url.rpartition(TOKEN_MARK)
    return before, after
