"""Masks identifiers (emails, phone numbers, postcodes, NI and card numbers) in free text shown to staff.

Patterns only start matching at the edge of a run and their repeats are bounded, so the work stays linear
in the length of the text whatever a respondent types.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol


class MaskingRule(Protocol):
    """One kind of identifier and how to hide it."""

    name: str

    def mask(self, text: str) -> str: ...


class _Folding(dict[int, int]):
    """Maps every decimal digit to its ASCII digit, and full-width forms to ASCII, one character for one.

    Keeping the length lets matches found in the folded text be cut from the original. Only characters
    that change are cached, so a comment using every code point cannot grow the cache unboundedly.
    """

    def __missing__(self, code: int) -> int:
        char = chr(code)
        if char.isdecimal():
            folded = 48 + int(char)
        elif 0xFF01 <= code <= 0xFF5E:
            folded = code - 0xFEE0
        elif code == 0x3000:
            folded = 32
        else:
            return code
        self[code] = folded
        return folded


_FOLDING = _Folding()


def _fold(text: str) -> str:
    return text if text.isascii() else text.translate(_FOLDING)


class _PatternRule:
    """Replaces every match of ``pattern`` that ``_accepts`` with ``label``.

    Patterns run over a folded copy, so numbers typed in full-width or Arabic-Indic digits are caught too.
    """

    name: str
    label: str
    pattern: re.Pattern[str]

    def mask(self, text: str) -> str:
        folded = _fold(text)
        pieces: list[str] = []
        kept_from = 0
        for match in self.pattern.finditer(folded):
            if self._accepts(match.group()):
                pieces += (text[kept_from : match.start()], self.label)
                kept_from = match.end()
        if not pieces:
            return text
        pieces.append(text[kept_from:])
        return "".join(pieces)

    def _accepts(self, found: str) -> bool:
        return True


class EmailRule(_PatternRule):
    name = "email"
    label = "[email removed]"
    # The lookbehind lets a match start only at the beginning of a run of address characters;
    # without it a long run with no "@" is rescanned from every position (quadratic time).
    pattern = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")


_PHONE_GAP = r"[ \u00a0\-()]{0,2}"


class PhoneRule(_PatternRule):
    """UK numbers written from 0 (10-11 digits) and international ones from + or 00 (8-15 digits).

    Numbers not starting with 0, + or 00 are left alone: that is what keeps "5 stars", "2024" and
    reference numbers readable.
    """

    name = "phone"
    label = "[phone removed]"
    pattern = re.compile(
        r"(?<![\d+])"
        rf"(?:(?:\+|00)\d(?:{_PHONE_GAP}\d){{6,13}}"
        rf"|\(?0\d(?:{_PHONE_GAP}\d){{8,9}})"
        r"(?!\d)"
    )


class PostcodeRule(_PatternRule):
    """Full UK postcodes (outward and inward code); an outward code alone ("SW1A") is too coarse to hide."""

    name = "postcode"
    label = "[postcode removed]"
    # Royal Mail's letter rules (no Q, V or X first; no C, I, K, M, O or V in the inward code)
    # keep words and product codes out.
    pattern = re.compile(
        r"\b(?:[A-PR-UWYZ](?:\d[\dA-HJKPSTUW]?|[A-HK-Y]\d[\dABEHMNPRVWXY]?)|GIR)"
        r" ?\d[ABD-HJLNP-UW-Z]{2}\b",
        re.IGNORECASE,
    )


class NationalInsuranceRule(_PatternRule):
    """National Insurance numbers like "QQ 12 34 56 C"; the suffix letter is required to spare references."""

    name = "ni_number"
    label = "[NI number removed]"
    pattern = re.compile(
        r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
        r"[ -]?\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D]\b",
        re.IGNORECASE,
    )


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class PaymentCardRule(_PatternRule):
    """Payment card numbers: 13-19 digits, spaces or dashes allowed, passing the Luhn check."""

    name = "card_number"
    label = "[card number removed]"
    # Card numbers never start with 0, which also keeps UK phone numbers out of this rule.
    pattern = re.compile(r"(?<![\d+])[1-9](?:[ -]?\d){12,18}(?!\d)")

    def _accepts(self, found: str) -> bool:
        # Only a number passing Luhn is taken for a card; other long numbers are references staff need.
        return _passes_luhn("".join(ch for ch in found if ch.isdecimal()))


# Emails first, since an address can hold a phone number; cards before phones and postcodes.
DEFAULT_RULES: tuple[MaskingRule, ...] = (
    EmailRule(),
    PaymentCardRule(),
    PhoneRule(),
    NationalInsuranceRule(),
    PostcodeRule(),
)


def redact(text: str, rules: Iterable[MaskingRule] = DEFAULT_RULES) -> str:
    """``text`` with every identifier the rules recognise replaced by a label like "[email removed]"."""
    for rule in rules:
        text = rule.mask(text)
    return text
