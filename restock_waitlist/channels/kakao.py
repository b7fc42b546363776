"""KakaoTalk AlimTalk through SOLAPI's official SDK (``solapi`` 5.x), for Korean shops.

Install the ``kakao`` extra (``pip install 'restock-waitlist[kakao]'``). AlimTalk delivers
only a template Kakao approved beforehand: this channel fills the template's variables for
each waiter and hands a whole chunk to ``SolapiMessageService.send`` in one call (up to
``BATCH_SIZE`` messages), then maps each message of the answer to its own result.
``docs/channels.rst`` lists the options and gives the template text to register.

``OPTIONS``: ``API_KEY``, ``API_SECRET``, ``PF_ID`` (the sender profile), ``TEMPLATES``
(template id per language, the first one for any other language), ``SMS_SUBSTITUTE`` and
``FROM`` (SOLAPI's own SMS substitution), ``REPORT_TOKEN`` (its delivery reports),
``BASE_URL`` and ``BATCH_SIZE``.

SOLAPI's answer to a send tells whether it took each message; what became of it (delivered
as AlimTalk, as an SMS by SOLAPI's substitution, or not at all) comes later, in the
per-message report SOLAPI posts to a webhook. :class:`DeliveryReportView` receives it: a
substitution is kept in ``Notification.note``, a failure falls back to the next channel.
"""

import json
import logging
from types import SimpleNamespace

import phonenumbers
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from restock_waitlist import contacts, dispatch
from restock_waitlist.adapters import get_adapter
from restock_waitlist.channels.base import (
    ALERT,
    BaseChannel,
    ChannelError,
    PermanentError,
    Result,
    TransientError,
)
from restock_waitlist.conf import SETTINGS_NAME, app_settings
from restock_waitlist.models import Notification

logger = logging.getLogger("restock_waitlist.channels")

REQUIRED_OPTIONS = ("API_KEY", "API_SECRET", "PF_ID", "TEMPLATES")

#: SOLAPI takes up to 10,000 messages in one ``send-many`` call.
MAX_BATCH_SIZE = 10_000
DEFAULT_BATCH_SIZE = 1_000

#: The template's variables (register the template with exactly these, see the docs).
PRODUCT, VARIANT, PURCHASE_LINK, UNSUBSCRIBE_LINK = (
    "#{상품명}",
    "#{옵션}",
    "#{구매링크}",
    "#{수신거부링크}",
)

# SOLAPI's message status codes (docs.solapi.com, "메시지 상태 코드"): 2000 registered,
# 3000 handed to the carrier, 4000 delivered. 1xxx are refusals when the message is
# registered (1041 invalid sender profile, 1042 invalid template id, 1043 text differs from
# the template, 1060 blocked number, 1062 unregistered sender number, ...), 3xxx failures
# reported by Kakao or the carrier (3104 not a KakaoTalk user, 3105 unregistered template,
# 3107 blocked AlimTalk, ...): permanent, the next channel takes over. These are worth
# another try: server errors (1024, 2024, 3012, 3024), a timeout (3040), a busy, unreachable,
# switched-off or full handset (3041-3045), a full queue (3053), and 3108 (outside the hours
# AlimTalk may be sent).
SENT_STATUSES = {"2000", "3000", "4000"}
TRANSIENT_STATUSES = {
    "1024",
    "2024",
    "3012",
    "3024",
    "3040",
    "3041",
    "3042",
    "3043",
    "3044",
    "3045",
    "3053",
    "3108",
}

# SOLAPI's API error codes (docs.solapi.com, "API Key 인증 방식" and the messages API): a
# request refused for good until the shop fixes its account or settings. HTTP 403 with
# InvalidAPIKey, SignatureDoesNotMatch (wrong API_SECRET) or RequestTimeTooSkewed (the
# server clock is off by over 15 minutes); ValidationError, Forbidden, InactiveApp,
# NotEnoughBalance. DuplicatedSignature (a signature reused within 15 minutes) and any other
# code (rate limits, 5xx "UnknownError") are transient.
PERMANENT_API_ERRORS = {
    "InvalidAPIKey",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
    "ValidationError",
    "Forbidden",
    "InactiveApp",
    "NotEnoughBalance",
}


