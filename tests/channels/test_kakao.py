"""The KakaoTalk AlimTalk channel against a fake SOLAPI server on 127.0.0.1 (no network)."""

import json
import socket
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.test import RequestFactory
from django.utils import translation
from solapi.model.webhook.single_report import SingleReportPayload

from restock_waitlist import dispatch, services
from restock_waitlist.channels import base, get_channel, locmem
from restock_waitlist.channels.kakao import (
    SUBSTITUTED_NOTE,
    DeliveryReportView,
    KakaoAlimTalkChannel,
    kakao_number,
)
from restock_waitlist.models import Notification, StockWaitlist
from tests import factories
from tests.api.conftest import url
from tests.channels.fake_solapi import FakeSolapi
from tests.test_templatetags import channel_choices, render_button

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_succeed")]

# Dispatch's fixtures: restock through the stock model's save(), and no failed task rows.

SendStatus = Notification.Status
BACKEND = "restock_waitlist.channels.kakao.KakaoAlimTalkChannel"
API_KEY, API_SECRET, PF_ID = "NCSAYU7YDBXYORXC", "test-api-secret-0123456789", "KA01PF26030200TEST"
TEMPLATES = {"ko": "KA01TP260302KO", "en": "KA01TP260302EN"}
VARIABLES = {"#{상품명}", "#{옵션}", "#{구매링크}", "#{수신거부링크}"}
#: A template registered before the button was added: its variables differ from ours.
OLD_TEMPLATE = "KA01TP250101OLD"
NUMBER, OTHER_NUMBER = "+821012345678", "+821098765432"


@pytest.fixture
def solapi():
    templates = {**dict.fromkeys(TEMPLATES.values(), VARIABLES), OLD_TEMPLATE: {"#{상품명}"}}
    with FakeSolapi(API_KEY, API_SECRET, PF_ID, templates) as fake:
        yield fake


@pytest.fixture
def kakao(settings, solapi):
    """The test shop with a ``kakao`` channel added by settings alone, tried before sms.

    Returns a function that changes the channel's ``OPTIONS``.
    """
    base_settings = settings.RESTOCK_WAITLIST

    def configure(**options):
        options = {
            "API_KEY": API_KEY,
            "API_SECRET": API_SECRET,
            "PF_ID": PF_ID,
            "TEMPLATES": TEMPLATES,
            "BASE_URL": solapi.base_url,
            **options,
        }
        settings.RESTOCK_WAITLIST = {
            **base_settings,
            "CHANNELS": {
                **base_settings["CHANNELS"],
                "kakao": {"BACKEND": BACKEND, "OPTIONS": options},
            },
            "CHANNEL_ORDER": ("kakao", "sms"),
        }
        return get_channel("kakao")

    configure()
    return configure


def outgoing(variant, notification_id, contact=NUMBER, locale="ko", **entry_fields):
    entry = factories.EntryFactory(
        variant=variant, phone=contact, locale=locale, channels=["kakao"], **entry_fields
    )
    event = factories.RestockEventFactory(variant=variant)
    return base.Outgoing(notification_id, entry, event, contact)


def sent_messages(solapi):
    return [message for request in solapi.requests for message in request["messages"]]


# Sending a batch ------------------------------------------------------------------------------


def test_one_call_carries_each_waiters_template_and_variables(kakao, solapi, variant):
    korean = outgoing(variant, 1, NUMBER, "ko")
    english = outgoing(variant, 2, OTHER_NUMBER, "en")
    results = get_channel("kakao").send_batch([korean, english])

    assert [r.outcome for r in results.values()] == [base.Result.SENT] * 2
    assert results[1].provider_message_id != results[2].provider_message_id
    (request,) = solapi.requests
    assert request["allowDuplicates"] is True
    first, second = request["messages"]
    assert (first["to"], first["country"], first["type"]) == ("01012345678", "82", "ATA")
    assert second["to"] == "01098765432"
    assert first["customFields"] == {"notification": "1"}
    assert first["kakaoOptions"] == {
        "pfId": PF_ID,
        "templateId": TEMPLATES["ko"],
        "disableSms": True,
        "variables": {
            "#{상품명}": variant.product.name,
            "#{옵션}": variant.name,
            "#{구매링크}": korean.purchase_url.removeprefix("https://"),
            "#{수신거부링크}": korean.unsubscribe_url,
        },
    }
    assert korean.purchase_url.startswith("https://shop.example/waitlist/r/")
    assert second["kakaoOptions"]["templateId"] == TEMPLATES["en"]
    assert second["kakaoOptions"]["variables"]["#{수신거부링크}"] == english.unsubscribe_url
    assert "from" not in first and "replacements" not in first


