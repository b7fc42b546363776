"""A fake SOLAPI server for the KakaoTalk channel's tests: a real HTTP server on 127.0.0.1.

It checks requests as SOLAPI does (docs.solapi.com, "API Key 인증 방식"): the
``Authorization: HMAC-SHA256 apiKey=..., date=..., salt=..., signature=...`` header, whose
signature is HMAC-SHA256 over date + salt keyed with the API secret, a date within 15
minutes and a signature used once. It checks each AlimTalk message of a
``POST /messages/v4/send-many/detail`` batch against the sender profile and the templates it
knows, and answers as ``send-many/detail`` does (``failedMessageList``, ``groupInfo``,
``messageList``). Tests make it fail: per number (a status code in ``failedMessageList``), or
the next requests (an HTTP status, or no answer in time).
"""

import hashlib
import hmac
import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEND_PATH = "/messages/v4/send-many/detail"
AUTH_RE = re.compile(r"^HMAC-SHA256 (?P<params>.+)$")
KOREAN_MOBILE_RE = re.compile(r"^01[016789]\d{7,8}$")

#: SOLAPI's message status texts (docs.solapi.com, "메시지 상태 코드").
STATUS_TEXT = {
    "2000": "정상 접수(이통사로 접수 예정)",
    "1024": "서버 오류",
    "1041": "유효한 플러스 친구 값이 아닙니다.",
    "1042": "유효한 템플릿 아이디가 아닙니다.",
    "1043": "등록한 템플릿과 내용이 다릅니다.",
    "1060": "차단된 수신번호",
    "3010": "수신번호 형식 오류",
    "3104": "카카오톡 미사용자",
    "3107": "72시간 이내 카카오톡 미사용자, 알림톡 차단한 사용자",
    "3108": "메시지 발송 가능 시간이 아님(오전 8시 ~ 오후 8시 가능)",
}


class FakeSolapi:
    """``with FakeSolapi(key, secret, pf_id, templates) as fake:`` serves on ``fake.base_url``.

    ``templates`` maps a template id to the set of variables registered with it.
    """

    def __init__(self, api_key, api_secret, pf_id, templates):
        self.api_key, self.api_secret, self.pf_id = api_key, api_secret, pf_id
        self.templates = {tid: set(variables) for tid, variables in templates.items()}
        self.requests = []  # the JSON bodies of authenticated sends
        self.number_statuses = {}  # recipient -> status code
        self.planned = []  # (http status, body, delay) for the next requests, in order
        self.used_signatures = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    # What tests tell it -----------------------------------------------------------------

    def fail_number(self, number, status_code):
        """Refuse messages to ``number`` (domestic digits) with this SOLAPI status code."""
        self.number_statuses[number] = status_code

    def answer_next(self, status, body=None, delay=0.0):
        """Answer the next request with this HTTP status and body (after ``delay`` seconds)."""
        self.planned.append((status, body, delay))

    # Serving ----------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer, delay = fake.respond(
                    self.path, self.headers.get("Authorization", ""), body
                )
                if delay:
                    time.sleep(delay)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

            def log_message(self, format, *args):
                pass

        return Handler

    def respond(self, path, authorization, body):
        with self.lock:
            if self.planned:
                return self.planned.pop(0)
            refused = self.authentication_error(authorization)
            if refused:
                return 403, {"errorCode": refused, "errorMessage": refused}, 0
            if path != SEND_PATH:
                return 404, {"errorCode": "ResourceNotFound", "errorMessage": path}, 0
            payload = json.loads(body)
            self.requests.append(payload)
            return 200, self.send_many_detail(payload), 0

    def authentication_error(self, authorization):
        """SOLAPI's 403 error code for a bad ``Authorization`` header, or ``None``."""
        match = AUTH_RE.match(authorization)
        if not match:
            return "InvalidAPIKey"
        params = {}
        for part in match["params"].split(","):
            name, _eq, value = part.strip().partition("=")
            params[name.lower()] = value
        if params.get("apikey") != self.api_key:
            return "InvalidAPIKey"
        date, salt = params.get("date", ""), params.get("salt", "")
        expected = hmac.new(
            self.api_secret.encode(), (date + salt).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "")):
            return "SignatureDoesNotMatch"
        try:
            sent_at = datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            return "RequestTimeTooSkewed"
        if sent_at.tzinfo is None or abs(datetime.now(timezone.utc) - sent_at) > timedelta(
            minutes=15
        ):
            return "RequestTimeTooSkewed"
        if expected in self.used_signatures:
            return "DuplicatedSignature"
        self.used_signatures.add(expected)
        return None

    def status_of(self, message):
        """SOLAPI's status code for one AlimTalk message of the batch."""
        options = message.get("kakaoOptions") or {}
        to = message.get("to", "")
        if message.get("country") != "82" or not KOREAN_MOBILE_RE.match(to):
            return "3010"
        if options.get("pfId") != self.pf_id:
            return "1041"
        variables = self.templates.get(options.get("templateId"))
        if variables is None:
            return "1042"
        if set(options.get("variables") or {}) != variables:
            return "1043"
        return self.number_statuses.get(to, "2000")

    def send_many_detail(self, payload):
        failed, listed = [], []
        for number, message in enumerate(payload["messages"], 1):
            code = self.status_of(message)
            item = {
                "messageId": f"M4V{len(self.requests):04d}{number:06d}",
                "statusCode": code,
                "statusMessage": STATUS_TEXT.get(code, code),
                "customFields": message.get("customFields") or {},
            }
            if code == "2000":
                listed.append(item)
            else:
                failed.append(
                    {
                        **item,
                        "to": message.get("to"),
                        "from": message.get("from"),
                        "type": message.get("type") or "ATA",
                        "country": message.get("country"),
                        "accountId": "12925149",
                    }
                )
        response = {"failedMessageList": failed, "groupInfo": group_info(payload, failed)}
        if payload.get("showMessageList"):
            response["messageList"] = listed
        return response


def group_info(payload, failed):
    total = len(payload["messages"])
    cash = {"requested": 0, "replacement": 0, "refund": 0, "sum": 0}
    now = datetime.now(timezone.utc).isoformat()
    return {
        "count": {
            "total": total,
            "sentTotal": 0,
            "sentFailed": 0,
            "sentSuccess": 0,
            "sentPending": 0,
            "sentReplacement": 0,
            "refund": 0,
            "registeredFailed": len(failed),
            "registeredSuccess": total - len(failed),
        },
        "countForCharge": {"ata": {"82": total - len(failed)}},
        "balance": cash,
        "point": cash,
        "app": {"profit": {}, "appId": None},
        "log": [],
        "status": "SENDING",
        "allowDuplicates": bool(payload.get("allowDuplicates")),
        "isRefunded": False,
        "accountId": "12925149",
        "masterAccountId": None,
        "apiVersion": "4",
        "groupId": "G4V20260302233000FAKEGROUP0001",
        "price": {},
        "dateCreated": now,
        "dateUpdated": now,
    }
