"""No personal data in links, and one email normalisation for keys, tokens and look-ups."""

import re
import zlib
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.core import mail, signing

from restock_waitlist import privacy, services, tokens
from restock_waitlist.channels import locmem
from restock_waitlist.models import StockWaitlist
from tests import factories

pytestmark = pytest.mark.django_db
Status = StockWaitlist.Status
URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def readable_payloads(url):
    """Everything a reader of ``url`` can decode without the secret key: each path segment
    and query value, base64-decoded (and unzipped) when it decodes."""
    found = []
    for part in re.split(r"[/?&=]", url):
        payload = unquote(part).split(":", 1)[0]
        compressed = payload.startswith(".")
        try:
            data = signing.b64_decode(payload.lstrip(".").encode())
            found.append((zlib.decompress(data) if compressed else data).decode("utf-8", "replace"))
        except Exception:
            found.append(part)
    return found


def links_in(*texts):
    return [url for text in texts for url in URL_RE.findall(text)]


def join_and_confirm(variant, email, capture, **kwargs):
    with capture(execute=True):
        entry, _ = services.join_waitlist(
            variant.product, variant, email=email, consent=True, **kwargs
        )
    services.confirm_entry(entry.pk)
    entry.refresh_from_db()
    return entry


class TestNoAddressInLinks:
    def test_no_link_in_any_message_reveals_the_address_or_number(
        self, variant, settings, restock, django_capture_on_commit_callbacks
    ):
        """Issue #12: base64-decoding the unsubscribe-all URL gave
        ``{"m":"jisoo.private@example.com",...}``."""
        join_and_confirm(
            variant,
            "jisoo.private@example.com",
            django_capture_on_commit_callbacks,
            channels=["email", "sms"],
            phone="+821012345678",
        )
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "CHANNEL_STRATEGY": "all"}
        restock(variant, 5)
        confirmation, alert = mail.outbox
        html = [body for message in mail.outbox for body, _type in message.alternatives]
        headers = [message.extra_headers["List-Unsubscribe"] for message in mail.outbox]
        sms = [message.text for message in locmem.outbox]
        assert sms, "the text message was sent"
        urls = links_in(confirmation.body, alert.body, *html, *headers, *sms)
        kinds = {"/confirm/", "/unsubscribe/", "/unsubscribe-all/", "/waitlist/r/"}
        assert {kind for kind in kinds for u in urls if kind in u} == kinds
        for url in urls:
            for readable in readable_payloads(url):
                assert "jisoo" not in readable and "@" not in readable, url
                assert "1012345678" not in readable, url

    def test_unsubscribe_all_links_name_an_entry(self, variant):
        entry = factories.EntryFactory(variant=variant, user=None, email="kim@example.com")
        from restock_waitlist import links

        token = links.unsubscribe_all_url(entry).rstrip("/").rsplit("/", 1)[1]
        assert tokens.entry_id_from_token(token, tokens.UNSUBSCRIBE_ALL) == entry.pk


