"""One normalisation of email addresses and phone numbers, for storing and for matching."""

import pytest
from django.core.exceptions import ValidationError

from restock_waitlist import addresses


class TestEmail:
    @pytest.mark.parametrize(
        ("typed", "stored", "key"),
        [
            (" Kim@Example.COM ", "Kim@example.com", "kim@example.com"),
            ("anna@straße.de", "anna@xn--strae-oqa.de", "anna@xn--strae-oqa.de"),
            ("anna@STRASSE.de", "anna@strasse.de", "anna@strasse.de"),  # another domain
            ("anna@xn--strae-oqa.de", "anna@xn--strae-oqa.de", "anna@xn--strae-oqa.de"),
            ("lee@ｅｘａｍｐｌｅ.com", "lee@example.com", "lee@example.com"),  # full-width
            ("a@Mu\u0308nchen.de", "a@xn--mnchen-3ya.de", "a@xn--mnchen-3ya.de"),  # NFC
        ],
    )
    def test_stored_form_and_key(self, typed, stored, key):
        assert addresses.normalize_email(typed) == stored
        assert addresses.email_key(typed) == key

    def test_idn_domains_keep_their_sharp_s(self):
        """IDNA 2003 (Python's codec, Django's mail code) maps straße.de to strasse.de."""
        assert addresses.email_key("anna@straße.de") != addresses.email_key("anna@strasse.de")
        assert addresses.email_key("Anna@Straße.de") == addresses.email_key("anna@straße.de")

    def test_spellings_for_look_ups(self):
        assert addresses.email_spellings("Anna@Straße.de") == [
            "anna@straße.de",
            "anna@xn--strae-oqa.de",
        ]

    @pytest.mark.parametrize(
        "bad",
        [
            "jisoo@exa\u202emple.com",  # RIGHT-TO-LEFT OVERRIDE in the domain
            "jisoo@example.com\u202c",
            "ji\u2066soo@example.com",  # LEFT-TO-RIGHT ISOLATE
            "jisoo@exam\u200bple.com",  # ZERO WIDTH SPACE
            "jisoo@exam\u00adple.com",  # SOFT HYPHEN, which IDNA would drop silently
            '"ji\x01soo"@example.com',
        ],
    )
    def test_invisible_and_direction_characters_are_refused(self, bad):
        with pytest.raises(ValidationError) as info:
            addresses.normalize_email(bad)
        assert list(info.value.message_dict) == ["email"]
        assert "invisible or text-direction" in info.value.message_dict["email"][0]

    @pytest.mark.parametrize(
        "bad", ["", "not-an-address", "a@☃.net", "a@-x.com", "a" * 250 + "@x.io"]
    )
    def test_invalid_addresses_name_the_field(self, bad):
        with pytest.raises(ValidationError) as info:
            addresses.normalize_email(bad)
        assert list(info.value.message_dict) == ["email"]


class TestPhone:
    @pytest.mark.parametrize(
        "typed",
        [
            "+821012345678",
            "+82 10-1234-5678",
            "+８２ １０-１２３４-５６７８",  # full-width digits and plus
            "+٨٢١٠١٢٣٤٥٦٧٨",  # Arabic-Indic digits
            "+۸۲۱۰۱۲۳۴۵۶۷۸",  # Extended Arabic-Indic (Persian) digits
        ],
    )
    def test_stored_in_e164(self, typed):
        assert addresses.normalize_phone(typed) == "+821012345678"

    def test_national_numbers_need_a_region(self):
        with pytest.raises(ValidationError) as info:
            addresses.normalize_phone("010-1234-5678")
        assert "international format" in info.value.message_dict["phone"][0]
        assert addresses.normalize_phone("010-1234-5678", region="KR") == "+821012345678"
        assert addresses.normalize_phone("０１０ １２３４ ５６７８", region="KR") == "+821012345678"

    @pytest.mark.parametrize("bad", ["12", "call me", "+1 555 0100", "+82\u202e1012345678", "\x00"])
    def test_refused_naming_the_field(self, bad):
        with pytest.raises(ValidationError) as info:
            addresses.normalize_phone(bad, region="KR")
        assert list(info.value.message_dict) == ["phone"]

    def test_the_error_shows_a_number_of_the_region(self):
        with pytest.raises(ValidationError) as info:
            addresses.normalize_phone("12", region="KR")
        assert info.value.message_dict["phone"] == [
            "Enter a valid phone number, e.g. 010-2000-0000."
        ]

    def test_regions(self):
        assert addresses.is_phone_region("KR")
        assert not addresses.is_phone_region("XX")
        assert not addresses.is_phone_region(82)
