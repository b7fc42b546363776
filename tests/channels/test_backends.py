"""Channel backends in isolation: settings at call time, error mapping, push and SMS."""

import io
import smtplib
import sys
from types import SimpleNamespace

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from restock_waitlist.channels import base, email, get_channel, locmem
from restock_waitlist.channels.console import ConsoleChannel
from restock_waitlist.channels.push import PushChannel
from restock_waitlist.channels.sms import TwilioSmsChannel
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(variant):
    entry = factories.EntryFactory(variant=variant, phone="+821012345678")
    event = factories.RestockEventFactory(variant=variant)
    return base.Outgoing(7, entry, event, "+821012345678")


def test_get_channel_reads_backend_and_options_at_call_time(settings):
    channels = {
        "sms": {
            "BACKEND": "restock_waitlist.channels.console.ConsoleChannel",
            "OPTIONS": {"STREAM": "x"},
        }
    }
    with override_settings(RESTOCK_WAITLIST={**settings.RESTOCK_WAITLIST, "CHANNELS": channels}):
        channel = get_channel("sms")
    assert isinstance(channel, ConsoleChannel)
    assert (channel.name, channel.options) == ("sms", {"STREAM": "x"})
    assert isinstance(get_channel("sms"), locmem.LocmemChannel)


def test_get_channel_names_the_missing_key():
    with pytest.raises(ImproperlyConfigured, match=r"\['CHANNELS'\]\['fax'\]"):
        get_channel("fax")


def test_console_channel_prints_the_message(message):
    stream = io.StringIO()
    result = ConsoleChannel("sms", STREAM=stream).send_batch([message])
    assert result == {7: base.Result.sent("")}
    assert stream.getvalue().startswith("[sms] to +821012345678\n")
    assert "is back in stock" in stream.getvalue()


def test_locmem_channel_records_in_its_outbox(message):
    result = locmem.LocmemChannel("sms").send_batch([message])
    assert result[7].outcome == base.Result.SENT
    sent = locmem.outbox[0]
    assert (sent.channel, sent.contact, sent.entry_id) == ("sms", "+821012345678", message.entry.pk)
    assert "https://shop.example/waitlist/r/" in sent.text


def test_a_backend_bug_becomes_a_transient_result_not_a_crash(message):
    class Broken(base.BaseChannel):
        def build_payload(self, message):
            raise KeyError("oops")

    result = Broken("sms").send_one(message)
    assert result.outcome == base.Result.TRANSIENT
    assert result.error == "KeyError: 'oops'"


def test_the_base_channel_names_the_missing_step(message):
    result = base.BaseChannel("sms").send_one(message)
    assert "must implement build_payload()" in result.error


def test_a_channel_written_for_0_1_that_overrides_send_batch_still_sends(message):
    class OneCallProvider(base.BaseChannel):
        calls = []

        def send_batch(self, messages):
            self.calls.append([m.notification_id for m in messages])
            return {
                m.notification_id: base.Result.sent(f"batch-{m.notification_id}") for m in messages
            }

    reports = list(OneCallProvider("sms").send_stream([message]))
    assert reports == [{7: base.Result.sent("batch-7")}]
    assert OneCallProvider.calls == [[7]]


def api_error(message, status):
    response = SimpleNamespace(reason="reason", json=lambda: {}, text="")
    return AnymailAPIError(message, status_code=status, response=response)


@pytest.mark.parametrize(
    "exc, outcome",
    [
        (AnymailRecipientsRefused("all rejected"), base.Result.PERMANENT),
        (api_error("bad request", 400), base.Result.PERMANENT),
        (api_error("rate limited", 429), base.Result.TRANSIENT),
        (api_error("server error", 503), base.Result.TRANSIENT),
        (AnymailAPIError("no response"), base.Result.TRANSIENT),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no")}), base.Result.PERMANENT),
        (smtplib.SMTPDataError(552, b"mailbox full"), base.Result.PERMANENT),
        (smtplib.SMTPDataError(451, b"try later"), base.Result.TRANSIENT),
        (ConnectionRefusedError("refused"), base.Result.TRANSIENT),
    ],
)
def test_email_errors_map_to_transient_or_permanent(exc, outcome):
    assert base.Result.from_error(email.error_for(exc)).outcome == outcome


def test_email_that_cannot_connect_is_transient_for_every_message(message):
    class Unreachable:
        def open(self):
            raise ConnectionRefusedError("smtp down")

    channel = email.EmailChannel("email")
    channel.connection = Unreachable
    assert channel.send_batch([message])[7].outcome == base.Result.TRANSIENT


def test_batch_recipient_statuses_become_results():
    status = lambda s: SimpleNamespace(status=s, message_id="m1")  # noqa: E731
    assert email.EmailChannel._recipient_result(status("queued")) == base.Result.sent("m1")
    assert email.EmailChannel._recipient_result(status("rejected")).outcome == base.Result.PERMANENT
    assert email.EmailChannel._recipient_result(status("failed")).outcome == base.Result.TRANSIENT


# Push ---------------------------------------------------------------------------------------


class FakeDevice:
    def __init__(self, user_id, pk, error=None):
        self.user_id, self.pk, self.error, self.sent = user_id, pk, error, []

    def send_message(self, message, **kwargs):
        if self.error:
            raise self.error
        self.sent.append((message, kwargs))
        return {"success": 1}


