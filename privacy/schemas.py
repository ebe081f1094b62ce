"""What every JSON API of civicvoice shares: the strict body decoder and the patterns for text, email addresses
and phone numbers, written in the part of regular-expression syntax Python and JSON Schema read alike (ASCII
classes, no \\s, \\d, \\w or "."), so a value the published schema refuses is refused here too.

They live here, in the lowest feature layer, so that the contacts API (surveys) and the subject-request API
(privacy) enforce the same shapes.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")

# The end of the text in both dialects (Python's "$" also matches before a final newline; JSON Schema's does not).
END = r"(?![\s\S])"
# Printable, without spaces at either end (no control characters anywhere).
_EDGE = r"[^\x00-\x20\x7f\u0085\u00a0\u2028\u2029]"
TRIMMED_TEXT = rf"^{_EDGE}(?:[^\x00-\x1f\x7f\u2028\u2029]*{_EDGE})?{END}"
# An address as mail systems write it: a dot-atom before the '@' (ASCII), a domain of two or more labels whose
# last is not all digits. Internationalised domains are sent in their xn-- form.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?=[A-Za-z0-9\-]*[A-Za-z\-]){_LABEL}{END}"
PHONE_PATTERN = rf"^\+?[0-9 ().\-]*[0-9][0-9 ().\-]*{END}"


def _number(literal: str) -> int | float:
    # JSON Schema counts 1.0 as an integer, so the API does too; 1.5 stays a float (and an integer field refuses it).
    value = float(literal)
    return int(value) if value.is_integer() else value


_JSON = msgspec.json.Decoder(float_hook=_number)


class InvalidBody(ValueError):
    """The body does not match the schema under strict decoding; the message is msgspec's, naming the field."""


def decode_strictly(body: bytes, schema: type[T]) -> T:
    """The request body as ``schema``, with msgspec's strict rules: a JSON value of another type than the schema's
    (0 for a boolean, "12" for an integer, a number for a date) is refused rather than converted. InvalidBody
    names the field."""
    try:
        return msgspec.convert(_JSON.decode(body), type=schema, strict=True)
    except msgspec.DecodeError as exc:
        raise InvalidBody(str(exc)) from None
