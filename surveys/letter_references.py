"""Letter references: short codes printed on a paper survey and keyed in by staff when it comes back. Pure, no I/O.

Eight random characters and one check character, from 31 that cannot be mistaken for each other on paper or by
ear (no 0/O, 1/I/L). 31 is prime, so the check character (weighted sum modulo 31, weights 1 to 9) catches every
single mistyped character and every swap of two neighbouring characters. Printed in groups, "KX7R-M2QD-P";
keyed in any case, with or without spaces and hyphens.
"""

from __future__ import annotations

import secrets
from typing import Final

ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_VALUE: Final = {ch: value for value, ch in enumerate(ALPHABET)}
_BODY: Final = 8
LENGTH: Final = _BODY + 1  # characters of a reference without its hyphens
assert len(ALPHABET) == 31 and len(ALPHABET) > LENGTH  # distinct non-zero weights modulo a prime


class ReferenceProblem(ValueError):
    """A keyed reference is not one we could have printed; the message tells staff what to check."""


def check_character(body: str) -> str:
    """The character that makes the weighted sum of ``body`` plus it a multiple of 31."""
    total = sum((position + 1) * _VALUE[ch] for position, ch in enumerate(body))
    weight = len(body) + 1
    # Solve total + weight * c = 0 (mod 31): c = -total * weight^-1.
    return ALPHABET[(-total * pow(weight, -1, len(ALPHABET))) % len(ALPHABET)]


def new_reference() -> str:
    """A fresh random reference, compact (no hyphens): how it is stored."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(_BODY))
    return body + check_character(body)


def printed(reference: str) -> str:
    """The reference as printed and shown: in groups of four, "KX7R-M2QD-P"."""
    return "-".join(reference[i : i + 4] for i in range(0, len(reference), 4))


def read_reference(keyed: str) -> str:
    """A reference as staff typed it, compact and checked; ReferenceProblem says what is wrong with it."""
    compact = "".join(ch for ch in keyed.upper() if ch not in " -\t")
    if not compact:
        raise ReferenceProblem("Enter the reference printed on the letter, like KX7R-M2QD-P.")
    wrong = sorted({ch for ch in compact if ch not in _VALUE})
    if wrong:
        shown = ", ".join(repr(ch) if ch.isprintable() else "a control character" for ch in wrong)
        raise ReferenceProblem(
            f"A reference has only the letters A to Z (without I, L or O) and the digits 2 to 9; it cannot contain "
            f"{shown}. Check the letter again."
        )
    if len(compact) != LENGTH:
        raise ReferenceProblem(
            f"A reference has {LENGTH} characters (like KX7R-M2QD-P); this one has {len(compact)}. Check it again."
        )
    if check_character(compact[:-1]) != compact[-1]:
        raise ReferenceProblem(
            "This reference does not add up: a character was probably mistyped. Check it against the letter."
        )
    return compact
