"""The app's pages: the "Notify me" form's targets, and the pages behind message links.

``join`` and ``cancel`` serve the storefront button without JavaScript: a CSRF-protected
POST, then a redirect back with a message (post/redirect/get).

Behind message links, the signed token in the URL is the credential, so those work without
login. The purchase link counts a click and redirects to the item (:func:`click`). The
unsubscribe views accept RFC 8058 one-click POSTs from mail clients, which carry no CSRF
token; a GET only asks, so link scanners never cancel anything. Those pages speak the
language the shopper signed up in, whatever the device that opens the link.
"""

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from restock_waitlist import limits, links, services, storefront, tokens
from restock_waitlist.adapters import get_adapter
from restock_waitlist.conf import app_settings
from restock_waitlist.forms import NotifyForm
from restock_waitlist.models import Notification, StockWaitlist


def _entry_from_token(token, purpose):
    try:
        entry_id = tokens.entry_id_from_token(token, purpose)
    except tokens.BadToken:
        return None
    return StockWaitlist.objects.filter(pk=entry_id).first()


def _page(request, template, page_context, *, entry=None, status=200):
    """A page behind a message link, rendered now in the entry's language when there is one
    (else the request's). Its URL holds a token: no ``Referer`` takes it to another site, no cache
    keeps it."""
    site = app_settings.SITE_URL or ""
    context = {"site_url": site or "/", "site_name": urlsplit(site).hostname or request.get_host()}
    response = TemplateResponse(request, template, context | page_context, status=status)
    locale = _supported(entry.locale) if entry is not None else None
    with translation.override(locale or translation.get_language()):
        response.render()
        response["Content-Language"] = translation.get_language()
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


def _supported(locale):
    try:
        return translation.get_supported_language_variant(locale) if locale else None
    except LookupError:
        return None


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
    if state == "confirmed":
        context["unsubscribe_path"] = links.unsubscribe_path(entry)
    if entry is not None and state != "ask":
        context["item_url"] = _item_url(entry)
    return _page(request, "restock_waitlist/confirm.html", context, entry=entry, status=status)


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
    if entry.status not in services.CANCELLABLE:  # cancelled, expired or bought: nothing to ask
        return _unsubscribe_page(request, "inactive", "entry", entry=entry)
    return _unsubscribe_page(request, "ask", "entry", entry=entry)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe_all(request, token):
    """Cancel every entry of the email address of the entry the token names.

    Links made before 0.2 carried the address itself; they work until they expire.
    """
    entry = _entry_from_token(token, tokens.UNSUBSCRIBE_ALL)
    legacy_email = None if entry is not None else tokens.legacy_email_from_token(token)
    if entry is None and legacy_email is None:
        return _unsubscribe_page(request, "invalid", "all", status=400)
    if request.method == "POST":
        if entry is not None:
            services.leave_all_of(entry)
        else:
            services.leave_all_for_email(legacy_email)
        return _unsubscribe_page(request, "done", "all", entry=entry)
    return _unsubscribe_page(request, "ask", "all", entry=entry)


@require_http_methods(["GET", "HEAD"])
def click(request, token):
    """A message's purchase link: count the first click, then on to the item's page.

    Never an error page: an expired link still leads to the item (and counts nothing), a
    forged one to the site's root. The target is always the shop's own page for the item.
    """
    try:
        notification = services.record_click(tokens.notification_id_from_token(token))
    except tokens.BadToken:
        notification = _expired_click(token)
    return HttpResponseRedirect(links.click_target(notification))


def _expired_click(token):
    """The notification of a genuine but expired purchase link, else ``None``."""
    try:
        notification_id = tokens.notification_id_from_token(token, expired_ok=True)
    except tokens.BadToken:
        return None
    return Notification.objects.select_related("event").filter(pk=notification_id).first()


def _unsubscribe_page(request, state, scope, entry=None, status=200):
    context = {"state": state, "scope": scope, "entry": entry}
    if entry is not None and state in ("done", "inactive"):
        context["item_url"] = _item_url(entry)
    return _page(request, "restock_waitlist/unsubscribe.html", context, entry=entry, status=status)


# The storefront button without JavaScript -------------------------------------------


@require_POST
def join(request):
    """Join from the button's form, then back to the page with a message.

    Invalid input writes nothing and comes back with messages naming the fields. A guest
    reads the same message whether the address was new, already on the list or held back
    by the limits. Joins count against ``restock_waitlist_join`` with the API's joins.
    """
    if not limits.join_request(request).allowed:
        return _back_with_errors(request, [storefront.throttled_message()])
    form = NotifyForm(request.POST, request=request)
    if not form.is_valid():
        storefront.remember_submission(request, request.POST)
        return _back_with_errors(request, form.error_messages_by_field())
    join_kwargs = form.join_kwargs()
    try:
        entry, created = services.join_waitlist(**join_kwargs)
    except ValidationError as exc:
        storefront.remember_submission(request, request.POST)
        return _back_with_errors(request, form.error_messages_by_field(exc.message_dict))
    adapter = get_adapter(request)
    product = adapter.get_product(adapter.product_key(join_kwargs["product"]))
    variant = adapter.get_variant(adapter.variant_key(join_kwargs["variant"]))
    item_name = adapter.display_name(product, variant)
    # In the language of this join, which a new entry records: the same for every guest.
    with translation.override(services.normalize_locale(join_kwargs["locale"])):
        if form.user is None:
            message = storefront.joined_message(item_name, is_guest=True)
        else:
            position = services.waitlist_position(entry)
            message = storefront.joined_message(
                item_name, is_guest=False, created=created, position=position
            )
    messages.success(request, message, fail_silently=True)
    return _redirect_back(request, adapter.product_url(product, variant))


@require_POST
def cancel(request):
    """Cancel one of the signed-in shopper's own entries; anyone else's is "not found".

    Guests cancel through the signed link in their email (:func:`unsubscribe`).
    """
    try:
        entry = services.leave_waitlist(request.POST.get("entry", ""), user=request.user)
    except StockWaitlist.DoesNotExist:
        messages.error(
            request,
            _("This alert could not be found. It may have been cancelled already."),
            fail_silently=True,
        )
        return _redirect_back(request, None)
    messages.success(request, storefront.cancelled_message(entry.catalog_label), fail_silently=True)
    return _redirect_back(request, _item_url(entry))


def _back_with_errors(request, error_messages):
    for message in error_messages:
        messages.error(request, message, fail_silently=True)
    return _redirect_back(request, None)


def _item_url(entry):
    if entry.product is None:
        return None
    return get_adapter().product_url(entry.product, entry.variant)


def _redirect_back(request, fallback):
    """To ``next`` (the page the form was on) if it is on this site, else ``fallback``."""
    for candidate in (request.POST.get("next"), fallback, request.headers.get("referer")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(candidate)
    return HttpResponseRedirect("/")
