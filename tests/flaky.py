"""A channel backend for dispatch tests: fails as told, per contact, then records like locmem."""

from restock_waitlist.channels.base import NoContact, PermanentError, TransientError
from restock_waitlist.channels.locmem import LocmemChannel

#: contact -> list of exceptions to raise, one per attempt (consumed in order).
failures = {}

ERRORS = {"transient": TransientError, "permanent": PermanentError, "no_contact": NoContact}


def fail(contact, *kinds):
    failures[contact] = [ERRORS[kind](f"{kind} failure") for kind in kinds]


class FlakyChannel(LocmemChannel):
    def post(self, payload):
        planned = failures.get(payload.contact)
        if planned:
            raise planned.pop(0)
        return super().post(payload)
