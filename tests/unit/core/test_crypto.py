"""The kernel's key derivation and secret digest. Stored hashes and signed links depend on their exact bytes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicvoice.core.crypto import derive_key, digest_secret
from civicvoice.staff.throttle import LoginThrottler
from privacy.blind_index import BlindIndexer, SuppressionHasher
from privacy.keyring import Keyring
from surveys.tokens import Purpose, TokenSigner


def test_derive_key_is_rfc_5869_hkdf_sha256_without_salt() -> None:
    # RFC 5869 appendix A.3: SHA-256, no salt, no info, 42 bytes.
    okm = derive_key(bytes([0x0B]) * 22, b"", length=42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")


@pytest.mark.parametrize(
    ("root", "info", "derived"),
    [
        # Every derivation in use, pinned to the bytes the code derived before it moved into the kernel.
        (4, b"civicvoice staff login throttle", "44c6f6028c4f1bbbf1bbdf98d6a25b72bf8a3efa64ef854d4b574d07e726f0d9"),
        (4, b"civicvoice token v1|s", "e7133514ed8904b014e63a9632a195d43e18a996815bfb5d861087f3cb985fb7"),
        (4, b"civicvoice token v1|u", "23c0458a90d7b5230904e761b978815f50340d488d3d66dc42fabe4b1137a8a0"),
        (2, b"civicvoice blind index v1|email", "ab5ed9a69a424e137812c96d940236c3cdccc9401e86ae4c9bb7c2eb69899255"),
        (3, b"civicvoice suppression v1|phone", "7a7edf7e89c5bb2e8a7ac55ed1026adfeda8543a5beecdca37aa77cdeb803b43"),
    ],
)
def test_derived_keys_are_the_bytes_derived_before(root: int, info: bytes, derived: str) -> None:
    assert derive_key(bytes([root]) * 32, info).hex() == derived


def _fixed_keyring() -> Keyring:
    def key(n: int) -> str:
        return base64.b64encode(bytes([n]) * 32).decode()

    document = {
        "format": 1,
        "kek": {"1": key(1)},
        "kek_active": 1,
        "index": {"1": key(2)},
        "index_active": 1,
        "suppression": {"1": key(3)},
        "suppression_active": 1,
        "token": key(4),
    }
    return Keyring.from_json(json.dumps(document), source="test")


def test_stored_indexes_signed_links_and_throttle_hashes_are_unchanged() -> None:
    # Computed by the code before the derivations moved: a change here would orphan every stored index,
    # suppression entry and throttle counter and break every survey link already sent.
    keyring = _fixed_keyring()
    indexer, suppression = BlindIndexer(keyring), SuppressionHasher(keyring)
    assert indexer.digest("email", "jo@example.org").hex() == (
        "ded1e5cc6a7bcc4f7572e7afa5f752faa416af50ee55f797b6762f9ad8b7244a"
    )
    assert indexer.digest("phone", "+447700900123").hex() == (
        "bb495b61a5dda939c63403ca8d03bf90be4164aa3b0ad512a39ce4bb31968755"
    )
    assert suppression.digest("email", "jo@example.org").hex() == (
        "2409fedeb91383d9c06ecc6204e52d20e59af4c3820d5d9bd076a0e22482f46d"
    )
    assert suppression.digest("external_id", "jo@example.org").hex() == (
        "7391e55363ffefdc80f4c86f3d894e6fa3d475451381ee69f662b80b6a2a525b"
    )
    signer = TokenSigner(keyring.token)
    invitation = uuid.UUID("0190f0f0-0000-7000-8000-000000000001")
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    assert signer.sign(invitation, Purpose.survey, expires) == "AQGQ8PAAAHAAgAAAAAAAAAEB4YfgjllR-wjN9LomzILQwUCMKA"
    assert signer.sign(invitation, Purpose.unsubscribe, expires) == "AQGQ8PAAAHAAgAAAAAAAAAEB4Yfg3lgPWztQQ6kCljwvymSQUw"
    throttler = LoginThrottler(derive_key(keyring.token, b"civicvoice staff login throttle"))
    assert [digest for digest, _ in throttler.keys("jo@example.org", "192.0.2.1")] == [
        "5fef3ac2636a38c615e998dd84d9f5cdbd8b76138932481dc080dad69c088cec",
        "4218032f0d0e97486795f6c5697a5d66e67e67dcbf1d55885b22b31d7fb3d5c9",
    ]


@given(st.binary(min_size=16, max_size=64), st.binary(max_size=64), st.binary(max_size=64))
def test_different_purposes_get_unrelated_keys(root: bytes, info: bytes, other: bytes) -> None:
    assert derive_key(root, info) == derive_key(root, info)
    assert len(derive_key(root, info)) == 32
    if info != other:
        assert derive_key(root, info) != derive_key(root, other)


def test_digest_secret_is_sha256_hex() -> None:
    # API key and session token digests already stored must keep matching.
    assert digest_secret("cv_live_example") == "cbe61628ac928594ebc845d5181480f7dcd19c61a4fa3af4f548cee9e42d68b6"
    assert digest_secret("cv_live_example") != digest_secret("cv_live_examplf")
