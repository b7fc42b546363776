"""The test shop's channels: a push stand-in offered as push is (to a user with a device),
and a pager channel written from scratch and added by settings alone."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from restock_waitlist import contacts
from restock_waitlist.channels.base import BaseChannel, PermanentError
from restock_waitlist.channels.locmem import LocmemChannel


class DevicePushChannel(LocmemChannel):
    """Users whose name starts with "phone" have a device; asking about them costs a query
    (a page must ask once), anyone else is known to have none without one."""

    contact_kind = contacts.USER
    label = "App notification"
    quiet_hours = True

    def offered_to(self, user):
        if user is None or not user.username.startswith("phone"):
            return False
        users = get_user_model().objects.filter(pk=user.pk, username__startswith="phone")
        return users.exists()


#: Pages "sent" by the pager channel, oldest first.
pages = []


class PagerChannel(BaseChannel):
    """A channel written from scratch (as docs/channels.rst shows): pages a phone number.

    ``OPTIONS["UNREACHABLE"]``: numbers the pager network refuses for good.
    """

    contact_kind = contacts.PHONE
    label = _("Pager")
    quiet_hours = True

    def build_payload(self, message):
        return {"number": message.contact, "text": self.render(message).text}

    def post(self, payload):
        if payload["number"] in self.options.get("UNREACHABLE", ()):
            raise PermanentError("The pager network does not know this number.")
        pages.append(payload)
        return f"page-{len(pages)}"
