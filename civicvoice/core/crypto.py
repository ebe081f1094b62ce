"""The kernel's one key derivation (HKDF-SHA256) and one SHA-256 digest, for every feature."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret: bytes, info: bytes, length: int = 32) -> bytes:
    """A key for one purpose (``info``) derived from a root secret by HKDF-SHA256 without salt (RFC 5869).

    The root keys are random, so no salt is needed; ``info`` keeps keys for different purposes unrelated. Stored
    hashes and signed links depend on these bytes: the derivation must never change.
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def digest_secret(secret: str) -> str:
    """The SHA-256 hex digest stored in place of a random secret (API key, session token) to look it up by.

    These secrets are 256-bit random: a fast digest is enough and keeps per-request checks cheap (argon2 is for
    passwords, which are guessable).
    """
    return content_digest(secret)


def content_digest(text: str) -> str:
    """SHA-256 hex digest of a text: the fingerprint of a random secret, or of an audit entry's canonical form."""
    return hashlib.sha256(text.encode()).hexdigest()
