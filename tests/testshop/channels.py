"""The test shop's push stand-in: locmem, offered as push is (to a user with a device)."""

from django.contrib.auth import get_user_model

from restock_waitlist import contacts
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
