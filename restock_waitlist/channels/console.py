"""A channel that prints messages, for development (like Django's console email backend)."""

import sys
import threading

from restock_waitlist.channels.base import BaseChannel

_lock = threading.Lock()


class ConsoleChannel(BaseChannel):
    """Writes each message to ``OPTIONS["STREAM"]`` (default ``sys.stdout``)."""

    def build_payload(self, message):
        rendered = self.render(message)
        lines = [f"[{self.name}] to {message.contact}"]
        if rendered.subject:
            lines.append(rendered.subject)
        lines += [rendered.text, "-" * 72, ""]
        return "\n".join(lines)

    def post(self, payload):
        stream = self.options.get("STREAM") or sys.stdout
        with _lock:
            stream.write(payload)
            stream.flush()
        return ""