#: What ``Notification.note`` says of an AlimTalk SOLAPI delivered as a text message.
SUBSTITUTED_NOTE = "Sent as SMS by the provider's substitution (SOLAPI)."
#: Report types of a message delivered as a text message rather than as AlimTalk (ATA).
SMS_TYPES = {"SMS", "LMS", "MMS"}


def solapi_sdk():
    """The SOLAPI SDK's pieces, imported only when AlimTalk is used."""
    try:
        from solapi import SolapiMessageService
        from solapi.error.MessageNotReceiveError import MessageNotReceivedError
        from solapi.model import KakaoOption, RequestMessage, SendRequestConfig
    except ImportError as exc:
        raise ImproperlyConfigured(
            "The KakaoTalk AlimTalk channel needs the SOLAPI SDK: "
            "pip install 'restock-waitlist[kakao]'."
        ) from exc
    return SimpleNamespace(
        SolapiMessageService=SolapiMessageService,
        MessageNotReceivedError=MessageNotReceivedError,
        KakaoOption=KakaoOption,
        RequestMessage=RequestMessage,
        SendRequestConfig=SendRequestConfig,
    )


def kakao_number(number):
    """The domestic form SOLAPI takes (``01012345678``) of a Korean mobile number written
    ``+821012345678``, ``010-1234-5678`` or ``01012345678``; ``None`` for any other number
    (AlimTalk reaches Korean mobile numbers only)."""
    try:
        parsed = phonenumbers.parse(str(number), "KR")
    except phonenumbers.NumberParseException:
        return None
    if (
        parsed.country_code != 82
        or not phonenumbers.is_valid_number(parsed)
        or phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE
    ):
        return None
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(digit for digit in national if digit.isdigit())


def without_scheme(url):
    """Kakao wants a button's link registered with its scheme (``https://#{구매링크}``), so
    the variable carries the rest of the URL."""
    return url.split("://", 1)[1] if "://" in url else url


def status_error(code, message):
    """The :class:`ChannelError` for a SOLAPI message status code that is not a success."""
    text = f"SOLAPI {code}: {message}"
    return TransientError(text) if code in TRANSIENT_STATUSES else PermanentError(text)


def error_for(exc):
    """A :class:`ChannelError` for an exception ``SolapiMessageService.send`` raised, or
    ``None`` when it is none of the SDK's own failures."""
    import httpx  # the SDK's HTTP client

    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"SOLAPI did not answer in time: {exc!r}")
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"SOLAPI cannot be reached: {exc!r}")
    if isinstance(exc, json.JSONDecodeError):
        # A 4xx page that is not SOLAPI's JSON (a gateway's rate limit or error page).
        return TransientError(f"SOLAPI answered with something other than JSON: {exc}")
    if type(exc) is Exception:
        # The SDK raises a bare Exception(errorCode, errorMessage) for 4xx and 5xx answers.
        code, *message = [str(arg) for arg in exc.args] or ["UnknownError"]
        text = f"SOLAPI refused the request ({code}): {' '.join(message)[:200]}".strip()
        return PermanentError(text) if code in PERMANENT_API_ERRORS else TransientError(text)
    return None


def option_key(name, key):
    return f"{SETTINGS_NAME}['CHANNELS'][{name!r}]['OPTIONS'][{key!r}]"