class GCMDevice(FakeDevice):
    pass


class APNSDevice(FakeDevice):
    pass


class WebPushDevice(FakeDevice):
    pass


def fake_models(devices):
    def manager(kind):
        return SimpleNamespace(
            filter=lambda user_id__in, active: [
                d for d in devices if type(d) is kind and d.user_id in user_id__in
            ]
        )

    for kind in (GCMDevice, APNSDevice, WebPushDevice):
        kind.objects = manager(kind)
    return [GCMDevice, APNSDevice, WebPushDevice]


def push_message(user, variant, pk=1):
    variant = variant if pk == 1 else factories.VariantFactory()
    entry = factories.EntryFactory(variant=variant, user=user)
    return base.Outgoing(pk, entry, factories.RestockEventFactory(variant=variant), user)


def test_push_reaches_every_device_of_the_user(monkeypatch, user, variant):
    devices = [GCMDevice(user.pk, 1), APNSDevice(user.pk, 2), WebPushDevice(user.pk, 3)]
    monkeypatch.setattr(PushChannel, "device_models", lambda self: fake_models(devices))
    result = PushChannel("push").send_batch([push_message(user, variant)])
    assert result[1] == base.Result.sent("GCMDevice:1,APNSDevice:2,WebPushDevice:3")
    gcm_body, gcm_kwargs = devices[0].sent[0]
    assert "is back" in gcm_body
    assert gcm_kwargs["extra"]["url"].startswith("https://shop.example/waitlist/r/")
    assert devices[1].sent[0][0]["title"] == "Back in stock"
    assert '"url": "https://shop.example/waitlist/r/' in devices[2].sent[0][0]


def test_push_without_devices_is_no_contact(monkeypatch, user, variant):
    monkeypatch.setattr(PushChannel, "device_models", lambda self: fake_models([]))
    result = PushChannel("push").send_batch([push_message(user, variant)])
    assert result[1].outcome == base.Result.NO_CONTACT


def test_push_with_dead_tokens_only_is_permanent_else_transient(monkeypatch, user, variant):
    dead = [APNSDevice(user.pk, 1, error=RuntimeError("Unregistered"))]
    monkeypatch.setattr(PushChannel, "device_models", lambda self: fake_models(dead))
    assert PushChannel("push").send_batch([push_message(user, variant)])[1].outcome == "permanent"
    down = [GCMDevice(user.pk, 1, error=RuntimeError("503 Service Unavailable"))]
    monkeypatch.setattr(PushChannel, "device_models", lambda self: fake_models(down))
    assert (
        PushChannel("push").send_batch([push_message(user, variant, 2)])[2].outcome == "transient"
    )


def test_push_without_the_extra_installed_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "push_notifications", None)
    with pytest.raises(ImproperlyConfigured, match=r"restock-waitlist\[push\]"):
        PushChannel("push").device_models()


# SMS ----------------------------------------------------------------------------------------


class FakeTwilio:
    def __init__(self, error=None):
        self.error, self.created = error, []
        self.messages = SimpleNamespace(create=self.create)

    def create(self, **payload):
        if self.error:
            raise self.error
        self.created.append(payload)
        return SimpleNamespace(sid="SM123")


def sms_channel(monkeypatch, client, **options):
    channel = TwilioSmsChannel(
        "sms", ACCOUNT_SID="AC1", AUTH_TOKEN="t", FROM="+15550001", **options
    )
    monkeypatch.setattr(channel, "client", lambda: client)
    return channel


def test_sms_goes_through_twilio(monkeypatch, message):
    client = FakeTwilio()
    result = sms_channel(monkeypatch, client).send_batch([message])
    assert result[7] == base.Result.sent("SM123")
    payload = client.created[0]
    assert (payload["to"], payload["from_"]) == ("+821012345678", "+15550001")
    assert "/waitlist/r/" in payload["body"] and "/waitlist/unsubscribe/" in payload["body"]


def test_sms_messaging_service_replaces_from(monkeypatch, message):
    client = FakeTwilio()
    sms_channel(monkeypatch, client, MESSAGING_SERVICE_SID="MG1").send_batch([message])
    assert client.created[0]["messaging_service_sid"] == "MG1"
    assert "from_" not in client.created[0]


@pytest.mark.parametrize(
    "status, outcome", [(400, "permanent"), (429, "transient"), (500, "transient")]
)
def test_twilio_errors_map_to_outcomes(monkeypatch, message, status, outcome):
    exceptions = pytest.importorskip("twilio.base.exceptions")
    error = exceptions.TwilioRestException(status, "https://api.twilio.com", msg="nope", code=21211)
    result = sms_channel(monkeypatch, FakeTwilio(error)).send_batch([message])
    assert result[7].outcome == outcome


def test_sms_names_a_missing_option(message):
    pytest.importorskip("twilio")
    channel = TwilioSmsChannel("sms", ACCOUNT_SID="AC1", AUTH_TOKEN="t")
    channel._client = FakeTwilio()
    with pytest.raises(ImproperlyConfigured, match=r"\['OPTIONS'\]\['FROM'\]"):
        channel.build_payload(message)
