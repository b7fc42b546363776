"""One rendering per restock and language, filled in per waiter: byte for byte what each
waiter's message rendered alone would be, and rendered alone whenever it could differ."""

import itertools

import pytest

from restock_waitlist.channels.base import Outgoing, Rendered
from restock_waitlist.channels.console import ConsoleChannel
from restock_waitlist.channels.email import EmailChannel
from restock_waitlist.channels.kakao import KakaoAlimTalkChannel
from restock_waitlist.channels.locmem import LocmemChannel
from restock_waitlist.channels.push import PushChannel
from restock_waitlist.channels.sms import TwilioSmsChannel
from tests import factories

pytestmark = pytest.mark.django_db

NUMBERS = itertools.count(100)
CHANNELS = {
    "email": lambda: EmailChannel("email"),
    "sms": lambda: TwilioSmsChannel("sms"),
    "push": lambda: PushChannel("push"),
    "kakao": lambda: KakaoAlimTalkChannel("kakao", SMS_SUBSTITUTE=True),
    "locmem": lambda: LocmemChannel("sms"),
    "console": lambda: ConsoleChannel("console"),
}


@pytest.fixture
def item():
    """A variant whose name HTML escapes (``&``, ``<``, ``'``)."""
    return factories.VariantFactory(product__name="Tom & Jerry <tee>", name="Kid's L")


def alerts(item, count, locale="en", event=None, **entry_fields):
    """``count`` alerts of one restock (a new one unless given), each to a waiter of its own
    (a guest unless ``user`` is given)."""
    event = event or factories.RestockEventFactory(variant=item)
    return [
        Outgoing(
            next(NUMBERS),
            entry := factories.EntryFactory(
                variant=item,
                locale=locale,
                **{"user": None, "email": f"waiter{next(NUMBERS)}@example.com", **entry_fields},
            ),
            event,
            entry.email,
        )
        for _ in range(count)
    ]


def alone_and_shared(channel, messages):
    """Each message rendered alone, then all within one shared rendering (the same links:
    a message signs each of its links once)."""
    alone = [channel.render(message) for message in messages]
    with channel.shared_rendering():
        shared = [channel.render(message) for message in messages]
    return alone, shared


@pytest.fixture
def project_template(settings, tmp_path):
    """Write a project's own ``messages/<name>`` template."""
    folder = tmp_path / "restock_waitlist" / "messages"
    folder.mkdir(parents=True)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    return lambda name, text: (folder / name).write_text(text)


@pytest.mark.parametrize("locale", ["en", "ko"])
@pytest.mark.parametrize("name", CHANNELS)
def test_a_shared_rendering_is_each_message_rendered_alone(name, locale, item, template_renders):
    channel = CHANNELS[name]()
    messages = alerts(item, 4, locale)
    alone, shared = alone_and_shared(channel, messages)
    assert shared == alone
    parts = 3 if channel.renders_html else 2
    assert len(template_renders) == 4 * parts + parts  # alone, then once for the group
    if name == "email":
        assert ("재입고" in alone[0].subject) == (locale == "ko")
        assert "Tom &amp; Jerry &lt;tee&gt;" in alone[0].html
        assert alone[0].text != alone[1].text  # each with its own links


def test_links_are_html_escaped_in_the_html_part_only(settings, item):
    settings.RESTOCK_WAITLIST = {
        **settings.RESTOCK_WAITLIST,
        "SITE_URL": "https://shop.example/o'k",
    }
    messages = alerts(item, 2)
    alone, shared = alone_and_shared(EmailChannel("email"), messages)
    assert shared == alone
    assert messages[0].purchase_url in shared[0].text
    assert messages[0].purchase_url.replace("'", "&#x27;") in shared[0].html


def test_a_chunk_renders_its_templates_once_per_restock_and_language(item, template_renders):
    restock = alerts(item, 20)
    messages = [*restock, *alerts(item, 5, "ko", event=restock[0].event), *alerts(item, 5)]
    results = EmailChannel(
        "email", EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
    ).send_batch(messages)
    assert {result.outcome for result in results.values()} == {"sent"}
    assert len(template_renders) == 3 * 3  # (subject, text, HTML) x (en, ko; another restock)


