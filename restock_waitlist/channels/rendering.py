"""Rendering a restock alert once for every waiter of a group, then filling in their links.

Every waiter of one restock in one language gets the same message but for their own links
(:attr:`~restock_waitlist.channels.base.BaseChannel.link_names`). :class:`SharedRendering`
renders it once with a placeholder for each link and a :class:`StandInEntry` for the entry,
then writes each waiter's message by putting their links in the placeholders' places: the
text Django would have rendered for that waiter alone, byte for byte. A template that reads
the entry, or turns a link into something other than the link (a filter), cannot be shared:
:meth:`SharedRendering.of` says so and the group is rendered message by message.
"""

import re
import secrets

from django.utils.html import conditional_escape, escape


class EntryRead(Exception):
    """A template used the entry while a group's message was rendered once for all."""


class StandInEntry:
    """Takes the entry's place in a shared rendering: any use of it (a lookup, its text, its
    truth, its length, iterating it, comparing it) marks it :attr:`read` and raises
    :class:`EntryRead` (templates swallow some errors; the mark stays)."""

    def __init__(self):
        self.read = False

    def _use(self, *args):
        self.read = True
        raise EntryRead

    def __repr__(self):
        self.read = True
        return "<entry>"

    __getattr__ = __getitem__ = __bool__ = __len__ = __iter__ = __contains__ = _use
    __str__ = __format__ = __int__ = __float__ = __index__ = __hash__ = _use
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _use


class SharedRendering:
    """The parts of a message (subject, text, HTML) rendered once with placeholders, cut
    where the links go; :meth:`fill` puts one message's links in."""

    def __init__(self, link_names):
        nonce = f"{secrets.randbelow(10**12):012d}"
        #: Half the nonce or the other: any remnant of a placeholder a filter changed.
        self._remnants = (nonce[:6], nonce[6:])
        #: Link name -> its placeholder: URL-shaped (``urlize`` links it as it links a URL)
        #: with an ``&`` (its escaped form tells where Django autoescaped the link).
        self.placeholders = {
            name: f"https://{nonce}{index}.invalid/{nonce}{index}&/"
            for index, name in enumerate(link_names)
        }
        self._slots = {}
        for name, placeholder in self.placeholders.items():
            self._slots[placeholder] = (name, False)
            self._slots[str(escape(placeholder))] = (name, True)
        self._cut = re.compile("({})".format("|".join(map(re.escape, self._slots))))
        self._parts = []

    @classmethod
    def of(cls, link_names, render):
        """The shared rendering of ``render(entry=..., **placeholders)`` (the raw parts), or
        ``None`` when it cannot stand for every message: the template read the entry, a
        placeholder came out changed, or rendering failed (each message then fails or not
        on its own)."""
        shared, entry = cls(link_names), StandInEntry()
        try:
            parts = render(entry=entry, **shared.placeholders)
        except Exception:
            return None
        if entry.read:
            return None
        for part in parts:
            pieces = shared._cut.split(part)
            literals = pieces[::2]
            if any(remnant in text for text in literals for remnant in shared._remnants):
                return None
            shared._parts.append((literals, [shared._slots[form] for form in pieces[1::2]]))
        return shared

    def fill(self, message):
        """The raw parts of ``message``: its links (HTML-escaped where Django escaped them)
        in the placeholders' places."""
        values = {}
        filled = []
        for literals, slots in self._parts:
            text = [literals[0]]
            for slot, literal in zip(slots, literals[1:], strict=True):
                if slot not in values:
                    link = getattr(message, slot[0])
                    values[slot] = str(conditional_escape(link) if slot[1] else link)
                text += (values[slot], literal)
            filled.append("".join(text))
        return filled
