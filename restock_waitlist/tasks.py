"""django-q2 entry points. Thin: ids in, services called; each is safe to run twice."""

from restock_waitlist import emails, services
from restock_waitlist.models import StockWaitlist


def send_confirmation(entry_id):
    """Email a guest the link that confirms their pending entry (double opt-in)."""
    entry = StockWaitlist.objects.filter(pk=entry_id, status=StockWaitlist.Status.PENDING).first()
    if entry is not None:
        emails.send_confirmation(entry)


def expire_unconfirmed():
    """Periodic: expire guest entries never confirmed."""
    return services.expire_unconfirmed()
