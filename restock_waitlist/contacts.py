"""Who to send to: contacts by kind, and the default ``CONTACT_RESOLVER``.

A channel declares its :attr:`~restock_waitlist.channels.base.BaseChannel.contact_kind`;
this module reads that kind of contact off entries, in bulk. A resolver takes a list of
entries and a channel name and returns ``{entry.pk: contact}``; a missing or empty
contact means "nothing to send to on this channel", and dispatch falls through to the
entry's next channel. It is called once per chunk and channel.
"""

from django.utils.translation import gettext

from restock_waitlist.adapters import get_adapter

#: Contact kinds: an email address, a phone number (E.164), the user (their devices).
EMAIL, PHONE, USER = "email", "phone", "user"
KINDS = (EMAIL, PHONE, USER)

#: The join field that supplies each kind of contact, named in errors when it is missing.
FIELD_FOR_KIND = {EMAIL: "email", PHONE: "phone", USER: "channels"}


def recipient_email(entry):
    """The entry's address: the guest's own, else the account's."""
    return entry.email or (entry.user.email if entry.user_id else "")


def contacts_of_kind(entries, kind):
    """``{entry.pk: contact}`` of one kind for ``entries``; one adapter call for phones."""
    if kind == EMAIL:
        return {entry.pk: recipient_email(entry) for entry in entries}
    if kind == USER:
        return {entry.pk: entry.user for entry in entries if entry.user_id}
    if kind == PHONE:
        users = [entry.user for entry in entries if entry.user_id and not entry.phone]
        account_phones = get_adapter().user_phone_numbers(users) if users else {}
        return {entry.pk: entry.phone or account_phones.get(entry.user_id, "") for entry in entries}
    raise ValueError(f"Unknown contact kind {kind!r}; kinds are {', '.join(KINDS)}.")


def subscriber_has(kind, *, user, email, phone):
    """Whether a subscriber joining with these details can be reached on ``kind``."""
    if kind == EMAIL:
        return bool(email or (user is not None and user.email))
    if kind == PHONE:
        return bool(phone or (user is not None and get_adapter().user_phone_numbers([user])))
    return user is not None


def missing_message(kind, label):
    """What a subscriber reads when a channel they chose has nothing to send to."""
    if kind == PHONE:
        message = gettext("A mobile phone number is needed for alerts by “%(channel)s”.")
    elif kind == EMAIL:
        message = gettext("An email address is needed for alerts by “%(channel)s”.")
    else:
        message = gettext("Sign in to get alerts by “%(channel)s”.")
    return message % {"channel": label}


def resolve_contacts(entries, channel):
    """The default ``CONTACT_RESOLVER``: what the channel itself resolves for its kind."""
    from restock_waitlist.channels import get_channel

    return get_channel(channel).resolve_contacts(entries)
