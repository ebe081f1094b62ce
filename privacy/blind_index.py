"""Normalised identifiers and their keyed hashes: blind indexes to find a subject, and the suppression list.

Each field gets its own HKDF-derived key, so equal values in different fields never share a hash.
"""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Mapping

import phonenumbers

from civicvoice.core.crypto import derive_key
from privacy.exceptions import InvalidIdentifier, KeyProblem
from privacy.keyring import Keyring

EMAIL_MAX_LENGTH = 254
EXTERNAL_ID_MAX_LENGTH = 200
EXTERNAL_ID_SEPARATOR = "\x1f"

NAME_MAX_LENGTH = 200

INDEX_FIELDS = frozenset({"email", "phone", "external_id", "contact_ref", "name"})
SUPPRESSION_KINDS = frozenset({"email", "phone", "external_id"})

# Characters that cannot appear unquoted in an address; seeing one usually means a pasted "Name <a@b>".
_LOCAL_FORBIDDEN = frozenset('<>()[]\\,;:"')
# Separators, controls, format (zero-width), surrogate, private-use and unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"})


def _email_problem(value: str) -> str | None:
    if not value:
        return "No email address was given."
    if len(value) > EMAIL_MAX_LENGTH:
        return f"This email address is longer than {EMAIL_MAX_LENGTH} characters; check it was entered once."
    if any(ch.isspace() or unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value):
        return "This email address contains spaces or invisible characters; remove them."
    ats = value.count("@")
    if ats == 0:
        return "This email address has no '@'; enter it in full, like name@example.org.uk."
    if ats > 1:
        return "This email address has more than one '@'; enter a single address."
    local, domain = value.split("@")
    if not local:
        return "This email address has nothing before the '@'."
    if len(local) > 64 or any(ch in _LOCAL_FORBIDDEN for ch in local):
        return "The part of this email address before the '@' is not valid; check it for typos."
    labels = domain.split(".")
    if len(labels) < 2:
        return "The part of this email address after the '@' needs a full domain, like example.org.uk."
    for label in labels:
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return "The part of this email address after the '@' is not a valid domain; check it for typos."
        if not all(ch.isalnum() or ch == "-" for ch in label):
            return "The part of this email address after the '@' is not a valid domain; check it for typos."
    if labels[-1].isdigit():
        return "The part of this email address after the '@' needs a full domain, like example.org.uk."
    return None


def normalise_email(value: str) -> str:
    """The email address as indexed: NFKC, trimmed, lower-cased; InvalidIdentifier if implausible."""
    # NFKC again after lower-casing: a few characters lower-case to sequences NFKC composes differently.
    normalised = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).strip().lower())
    problem = _email_problem(normalised)
    if problem is not None:
        raise InvalidIdentifier(problem, field="email")
    return normalised


_TOO_SHORT = "This phone number is too short; check the digits."
_NOT_A_NUMBER = "This does not look like a phone number; enter the digits, like 07911 123456."
_PARSE_PROBLEMS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "This phone number's country code is not recognised; start it with + and the country code."
    ),
    phonenumbers.NumberParseException.TOO_SHORT_NSN: _TOO_SHORT,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: _TOO_SHORT,
    phonenumbers.NumberParseException.TOO_LONG: "This phone number is too long; check the digits.",
}


def normalise_phone(value: str, *, region: str = "GB") -> str:
    """The phone number in E.164 ("+447911123456"); numbers without "+" are read as ``region``'s."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}")
    place = "the UK" if region == "GB" else region
    if not value.strip():
        raise InvalidIdentifier("No phone number was given.", field="phone")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(_PARSE_PROBLEMS.get(exc.error_type, _NOT_A_NUMBER), field="phone") from None
    if number.extension:
        # A switchboard number with an extension is shared, so it must not identify one person.
        raise InvalidIdentifier(
            "Phone numbers with an extension cannot identify a person; give a direct number.", field="phone"
        )
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(
            f"This is not a valid phone number; check the digits, and start numbers from outside {place} "
            "with + and the country code.",
            field="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_external_id(source: str, value: str) -> str:
    """A source system's own customer id, namespaced by that system: "<source>\\x1f<value>"."""
    source, value = source.strip(), value.strip()
    for part, what in ((source, "source system"), (value, "customer id")):
        if not part:
            raise InvalidIdentifier(
                f"The {what} is empty; give the {what} as the source system holds it.", field="external_id"
            )
        if len(part) > EXTERNAL_ID_MAX_LENGTH:
            raise InvalidIdentifier(
                f"The {what} is longer than {EXTERNAL_ID_MAX_LENGTH} characters.", field="external_id"
            )
        # Control characters include the separator, which would let two pairs collide.
        if any(unicodedata.category(ch) == "Cc" for ch in part):
            raise InvalidIdentifier(f"The {what} contains control characters; remove them.", field="external_id")
    return f"{source}{EXTERNAL_ID_SEPARATOR}{value}"


