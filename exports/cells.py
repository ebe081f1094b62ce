"""The one cell-escaping function for every spreadsheet civicvoice writes, XLSX and CSV alike.

Text that a spreadsheet program could run as a formula (CSV/formula injection) is neutralised; every other
value keeps its type, so dates stay dates and scores stay numbers.

Why a leading single quote: it is the marker spreadsheet users already know for "this is text", OWASP's
recommended neutraliser, and it is reversible: the text after it is exactly what the person wrote (minus only
characters a workbook cannot hold), so an analyst can strip it knowingly. It stays visible in the cell on
purpose: a comment that began with "=" is shown as written, never evaluated. Hiding it with Excel's
quotePrefix style would work only in XLSX, and the same rule must hold for CSV.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from uuid import UUID

from civicvoice.core.clock import LONDON

CellValue = str | int | float | Decimal | bool | date | datetime | time | None

NEUTRALISER = "'"

# Starts a formula in Excel, LibreOffice or Google Sheets: the OWASP list, plus the full-width forms that
# East Asian input methods produce and some Excel locales also evaluate.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

# What XML 1.0 (and so XLSX) cannot carry: C0 controls except tab, line feed and carriage return; lone
# surrogates (they cannot even be encoded as UTF-8); and the two non-characters U+FFFE and U+FFFF.
_UNHOLDABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def holdable_text(text: str) -> str:
    """``text`` without the characters a workbook cannot hold; everything else is kept as it was."""
    return _UNHOLDABLE.sub("", text) if _UNHOLDABLE.search(text) else text


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: a trigger first, or after leading whitespace."""
    if not text:
        return False
    if text[0] in FORMULA_STARTS:
        return True
    return text[0].isspace() and text.lstrip()[:1] in FORMULA_STARTS


# One scan for the common case, text that needs nothing: a possible formula start, or a character to remove.
# Python's \s is exactly str.isspace, which starts_formula uses.
_SUSPECT = re.compile(
    "\\A\\s*[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]|[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
)


def safe_text(text: str) -> str:
    """Text as it may go into a cell: holdable, and prefixed with ``'`` when it would start a formula."""
    if _SUSPECT.search(text) is None:
        return text
    text = holdable_text(text)
    return NEUTRALISER + text if starts_formula(text) else text


def safe_cell(value: object) -> CellValue:
    """A value as it may go into an XLSX or CSV cell.

    Text is neutralised (see :func:`safe_text`); numbers, booleans, dates and times keep their types. A
    timezone-aware datetime becomes London wall-clock time, because spreadsheets hold no time zone and people
    read London time. Enums give their value, UUIDs their text. A number that is not finite becomes text,
    since a workbook cannot hold it. Anything else is a programming error, not something to guess at.
    """
    kind = type(value)
    if kind is str:
        return safe_text(value)  # type: ignore[arg-type]
    if value is None or kind is int or kind is bool or kind is date:
        return value  # type: ignore[return-value]
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(LONDON).replace(tzinfo=None)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else safe_text(repr(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else safe_text(str(value))
    if isinstance(value, Enum):
        return safe_cell(value.value)
    if isinstance(value, str):
        return safe_text(str(value))
    if isinstance(value, bool | int):
        return int(value) if not isinstance(value, bool) else bool(value)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise TypeError("a time of day with a time zone cannot go into a spreadsheet cell")
        return value
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{kind.__name__} cannot go into a spreadsheet cell; convert it to text, a number or a date")