@pytest.mark.parametrize(
    "locale, template", [("ko", "ko"), ("en", "en"), ("en-gb", "en"), ("ja", "ko")]
)
def test_template_per_language_falls_back_to_the_first(kakao, locale, template):
    assert get_channel("kakao").template_id(locale) == TEMPLATES[template]


def test_a_restock_of_no_one_variant_fills_the_variant_with_a_dash(kakao, solapi, variant):
    entry = factories.EntryFactory(variant=variant, variant_key="", phone=NUMBER, locale="ko")
    event = factories.RestockEventFactory(variant=variant, variant_key="")
    results = get_channel("kakao").send_batch([base.Outgoing(5, entry, event, NUMBER)])
    assert results[5].outcome == base.Result.SENT
    variables = sent_messages(solapi)[0]["kakaoOptions"]["variables"]
    assert (variables["#{상품명}"], variables["#{옵션}"]) == (variant.product.name, "-")


def test_batches_are_at_most_batch_size(kakao, solapi, variant):
    kakao(BATCH_SIZE=2)
    numbers = ["+821011110001", "+821011110002", "+821011110003"]
    messages = [outgoing(variant, i, number) for i, number in enumerate(numbers, 1)]
    results = get_channel("kakao").send_batch(messages)
    assert [len(r["messages"]) for r in solapi.requests] == [2, 1]
    assert {r.outcome for r in results.values()} == {base.Result.SENT}


# Signature ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, code",
    [
        ("API_SECRET", "not-the-secret", "SignatureDoesNotMatch"),
        ("API_KEY", "NOPE", "InvalidAPIKey"),
    ],
)
def test_a_wrong_key_or_secret_is_refused_and_is_permanent(
    kakao, solapi, variant, option, value, code
):
    kakao(**{option: value})
    results = get_channel("kakao").send_batch([outgoing(variant, 1), outgoing(variant, 2)])
    assert {r.outcome for r in results.values()} == {base.Result.PERMANENT}
    assert results[1].error == f"SOLAPI refused the request ({code}): {code}"
    assert solapi.requests == []  # the fake server refused it before reading the batch


def test_the_fake_server_refuses_a_signature_used_twice(solapi):
    from solapi.lib.authenticator import Authenticator

    header = Authenticator(API_KEY, API_SECRET).get_auth_info()
    assert solapi.authentication_error(header) is None
    assert solapi.authentication_error(header) == "DuplicatedSignature"
    assert solapi.authentication_error(header.replace("HMAC-SHA256", "HMAC-MD5")) == (
        "InvalidAPIKey"
    )


# Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, outcome",
    [
        ("3104", base.Result.PERMANENT),  # not a KakaoTalk user
        ("3107", base.Result.PERMANENT),  # blocked AlimTalk
        ("1060", base.Result.PERMANENT),  # blocked number
        ("1024", base.Result.TRANSIENT),  # server error
        ("3108", base.Result.TRANSIENT),  # outside AlimTalk's sending hours
    ],
)
def test_each_message_of_a_batch_gets_its_own_result(kakao, solapi, variant, status, outcome):
    solapi.fail_number("01098765432", status)
    results = get_channel("kakao").send_batch(
        [outgoing(variant, 1, NUMBER), outgoing(variant, 2, OTHER_NUMBER)]
    )
    assert results[1].outcome == base.Result.SENT
    assert results[2].outcome == outcome
    assert results[2].error.startswith(f"SOLAPI {status}: ")


