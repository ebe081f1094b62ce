"""Postal addresses: normalised once (so one address is held once and prints the same way), stored only inside a
person's encrypted identity. Not an identifier: an address never finds or merges a person (DESIGN.md's subject
resolution uses the source system's id, email and phone), it is a detail held for them, like their name.

An address is held as its lines joined by newlines, the UK postcode last ("1 High Street\\nTowncastle\\nTC1 2AB").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from privacy.exceptions import InvalidIdentifier

# Lines above the postcode: Royal Mail asks for at most seven lines in all, with the postcode on its own last line.
MAX_LINES: Final = 5
LINE_MAX_LENGTH: Final = 60
# The shapes of a UK postcode (outward code, space, inward code), including GIR 0AA.
_POSTCODE = re.compile(r"^(?:([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})|(GIR) ?(0AA))$")
_CONTROL = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))


def normalise_postcode(raw: str) -> str:
    """The postcode upper-cased with one space before its inward code; InvalidIdentifier if it is not one."""
    compact = "".join(unicodedata.normalize("NFKC", raw).split()).upper()
    match = _POSTCODE.match(compact)
    if match is None:
        raise InvalidIdentifier("Enter a UK postcode, like TC1 2AB.", field="postcode")
    outward, inward = (match[1], match[2]) if match[1] else (match[3], match[4])
    return f"{outward} {inward}"


def _clean_line(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    if any(unicodedata.category(ch) in _CONTROL for ch in text if ch not in " \t"):
        raise InvalidIdentifier("An address line cannot contain line breaks or control characters.", field="lines")
    return " ".join(text.split())


def normalise_address(lines: Sequence[str], postcode: str) -> str:
    """The address as held: trimmed lines (blank ones dropped), then the normalised postcode."""
    cleaned = [line for line in (_clean_line(raw) for raw in lines) if line]
    if not cleaned:
        raise InvalidIdentifier("Give at least the first line of the address.", field="lines")
    if len(cleaned) > MAX_LINES:
        raise InvalidIdentifier(f"An address has at most {MAX_LINES} lines above the postcode.", field="lines")
    if any(len(line) > LINE_MAX_LENGTH for line in cleaned):
        raise InvalidIdentifier(
            f"Each address line must be {LINE_MAX_LENGTH} characters or fewer, to fit an envelope window.",
            field="lines",
        )
    return "\n".join([*cleaned, normalise_postcode(postcode)])


def parse_address(text: str) -> str:
    """An address typed as free text (one line per row, or separated by commas), its postcode last."""
    parts = [part for part in re.split(r"[\n,]", text.replace("\r\n", "\n").replace("\r", "\n")) if part.strip()]
    if len(parts) < 2:
        raise InvalidIdentifier("Give the address lines and then the postcode, one per line.", field="address")
    try:
        return normalise_address(parts[:-1], parts[-1])
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(exc.detail, field="address") from None


def address_lines(address: str) -> list[str]:
    """The lines of a held address, the postcode last, as printed on an envelope."""
    return address.split("\n")
