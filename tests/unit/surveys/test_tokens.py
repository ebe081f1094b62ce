"""Survey and unsubscribe tokens: signed, expiring, purpose-bound, carrying no personal data."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.tokens import BadToken, ExpiredToken, Purpose, TokenSigner

KEY = b"k" * 32
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@given(st.uuids(), st.sampled_from(list(Purpose)), st.integers(min_value=2, max_value=60 * 24 * 400))
def test_round_trip(invitation: uuid.UUID, purpose: Purpose, minutes: int) -> None:
    signer = TokenSigner(KEY)
    token = signer.sign(invitation, purpose, NOW + timedelta(minutes=minutes))
    claims = signer.verify(token, purpose, now=NOW)
    assert claims.invitation_id == invitation and claims.purpose == purpose
    assert len(token) < 60 and token.isascii() and "/" not in token and "+" not in token


def test_expired_and_wrong_purpose_and_wrong_key() -> None:
    signer = TokenSigner(KEY)
    invitation = uuid.uuid4()
    token = signer.sign(invitation, Purpose.survey, NOW + timedelta(days=7))
    with pytest.raises(ExpiredToken):
        signer.verify(token, Purpose.survey, now=NOW + timedelta(days=8))
    with pytest.raises(BadToken):
        signer.verify(token, Purpose.unsubscribe, now=NOW)
    with pytest.raises(BadToken):
        TokenSigner(b"x" * 32).verify(token, Purpose.survey, now=NOW)


@given(st.text(max_size=120))
def test_any_string_is_refused_cleanly(garbage: str) -> None:
    with pytest.raises((BadToken, ExpiredToken)):
        TokenSigner(KEY).verify(garbage, Purpose.survey, now=NOW)


@given(st.integers(min_value=0, max_value=36), st.integers(min_value=1, max_value=255))
def test_any_tampering_is_detected(position: int, flip: int) -> None:
    import base64

    signer = TokenSigner(KEY)
    token = signer.sign(uuid.uuid4(), Purpose.survey, NOW + timedelta(days=7))
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= flip
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(BadToken):
        signer.verify(forged, Purpose.survey, now=NOW)


def test_token_holds_only_the_invitation_id_and_expiry() -> None:
    import base64

    invitation = uuid.uuid4()
    token = TokenSigner(KEY).sign(invitation, Purpose.survey, NOW + timedelta(days=7))
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert raw[1:17] == invitation.bytes and len(raw) == 1 + 16 + 4 + 16