@pytest.mark.parametrize(
    "options, status",
    [
        ({"PF_ID": "KA01PF-NOT-OURS"}, "1041"),
        ({"TEMPLATES": {"ko": "KA01TP-UNKNOWN"}}, "1042"),
        ({"TEMPLATES": {"ko": OLD_TEMPLATE}}, "1043"),  # variables differ from the template's
    ],
)
def test_a_profile_or_template_the_provider_refuses_is_permanent(
    kakao, solapi, variant, options, status
):
    kakao(**options)
    results = get_channel("kakao").send_batch([outgoing(variant, 1), outgoing(variant, 2)])
    # SOLAPI registered none of them: the SDK raises, each message keeps its own status.
    assert [(r.outcome, r.error[:11]) for r in results.values()] == [
        (base.Result.PERMANENT, f"SOLAPI {status}")
    ] * 2


@pytest.mark.parametrize(
    "status, body, outcome",
    [
        (429, b"<html>429 Too Many Requests</html>", base.Result.TRANSIENT),
        (429, {"errorCode": "TooManyRequests", "errorMessage": "slow down"}, base.Result.TRANSIENT),
        (500, b"Internal Server Error", base.Result.TRANSIENT),
        (503, {"errorCode": "UnknownError", "errorMessage": "maintenance"}, base.Result.TRANSIENT),
        (
            403,
            {"errorCode": "RequestTimeTooSkewed", "errorMessage": "clock"},
            base.Result.PERMANENT,
        ),
        (403, {"errorCode": "DuplicatedSignature", "errorMessage": "again"}, base.Result.TRANSIENT),
        (400, {"errorCode": "ValidationError", "errorMessage": "bad"}, base.Result.PERMANENT),
        (402, {"errorCode": "NotEnoughBalance", "errorMessage": "top up"}, base.Result.PERMANENT),
    ],
)
def test_http_errors_map_to_transient_or_permanent(kakao, solapi, variant, status, body, outcome):
    solapi.answer_next(status, body)
    results = get_channel("kakao").send_batch([outgoing(variant, 1), outgoing(variant, 2)])
    assert [r.outcome for r in results.values()] == [outcome, outcome]


def test_no_answer_in_time_is_transient(kakao, solapi, variant):
    # The SDK waits 5 seconds (httpx's default; it has no setting for it).
    solapi.answer_next(200, {}, delay=5.5)
    results = get_channel("kakao").send_batch([outgoing(variant, 1)])
    assert results[1].outcome == base.Result.TRANSIENT
    assert results[1].error.startswith("SOLAPI did not answer in time")


def test_an_unreachable_provider_is_transient(kakao, variant):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    kakao(BASE_URL=f"http://127.0.0.1:{port}")
    results = get_channel("kakao").send_batch([outgoing(variant, 1)])
    assert results[1].outcome == base.Result.TRANSIENT
    assert results[1].error.startswith("SOLAPI cannot be reached")


# Phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number, expected",
    [
        ("+821012345678", "01012345678"),
        ("010-1234-5678", "01012345678"),
        ("01012345678", "01012345678"),
        ("+82 10 1234 5678", "01012345678"),
        ("011-123-4567", "0111234567"),
        ("02-1234-5678", None),  # a Seoul landline
        ("+491511234567", None),  # a German mobile
        ("12", None),
        ("", None),
    ],
)
def test_korean_mobile_numbers_in_domestic_or_e164_form(number, expected):
    assert kakao_number(number) == expected


def test_a_number_alimtalk_cannot_reach_fails_alone_without_a_call(kakao, solapi, variant):
    results = get_channel("kakao").send_batch(
        [outgoing(variant, 1, "+491511234567"), outgoing(variant, 2, "010-9876-5432")]
    )
    assert results[1] == base.Result(
        base.Result.PERMANENT,
        error="+491511234567 is not a Korean mobile number; AlimTalk cannot reach it.",
    )
    assert results[2].outcome == base.Result.SENT
    assert [m["to"] for m in sent_messages(solapi)] == ["01098765432"]