class TestUnsubscribeAll:
    def post(self, client, token):
        return client.post(f"/waitlist/unsubscribe-all/{token}/")

    def test_cancels_every_entry_of_the_entrys_address(self, client, variant):
        user = factories.UserFactory(email="Kim@Example.com")
        as_user = factories.EntryFactory(variant=variant, user=user)
        as_guest = factories.EntryFactory(user=None, email="kim@example.com")
        other = factories.EntryFactory(user=None, email="lee@example.com")
        response = self.post(client, tokens.entry_token(as_user, tokens.UNSUBSCRIBE_ALL))
        assert response.status_code == 200
        statuses = dict(StockWaitlist.objects.values_list("pk", "status"))
        assert statuses == {
            as_user.pk: Status.CANCELLED,
            as_guest.pk: Status.CANCELLED,
            other.pk: Status.WAITING,
        }

    def test_a_get_only_asks(self, client, variant):
        entry = factories.EntryFactory(user=None, email="kim@example.com")
        token = tokens.entry_token(entry, tokens.UNSUBSCRIBE_ALL)
        assert client.get(f"/waitlist/unsubscribe-all/{token}/").status_code == 200
        entry.refresh_from_db()
        assert entry.status == Status.WAITING

    def test_links_made_before_still_work_until_they_expire(self, client, settings, variant):
        entry = factories.EntryFactory(variant=variant, user=None, email="kim@example.com")
        legacy = signing.dumps(
            {"m": "kim@example.com", "p": tokens.UNSUBSCRIBE_ALL}, salt=tokens.SALT, compress=True
        )
        settings.RESTOCK_WAITLIST = {
            **settings.RESTOCK_WAITLIST,
            "TOKEN_MAX_AGE": timedelta(seconds=-1),
        }
        assert self.post(client, legacy).status_code == 400
        entry.refresh_from_db()
        assert entry.status == Status.WAITING
        settings.RESTOCK_WAITLIST = {**settings.RESTOCK_WAITLIST, "TOKEN_MAX_AGE": timedelta(1)}
        assert self.post(client, legacy).status_code == 200
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED

    @pytest.mark.parametrize("purpose", [tokens.MANAGE, tokens.CONFIRM, tokens.PURCHASE])
    def test_a_token_of_another_purpose_cancels_nothing(self, client, variant, purpose):
        entry = factories.EntryFactory(user=None, email="kim@example.com")
        assert self.post(client, tokens.entry_token(entry, purpose)).status_code == 400
        entry.refresh_from_db()
        assert entry.status == Status.WAITING


class TestInternationalAddresses:
    """Issue #12: for ``anna@straße.de`` the token held ``strasse`` while the entry kept
    ``ß``: the unsubscribe-all link cancelled nothing."""

    def test_the_alerts_unsubscribe_all_link_cancels_the_entries(
        self, client, variant, restock, django_capture_on_commit_callbacks
    ):
        other = factories.StockLevelFactory(quantity=0).variant
        first = join_and_confirm(variant, "anna@straße.de", django_capture_on_commit_callbacks)
        second = join_and_confirm(other, "Anna@Straße.de", django_capture_on_commit_callbacks)
        assert first.subscriber_key == second.subscriber_key
        restock(variant, 5)
        alert = mail.outbox[-1]
        assert alert.to == ["anna@xn--strae-oqa.de"]  # the real domain, not strasse.de
        link = next(u for u in links_in(alert.body) if "/unsubscribe-all/" in u)
        client.post(link)
        second.refresh_from_db()
        assert second.status == Status.CANCELLED

    def test_the_address_is_one_subscriber_everywhere(self, variant):
        entry, created = services.join_waitlist(
            variant.product, variant, email="anna@straße.de", consent=True
        )
        again, created_again = services.join_waitlist(
            variant.product, variant, email="ANNA@STRAßE.DE", consent=True
        )
        assert created and not created_again and again.pk == entry.pk
        lookalike, created = services.join_waitlist(
            variant.product, variant, email="anna@strasse.de", consent=True
        )
        assert created and lookalike.pk != entry.pk  # strasse.de is another domain
        exported = privacy.export_subscriber_data(email="anna@STRAßE.de")
        assert [row["id"] for row in exported["entries"]] == [str(entry.pk)]
        assert services.leave_all_for_email("anna@xn--strae-oqa.de") == 1
        lookalike.refresh_from_db()
        assert lookalike.status == Status.PENDING

    def test_an_account_with_a_unicode_address_is_found(self, variant):
        user = factories.UserFactory(email="anna@straße.de")
        entry = factories.EntryFactory(variant=variant, user=user)
        assert services.leave_all_for_email("Anna@xn--strae-oqa.de") == 1
        entry.refresh_from_db()
        assert entry.status == Status.CANCELLED
