"""``{% load restock_waitlist %}``: the "Notify me" button for sold-out products.

``{% restock_notify_button product variant %}`` renders the visitor's state of one item;
``{% restock_preload items %}`` loads the states of a whole list first, in two queries;
``{% restock_assets %}`` adds the optional script and style sheet.
"""

from itertools import chain

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.html import format_html

from restock_waitlist import storefront
from restock_waitlist.conf import app_settings

register = template.Library()

#: The API's URL name (``restock_waitlist.api.urls``) the script posts to when it is mounted.
API_ENTRIES_URL_NAME = "restock_waitlist_api:entry-list"


def _request(context, tag):
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            f"{{% {tag} %}} needs the request in the template context: add "
            "'django.template.context_processors.request' to your TEMPLATES' "
            "context_processors, or render with a request."
        )
    return request


def api_entries_url():
    """The API's entries URL, or ``""`` when the API is not mounted (the script then
    leaves the form to post as usual)."""
    try:
        return reverse(API_ENTRIES_URL_NAME)
    except NoReverseMatch:
        return ""


@register.simple_tag(takes_context=True)
def restock_notify_button(context, product, variant=None, template=None, source=None):
    """The button for ``product``, or one ``variant`` of it, as this visitor should see it.

    ``template`` overrides ``BUTTON_TEMPLATE`` for this one button; ``source`` names the
    form in the consent record (default ``"notify_button"``).
    """
    request = _request(context, "restock_notify_button")
    button = storefront.button_for(request, product, variant)
    if button.state == storefront.IN_STOCK:
        template_name = app_settings.IN_STOCK_TEMPLATE
        if not template_name:
            return ""
    else:
        template_name = template or app_settings.BUTTON_TEMPLATE
    button_context = {
        "button": button,
        "api_url": api_entries_url(),
        "next": request.get_full_path(),
        "locale": translation.get_language(),
        "source": source or storefront.DEFAULT_SOURCE,
        "login_url": resolve_url(settings.LOGIN_URL),
        "messages_for_script": storefront.script_messages(button),
    }
    return render_to_string(template_name, button_context, request=request)


@register.simple_tag(takes_context=True)
def restock_preload(context, *item_lists):
    """Load the buttons of every product or variant in ``item_lists`` in two queries.

    ``{% restock_preload products %}`` on a list page, ``{% restock_preload
    product.variants.all %}`` on a product page; the buttons then cost no query.
    """
    storefront.preload(_request(context, "restock_preload"), list(chain(*item_lists)))
    return ""


@register.simple_tag
def restock_assets():
    """The style sheet and the script (progressive enhancement; the form works without)."""
    return format_html(
        '<link rel="stylesheet" href="{}">\n<script src="{}" defer></script>',
        static("restock_waitlist/notify.css"),
        static("restock_waitlist/notify.js"),
    )