class TestJoining:
    def test_the_api_takes_kakao_with_a_korean_number_in_either_form(self, kakao, client, variant):
        for email, phone in (("a@example.com", "+82 10-1234-5678"), ("b@example.com", NUMBER)):
            body = {
                "product": variant.product_id,
                "email": email,
                "channels": ["kakao", "sms"],
                "consent": True,
            }
            response = client.post(
                url("entry-list"), {**body, "phone": phone}, content_type="application/json"
            )
            assert response.status_code == 202  # a guest confirms by email first
            entry = StockWaitlist.objects.get(email=email)
            assert (entry.channels, entry.phone) == (["kakao", "sms"], NUMBER)

    def test_the_api_refuses_a_number_alimtalk_cannot_reach_naming_phone(
        self, kakao, client, variant
    ):
        body = {
            "product": variant.product_id,
            "email": "g@example.com",
            "channels": ["kakao"],
            "phone": "+4915112345678",  # a German mobile number
            "consent": True,
        }
        response = client.post(url("entry-list"), body, content_type="application/json")
        assert response.status_code == 400
        assert response.json() == {
            "phone": ["Alerts by “KakaoTalk” need a Korean mobile number, e.g. 010-1234-5678."]
        }

    def test_without_a_number_the_api_asks_for_one(self, kakao, client, variant):
        body = {
            "product": variant.product_id,
            "email": "g@example.com",
            "channels": ["kakao"],
            "consent": True,
        }
        response = client.post(url("entry-list"), body, content_type="application/json")
        assert list(response.json()) == ["phone"]

    def test_a_korean_number_on_the_account_is_enough(self, kakao, user, variant, monkeypatch):
        from restock_waitlist.adapters import DefaultAdapter

        monkeypatch.setattr(
            DefaultAdapter, "user_phone_numbers", lambda self, users: {u.pk: NUMBER for u in users}
        )
        entry, created = services.join_waitlist(
            variant.product, variant, user=user, channels=["kakao"]
        )
        assert created and entry.channels == ["kakao"]

    def test_the_form_offers_kakaotalk_by_its_label(self, kakao, variant):
        html = render_button(variant)
        assert channel_choices(html) == ["kakao", "sms", "email"]  # CHANNEL_ORDER, then the rest
        assert "KakaoTalk" in html
        with translation.override("ko"):
            assert "카카오톡" in render_button(variant)


# Through dispatch ---------------------------------------------------------------------------


def waiter(variant, phone, **fields):
    return factories.EntryFactory(
        variant=variant,
        user=None,
        email=f"{phone[-4:]}@example.com",
        phone=phone,
        channels=["kakao", "sms"],
        locale="ko",
        **fields,
    )


def test_dispatch_sends_by_kakao_and_falls_back_to_sms_when_alimtalk_fails(
    kakao, solapi, variant, restock
):
    reached = waiter(variant, NUMBER)
    not_on_kakao = waiter(variant, OTHER_NUMBER)
    solapi.fail_number("01098765432", "3104")
    restock(variant, 2)

    rows = {(row.entry_id, row.channel): row for row in Notification.objects.all()}
    kakao_ok = rows[(reached.pk, "kakao")]
    assert kakao_ok.status == SendStatus.SENT and kakao_ok.provider_message_id.startswith("M4V")
    assert (reached.pk, "sms") not in rows
    failed = rows[(not_on_kakao.pk, "kakao")]
    assert (failed.status, failed.error) == (SendStatus.FAILED, "SOLAPI 3104: 카카오톡 미사용자")
    assert rows[(not_on_kakao.pk, "sms")].status == SendStatus.SENT
    assert [(m.channel, m.contact) for m in locmem.outbox] == [("sms", OTHER_NUMBER)]
    assert len(solapi.requests) == 1  # both waiters in one call


