"""Signed survey and unsubscribe tokens: an invitation id, a purpose and an expiry under an HMAC. No personal data.

Survey tokens expire with their invitation; unsubscribe tokens last a year, because people unsubscribe from old
emails. The HMAC key is derived from the keyring's token key, separately for each purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from civicvoice.core.crypto import derive_key
from civicvoice.core.errors import CivicVoiceError

_VERSION = 1
_MAC_BYTES = 16
UNSUBSCRIBE_LIFETIME = timedelta(days=365)


class Purpose(StrEnum):
    survey = "s"
    unsubscribe = "u"
    short = "r"  # the code of a short link (/r/CODE), looked up by its digest
    chat = "c"  # an end-of-chat widget's token: minutes long, handed to one chat's page


_SHORT_BYTES = 9  # 72 bits: 12 characters, as hard to guess as a 72-bit key


class BadToken(CivicVoiceError):
    status = 404
    slug = "invalid-link"
    title = "This link is not valid"


class ExpiredToken(CivicVoiceError):
    status = 410
    slug = "expired-link"
    title = "This link has expired"


@dataclass(frozen=True)
class TokenClaims:
    invitation_id: uuid.UUID
    purpose: Purpose
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, token_key: bytes) -> None:
        self._keys = {
            purpose: derive_key(token_key, b"civicvoice token v1|" + purpose.value.encode()) for purpose in Purpose
        }

    def sign(self, invitation_id: uuid.UUID, purpose: Purpose, expires_at: datetime) -> str:
        body = struct.pack(">B16sI", _VERSION, invitation_id.bytes, int(expires_at.timestamp()) // 60)
        mac = hmac.new(self._keys[purpose], body, hashlib.sha256).digest()[:_MAC_BYTES]
        return _b64(body + mac)

    def short_code(self, invitation_id: uuid.UUID) -> str:
        """The code of the invitation's short link: derived (so a resend carries the same link), never stored."""
        return _b64(hmac.new(self._keys[Purpose.short], invitation_id.bytes, hashlib.sha256).digest()[:_SHORT_BYTES])

    def verify(self, token: str, purpose: Purpose, *, now: datetime | None = None) -> TokenClaims:
        """The claims of a genuine, unexpired token; BadToken or ExpiredToken otherwise."""
        if not token or len(token) > 100:
            raise BadToken("This link is not complete or has been changed.")
        try:
            raw = _unb64(token)
        except (ValueError, TypeError):
            raise BadToken("This link is not complete or has been changed.") from None
        if len(raw) != 21 + _MAC_BYTES:
            raise BadToken("This link is not complete or has been changed.")
        body, mac = raw[:21], raw[21:]
        expected = hmac.new(self._keys[purpose], body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise BadToken("This link is not complete or has been changed.")
        version, invitation, minutes = struct.unpack(">B16sI", body)
        if version != _VERSION:
            raise BadToken("This link is not complete or has been changed.")
        expires_at = datetime.fromtimestamp(minutes * 60, UTC)
        if (now or datetime.now(UTC)) >= expires_at:
            raise ExpiredToken("This link has expired.")
        return TokenClaims(uuid.UUID(bytes=invitation), purpose, expires_at)


def short_digest(code: str) -> bytes:
    """What the invitation stores of its short link's code: enough to find it, not to make the link."""
    return hashlib.sha256(b"civicvoice short link|" + code.encode("ascii", "replace")).digest()


# Survey, short and unsubscribe links carry their token in the path: logs mask it (declared through SECRET_PATHS).
LINK_PATHS = (re.compile(r"(/(?:s|r|u|unsubscribe))/[^/\s?\"']+"),)
