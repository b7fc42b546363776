"""Email through Django's email API, so any django-anymail ESP (or SMTP) delivers it.

``OPTIONS``:

``EMAIL_BACKEND``
    Dotted path of a Django email backend for these alerts only.
``MAILER``
    Django 6.1+: the alias in ``settings.MAILERS`` to send through (default
    ``"default"``). Without either, the project's default mailer (``EMAIL_BACKEND``
    before Django 6.1).
``FROM_EMAIL``
    Sender (default: ``settings.DEFAULT_FROM_EMAIL``).
``MERGE_FIELD``
    Your ESP's merge-field syntax with ``KEY`` where the field name goes, e.g.
    ``"{{KEY}}"`` or ``"*|KEY|*"``. With an anymail backend this turns on batch sending:
    one API call carries up to ``BATCH_SIZE`` waiters, each getting their own links
    through anymail's ``merge_data`` and ``merge_headers``. On by default for the ESPs in
    :data:`DEFAULT_MERGE_FIELDS`; ``""`` turns it off (one message each).
``BATCH_SIZE``
    Recipients per batch call (default 500).
"""

import smtplib

from anymail.backends.base import AnymailBaseBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailRecipientsRefused,
    AnymailUnsupportedFeature,
)
from django.conf import settings
from django.core import checks
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.module_loading import import_string

try:  # Django 6.1+: named mailers (settings.MAILERS) replace get_connection().
    from django.core.mail import mailers
except ImportError:
    mailers = None

from restock_waitlist.channels.base import (
    ALERT,
    CONFIRM,
    BaseChannel,
    PermanentError,
    Result,
    TransientError,
)

#: Per-recipient values in a batch send, as merge-field names.
MERGE_KEYS = {
    "purchase_url": "PURCHASE_URL",
    "unsubscribe_url": "UNSUBSCRIBE_URL",
    "unsubscribe_all_url": "UNSUBSCRIBE_ALL_URL",
}

#: ``MERGE_FIELD`` when none is set, by anymail backend: ESPs that merge per-recipient
#: values into one message, so a chunk goes out in a few API calls rather than one each.
DEFAULT_MERGE_FIELDS = {
    "anymail.backends.mailgun.EmailBackend": "%recipient.KEY%",
    "anymail.backends.mailjet.EmailBackend": "[[var:KEY]]",
    "anymail.backends.mandrill.EmailBackend": "*|KEY|*",
    "anymail.backends.sparkpost.EmailBackend": "{{KEY}}",
}

#: A mailer's backend when its ``BACKEND`` is not given (Django's default).
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

#: anymail recipient statuses that mean "the ESP took it".
ACCEPTED = {"sent", "queued", "scheduled", "unknown"}


def open_connection(options):
    """A connection to the email backend of a channel with ``options`` (not yet opened):
    ``EMAIL_BACKEND``, else the mailer ``MAILER`` names, else the project's default."""
    if options.get("EMAIL_BACKEND"):
        return import_string(options["EMAIL_BACKEND"])()
    if mailers is not None:
        return mailers[options.get("MAILER") or "default"]
    return get_connection()


def backend_path(options):
    """The dotted path of the backend :func:`open_connection` would use, read from the
    settings without making one (``""`` when a named mailer does not exist)."""
    if options.get("EMAIL_BACKEND"):
        return options["EMAIL_BACKEND"]
    if mailers is not None and hasattr(settings, "MAILERS"):
        config = settings.MAILERS.get(options.get("MAILER") or "default")
        return config.get("BACKEND", SMTP_BACKEND) if config else ""
    return settings.EMAIL_BACKEND


