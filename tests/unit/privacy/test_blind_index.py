"""Identifier normalisation and keyed hashes: the same person is found however they typed their details."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privacy.blind_index import (
    BlindIndexer,
    SuppressionHasher,
    normalise_email,
    normalise_external_id,
    normalise_name,
    normalise_phone,
)
from privacy.exceptions import InvalidIdentifier, KeyProblem
from privacy.keyring import Keyring

KEYRING = Keyring.generate()
INDEX_FIELDS = ["email", "phone", "external_id", "contact_ref", "name"]
SUPPRESSION_KINDS = ["email", "phone", "external_id"]


def full_width(text: str) -> str:
    """``text`` as typed on a full-width (East Asian) keyboard."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


# --- email ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "jo.bloggs@example.org.uk",
        "  Jo.Bloggs@Example.ORG.UK\t",
        "JO.BLOGGS@EXAMPLE.ORG.UK\n",
        # Full-width forms, as typed on some phone keyboards.
        full_width("jo.bloggs@example.org.uk"),
        "\u3000jo.bloggs@example.org.uk\u3000",
    ],
)
def test_the_same_email_however_typed_normalises_alike(typed: str) -> None:
    assert normalise_email(typed) == "jo.bloggs@example.org.uk"


@pytest.mark.parametrize(
    "address",
    [
        "o'brien+council@example.co.uk",
        "a@b.co",
        "jo@xn--bcher-kva.de",
        "jo@bücher.de",
        "first_last@sub.example.com",
    ],
)
def test_plausible_addresses_are_accepted(address: str) -> None:
    assert normalise_email(address) == address


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("", "No email address"),
        ("   ", "No email address"),
        ("jo.bloggs.example.org.uk", "no '@'"),
        ("jo@bloggs@example.org.uk", "more than one '@'"),
        ("@example.org.uk", "nothing before the '@'"),
        ("jo@localhost", "full domain"),
        ("jo@example.", "not a valid domain"),
        ("jo@.example.org", "not a valid domain"),
        ("jo@example..org", "not a valid domain"),
        ("jo@-example.org", "not a valid domain"),
        ("jo@example-.org", "not a valid domain"),
        ("jo@exa_mple.org", "not a valid domain"),
        ("jo@192.168.0.1", "full domain"),
        ("jo bloggs@example.org", "spaces or invisible characters"),
        ("jo\u200b@example.org", "spaces or invisible characters"),
        ("jo\x00@example.org", "spaces or invisible characters"),
        ("Jo <jo@example.org>", "spaces or invisible characters"),
        ("<jo@example.org>", "before the '@' is not valid"),
        ("jo,bloggs@example.org", "before the '@' is not valid"),
        ("j" * 65 + "@example.org", "before the '@' is not valid"),
        ("jo@" + "a" * 64 + ".org", "not a valid domain"),
        ("jo@" + ".".join(["a" * 60] * 5) + ".org", "longer than 254"),
    ],
)
def test_implausible_emails_are_refused_with_a_hint(typed: str, hint: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_email(typed)
    problem = caught.value
    assert problem.field == "email"
    assert problem.status == 422
    assert hint in problem.detail
    if len(typed.strip()) > 3:
        assert typed.strip() not in problem.detail


@given(st.emails())
def test_valid_addresses_are_accepted_and_normalising_again_changes_nothing(address: str) -> None:
    assume(len(address) <= 254)
    once = normalise_email(address)
    assert normalise_email(once) == once
    assert once == address.lower()


@given(st.text(max_size=80))
def test_normalising_any_accepted_text_is_idempotent(text: str) -> None:
    try:
        once = normalise_email(text)
    except InvalidIdentifier:
        return
    assert normalise_email(once) == once


@given(st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9]{1,10}\.[a-z]{2,6}", fullmatch=True))
def test_full_width_email_equals_the_ascii_one(ascii_address: str) -> None:
    assert normalise_email(full_width(ascii_address)) == normalise_email(ascii_address.upper()) == ascii_address


# --- phone ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "07911 123456",
        "07911123456",
        "+44 7911 123456",
        "+447911123456",
        "0044 7911 123456",
        "+44 (0)7911 123456",
        "07911-123-456",
        "(07911) 123456",
        full_width("07911 123456"),
        " 07911 123456 ",
        "tel:+44-7911-123456",
    ],
)
def test_the_same_mobile_however_typed_normalises_to_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+447911123456"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("020 7946 0018", "+442079460018"),
        ("0161 496 0123", "+441614960123"),
        ("0800 123 4567", "+448001234567"),
        ("+1 202-555-0143", "+12025550143"),
        ("+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_landlines_freephone_and_international_numbers(typed: str, expected: str) -> None:
    assert normalise_phone(typed) == expected


def test_numbers_without_a_country_code_are_read_for_the_given_region() -> None:
    assert normalise_phone("(202) 555-0143", region="US") == "+12025550143"
    assert normalise_phone("06 12 34 56 78", region="FR") == "+33612345678"
    assert normalise_phone("+44 7911 123456", region="FR") == "+447911123456"


def test_an_unknown_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="region"):
        normalise_phone("07911 123456", region="UK")


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("", "No phone number"),
        ("  ", "No phone number"),
        ("not a number", "does not look like a phone number"),
        ("999", "not a valid phone number"),
        ("07911 12345", "not a valid phone number"),
        ("07911 1234567", "not a valid phone number"),
        # Ofcom's drama range: looks real, is never assigned.
        ("07700 900123", "not a valid phone number"),
        ("+999 1234 5678", "country code is not recognised"),
        ("07911 123456 ext 12", "extension"),
        ("020 7946 0018 x204", "extension"),
        ("0" * 300, "too long"),
    ],
)
def test_unusable_phone_numbers_are_refused_with_a_hint(typed: str, hint: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_phone(typed)
    assert caught.value.field == "phone"
    assert hint in caught.value.detail
    digits = re.sub(r"\D", "", typed)
    if len(digits) >= 6:
        assert digits not in re.sub(r"\D", "", caught.value.detail)


uk_mobiles = st.from_regex(r"7[4-9][0-9]{8}", fullmatch=True)


@given(national=uk_mobiles, data=st.data())
def test_every_way_of_writing_a_uk_mobile_agrees(national: str, data: st.DataObject) -> None:
    prefix = data.draw(st.sampled_from(["0", "+44", "+44 ", "0044 ", "+44 (0)"]), label="prefix")
    gaps = data.draw(st.lists(st.sampled_from(["", "", " ", "-"]), min_size=10, max_size=10), label="gaps")
    typed = prefix + "".join(digit + gap for digit, gap in zip(national, gaps, strict=True))
    try:
        expected = normalise_phone("+44" + national)
    except InvalidIdentifier:
        with pytest.raises(InvalidIdentifier):
            normalise_phone(typed)
        return
    assert normalise_phone(typed) == expected == "+44" + national


@given(st.text(max_size=30))
def test_normalising_any_accepted_phone_text_is_idempotent(text: str) -> None:
    try:
        once = normalise_phone(text)
    except InvalidIdentifier:
        return
    assert normalise_phone(once) == once
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", once)


# --- external ids ---------------------------------------------------------------------------------


def test_external_ids_are_namespaced_by_source_system() -> None:
    assert normalise_external_id("crm", "C-1042") == "crm\x1fC-1042"
    assert normalise_external_id(" crm ", "  C-1042\n") == normalise_external_id("crm", "C-1042")
    assert normalise_external_id("crm", "1042") != normalise_external_id("housing", "1042")


def test_external_ids_keep_their_case_and_inner_spaces() -> None:
    assert normalise_external_id("Housing System", "ab 12") == "Housing System\x1fab 12"
    assert normalise_external_id("crm", "ab") != normalise_external_id("crm", "AB")


@pytest.mark.parametrize(
    ("source", "value", "hint"),
    [
        ("", "1042", "source system is empty"),
        ("crm", "   ", "customer id is empty"),
        ("c" * 201, "1042", "source system is longer than 200"),
        ("crm", "1" * 201, "customer id is longer than 200"),
        ("crm\x1fx", "1042", "source system contains control characters"),
        ("crm", "10\x0042", "customer id contains control characters"),
    ],
)
def test_unusable_external_ids_are_refused(source: str, value: str, hint: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise_external_id(source, value)
    assert caught.value.field == "external_id"
    assert hint in caught.value.detail


def test_two_hundred_characters_is_allowed() -> None:
    assert normalise_external_id("s" * 200, "v" * 200) == "s" * 200 + "\x1f" + "v" * 200


printable = st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=30)


@given(pair=st.tuples(printable, printable), other=st.tuples(printable, printable))
def test_different_source_and_id_pairs_never_collide(pair: tuple[str, str], other: tuple[str, str]) -> None:
    pair_stripped = (pair[0].strip(), pair[1].strip())
    other_stripped = (other[0].strip(), other[1].strip())
    assume(all(pair_stripped) and all(other_stripped) and pair_stripped != other_stripped)
    assert normalise_external_id(*pair) != normalise_external_id(*other)


# --- blind index ----------------------------------------------------------------------------------


def test_the_index_of_a_value_is_stable_across_restarts() -> None:
    reloaded = Keyring.from_json(KEYRING.to_json(), source="test")
    digest = BlindIndexer(KEYRING).digest("email", "jo@example.org")
    assert len(digest) == 32
    assert BlindIndexer(KEYRING).digest("email", "jo@example.org") == digest
    assert BlindIndexer(reloaded).digest("email", "jo@example.org") == digest


def test_the_same_value_in_different_fields_has_different_indexes() -> None:
    indexer = BlindIndexer(KEYRING)
    digests = {indexer.digest(field, "1042") for field in INDEX_FIELDS}
    assert len(digests) == len(INDEX_FIELDS)


@given(value=st.text(min_size=1), other=st.text(min_size=1))
def test_different_values_have_different_indexes(value: str, other: str) -> None:
    assume(value != other)
    indexer = BlindIndexer(KEYRING)
    assert indexer.digest("email", value) != indexer.digest("email", other)


def test_another_installation_indexes_differently() -> None:
    assert BlindIndexer(Keyring.generate()).digest("email", "jo@example.org") != BlindIndexer(KEYRING).digest(
        "email", "jo@example.org"
    )


def test_after_index_key_rotation_old_indexes_are_still_found_by_version() -> None:
    stored = BlindIndexer(KEYRING).digest("phone", "+447911123456")
    rotated = BlindIndexer(KEYRING.with_new_index_key())
    assert rotated.active_version == 2
    assert rotated.digest("phone", "+447911123456", version=1) == stored
    assert rotated.digest("phone", "+447911123456") != stored
    assert rotated.digest("phone", "+447911123456") == rotated.digest("phone", "+447911123456", version=2)


def test_kek_rotation_does_not_change_indexes() -> None:
    assert BlindIndexer(KEYRING.with_new_kek()).digest("email", "jo@example.org") == BlindIndexer(KEYRING).digest(
        "email", "jo@example.org"
    )


def test_the_index_is_hmac_under_an_hkdf_key_per_field() -> None:
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    # Pinned so a refactor cannot silently orphan every stored index.
    field_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"civicvoice blind index v1|email").derive(
        KEYRING.index[1]
    )
    expected = hmac.new(field_key, b"jo@example.org", hashlib.sha256).digest()
    assert BlindIndexer(KEYRING).digest("email", "jo@example.org") == expected


