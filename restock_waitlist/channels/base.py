"""The shape every channel backend fills in, after django-anymail's base backend.

A channel describes itself (:attr:`~BaseChannel.contact_kind`, :attr:`~BaseChannel.label`,
:attr:`~BaseChannel.quiet_hours`, :meth:`~BaseChannel.offered_to`), so nothing outside it
keeps a list of channel names. Dispatch hands a channel a list of :class:`Outgoing`
messages and gets back one :class:`Result` per notification, as the provider takes them:
:meth:`BaseChannel.send_stream` yields ``{notification_id: Result}`` dicts and dispatch
records each one before the next, so a worker that dies repeats only what it had not
recorded. The base class sends one by one through three small steps a backend overrides
(:meth:`~BaseChannel.build_payload`, :meth:`~BaseChannel.post`,
:meth:`~BaseChannel.parse_response`) and yields at least every ``REPORT_EVERY`` seconds; a
backend whose provider takes many recipients in one call overrides ``send_stream`` and
yields once per provider call.
"""

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.template.loader import select_template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from restock_waitlist import contacts, links
from restock_waitlist.adapters import get_adapter
from restock_waitlist.channels.rendering import SharedRendering

logger = logging.getLogger("restock_waitlist.channels")


class ChannelError(Exception):
    """A send failed; ``str(exc)`` is the reason kept in the notification log."""


class TransientError(ChannelError):
    """Worth trying again later: a timeout, a rate limit, the provider is down."""


class PermanentError(ChannelError):
    """Trying again will not help: a rejected address, an invalid number."""


class NoContact(PermanentError):
    """The waiter has nothing to send to on this channel (no address, number or device)."""


#: What a message is about: a restock alert, or a guest's double opt-in confirmation.
ALERT, CONFIRM = "alert", "confirm"


@dataclass
class Outgoing:
    """One message for one waiter over one channel, as dispatch hands it to a backend.

    ``contact`` is what ``CONTACT_RESOLVER`` found: an email address, a phone number, or
    the user whose devices get a push. ``kind`` is :data:`ALERT` (``event`` is the restock)
    or :data:`CONFIRM` (no event, no notification: the double opt-in mail).
    """

    notification_id: int | None
    entry: Any
    event: Any
    contact: Any
    kind: str = ALERT
    _links: dict = field(default_factory=dict, repr=False)

    @property
    def locale(self):
        return self.entry.locale or None

    def _link(self, name, make, *args):
        if name not in self._links:
            self._links[name] = make(*args)
        return self._links[name]

    @property
    def purchase_url(self):
        return self._link("purchase", links.click_url, self.notification_id)

    @property
    def confirm_url(self):
        return self._link("confirm", links.confirm_url, self.entry)

    @property
    def unsubscribe_url(self):
        return self._link("unsubscribe", links.unsubscribe_url, self.entry)

    @property
    def unsubscribe_all_url(self):
        """Cancels every alert to the entry's email address (email only)."""
        return self._link("unsubscribe_all", links.unsubscribe_all_url, self.entry)


@dataclass(frozen=True)
class Result:
    """What became of one send; dispatch turns it into the notification's status."""

    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    NO_CONTACT = "no_contact"

    outcome: str
    provider_message_id: str = ""
    error: str = ""
    #: What the provider said about a delivery that went otherwise than asked (e.g. sent as
    #: SMS by the provider's own substitution); kept in ``Notification.note``.
    note: str = ""

    @classmethod
    def sent(cls, provider_message_id="", note=""):
        message_id = "" if provider_message_id is None else str(provider_message_id)
        return cls(cls.SENT, provider_message_id=message_id[:255], note=note[:255])

    @classmethod
    def from_error(cls, exc):
        if isinstance(exc, NoContact):
            outcome = cls.NO_CONTACT
        elif isinstance(exc, PermanentError):
            outcome = cls.PERMANENT
        else:
            outcome = cls.TRANSIENT
        return cls(outcome, error=str(exc) or exc.__class__.__name__)


@dataclass(frozen=True)
class Rendered:
    """A message's text: ``subject`` (email subject, push title; may be empty), body, HTML."""

    subject: str
    text: str
    html: str = ""


