"""What the "Notify me" button shows a visitor: computed here, rendered by the template tag.

A button costs at most two queries (the item's stock, the visitor's entry); a list page
calls :func:`preload` (or ``{% restock_preload %}``) once and all its buttons cost two
queries together. Results are kept on the request, so a page never asks twice.
"""

import re
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from restock_waitlist import addresses, contacts, links
from restock_waitlist import channels as registry
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings
from restock_waitlist.models import StockWaitlist

IN_STOCK, JOIN, SUBSCRIBED, NOTIFIED = "in_stock", "join", "subscribed", "notified"

#: Entry statuses a button can show: in line, or told about the restock.
SHOWN_STATUSES = (*StockWaitlist.ACTIVE_STATUSES, StockWaitlist.Status.NOTIFIED)

#: ``consent_source`` of the button's form unless the template names its own.
DEFAULT_SOURCE = "notify_button"
#: What a form may call itself in the consent record.
SOURCE_RE = re.compile(r"^[\w.:-]{1,64}$")

REQUEST_CACHE = "_restock_waitlist_storefront"
UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class Loaded:
    """What one item costs a query to learn: its stock and the visitor's latest entry."""

    available: int
    entry: StockWaitlist | None


class PageCache:
    """The states loaded during one request, and the channels its visitor is offered."""

    def __init__(self, user):
        self.user = user
        self.items = {}
        self._offered = None

    def offered(self):
        """The enabled channels this visitor can use, asked of each channel once a request."""
        if self._offered is None:
            self._offered = [c for c in registry.enabled_channels() if c.offered_to(self.user)]
        return self._offered


@dataclass
class Button:
    """Everything the button template needs for one product or variant."""

    state: str
    product: object
    variant: object
    product_key: str
    variant_key: str
    dom_id: str
    item_name: str
    entry: StockWaitlist | None = None
    position: int | None = None
    buy_url: str = ""
    channels: tuple = ()
    default_channels: tuple = ()
    is_guest: bool = True
    asks_phone: bool = False
    #: What a refused form held (no JavaScript): ``{"email", "phone"}``, shown again.
    submitted: dict | None = None

    @property
    def channel_labels(self):
        """The offered channels' labels in one line, for the consent wording."""
        return ", ".join(str(label) for _name, label in self.channels)

    @property
    def phone_hint(self):
        """How to write the number, in the format the shop's ``PHONE_REGION`` reads."""
        return addresses.phone_hint(app_settings.PHONE_REGION)

    @property
    def position_markup(self):
        """The place in line in a span that the script can update in place."""
        return format_html('<span data-rw-position="">{}</span>', self.position or "")