@pytest.mark.parametrize("field", ["full_name", "Email", "suppression", ""])
def test_only_known_fields_are_indexed(field: str) -> None:
    with pytest.raises(ValueError, match="is not one of"):
        BlindIndexer(KEYRING).digest(field, "x")


def test_an_index_version_not_held_is_a_key_problem() -> None:
    with pytest.raises(KeyProblem, match="Index key version 3 is not in the keyring"):
        BlindIndexer(KEYRING).digest("email", "jo@example.org", version=3)


def test_an_empty_value_is_never_indexed() -> None:
    with pytest.raises(ValueError, match="empty"):
        BlindIndexer(KEYRING).digest("email", "")


# --- suppression ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SUPPRESSION_KINDS)
def test_suppression_hashes_differ_from_blind_indexes(kind: str) -> None:
    assert SuppressionHasher(KEYRING).digest(kind, "jo@example.org") != BlindIndexer(KEYRING).digest(
        kind, "jo@example.org"
    )


def test_suppression_hashes_differ_from_indexes_even_if_keys_were_configured_equal() -> None:
    from dataclasses import replace

    same = replace(KEYRING, suppression={1: KEYRING.index[1]}, suppression_active=1)
    assert SuppressionHasher(same).digest("email", "jo@example.org") != BlindIndexer(same).digest(
        "email", "jo@example.org"
    )


