"""An in-memory channel for tests, like ``django.core.mail.backends.locmem``.

Every message "sent" is appended to :data:`outbox`; clear it between tests
(``locmem.outbox.clear()``, or an autouse fixture).
"""

from dataclasses import dataclass

from restock_waitlist.channels.base import ALERT, CONFIRM, BaseChannel

#: Messages sent through any locmem channel, oldest first.
outbox = []


@dataclass(frozen=True)
class SentMessage:
    channel: str
    contact: object
    subject: str
    text: str
    notification_id: int | None
    entry_id: object
    event_id: int | None
    purchase_url: str
    unsubscribe_url: str
    kind: str = ALERT
    confirm_url: str = ""


class LocmemChannel(BaseChannel):
    """Records messages in :data:`outbox` instead of sending them."""

    def build_payload(self, message):
        rendered = self.render(message)
        return SentMessage(
            channel=self.name,
            contact=message.contact,
            subject=rendered.subject,
            text=rendered.text,
            notification_id=message.notification_id,
            entry_id=message.entry.pk,
            event_id=getattr(message.event, "pk", None),
            purchase_url=message.purchase_url if message.kind == ALERT else "",
            unsubscribe_url=message.unsubscribe_url,
            kind=message.kind,
            confirm_url=message.confirm_url if message.kind == CONFIRM else "",
        )

    def post(self, payload):
        outbox.append(payload)
        return f"locmem-{len(outbox)}"
