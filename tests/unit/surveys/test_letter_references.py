"""Letter references: every one printed reads back; one mistyped or swapped character is always caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.letter_references import (
    ALPHABET,
    LENGTH,
    ReferenceProblem,
    check_character,
    new_reference,
    printed,
    read_reference,
)

bodies = st.text(alphabet=ALPHABET, min_size=LENGTH - 1, max_size=LENGTH - 1)


def test_a_new_reference_reads_back_as_printed_and_as_typed() -> None:
    reference = new_reference()
    assert len(reference) == LENGTH and set(reference) <= set(ALPHABET)
    assert printed(reference).count("-") == 2
    assert read_reference(printed(reference)) == reference
    assert read_reference(" " + printed(reference).lower().replace("-", " ") + " ") == reference


@settings(max_examples=60)
@given(bodies, st.integers(0, LENGTH - 1), st.integers(1, len(ALPHABET) - 1))
def test_one_mistyped_character_is_caught(body: str, position: int, shift: int) -> None:
    reference = body + check_character(body)
    wrong = ALPHABET[(ALPHABET.index(reference[position]) + shift) % len(ALPHABET)]
    typo = reference[:position] + wrong + reference[position + 1 :]
    with pytest.raises(ReferenceProblem, match="mistyped"):
        read_reference(typo)


@settings(max_examples=60)
@given(bodies, st.integers(0, LENGTH - 2))
def test_two_neighbours_swapped_are_caught(body: str, position: int) -> None:
    reference = body + check_character(body)
    if reference[position] == reference[position + 1]:
        return  # swapping equal characters changes nothing
    swapped = reference[:position] + reference[position + 1] + reference[position] + reference[position + 2 :]
    with pytest.raises(ReferenceProblem, match="mistyped"):
        read_reference(swapped)


@pytest.mark.parametrize(
    ("keyed", "message"),
    [
        ("", "Enter the reference"),
        ("KX7R-M2QD-0", "cannot contain '0'"),
        ("OIL2-3456-7", "cannot contain 'I', 'L', 'O'"),
        ("KX7R-M2QD", "has 8"),
        ("KX7R-M2QD-PP", "has 10"),
    ],
)
def test_what_cannot_be_a_reference_is_explained(keyed: str, message: str) -> None:
    with pytest.raises(ReferenceProblem, match=message):
        read_reference(keyed)
