"""Postal addresses: one address is held one way, whatever the spacing and case it was typed in; what cannot be
printed in an envelope window, or has no UK postcode, is refused naming the part to fix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.exceptions import InvalidIdentifier
from privacy.postal import address_lines, normalise_address, normalise_postcode, parse_address
from privacy.vault import Identity, IdentityClaim


@pytest.mark.parametrize(
    ("typed", "held"),
    [("sw1a1aa", "SW1A 1AA"), (" SW1A  1AA ", "SW1A 1AA"), ("m1 1ae", "M1 1AE"), ("gir0aa", "GIR 0AA")],
)
def test_a_postcode_is_upper_case_with_one_space(typed: str, held: str) -> None:
    assert normalise_postcode(typed) == held


@pytest.mark.parametrize("typed", ["", "SW1A", "12345", "SW1A 1A", "SW1A-1AA", "1AA SW1"])
def test_what_is_not_a_postcode_is_refused(typed: str) -> None:
    with pytest.raises(InvalidIdentifier, match="UK postcode") as refused:
        normalise_postcode(typed)
    assert refused.value.field == "postcode"


def test_an_address_is_trimmed_and_held_as_lines_with_the_postcode_last() -> None:
    held = normalise_address(["  Flat 2 ", "", "1   High\tStreet"], "tc12ab")
    assert held == "Flat 2\n1 High Street\nTC1 2AB"
    assert address_lines(held) == ["Flat 2", "1 High Street", "TC1 2AB"]
    assert parse_address("Flat 2, 1 High Street,\nTC1 2AB") == held


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "first line"),
        (["  "], "first line"),
        (["a", "b", "c", "d", "e", "f"], "at most 5 lines"),
        (["x" * 61], "60 characters"),
        (["1 High\nStreet"], "line breaks"),
    ],
)
def test_an_address_that_would_not_print_is_refused(lines: list[str], message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        normalise_address(lines, "TC1 2AB")


def test_free_text_needs_lines_and_a_postcode() -> None:
    with pytest.raises(InvalidIdentifier, match="address lines and then the postcode") as refused:
        parse_address("TC1 2AB")
    assert refused.value.field == "address"


@settings(max_examples=40)
@given(st.lists(st.text(alphabet="abc XYZ12-'.", max_size=20), min_size=1, max_size=5))
def test_normalising_twice_changes_nothing(lines: list[str]) -> None:
    try:
        held = normalise_address(lines, "TC1 2AB")
    except InvalidIdentifier:
        return
    *kept, postcode = address_lines(held)
    assert normalise_address(kept, postcode) == held


def test_the_latest_address_goes_last_and_an_old_identity_reads_back_unchanged() -> None:
    old = Identity.from_json('{"name":"Jo","emails":[],"phones":[],"external_ids":["crm\\u001f1"]}')
    assert old.addresses == () and Identity.from_json(old.to_json()) == old
    assert "addresses" not in old.to_json()  # identities without an address are written as before
    first = old.merged(IdentityClaim(address="1 A Road\nTC1 2AB"), accept=set())
    second = first.merged(IdentityClaim(address="2 B Road\nTC1 2AB"), accept=set())
    back = second.merged(IdentityClaim(address="1 A Road\nTC1 2AB"), accept=set())
    assert second.addresses == ("1 A Road\nTC1 2AB", "2 B Road\nTC1 2AB")
    assert back.addresses == ("2 B Road\nTC1 2AB", "1 A Road\nTC1 2AB")
    assert Identity.from_json(back.to_json()) == back
    # An address is not an identifier: it never finds or merges a person.
    assert IdentityClaim(address="1 A Road\nTC1 2AB").is_empty
