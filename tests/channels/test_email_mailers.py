"""The email channel's backend: its own ``EMAIL_BACKEND``, a named mailer (Django 6.1's
``MAILERS``), or the project's default, and the start-up checks naming a wrong ``MAILER``."""

import django
import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import checks, mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from restock_waitlist.channels.email import EmailChannel
from tests.channels.test_email_batching import TEST_ESP, outgoing, with_email_options

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
MAILERS = {"default": {"BACKEND": LOCMEM}, "alerts": {"BACKEND": TEST_ESP}}
needs_mailers = pytest.mark.skipif(
    django.VERSION < (6, 1), reason="MAILERS is Django 6.1's (tox runs it)"
)


def mailer_errors():
    return [message for message in checks.run_checks() if message.id == "restock_waitlist.E045"]


def test_without_options_the_projects_default_backend_sends():
    assert isinstance(EmailChannel("email").connection(), LocmemBackend)


@needs_mailers
def test_a_named_mailer_sends_and_batches(settings, variant):
    settings.MAILERS = MAILERS
    channel = EmailChannel("email", MAILER="alerts", MERGE_FIELD="{{KEY}}")
    results = channel.send_batch(outgoing(variant, 10))
    assert {result.outcome for result in results.values()} == {"sent"}
    assert [len(message.to) for message in mail.outbox] == [10]  # one anymail call


@needs_mailers
def test_the_default_mailer_sends_without_options(settings):
    settings.MAILERS = {"default": {"BACKEND": TEST_ESP}}
    assert isinstance(EmailChannel("email").connection(), AnymailTestBackend)


@needs_mailers
def test_the_channels_own_backend_works_beside_mailers(settings, variant):
    """``get_connection(path)`` raises once a project defines ``MAILERS``."""
    settings.MAILERS = MAILERS
    channel = EmailChannel("email", EMAIL_BACKEND=TEST_ESP)
    assert isinstance(channel.connection(), AnymailTestBackend)
    assert {r.outcome for r in channel.send_batch(outgoing(variant, 3)).values()} == {"sent"}


@needs_mailers
@pytest.mark.parametrize(
    ("mailers", "expected"),
    [({"default": {"BACKEND": TEST_ESP}}, []), (MAILERS, ["restock_waitlist.W045"])],
)
def test_a_merge_field_is_checked_against_the_default_mailer(settings, mailers, expected):
    settings.MAILERS = mailers
    with_email_options(settings, MERGE_FIELD="{{KEY}}")
    found = [m.id for m in checks.run_checks() if m.id == "restock_waitlist.W045"]
    assert found == expected


@needs_mailers
@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"MAILER": "alerts"}, None),
        ({"MAILER": "newsletter"}, "'newsletter' is not in settings.MAILERS"),
        ({"MAILER": "alerts", "EMAIL_BACKEND": TEST_ESP}, "is ignored: EMAIL_BACKEND is set too"),
    ],
)
def test_a_wrong_mailer_is_named_at_start_up(settings, options, problem):
    settings.MAILERS = MAILERS
    with_email_options(settings, **options)
    errors = mailer_errors()
    assert [problem in e.msg for e in errors] == ([True] if problem else [])
    assert all("['email']['OPTIONS']['MAILER']" in e.msg for e in errors)


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="Django 6.1 has MAILERS")
def test_a_mailer_before_django_6_1_is_named_at_start_up(settings):
    with_email_options(settings, MAILER="alerts")
    [error] = mailer_errors()
    assert "['email']['OPTIONS']['MAILER'] needs Django 6.1" in error.msg