@pytest.mark.parametrize(
    "template",
    [
        "{{ entry.email }}",
        "{% if entry.user %}member{% else %}guest{% endif %}",
        "{% if entry.user and item_name %}member{% endif %}",
        "{{ entry }}",
        "{{ entry|default:'you' }}",
        "{{ entry|stringformat:'s' }}",
        "{% with waiter=entry %}{{ waiter.email|upper }}{% endwith %}",
        "{% if entry == event %}same{% endif %}",
        "{{ entry|pprint }}",
    ],
)
def test_a_template_reading_the_entry_renders_each_message_alone(
    template, project_template, item, user, template_renders
):
    project_template("sms.txt", f"{template} {{{{ purchase_url }}}}")
    channel = LocmemChannel("sms")
    guests = alerts(item, 2)
    messages = [*guests, *alerts(item, 1, event=guests[0].event, user=user)]
    alone, shared = alone_and_shared(channel, messages)
    assert shared == alone
    assert len(template_renders) == 3 * 2 + 2 + 3 * 2  # alone, the group tried, alone again
    if "email" in template:
        emails = [m.entry.email for m in guests]
        assert [r.text.split()[0] for r in shared[:2]] == [
            email.upper() if "upper" in template else email for email in emails
        ]
    if "guest" in template:
        assert [r.text.split()[0] for r in shared] == ["guest", "guest", "member"]


@pytest.mark.parametrize(
    "template, shared",
    [
        ("{{ purchase_url|upper }}", False),
        ("{{ purchase_url|truncatechars:30 }}", False),
        ("{{ purchase_url|slice:'-20:' }}", False),
        ("{{ purchase_url|urlencode }}", False),
        ("{{ purchase_url|force_escape }}", True),
        ("<{{ purchase_url }}>{{ unsubscribe_url|escape }}", True),
        ("{{ purchase_url|add:'?utm_source=alert' }}", True),
        ("{% if purchase_url %}{{ purchase_url }}{% endif %}", True),
        ("{{ purchase_url|urlize }}", True),
    ],
)
def test_a_filter_that_changes_a_link_renders_each_message_alone(
    template, shared, project_template, item
):
    project_template("email.html", template)
    channel = EmailChannel("email")
    messages = alerts(item, 3)
    alone, filled = alone_and_shared(channel, messages)
    assert filled == alone
    with channel.shared_rendering():
        assert (channel.shared_parts(messages[0]) is not None) == shared


def test_a_template_error_is_each_messages_own(project_template, item):
    project_template("sms.txt", "{% include 'missing.txt' %}")
    channel = LocmemChannel("sms")
    results = channel.send_batch(alerts(item, 2))
    assert [result.outcome for result in results.values()] == ["transient", "transient"]
    assert all("missing.txt" in result.error for result in results.values())


class ShoutingChannel(LocmemChannel):
    """A project's channel that overrides ``render``."""

    def render(self, message, **overrides):
        rendered = super().render(message, **overrides)
        return Rendered(rendered.subject.upper(), rendered.text.upper())


class GreetingChannel(LocmemChannel):
    """A project's channel that puts a per-waiter value in the context."""

    def context(self, message, **overrides):
        return {**super().context(message, **overrides), "greeting": message.contact}


@pytest.mark.parametrize("channel", [ShoutingChannel("sms"), GreetingChannel("sms")])
def test_a_channel_overriding_render_or_context_renders_each_message_alone(
    channel, project_template, item, template_renders
):
    project_template("sms.txt", "{{ greeting }} {{ purchase_url }}")
    messages = alerts(item, 3)
    alone, shared = alone_and_shared(channel, messages)
    assert shared == alone
    assert len(template_renders) == 2 * 3 * 2
    if isinstance(channel, GreetingChannel):
        assert [r.text.split()[0] for r in shared] == [m.contact for m in messages]


def test_a_confirmation_is_rendered_alone(item, template_renders):
    channel = EmailChannel("email")
    entry = factories.EntryFactory(variant=item, user=None, email="guest@example.com")
    with channel.shared_rendering():
        for _ in range(2):
            channel.render(Outgoing(None, entry, None, entry.email, kind="confirm"))
    assert len(template_renders) == 2 * 3
