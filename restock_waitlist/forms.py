"""The "Notify me" form as the app's join view reads it (the no-JavaScript path).

It checks what a browser can get wrong (a missing field, the consent box, a channel this
visitor was not offered); the services check everything else and name the field.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.utils import pretty_name
from django.utils.translation import gettext_lazy as _

from restock_waitlist import storefront


class NotifyForm(forms.Form):
    product = forms.CharField(label=_("Product"), max_length=64)
    variant = forms.CharField(label=_("Variant"), max_length=64, required=False)
    channels = forms.MultipleChoiceField(
        label=_("Notify me by"),
        error_messages={"required": _("Choose at least one way to be notified.")},
    )
    email = forms.EmailField(label=_("Email address"), max_length=254, required=False)
    phone = forms.CharField(label=_("Mobile phone number"), max_length=32, required=False)
    consent = forms.BooleanField(
        label=_("Consent"),
        required=False,
        error_messages={"required": _("Tick the box to agree to the restock alert.")},
    )
    locale = forms.CharField(label=_("Language"), max_length=15, required=False)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, required=False)
    source = forms.CharField(label=_("Form"), max_length=64, required=False)

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = storefront.visitor(request)
        self.fields["channels"].choices = storefront.offered_channels(request)
        if self.user is None:
            self.fields["email"].required = True
            self.fields["email"].error_messages["required"] = _(
                "An email address is required to join without an account."
            )
            self.fields["consent"].required = True
        else:
            # A signed-in shopper is asked for a phone number only for a phone channel.
            del self.fields["email"], self.fields["consent"]

    def clean_time_zone(self):
        """The browser's time zone (set by the script); an unknown one is dropped, not an error."""
        name = self.cleaned_data["time_zone"]
        try:
            return name if name and ZoneInfo(name) else ""
        except (ZoneInfoNotFoundError, ValueError):
            return ""

    def clean_source(self):
        source = self.cleaned_data["source"]
        return source if storefront.SOURCE_RE.match(source) else storefront.DEFAULT_SOURCE

    def join_kwargs(self):
        """Keyword arguments for :func:`restock_waitlist.services.join_waitlist`."""
        data = self.cleaned_data
        return {
            "product": data["product"],
            "variant": data["variant"] or None,
            "user": self.user,
            "email": data.get("email") or None,
            "phone": data.get("phone") or None,
            "channels": data["channels"],
            "locale": data["locale"] or None,
            "timezone_name": data["time_zone"] or None,
            "consent": bool(data.get("consent")),
            "consent_source": data["source"],
        }

    def error_messages_by_field(self, errors=None):
        """``["Label: message", ...]`` for ``errors`` (the form's, or a service's dict): every
        message names its field, by its label or, for a field the form lacks, its name."""
        errors = self.errors if errors is None else errors
        messages = []
        for name, field_errors in errors.items():
            field = self.fields.get(name)
            label = field.label if field is not None and field.label else pretty_name(name)
            for message in field_errors:
                if name == NON_FIELD_ERRORS:
                    messages.append(str(message))
                else:
                    messages.append(_("%(field)s: %(error)s") % {"field": label, "error": message})
        return messages
