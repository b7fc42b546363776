"""Transactional emails to subscribers, through Django's email API (so any anymail ESP works)."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from restock_waitlist import links
from restock_waitlist.contacts import recipient_email


def unsubscribe_headers(entry):
    """RFC 2369 / RFC 8058 headers: one-click unsubscribe from this entry."""
    return {
        "List-Unsubscribe": f"<{links.unsubscribe_url(entry)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def render_email(template_prefix, context, locale):
    """``(subject, text, html)`` from ``<prefix>_subject.txt``, ``.txt`` and ``.html``."""
    with translation.override(locale or None):
        subject = render_to_string(f"{template_prefix}_subject.txt", context)
        text = render_to_string(f"{template_prefix}.txt", context)
        html = render_to_string(f"{template_prefix}.html", context)
    return " ".join(subject.split()), text, html


def send_confirmation(entry):
    """The double opt-in mail: confirm the entry, or ignore it and nothing happens."""
    context = {
        "entry": entry,
        "item_name": entry.catalog_label,
        "confirm_url": links.confirm_url(entry),
        "unsubscribe_url": links.unsubscribe_url(entry),
        "unsubscribe_all_url": links.unsubscribe_all_url(recipient_email(entry)),
    }
    subject, text, html = render_email("restock_waitlist/email/confirm", context, entry.locale)
    message = EmailMultiAlternatives(
        subject, text, to=[recipient_email(entry)], headers=unsubscribe_headers(entry)
    )
    message.attach_alternative(html, "text/html")
    message.send()
