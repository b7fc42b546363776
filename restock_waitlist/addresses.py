"""Email addresses and phone numbers, normalised once: what is stored, what is matched.

Every part of the app that stores, signs or looks up an address goes through here, so
``anna@straße.de`` is one subscriber on the form, in the API, in links and in erasure.

Decisions (``docs/security.rst`` explains them):

* **Domains are stored as IDNA 2008 A-labels** (``anna@xn--strae-oqa.de``): ASCII, one
  spelling per domain, deliverable without SMTPUTF8. The Unicode form would be handed to
  Django's mail code, which encodes domains with IDNA 2003 and so maps ``ß`` to ``ss``: a
  different domain, someone else's mailbox.
* **Local parts are kept as typed for sending and matched case-insensitively** (the key
  lower-cases them). Django's validator accepts ASCII local parts only, so lower-casing is
  exact; Unicode case folding (``ß`` to ``ss``) is never applied.
* **Invisible and direction-changing characters are refused** anywhere in an address or a
  number (Unicode categories Cc and Cf: bidirectional overrides, zero-width joiners, soft
  hyphens), so what a merchant reads is what the mail server gets.
* **Phone numbers are stored in E.164** through ``phonenumbers``; any Unicode decimal digits
  (full-width, Arabic-Indic) are read as the digits they are.

This module depends on nothing but its libraries, so migrations can use it.
"""

import contextlib
import unicodedata

import idna
import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

#: The prefix of an email subscriber key; users' keys are ``user:<pk>``.
EMAIL_KEY_PREFIX = "email:"
#: The longest address a mail server takes (RFC 5321 path limit less the brackets).
MAX_EMAIL_LENGTH = 254


def invisible_characters(value):
    """The control and formatting characters in ``value`` (e.g. U+202E RIGHT-TO-LEFT OVERRIDE)."""
    return [c for c in value if unicodedata.category(c) in ("Cc", "Cf")]


def _invalid_email(message=None, code="invalid"):
    return ValidationError({"email": message or _("Enter a valid email address.")}, code=code)


def normalize_email(email):
    """The address as stored: trimmed, NFC, domain as a lower-case IDNA 2008 A-label.

    Raises ``ValidationError`` naming ``email`` for anything a mail server would not take
    or a person could not read as written.
    """
    email = unicodedata.normalize("NFC", str(email or "").strip())
    if invisible_characters(email):
        raise _invalid_email(
            _("Email addresses cannot contain invisible or text-direction characters."),
            code="invisible_characters",
        )
    try:
        validate_email(email)
        local, _at, domain = email.rpartition("@")
        ascii_domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii")
    except (ValidationError, idna.IDNAError, UnicodeError) as exc:
        raise _invalid_email() from exc
    address = f"{local}@{ascii_domain.lower()}"
    if len(address) > MAX_EMAIL_LENGTH:
        raise _invalid_email()
    return address


def email_key(email):
    """The form two addresses share when they are the same mailbox: the key of guests'
    entries (``email:<key>``) and of every look-up by address."""
    local, _at, domain = normalize_email(email).rpartition("@")
    return f"{local.lower()}@{domain}"


def email_subscriber_key(email):
    return EMAIL_KEY_PREFIX + email_key(email)


def email_spellings(email):
    """The spellings under which an address may have been stored elsewhere (an account's
    email, an entry saved before normalisation): A-label and Unicode domain, for
    case-insensitive look-ups."""
    key = email_key(email)
    local, _at, domain = key.rpartition("@")
    spellings = {key}
    with contextlib.suppress(idna.IDNAError, UnicodeError):
        spellings.add(f"{local}@{idna.decode(domain)}")
    return sorted(spellings)


def normalize_phone(phone, region=None):
    """The number in E.164 (``+821012345678``); raises ``ValidationError`` naming ``phone``.

    ``region`` (ISO 3166 code, ``PHONE_REGION``) reads numbers written without ``+``
    and country code as national numbers of that region; without it they are refused.
    """
    text = unicodedata.normalize("NFKC", str(phone or "").strip())
    if invisible_characters(text):
        raise ValidationError(
            {"phone": _("Phone numbers cannot contain invisible or text-direction characters.")},
            code="invisible_characters",
        )
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        raise _invalid_phone(region) from exc
    if not phonenumbers.is_valid_number(number):
        raise _invalid_phone(region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _invalid_phone(region):
    if not region:
        message = _("Enter a phone number in international format, e.g. +821012345678.")
    else:
        message = _("Enter a valid phone number, e.g. %(example)s.") % {
            "example": example_mobile_number(region)
        }
    return ValidationError({"phone": message}, code="invalid")


def example_mobile_number(region):
    """A mobile number of ``region`` as its people write it (``010-2000-0000`` in KR)."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)


def phone_hint(region):
    """The phone field's hint: the format :func:`normalize_phone` reads with ``region``."""
    if not region:
        return _("For text messages, in international format, e.g. +821012345678.")
    return _("For text messages, e.g. %(example)s.") % {"example": example_mobile_number(region)}


def is_phone_region(code):
    """Whether ``code`` is a region ``phonenumbers`` knows (``"KR"``, ``"DE"``)."""
    return isinstance(code, str) and code in phonenumbers.SUPPORTED_REGIONS
