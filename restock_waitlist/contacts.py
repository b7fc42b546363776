"""Who to send to: the default ``CONTACT_RESOLVER``.

A resolver takes a list of entries and a channel name and returns
``{entry.pk: contact}``; a missing or empty contact means "nothing to send to on this
channel", and dispatch falls through to the entry's next channel. It is called once per
chunk and channel, so a resolver that reads another table should read it in bulk.
"""

from restock_waitlist.emails import recipient_email


def resolve_contacts(entries, channel):
    """Email: the guest's address, else the user's; SMS: the entry's phone; push: the user.

    The push channel then sends to the user's active devices (none means no contact).
    """
    if channel == "email":
        return {entry.pk: recipient_email(entry) for entry in entries}
    if channel == "sms":
        return {entry.pk: entry.phone for entry in entries}
    if channel == "push":
        return {entry.pk: entry.user for entry in entries if entry.user_id}
    return {}