def visitor(request):
    """The signed-in user, or ``None`` for a guest (or no request at all)."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def page_cache(request):
    user = visitor(request)
    cache = getattr(request, REQUEST_CACHE, None) if request is not None else None
    if cache is None or cache.user != user:
        cache = PageCache(user)
        if request is not None:
            setattr(request, REQUEST_CACHE, cache)
    return cache


def item_keys(item, adapter=None):
    """``(product_key, variant_key)`` of a product, a variant or a ``(product, variant)`` pair."""
    adapter = adapter or get_adapter()
    if isinstance(item, tuple):
        product, variant = item
        return adapter.product_key(product), adapter.variant_key(variant)
    variant_model = adapter.variant_model
    if variant_model is not None and isinstance(item, variant_model):
        return adapter.product_key_of_variant(item), adapter.variant_key(item)
    return adapter.product_key(item), ""


def preload(request, items):
    """Load the button states of ``items`` (products, variants or pairs) for this request.

    Two queries however many items: their stock, and the signed-in visitor's entries for
    them with their places in line (none for guests). Items already loaded cost nothing.
    """
    adapter = get_adapter(request)
    cache = page_cache(request)
    missing = {item_keys(item, adapter) for item in items} - cache.items.keys()
    if missing:
        quantities = adapter.available_quantities(missing)
        entries = visitor_entries(cache.user, missing)
        for key in missing:
            cache.items[key] = Loaded(quantities.get(key, 0), entries.get(key))
    return cache


def visitor_entries(user, keys):
    """``{(product_key, variant_key): entry}``: the user's active entry for each item, else
    their latest notified one. One query, places in line included; none for guests.

    Guests are never recognised from the session: a button must not tell whoever types an
    address whether that address is on the list.
    """
    if user is None or not keys:
        return {}
    rows = (
        StockWaitlist.objects.with_positions()
        .filter(
            user=user,
            product_key__in={product_key for product_key, _v in keys},
            variant_key__in={variant_key for _p, variant_key in keys},
            status__in=SHOWN_STATUSES,
        )
        .order_by("-created_at")
    )
    found = {}
    for entry in rows:
        key = (entry.product_key, entry.variant_key)
        if key not in keys:
            continue
        current = found.get(key)
        if current is None or (entry.is_active and not current.is_active):
            found[key] = entry
    return found


def offered_channels(request, cache=None):
    """``[(name, label)]``: the shop's enabled channels this visitor can use, as each
    channel's :meth:`~restock_waitlist.channels.base.BaseChannel.offered_to` decides (push,
    for instance, only to a signed-in user with a device)."""
    cache = cache or page_cache(request)
    return [(channel.name, channel.label) for channel in cache.offered()]


def asks_phone(cache):
    """Whether the form asks for a phone number: a phone channel is offered and the visitor
    has no number on their account (guests never do)."""
    if not any(channel.contact_kind == contacts.PHONE for channel in cache.offered()):
        return False
    return cache.user is None or not get_adapter().user_phone_numbers([cache.user])


def button_for(request, product, variant=None):
    """The :class:`Button` for ``product`` (or one ``variant`` of it) and this visitor."""
    adapter = get_adapter(request)
    key = (adapter.product_key(product), adapter.variant_key(variant))
    cache = preload(request, [(product, variant)])
    loaded = cache.items[key]
    entry = loaded.entry
    if entry is not None:
        # The caller holds the catalogue objects: links and names cost no query.
        entry._product_cache, entry._variant_cache = product, variant
    button = Button(
        state=state_of(loaded),
        product=product,
        variant=variant,
        product_key=key[0],
        variant_key=key[1],
        dom_id="restock-" + UNSAFE_ID_CHARS.sub("", f"{key[0]}-{key[1] or 'any'}"),
        item_name=adapter.display_name(product, variant),
        entry=entry,
        is_guest=cache.user is None,
    )
    if button.state == SUBSCRIBED:
        button.position = entry.position
    elif button.state == NOTIFIED:
        button.buy_url = links.purchase_path(entry)
    if button.state in (JOIN, SUBSCRIBED):
        # A subscribed user's block carries the join form too, to show it again on cancel.
        button.channels = tuple(offered_channels(request, cache))
        names = [name for name, _label in button.channels]
        defaults = [name for name in app_settings.DEFAULT_CHANNELS if name in names]
        button.default_channels = tuple(defaults or names[:1])
        button.asks_phone = asks_phone(cache)
        submitted = take_submission(request, key) if button.state == JOIN else None
        if submitted is not None:
            chosen = [name for name in submitted["channels"] if name in names]
            button.default_channels = tuple(chosen or button.default_channels)
            button.submitted = submitted
    return button


#: The session key under which a refused no-JavaScript form waits for its page.
SUBMISSION_KEY = "restock_waitlist_submission"


def remember_submission(request, data):
    """Keep a refused form's choices for the page it goes back to (post/redirect/get), so
    the shopper corrects the one field named instead of filling the form again."""
    session = getattr(request, "session", None)
    if session is None:
        return
    session[SUBMISSION_KEY] = {
        "item": [str(data.get("product", "")), str(data.get("variant", ""))],
        "channels": data.getlist("channels")[:10],
        "email": data.get("email", "")[:254],
        "phone": data.get("phone", "")[:32],
    }


def take_submission(request, key):
    """The refused form of this item, once; ``None`` without one."""
    session = getattr(request, "session", None)
    if session is None or SUBMISSION_KEY not in session:
        return None
    if session[SUBMISSION_KEY].get("item") != [str(key[0]), str(key[1])]:
        return None
    return session.pop(SUBMISSION_KEY)


def state_of(loaded):
    """In stock: ``notified`` if the visitor was told, else ``in_stock``. Sold out:
    ``subscribed`` while in line, else ``join`` (a notified shopper who missed out may
    join again)."""
    entry = loaded.entry
    if loaded.available > 0:
        if entry is not None and entry.status == StockWaitlist.Status.NOTIFIED:
            return NOTIFIED
        return IN_STOCK
    if entry is not None and entry.is_active:
        return SUBSCRIBED
    return JOIN


def joined_message(item_name, *, is_guest, created=True, position=None):
    """What a shopper reads after joining, on the page (no JavaScript) or in the live status.

    A guest reads the same words whether or not the address was already on the list.
    """
    if is_guest:
        if app_settings.GUEST_DOUBLE_OPT_IN:
            return _(
                "Check your inbox and follow the link to confirm your alert for %(item)s. "
                "If you have confirmed it already, there is nothing more to do."
            ) % {"item": item_name}
        return _("Thank you: we will let you know when %(item)s is back in stock.") % {
            "item": item_name
        }
    if created:
        message = _("You're on the list for %(item)s. You are #%(position)s in line.")
    else:
        message = _("You were already on the list for %(item)s. You are #%(position)s in line.")
    return message % {"item": item_name, "position": position}


def throttled_message():
    return _("Too many requests from this connection. Please try again later.")


def cancelled_message(item_name):
    return _("Your alert for %(item)s is cancelled.") % {"item": item_name}


#: Where the script puts the place in line in :func:`script_messages`.
POSITION_PLACEHOLDER = "{position}"


def script_messages(button):
    """The status lines the script announces, in the page's language, by outcome."""
    return {
        "sending": _("Sending…"),
        "error": _("Something went wrong. Please try again."),
        "choose": _("Choose at least one way to be notified."),
        "joined": joined_message(
            button.item_name, is_guest=False, created=True, position=POSITION_PLACEHOLDER
        ),
        "already": joined_message(
            button.item_name, is_guest=False, created=False, position=POSITION_PLACEHOLDER
        ),
        "guest": joined_message(button.item_name, is_guest=True),
        "cancelled": cancelled_message(button.item_name),
    }