class KakaoAlimTalkChannel(BaseChannel):
    """AlimTalk to the waiter's Korean mobile number; see the module docstring."""

    contact_kind = contacts.PHONE
    label = _("KakaoTalk")
    # Korean law bars advertising messages at night (21:00-08:00). A restock alert the
    # shopper asked for is informational, but shops hold it for the morning all the same.
    quiet_hours = True

    # Configuration ----------------------------------------------------------------------

    @classmethod
    def check_options(cls, name, options):
        """System check errors for this channel's ``OPTIONS`` (ids E040-E044)."""
        errors = [
            checks.Error(
                f"{option_key(name, key)} is required for the KakaoTalk AlimTalk channel.",
                hint="See 'KakaoTalk AlimTalk' in the channels documentation.",
                id="restock_waitlist.E040",
            )
            for key in REQUIRED_OPTIONS
            if not options.get(key)
        ]
        try:
            solapi_sdk()
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"{name!r}: {exc}", id="restock_waitlist.E041"))
        templates = options.get("TEMPLATES")
        if templates and not (
            isinstance(templates, dict)
            and all(isinstance(v, str) and v for v in templates.values())
        ):
            errors.append(
                checks.Error(
                    f"{option_key(name, 'TEMPLATES')} must map languages to template ids.",
                    hint='e.g. {"ko": "KA01TP...", "en": "KA01TP..."}; the first is the fallback.',
                    id="restock_waitlist.E042",
                )
            )
        if options.get("SMS_SUBSTITUTE") and not options.get("FROM"):
            errors.append(
                checks.Error(
                    f"{option_key(name, 'FROM')} is required with SMS_SUBSTITUTE: SOLAPI sends "
                    "the substitute text from a sender number registered with it.",
                    id="restock_waitlist.E043",
                )
            )
        size = options.get("BATCH_SIZE", DEFAULT_BATCH_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH_SIZE:
            errors.append(
                checks.Error(
                    f"{option_key(name, 'BATCH_SIZE')} must be a whole number from 1 to "
                    f"{MAX_BATCH_SIZE:,}.",
                    id="restock_waitlist.E044",
                )
            )
        return errors

    def option(self, key):
        value = self.options.get(key)
        if not value:
            raise ImproperlyConfigured(
                f"{option_key(self.name, key)} is required for the KakaoTalk AlimTalk channel."
            )
        return value

    @property
    def substitutes_sms(self):
        return bool(self.options.get("SMS_SUBSTITUTE"))

    def template_id(self, locale):
        """The template for the waiter's language, its generic language, else the first."""
        templates = self.option("TEMPLATES")
        for language in (locale, (locale or "").split("-")[0]):
            if language and language in templates:
                return templates[language]
        return next(iter(templates.values()))

    def template_names(self, part, kind=ALERT):
        """The substitute text reads as the sms channel's text does, unless this channel has
        its own templates (``messages/<name>.txt``)."""
        own, default = super().template_names(part, kind)
        return [own, own.replace(f"/{self.name}{part}", f"/sms{part}"), default]

    # Joining ------------------------------------------------------------------------------

    def check_subscriber(self, *, user, email, phone):
        """A number is needed (as for any phone channel), and it must be a Korean mobile one."""
        super().check_subscriber(user=user, email=email, phone=phone)
        if not phone and user is not None:
            phone = next(iter(get_adapter().user_phone_numbers([user]).values()), "")
        if kakao_number(phone) is None:
            raise ValidationError(
                {
                    "phone": gettext(
                        "Alerts by “%(channel)s” need a Korean mobile number, e.g. 010-1234-5678."
                    )
                    % {"channel": self.label}
                },
                code="invalid",
            )

    # Sending ------------------------------------------------------------------------------

    def send_stream(self, messages):
        """Build every message, then send them ``BATCH_SIZE`` at a time, one call each;
        yields the results of each call (those that could not be built first)."""
        unbuilt, ready = {}, []
        with self.shared_rendering():
            for message in messages:
                try:
                    ready.append((message, self.build_payload(message)))
                except ChannelError as exc:
                    unbuilt[message.notification_id] = Result.from_error(exc)
        if unbuilt:
            yield unbuilt
        size = int(self.options.get("BATCH_SIZE") or DEFAULT_BATCH_SIZE)
        for start in range(0, len(ready), size):
            yield self.post_batch(ready[start : start + size])

    def variables(self, message):
        """The template's variables for one waiter: the item restocked and their links."""
        context = self.context(message)
        variant = context["variant"]
        return {
            PRODUCT: str(context["product"]),
            VARIANT: "-" if variant is None else str(variant),
            PURCHASE_LINK: without_scheme(message.purchase_url),
            UNSUBSCRIBE_LINK: message.unsubscribe_url,
        }

    def build_payload(self, message):
        """The SDK's message for one waiter (their number, template and variables)."""
        number = kakao_number(message.contact)
        if number is None:
            raise PermanentError(
                f"{message.contact} is not a Korean mobile number; AlimTalk cannot reach it."
            )
        sdk = solapi_sdk()
        substitute = {}
        if self.substitutes_sms:
            sender = self.option("FROM")
            text = self.render(message).text
            substitute = {
                "from_": sender,
                "replacements": [{"from": sender, "to": number, "text": text}],
            }
        return sdk.RequestMessage(
            to=number,
            country="82",
            type="ATA",
            custom_fields={"notification": str(message.notification_id)},
            kakao_options=sdk.KakaoOption(
                pf_id=self.option("PF_ID"),
                template_id=self.template_id(message.locale),
                variables=self.variables(message),
                disable_sms=not self.substitutes_sms,
            ),
            **substitute,
        )

    def service(self):
        service = solapi_sdk().SolapiMessageService(
            self.option("API_KEY"), self.option("API_SECRET")
        )
        if self.options.get("BASE_URL"):
            service.base_url = self.options["BASE_URL"].rstrip("/")
        return service

    def post_batch(self, batch):
        """Send ``[(message, payload)]`` in one call; ``{notification_id: Result}``."""
        sdk, service = solapi_sdk(), self.service()
        config = sdk.SendRequestConfig(allow_duplicates=True, show_message_list=True)
        try:
            response = service.send([payload for _message, payload in batch], config)
        except sdk.MessageNotReceivedError as exc:  # SOLAPI registered none of them
            return self.parse_statuses(batch, exc.failed_messages, [])
        except Exception as exc:
            error = error_for(exc)
            if error is None:
                logger.exception("KakaoTalk channel %r failed on a batch", self.name)
                error = TransientError(f"{exc.__class__.__name__}: {exc}")
            result = Result.from_error(error)
            return {message.notification_id: result for message, _payload in batch}
        return self.parse_statuses(
            batch, response.failed_message_list or [], response.message_list or []
        )

    def parse_statuses(self, batch, failed, registered):
        """One :class:`Result` per message, found by the ``notification`` custom field."""
        statuses = {}
        for item in [*registered, *failed]:  # a failure wins over a listing
            notification = (item.custom_fields or {}).get("notification")
            statuses[notification] = item
        results = {}
        for message, _payload in batch:
            item = statuses.get(str(message.notification_id))
            if item is None:
                result = Result(Result.TRANSIENT, error="SOLAPI gave no status for this message.")
            elif item.status_code in SENT_STATUSES:
                result = Result.sent(item.message_id)
            else:
                result = Result.from_error(status_error(item.status_code, item.status_message))
            results[message.notification_id] = result
        return results


# Delivery reports ---------------------------------------------------------------------------


def record_reports(channel_name, reports):
    """Act on SOLAPI's per-message delivery reports for this channel's notifications (named in
    the report's ``customFields``): an AlimTalk SOLAPI delivered as a text message (its SMS
    substitution) is noted in ``Notification.note``; one Kakao could not deliver (3104 not a
    KakaoTalk user, 3107 blocked, ...) fails after all, and the next channel takes over.
    A report repeated (SOLAPI posts again until it gets a 200) changes nothing more.
    """
    substituted, failed = set(), {}
    for report in reports if isinstance(reports, list) else []:
        data = report.get("data") if isinstance(report, dict) else None
        if not isinstance(data, dict):
            continue
        notification = str((data.get("customFields") or {}).get("notification", ""))
        code = str(data.get("statusCode") or "")
        if not notification.isdigit():
            continue
        if data.get("replacement") in (True, 1) or data.get("type") in SMS_TYPES:
            substituted.add(int(notification))
        elif code and code not in SENT_STATUSES:
            failed[int(notification)] = f"SOLAPI {code}: {data.get('statusMessage') or ''}"
    ours = Notification.objects.filter(channel=channel_name)
    if substituted:
        ours.filter(pk__in=substituted).update(note=SUBSTITUTED_NOTE, updated_at=timezone.now())
    if failed:
        dispatch.fail_after_sending(
            ours.filter(pk__in=failed, status=Notification.Status.SENT), failed
        )


@method_decorator(csrf_exempt, name="dispatch")
class DeliveryReportView(View):
    """SOLAPI's message report webhook for one channel:
    ``path("solapi/<token>/", DeliveryReportView.as_view(channel="kakao"))``, the channel's
    ``REPORT_TOKEN`` in the URL registered with SOLAPI (anyone else gets a 404)."""

    channel = "kakao"
    http_method_names = ["post"]

    def post(self, request, token):
        options = (app_settings.CHANNELS.get(self.channel) or {}).get("OPTIONS") or {}
        expected = options.get("REPORT_TOKEN") or ""
        if not expected or not constant_time_compare(token, expected):
            raise Http404
        try:
            reports = json.loads(request.body)
        except ValueError:
            return HttpResponseBadRequest("Not JSON.")
        record_reports(self.channel, reports)
        return HttpResponse(status=200)  # SOLAPI posts again until it gets a 200
