"""Text messages through Twilio.

Install the ``sms`` extra (``pip install restock-waitlist[sms]``). ``OPTIONS``:
``ACCOUNT_SID``, ``AUTH_TOKEN``, and ``FROM`` (a Twilio number) or
``MESSAGING_SERVICE_SID``. The contact is the entry's phone number in E.164 form.
"""

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from restock_waitlist import contacts
from restock_waitlist.channels.base import BaseChannel, PermanentError, Result, TransientError


def twilio_modules():
    try:
        from twilio.base.exceptions import TwilioException, TwilioRestException
        from twilio.rest import Client
    except ImportError as exc:
        raise ImproperlyConfigured(
            "The sms channel needs Twilio: pip install 'restock-waitlist[sms]'."
        ) from exc
    return Client, TwilioException, TwilioRestException


class TwilioSmsChannel(BaseChannel):
    contact_kind = contacts.PHONE
    label = _("Text message")
    quiet_hours = True

    def option(self, key):
        value = self.options.get(key)
        if not value:
            raise ImproperlyConfigured(
                f"RESTOCK_WAITLIST['CHANNELS'][{self.name!r}]['OPTIONS'][{key!r}] is required "
                "for the Twilio SMS channel."
            )
        return value

    def client(self):
        Client, _exc, _rest_exc = twilio_modules()
        return Client(self.option("ACCOUNT_SID"), self.option("AUTH_TOKEN"))

    def send_stream(self, messages):
        self._client = self.client()
        yield from super().send_stream(messages)

    def build_payload(self, message):
        payload = {"to": message.contact, "body": self.render(message).text}
        if self.options.get("MESSAGING_SERVICE_SID"):
            payload["messaging_service_sid"] = self.options["MESSAGING_SERVICE_SID"]
        else:
            payload["from_"] = self.option("FROM")
        return payload

    def post(self, payload):
        _client, twilio_error, rest_error = twilio_modules()
        try:
            return self._client.messages.create(**payload)
        except rest_error as exc:
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Twilio {exc.status}: {exc.msg}") from exc
            raise PermanentError(f"Twilio {exc.status} (code {exc.code}): {exc.msg}") from exc
        except (twilio_error, OSError) as exc:
            raise TransientError(f"Twilio: {exc}") from exc

    def parse_response(self, response, message):
        return Result.sent(getattr(response, "sid", ""))