# Letters that carry no combining accent in Unicode, so NFKD alone would keep them apart from their plain forms.
_FOLDED_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"}
)
# Apostrophes and hyphens as people and keyboards type them, each to one form ("O\u2019Brien" is "O'Brien").
_APOSTROPHES = str.maketrans({c: "'" for c in "\u2018\u2019\u201b\u02bc\u02b9\u0060\u00b4\uff07"})
_DROPPED = frozenset({"Cf", "Cc", "Co", "Cs", "Cn"})
_HYPHENS = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d"})


def normalise_name(value: str) -> str:
    """A person's full name as indexed, so "  JOSÉ   o\u2019brien" finds "José O'Brien". The rule:

    1. NFKC (full-width and other compatibility forms become plain letters), then case-folded ("ß" -> "ss");
    2. accents removed: NFKD, then combining marks dropped ("é" -> "e", "ñ" -> "n"), and the few letters
       Unicode does not decompose folded by hand ("ø" -> "o", "ł" -> "l", "æ" -> "ae");
    3. the result is the same however the name was composed (precomposed "é" or "e" + accent);
    4. typographic apostrophes and hyphens made plain (U+2019 -> "'", U+2013 -> "-");
    5. invisible characters (zero-width spaces, controls) dropped, whitespace of any kind collapsed to single
       spaces, and trimmed.

    Word order, hyphens, apostrophes and full stops are kept: "Smith, John" is not "John Smith". Returns "" when
    nothing indexable is left; InvalidIdentifier for a value longer than any name."""
    if len(value) > NAME_MAX_LENGTH * 2:
        raise InvalidIdentifier(f"This name is longer than {NAME_MAX_LENGTH} characters.", field="name")
    # Case-folded before the accents go, since folding can itself add a combining mark ("İ" -> "i̇").
    text = unicodedata.normalize("NFKC", value).casefold()
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.translate(_FOLDED_LETTERS).translate(_APOSTROPHES).translate(_HYPHENS)
    # Invisible format and control characters (zero-width spaces) go; separators become spaces.
    kept = (" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _DROPPED)
    text = " ".join("".join(kept).split())
    if len(text) > NAME_MAX_LENGTH:
        raise InvalidIdentifier(f"This name is longer than {NAME_MAX_LENGTH} characters.", field="name")
    return text


class _KeyedHasher:
    """HMAC-SHA256 of a normalised value under a per-field key derived by HKDF from a versioned key."""

    def __init__(self, keys: Mapping[int, bytes], active: int, label: bytes, fields: frozenset[str], what: str) -> None:
        self._keys = keys
        self._active = active
        self._label = label
        self._fields = fields
        self._what = what
        self._derived: dict[tuple[str, int], bytes] = {}

    @property
    def active_version(self) -> int:
        return self._active

    def _field_key(self, field: str, version: int) -> bytes:
        cached = self._derived.get((field, version))
        if cached is not None:
            return cached
        if field not in self._fields:
            raise ValueError(f"{field!r} is not one of {sorted(self._fields)}")
        root = self._keys.get(version)
        if root is None:
            raise KeyProblem(
                f"{self._what} key version {version} is not in the keyring; restore the key file or "
                "CIVICVOICE_KEYS value that holds it."
            )
        derived = derive_key(root, self._label + field.encode("ascii"))
        self._derived[(field, version)] = derived
        return derived

    def _digest(self, field: str, normalised: str, version: int) -> bytes:
        if not normalised:
            raise ValueError("an empty value cannot be indexed")
        # hmac.digest: the one-shot form, computed in OpenSSL without building an HMAC object.
        return hmac.digest(self._field_key(field, version), normalised.encode("utf-8"), "sha256")


class BlindIndexer(_KeyedHasher):
    """Blind indexes for finding a subject by email, phone or external id without storing them in clear.

    Values must already be normalised (``normalise_email`` and friends): the hash cannot tell.
    """

    def __init__(self, keyring: Keyring) -> None:
        super().__init__(keyring.index, keyring.index_active, b"civicvoice blind index v1|", INDEX_FIELDS, "Index")

    def digest(self, field: str, normalised: str, *, version: int | None = None) -> bytes:
        """The 32-byte index of ``normalised`` in ``field`` under index key ``version`` (default: active)."""
        return self._digest(field, normalised, self._active if version is None else version)


class SuppressionHasher(_KeyedHasher):
    """Hashes for the suppression ("do not survey") list, under their own key so they survive erasure."""

    def __init__(self, keyring: Keyring) -> None:
        super().__init__(
            keyring.suppression,
            keyring.suppression_active,
            b"civicvoice suppression v1|",
            SUPPRESSION_KINDS,
            "Suppression",
        )

    def digest(self, kind: str, normalised: str, *, version: int | None = None) -> bytes:
        """The 32-byte suppression hash of ``normalised`` of ``kind`` under ``version`` (default: active).

        Lookups try every version held, so entries made before a key change are still honoured.
        """
        return self._digest(kind, normalised, self._active if version is None else version)