def test_the_suppression_list_survives_index_and_kek_rotation() -> None:
    before = SuppressionHasher(KEYRING).digest("phone", "+447911123456")
    rotated = KEYRING.with_new_index_key().with_new_kek()
    assert SuppressionHasher(rotated).digest("phone", "+447911123456") == before
    assert SuppressionHasher(rotated).active_version == 1


def test_suppression_entries_made_under_an_older_key_version_are_still_found() -> None:
    from dataclasses import replace

    before = SuppressionHasher(KEYRING).digest("email", "jo@example.org")
    # Only an operator restoring a second suppression key gets here; the Keyring never rotates it itself.
    two = replace(KEYRING, suppression={1: KEYRING.suppression[1], 2: bytes(32)}, suppression_active=2)
    assert SuppressionHasher(two).digest("email", "jo@example.org", version=1) == before
    assert SuppressionHasher(two).digest("email", "jo@example.org") != before
    with pytest.raises(KeyProblem, match="Suppression key version 3"):
        SuppressionHasher(two).digest("email", "jo@example.org", version=3)


def test_suppression_kinds_do_not_share_hashes() -> None:
    hasher = SuppressionHasher(KEYRING)
    assert len({hasher.digest(kind, "1042") for kind in SUPPRESSION_KINDS}) == 3