#: ``OPTIONS`` keys that override what a channel class declares about itself.
DESCRIPTION_OPTIONS = {
    "CONTACT_KIND": "contact_kind",
    "LABEL": "label",
    "QUIET_HOURS": "quiet_hours",
}


class BaseChannel:
    """A way to reach a waiter. Subclasses describe themselves and fill in the steps; see
    the module docstring.

    ``name`` is the channel's key in ``RESTOCK_WAITLIST["CHANNELS"]`` (``"email"``,
    ``"push"``, ``"sms"``, or any name a project picks) and picks the message templates;
    ``options`` is its ``OPTIONS`` dict.
    """

    #: What it sends to: ``"email"`` (an address), ``"phone"`` (a number in E.164 form) or
    #: ``"user"`` (the signed-in user's devices). Contacts are resolved from it in bulk.
    contact_kind = contacts.EMAIL
    #: The name shoppers see in the "Notify me" form; the checkbox's value is the channel's
    #: key in ``CHANNELS``.
    label = _("Email")
    #: Whether ``QUIET_HOURS`` holds its messages back until the waiter's morning.
    quiet_hours = False
    #: Whether this backend renders an HTML part.
    renders_html = False
    #: The :class:`Outgoing` links its templates use, by kind of message.
    link_names = {
        ALERT: ("purchase_url", "unsubscribe_url"),
        CONFIRM: ("confirm_url", "unsubscribe_url"),
    }

    def __init__(self, name, **options):
        self.name = name
        self.options = options
        # A stand-in (console, locmem) takes the description of the channel it stands in for.
        for option, attribute in DESCRIPTION_OPTIONS.items():
            if option in options:
                setattr(self, attribute, options[option])

    # What the channel is ------------------------------------------------------------------

    def offered_to(self, user):
        """Whether the storefront offers this channel to a visitor (``None``: a guest).

        A channel that sends to the user's devices needs an account; the others are offered
        to everyone, and a guest is asked for the contact (:meth:`check_subscriber`).
        """
        return user is not None or self.contact_kind != contacts.USER

    def check_subscriber(self, *, user, email, phone):
        """Raise ``ValidationError`` naming the field when a subscriber asking for this channel
        gives nothing it could ever send to (SMS without a number on the entry or account)."""
        if not contacts.subscriber_has(self.contact_kind, user=user, email=email, phone=phone):
            raise ValidationError(
                {
                    contacts.FIELD_FOR_KIND[self.contact_kind]: contacts.missing_message(
                        self.contact_kind, self.label
                    )
                },
                code="required",
            )

    @classmethod
    def check_options(cls, name, options):
        """System check messages about this channel's ``OPTIONS`` (a missing API key, say),
        run at start-up; ``name`` is its key in ``CHANNELS``."""
        return []

    def resolve_contacts(self, entries):
        """``{entry.pk: contact}`` for entries this channel can reach; in bulk, by kind."""
        return contacts.contacts_of_kind(entries, self.contact_kind)

    # Sending --------------------------------------------------------------------------

    #: Seconds between the results a one-by-one backend reports (``OPTIONS["REPORT_EVERY"]``
    #: overrides it): a worker killed mid-send repeats at most the messages the provider took
    #: in that time, plus the one in flight.
    report_every = 0.5

    def send_batch(self, messages):
        """Send ``messages``; ``{notification_id: Result}`` for every one of them."""
        results = {}
        for reported in self.send_stream(messages):
            results.update(reported)
        return results

    def send_stream(self, messages):
        """Send ``messages`` one by one; yield ``{notification_id: Result}`` for those sent
        so far, at least every :attr:`report_every` seconds, and the rest at the end.

        A channel written for 0.1 that overrides :meth:`send_batch` alone keeps working:
        its results come in one report (a crash repeats its whole batch)."""
        if type(self).send_batch is not BaseChannel.send_batch:
            yield self.send_batch(messages)
            return
        every = float(self.options.get("REPORT_EVERY", self.report_every))
        results, since = {}, time.monotonic()
        with self.shared_rendering():
            for message in messages:
                results[message.notification_id] = self.send_one(message)
                if time.monotonic() - since >= every:
                    yield results
                    results, since = {}, time.monotonic()
        if results:
            yield results

    def send_one(self, message):
        """Build, post and parse one message; every failure becomes a :class:`Result`."""
        try:
            payload = self.build_payload(message)
            response = self.post(payload)
            return self.parse_response(response, message)
        except ChannelError as exc:
            return Result.from_error(exc)
        except Exception as exc:  # a backend bug must not strand the rest of the chunk
            logger.exception(
                "Channel %r failed on notification %s", self.name, message.notification_id
            )
            return Result(Result.TRANSIENT, error=f"{exc.__class__.__name__}: {exc}")

    def build_payload(self, message):
        """What :meth:`post` sends for one message."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_payload()")

    def post(self, payload):
        """Hand the payload to the provider; raise :class:`ChannelError` subclasses on failure."""
        raise NotImplementedError(f"{type(self).__name__} must implement post()")

    def parse_response(self, response, message):
        """A :class:`Result` from the provider's answer (default: sent, answer as the id)."""
        return Result.sent(response)

    # Rendering ------------------------------------------------------------------------

    def template_names(self, part, kind=ALERT):
        """``messages/<channel><part>`` (``email_subject.txt``), else ``messages/default<part>``;
        a confirmation's under ``messages/confirm/``."""
        folder = "restock_waitlist/messages/" + ("" if kind == ALERT else f"{kind}/")
        return [f"{folder}{self.name}{part}", f"{folder}default{part}"]

    def context(self, message, **overrides):
        """Template context: the item (as restocked: the event's variant), links, the entry."""
        adapter = get_adapter()
        event = message.event
        item = event if event is not None else message.entry
        product, variant = item.product, item.variant
        context = {
            "entry": message.entry,
            "event": event,
            "product": product,
            "variant": variant,
            "item_name": adapter.display_name(product, variant),
            **overrides,
        }
        for name in self.link_names[message.kind]:
            if name not in context:
                context[name] = getattr(message, name)
        return context

    def render(self, message, **overrides):
        """The message in the waiter's language; ``overrides`` replace context values.

        Within :meth:`shared_rendering`, an alert without overrides is rendered once for
        its group and filled in with its own links (:meth:`shared_parts`)."""
        shared = None if overrides else self.shared_parts(message)
        subject, text, html = (
            shared.fill(message) if shared is not None else self.render_parts(message, **overrides)
        )
        return Rendered(" ".join(subject.split()), text.strip(), html)

    def render_parts(self, message, **overrides):
        """``[subject, text, html]`` as the templates give them (``html`` empty unless
        :attr:`renders_html`)."""
        context = self.context(message, **overrides)
        with translation.override(message.locale):
            context["LANGUAGE_CODE"] = translation.get_language()
            template = partial(self.template, kind=message.kind)
            return [
                template("_subject.txt").render(context),
                template(".txt").render(context),
                template(".html").render(context) if self.renders_html else "",
            ]

    @contextmanager
    def shared_rendering(self):
        """While in it, alerts of one restock in one language share one rendering:
        :meth:`send_stream` sends in it (a backend overriding ``send_stream`` may too)."""
        outer = self.__dict__.get("_shared")
        self._shared = {} if outer is None else outer
        try:
            yield
        finally:
            self._shared = outer

    def shared_parts(self, message):
        """The :class:`~restock_waitlist.channels.rendering.SharedRendering` of the message's
        group (its restock and language), rendered at its first; ``None`` outside
        :meth:`shared_rendering`, for a confirmation, for a backend overriding
        :meth:`render` or :meth:`context`, and for a group whose templates read ``entry``
        or change a link (each of its messages is rendered on its own)."""
        groups = self.__dict__.get("_shared")
        if (
            groups is None
            or message.kind != ALERT
            or getattr(message.event, "pk", None) is None
            or type(self).render is not BaseChannel.render
            or type(self).context is not BaseChannel.context
        ):
            return None
        key = (message.event.pk, message.locale)
        if key not in groups:
            groups[key] = SharedRendering.of(
                self.link_names[message.kind], partial(self.render_parts, message)
            )
        return groups[key]

    def template(self, part, kind=ALERT):
        """The template for ``part``, looked up once per channel instance (dispatch makes
        one per chunk), not once per message."""
        templates = self.__dict__.setdefault("_templates", {})
        if (part, kind) not in templates:
            templates[part, kind] = select_template(self.template_names(part, kind))
        return templates[part, kind]