def test_quiet_hours_hold_kakao_until_the_morning(
    kakao, solapi, settings, variant, restock, monkeypatch
):
    settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "QUIET_HOURS": ("21:00", "08:00")}
    night = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    monkeypatch.setattr(dispatch.timezone, "now", lambda: night.astimezone(ZoneInfo("UTC")))
    waiter(variant, NUMBER, time_zone="Asia/Seoul")
    restock(variant, 1)
    row = Notification.objects.get()
    assert (row.channel, row.status) == ("kakao", SendStatus.QUEUED)
    assert row.next_attempt_at == datetime(2026, 3, 3, 8, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    assert solapi.requests == []


# SOLAPI's own SMS substitution --------------------------------------------------------------


def test_sms_substitution_sends_the_sms_text_from_the_shops_number(kakao, solapi, variant):
    kakao(SMS_SUBSTITUTE=True, FROM="02-930-2266")
    message = outgoing(variant, 1)
    assert get_channel("kakao").send_batch([message])[1].outcome == base.Result.SENT
    (sent,) = sent_messages(solapi)
    assert sent["kakaoOptions"]["disableSms"] is False
    assert sent["from"] == "029302266"
    (replacement,) = sent["replacements"]
    assert (replacement["from"], replacement["to"]) == ("02-930-2266", "01012345678")
    assert message.purchase_url in replacement["text"]
    assert message.unsubscribe_url in replacement["text"]


def test_the_substitute_text_is_rendered_once_per_restock_with_each_waiters_links(
    kakao, solapi, variant, template_renders
):
    kakao(SMS_SUBSTITUTE=True, FROM="02-930-2266")
    first = outgoing(variant, 1)
    second = base.Outgoing(2, outgoing(variant, 3, OTHER_NUMBER).entry, first.event, OTHER_NUMBER)
    results = get_channel("kakao").send_batch([first, second])
    assert [result.outcome for result in results.values()] == [base.Result.SENT] * 2
    assert len(template_renders) == 2  # subject and text, once for both
    texts = [sent["replacements"][0]["text"] for sent in sent_messages(solapi)]
    for message, text in zip([first, second], texts, strict=True):
        assert message.purchase_url in text
        assert message.unsubscribe_url in text


def report(notification, message_type, status_code="4000", **data):
    """One message report as SOLAPI posts it to a webhook (the SDK's ``SingleReport``)."""
    return {
        "eventDataId": f"EV{notification.pk}",
        "data": {
            "messageId": notification.provider_message_id,
            "groupId": "G4V20260302233000FAKEGROUP0001",
            "type": message_type,
            "to": "01012345678",
            "statusCode": status_code,
            "customFields": {"notification": str(notification.pk)},
            **data,
        },
    }


def post_reports(reports, token="report-token-1"):
    request = RequestFactory().post(
        f"/solapi/{token}/", json.dumps(reports), content_type="application/json"
    )
    return DeliveryReportView.as_view(channel="kakao")(request, token=token)


def test_the_providers_sms_substitution_is_recorded_in_the_note(kakao, solapi, variant, restock):
    kakao(SMS_SUBSTITUTE=True, FROM="0212345678", REPORT_TOKEN="report-token-1")
    substituted, delivered = waiter(variant, NUMBER), waiter(variant, OTHER_NUMBER)
    restock(variant, 2)
    rows = {row.entry_id: row for row in Notification.objects.filter(channel="kakao")}
    assert {row.status for row in rows.values()} == {SendStatus.SENT}
    assert {row.note for row in rows.values()} == {""}  # SOLAPI only took them, so far

    reports = [
        report(rows[substituted.pk], "LMS", replacement=True),
        report(rows[delivered.pk], "ATA"),
    ]
    SingleReportPayload.model_validate(reports)  # the shape SOLAPI's SDK reads
    assert post_reports(reports).status_code == 200
    notes = dict(Notification.objects.values_list("entry_id", "note"))
    assert notes == {substituted.pk: SUBSTITUTED_NOTE, delivered.pk: ""}
    assert not Notification.objects.filter(channel="sms").exists()
    assert locmem.outbox == []


def test_a_failure_kakao_reports_later_falls_back_to_sms_once(
    kakao, solapi, variant, restock, django_capture_on_commit_callbacks
):
    kakao(REPORT_TOKEN="report-token-1")
    not_on_kakao, delivered = waiter(variant, NUMBER), waiter(variant, OTHER_NUMBER)
    restock(variant, 2)
    rows = {row.entry_id: row for row in Notification.objects.filter(channel="kakao")}
    assert {row.status for row in rows.values()} == {SendStatus.SENT}  # SOLAPI took both
    reports = [
        report(rows[not_on_kakao.pk], "ATA", "3104", statusMessage="카카오톡 미사용자"),
        report(rows[delivered.pk], "ATA", "4000"),
    ]

    for _repeat in range(2):  # SOLAPI posts a report again until it gets a 200
        with django_capture_on_commit_callbacks(execute=True):
            assert post_reports(reports).status_code == 200

    statuses = {
        (row.entry_id, row.channel): (row.status, row.error) for row in Notification.objects.all()
    }
    assert statuses == {
        (not_on_kakao.pk, "kakao"): (SendStatus.FAILED, "SOLAPI 3104: 카카오톡 미사용자"),
        (not_on_kakao.pk, "sms"): (SendStatus.SENT, ""),
        (delivered.pk, "kakao"): (SendStatus.SENT, ""),
    }
    assert [(m.channel, m.contact) for m in locmem.outbox] == [("sms", NUMBER)]


def test_reports_need_the_channels_token(kakao, variant):
    kakao(REPORT_TOKEN="report-token-1")
    with pytest.raises(Http404):
        post_reports([], token="guess")
    kakao()  # no REPORT_TOKEN: no webhook
    with pytest.raises(Http404):
        post_reports([], token="")


def test_reports_that_are_not_ours_change_nothing(kakao, variant):
    kakao(REPORT_TOKEN="report-token-1")
    entry = waiter(variant, NUMBER)
    row = Notification.objects.create(
        entry=entry,
        event=factories.RestockEventFactory(variant=variant),
        subscriber_key=entry.subscriber_key,
        channel="sms",
        status=SendStatus.SENT,
    )
    assert post_reports([report(row, "SMS"), {"data": None}, "junk"]).status_code == 200
    row.refresh_from_db()
    assert row.note == ""  # an sms notification is not this channel's
    request = RequestFactory().post("/solapi/t/", "{", content_type="application/json")
    assert DeliveryReportView.as_view()(request, token="report-token-1").status_code == 400


# Configuration ------------------------------------------------------------------------------


def kakao_check_errors():
    return [e for e in checks.run_checks(tags=["restock_waitlist"]) if e.id[-3:-1] == "04"]


def test_the_checks_name_each_missing_option(kakao):
    kakao(API_SECRET="", TEMPLATES=None)
    errors = kakao_check_errors()
    assert [(e.id, e.msg) for e in errors] == [
        (
            "restock_waitlist.E040",
            f"RESTOCK_WAITLIST['CHANNELS']['kakao']['OPTIONS'][{key!r}] is required for the "
            "KakaoTalk AlimTalk channel.",
        )
        for key in ("API_SECRET", "TEMPLATES")
    ]


@pytest.mark.parametrize(
    "options, check_id, key",
    [
        ({"TEMPLATES": ["KA01TP260302KO"]}, "E042", "TEMPLATES"),
        ({"SMS_SUBSTITUTE": True}, "E043", "FROM"),
        ({"BATCH_SIZE": 20_000}, "E044", "BATCH_SIZE"),
    ],
)
def test_the_checks_name_a_bad_option(kakao, options, check_id, key):
    kakao(**options)
    (error,) = kakao_check_errors()
    assert error.id == f"restock_waitlist.{check_id}"
    assert f"['OPTIONS'][{key!r}]" in error.msg


def test_the_checks_say_when_the_extra_is_missing(kakao, monkeypatch):
    monkeypatch.setitem(sys.modules, "solapi", None)  # import solapi raises ImportError
    (error,) = kakao_check_errors()
    assert error.id == "restock_waitlist.E041"
    assert "pip install 'restock-waitlist[kakao]'" in error.msg


def test_a_configured_channel_passes_the_checks(kakao):
    kakao(SMS_SUBSTITUTE=True, FROM="0212345678", BATCH_SIZE=500)
    assert kakao_check_errors() == []


@pytest.mark.parametrize("key", ["PF_ID", "API_SECRET"])
def test_sending_without_an_option_names_it(kakao, variant, key):
    channel = kakao(**{key: ""})
    with pytest.raises(ImproperlyConfigured, match=rf"\['OPTIONS'\]\['{key}'\] is required"):
        channel.send_batch([outgoing(variant, 1)])


def test_describes_itself(kakao):
    channel = get_channel("kakao")
    assert isinstance(channel, KakaoAlimTalkChannel)
    assert (channel.contact_kind, str(channel.label), channel.quiet_hours) == (
        "phone",
        "KakaoTalk",
        True,
    )
    assert channel.offered_to(None) and channel.offered_to(object())