def unsubscribe_headers(message):
    """RFC 2369 / RFC 8058 headers: one-click unsubscribe from the message's entry (the link
    its text carries, signed once)."""
    return {
        "List-Unsubscribe": f"<{message.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def error_for(exc):
    """A :class:`ChannelError` for an exception raised while sending mail."""
    if isinstance(exc, AnymailRecipientsRefused):
        return PermanentError(f"Recipient refused: {exc}")
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            return PermanentError(f"ESP rejected the message ({status}): {exc}")
        return TransientError(f"ESP error ({status or 'no response'}): {exc}")
    if isinstance(exc, AnymailError):
        return PermanentError(str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return PermanentError(f"Recipient refused: {exc.recipients}")
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500:
        return PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
    return TransientError(f"{exc.__class__.__name__}: {exc}")


class EmailChannel(BaseChannel):
    renders_html = True
    link_names = {
        ALERT: tuple(MERGE_KEYS),
        CONFIRM: ("confirm_url", "unsubscribe_url", "unsubscribe_all_url"),
    }

    def merge_field(self, backend):
        """The merge-field syntax to batch with through ``backend`` (a class), or ``""``:
        ``MERGE_FIELD``, else the ESP's default; never with a backend that is not anymail's."""
        if not issubclass(backend, AnymailBaseBackend):
            return ""
        field = self.options.get("MERGE_FIELD")
        if field is None:
            names = (f"{klass.__module__}.{klass.__qualname__}" for klass in backend.__mro__)
            field = next((DEFAULT_MERGE_FIELDS[n] for n in names if n in DEFAULT_MERGE_FIELDS), "")
        return field or ""

    @classmethod
    def check_options(cls, name, options):
        """``E045``: a ``MAILER`` that does not exist (or before Django 6.1); ``W045``:
        ``MERGE_FIELD`` with a backend that cannot batch (the setting would be ignored: one
        message each); ``W046``: a ``MERGE_FIELD`` without ``KEY``."""
        return cls._check_mailer(name, options) or cls._check_merge_field(name, options)

    @staticmethod
    def _check_mailer(name, options):
        alias = options.get("MAILER")
        if not alias:
            return []
        setting = f"RESTOCK_WAITLIST['CHANNELS'][{name!r}]['OPTIONS']['MAILER']"
        if mailers is None:
            problem, hint = "needs Django 6.1 or later", "Use EMAIL_BACKEND on this Django."
        elif options.get("EMAIL_BACKEND"):
            problem, hint = "is ignored: EMAIL_BACKEND is set too", "Keep one of the two."
        elif alias not in getattr(settings, "MAILERS", {}):
            problem, hint = f"= {alias!r} is not in settings.MAILERS", "Name one of MAILERS."
        else:
            return []
        return [checks.Error(f"{setting} {problem}.", hint=hint, id="restock_waitlist.E045")]

    @staticmethod
    def _check_merge_field(name, options):
        field = options.get("MERGE_FIELD")
        if not field:
            return []
        if not isinstance(field, str) or "KEY" not in field:
            return [
                checks.Warning(
                    f"RESTOCK_WAITLIST['CHANNELS'][{name!r}]['OPTIONS']['MERGE_FIELD'] = "
                    f"{field!r} has no KEY: every waiter would get the same links.",
                    hint='Your ESP\'s merge-field syntax with KEY for the name, e.g. "{{KEY}}".',
                    id="restock_waitlist.W046",
                )
            ]
        path = backend_path(options)
        try:
            backend = import_string(path)
        except ImportError:
            return []
        if isinstance(backend, type) and issubclass(backend, AnymailBaseBackend):
            return []
        return [
            checks.Warning(
                f"RESTOCK_WAITLIST['CHANNELS'][{name!r}]['OPTIONS']['MERGE_FIELD'] is ignored: "
                f"{path} is not an anymail backend, so each waiter gets a message of their own.",
                hint="Send through your ESP's anymail backend to batch, or remove MERGE_FIELD.",
                id="restock_waitlist.W045",
            )
        ]

    def connection(self):
        return open_connection(self.options)

    def email(self, rendered, to, connection, headers=None):
        message = EmailMultiAlternatives(
            rendered.subject,
            rendered.text,
            self.options.get("FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL,
            to=to,
            headers=headers,
            connection=connection,
        )
        if rendered.html:
            message.attach_alternative(rendered.html, "text/html")
        return message

    # One message each -----------------------------------------------------------------

    def send_stream(self, messages):
        """Every message through one connection: one by one, or (``MERGE_FIELD`` on an
        anymail backend) one ESP call per batch, its results yielded after each call."""
        connection = self.connection()
        try:
            connection.open()
        except Exception as exc:
            error = Result.from_error(error_for(exc))
            yield {message.notification_id: error for message in messages}
            return
        self._connection = connection
        try:
            merge_field = self.merge_field(type(connection))
            if merge_field and all(message.kind == ALERT for message in messages):
                yield from self._send_merged(connection, messages, merge_field)
            else:
                yield from super().send_stream(messages)
        finally:
            connection.close()

    def build_payload(self, message):
        return self.email(
            self.render(message),
            [message.contact],
            self._connection,
            headers=unsubscribe_headers(message),
        )

    def post(self, payload):
        try:
            payload.send()
        except Exception as exc:
            raise error_for(exc) from exc
        return payload

    def parse_response(self, response, message):
        status = getattr(response, "anymail_status", None)
        return Result.sent(getattr(status, "message_id", None))

    # Batch sending with merge data ----------------------------------------------------

    def batches(self, messages):
        """Groups sharing one rendering (event, language), each address once, ``BATCH_SIZE`` max."""
        size = int(self.options.get("BATCH_SIZE") or 500)
        groups = {}
        for message in messages:
            groups.setdefault((message.event.pk, message.locale), []).append(message)
        for group in groups.values():
            pending = group
            while pending:
                batch, seen, later = [], set(), []
                for message in pending:
                    address = message.contact.casefold()
                    if address in seen or len(batch) >= size:
                        later.append(message)
                    else:
                        seen.add(address)
                        batch.append(message)
                yield batch
                pending = later

    def _send_merged(self, connection, messages, merge_field):
        """Yield ``{notification_id: Result}`` after each ESP call."""
        placeholders = {name: merge_field.replace("KEY", key) for name, key in MERGE_KEYS.items()}
        for batch in self.batches(messages):
            email = self.email(
                self.render(batch[0], entry=None, **placeholders),
                [message.contact for message in batch],
                connection,
            )
            email.merge_data = {
                m.contact: {key: getattr(m, name) for name, key in MERGE_KEYS.items()}
                for m in batch
            }
            email.merge_headers = {m.contact: unsubscribe_headers(m) for m in batch}
            email.merge_metadata = {m.contact: {"notification": m.notification_id} for m in batch}
            try:
                email.send()
            except AnymailUnsupportedFeature:
                # This ESP cannot merge per recipient (e.g. headers): one message each.
                yield from super().send_stream(batch)
                continue
            except Exception as exc:
                error = Result.from_error(error_for(exc))
                yield {m.notification_id: error for m in batch}
                continue
            statuses = email.anymail_status.recipients
            yield {
                m.notification_id: self._recipient_result(statuses.get(m.contact)) for m in batch
            }

    @staticmethod
    def _recipient_result(status):
        if status is None or status.status in ACCEPTED:
            return Result.sent(getattr(status, "message_id", None))
        if status.status in ("rejected", "invalid"):
            return Result(Result.PERMANENT, error=f"ESP status: {status.status}")
        return Result(Result.TRANSIENT, error=f"ESP status: {status.status}")