def test_contact_refs_are_not_a_suppression_kind() -> None:
    with pytest.raises(ValueError, match="is not one of"):
        SuppressionHasher(KEYRING).digest("contact_ref", "x")


def test_normalised_values_index_alike_however_they_were_typed() -> None:
    indexer = BlindIndexer(KEYRING)
    typed = [normalise_email(" JO@Example.org"), normalise_email(full_width("jo@example.org"))]
    assert indexer.digest("email", typed[0]) == indexer.digest("email", typed[1])
    phones = [normalise_phone("07911 123456"), normalise_phone("+44 (0)7911-123-456")]
    assert indexer.digest("phone", phones[0]) == indexer.digest("phone", phones[1])


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "indexed"),
    [
        ("José O'Brien", "jose o'brien"),
        ("  JOSÉ \t O\u2019BRIEN\n", "jose o'brien"),
        ("Jose\u0301 O\u02bcBrien", "jose o'brien"),  # "é" typed as "e" + a combining accent
        ("\uff2a\uff2f\uff33\uff25 O'Brien", "jose o'brien"),  # full-width letters
        ("Jo\u200bsé\u00a0O'Brien", "jose o'brien"),  # a zero-width space inside, a no-break space between
        ("Straße", "strasse"),
        ("Søren Kierkegård", "soren kierkegard"),
        ("Łukasz Żółć", "lukasz zolc"),
        ("Mary\u2013Jane Smith", "mary-jane smith"),
        ("Smith, John", "smith, john"),  # word order and punctuation are kept
        ("   ", ""),
    ],
)
def test_names_are_indexed_by_the_documented_rule(typed: str, indexed: str) -> None:
    assert normalise_name(typed) == indexed


def test_a_name_longer_than_any_name_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="longer than 200"):
        normalise_name("a" * 201)


@given(st.text(max_size=60))
def test_normalising_a_name_twice_changes_nothing(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert once == once.strip() and "  " not in once


@given(st.text(alphabet=st.characters(min_codepoint=0x41, max_codepoint=0x24F, categories=("Lu", "Ll")), max_size=30))
def test_case_accents_and_spacing_never_change_the_index(text: str) -> None:
    """Latin letters with or without accents, in either case, padded: one index."""
    name = normalise_name(text)
    assume(name)
    indexer = BlindIndexer(KEYRING)
    assert indexer.digest("name", name) == indexer.digest("name", normalise_name(f"  {text.upper()}  "))
