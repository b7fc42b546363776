"""Pages behind the links in messages: confirm a guest's entry, unsubscribe.

The signed token in the URL is the credential, so these work without login. The
unsubscribe views accept RFC 8058 one-click POSTs from mail clients, which carry no CSRF
token; a GET only asks, so link scanners never cancel anything.
"""

from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from restock_waitlist import services, tokens
from restock_waitlist.models import StockWaitlist


def _entry_from_token(token, purpose):
    try:
        entry_id = tokens.entry_id_from_token(token, purpose)
    except tokens.BadToken:
        return None
    return StockWaitlist.objects.filter(pk=entry_id).first()


@require_http_methods(["GET", "POST"])
def confirm(request, token):
    """GET asks (scanners must not confirm for the shopper); POST confirms."""
    entry = _entry_from_token(token, tokens.CONFIRM)
    state, position = "invalid", None
    if entry is not None and request.method == "POST":
        entry = services.confirm_entry(entry.pk)
    if entry is not None and entry.status == StockWaitlist.Status.WAITING:
        state, position = "confirmed", services.waitlist_position(entry)
    elif entry is not None and entry.status == StockWaitlist.Status.PENDING:
        state = "ask"
    status = 400 if state == "invalid" else 200
    context = {"state": state, "entry": entry, "position": position}
    return TemplateResponse(request, "restock_waitlist/confirm.html", context, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """Cancel one entry; POST is also the RFC 8058 one-click target."""
    entry = _entry_from_token(token, tokens.MANAGE)
    if entry is None:
        return _unsubscribe_page(request, "invalid", "entry", status=400)
    if request.method == "POST":
        services.leave_waitlist(entry)
        return _unsubscribe_page(request, "done", "entry", entry=entry)
    return _unsubscribe_page(request, "ask", "entry", entry=entry)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_all(request, token):
    """Cancel every entry of the email address the token was made for."""
    try:
        email = tokens.email_from_token(token)
    except tokens.BadToken:
        return _unsubscribe_page(request, "invalid", "all", status=400)
    if request.method == "POST":
        services.leave_all_for_email(email)
        return _unsubscribe_page(request, "done", "all")
    return _unsubscribe_page(request, "ask", "all")


def _unsubscribe_page(request, state, scope, entry=None, status=200):
    context = {"state": state, "scope": scope, "entry": entry}
    return TemplateResponse(request, "restock_waitlist/unsubscribe.html", context, status=status)
