"""Envelope encryption: per-subject data keys (DEKs) wrapped by the keyring's KEK, and AES-256-GCM fields.

Associated data binds every ciphertext to its logical field, row and owner, so one moved elsewhere fails.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.exceptions import DecryptionFailed, KeyProblem
from privacy.keyring import Keyring

FORMAT_VERSION = 1
DEK_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 1 + 16

_WRAP_LABEL = b"civicvoice dek wrap v1"
_FIELD_LABEL = b"civicvoice field v1"


@dataclass(frozen=True)
class WrappedKey:
    """A DEK encrypted under KEK ``kek_version``; ``blob`` is nonce || ciphertext || tag."""

    kek_version: int
    blob: bytes


@dataclass(frozen=True)
class CiphertextHeader:
    """The clear prefix of a field ciphertext: which format wrote it and which DEK opens it."""

    version: int
    dek_id: UUID


def _framed(parts: Iterable[bytes]) -> bytes:
    # Each part is length-prefixed so ("ab", "c") and ("a", "bc") can never give the same bytes.
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def _text_part(value: str, what: str) -> bytes:
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value.encode("utf-8")


def _check_dek(dek: bytes) -> None:
    if not isinstance(dek, bytes) or len(dek) != DEK_BYTES:
        raise ValueError(f"a DEK must be {DEK_BYTES} bytes")


def new_dek() -> bytes:
    """A fresh random 256-bit data key."""
    return secrets.token_bytes(DEK_BYTES)


def _wrap_aad(owner: str, kek_version: int) -> bytes:
    return _framed((_WRAP_LABEL, _text_part(owner, "owner"), str(kek_version).encode("ascii")))


def wrap_dek(keyring: Keyring, dek: bytes, *, owner: str) -> WrappedKey:
    """Encrypt ``dek`` under the active KEK, bound to ``owner`` (e.g. "subject:<uuid>", "period:2026-11")."""
    _check_dek(dek)
    version = keyring.kek_active
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(keyring.kek[version]).encrypt(nonce, dek, _wrap_aad(owner, version))
    return WrappedKey(kek_version=version, blob=nonce + sealed)


def unwrap_dek(keyring: Keyring, wrapped: WrappedKey, *, owner: str) -> bytes:
    """The DEK inside ``wrapped``; KeyProblem if its KEK is not held, DecryptionFailed if it does not open."""
    kek = keyring.kek.get(wrapped.kek_version)
    if kek is None:
        raise KeyProblem(
            f"KEK version {wrapped.kek_version} is not in the keyring; restore the key file or "
            "CIVICVOICE_KEYS value that holds it (versions older than the backup window are destroyed "
            "on purpose)."
        )
    aad = _wrap_aad(owner, wrapped.kek_version)
    if len(wrapped.blob) != NONCE_BYTES + DEK_BYTES + TAG_BYTES:
        raise DecryptionFailed("A wrapped data key is damaged (wrong length), so its data cannot be read.")
    nonce, sealed = wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise DecryptionFailed(
            "A wrapped data key failed authentication: it belongs to another owner, was altered, "
            "or the KEK of that version is wrong."
        ) from None


def rewrap(keyring: Keyring, wrapped: WrappedKey, *, owner: str) -> WrappedKey:
    """``wrapped`` re-encrypted under the active KEK; KEK rotation does this, and never touches data."""
    return wrap_dek(keyring, unwrap_dek(keyring, wrapped, owner=owner), owner=owner)


def _header(dek_id: UUID) -> bytes:
    return bytes([FORMAT_VERSION]) + dek_id.bytes


def _field_aad(header: bytes, field: str, row_id: UUID, owner: str) -> bytes:
    return header + _framed((_FIELD_LABEL, _text_part(field, "field"), row_id.bytes, _text_part(owner, "owner")))


def encrypt_field(dek: bytes, dek_id: UUID, plaintext: str | bytes, *, field: str, row_id: UUID, owner: str) -> bytes:
    """Encrypt one value: header (format, DEK id) || nonce || AES-256-GCM ciphertext and tag.

    ``field`` is a stable logical id such as "subject.identity" or "response.comment", not a column name,
    so renaming a column never makes old data unreadable.
    """
    _check_dek(dek)
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    header = _header(dek_id)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(dek).encrypt(nonce, data, _field_aad(header, field, row_id, owner))


def read_header(ciphertext: bytes) -> CiphertextHeader:
    """The format version and DEK id of a field ciphertext, read without any key."""
    if len(ciphertext) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("An encrypted value is damaged (too short), so it cannot be read.")
    version = ciphertext[0]
    if version != FORMAT_VERSION:
        raise DecryptionFailed(f"An encrypted value has format {version}, which this version cannot read.")
    return CiphertextHeader(version=version, dek_id=UUID(bytes=bytes(ciphertext[1:HEADER_BYTES])))


def decrypt_field(dek: bytes, ciphertext: bytes, *, field: str, row_id: UUID, owner: str) -> bytes:
    """The plaintext of a field ciphertext; DecryptionFailed if the key, field, row or owner do not match."""
    _check_dek(dek)
    read_header(ciphertext)
    header = bytes(ciphertext[:HEADER_BYTES])
    nonce = bytes(ciphertext[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES])
    sealed = bytes(ciphertext[HEADER_BYTES + NONCE_BYTES :])
    aad = _field_aad(header, field, row_id, owner)
    try:
        return AESGCM(dek).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise DecryptionFailed(
            f"An encrypted {field} value failed authentication: it was altered, moved from another row, "
            "person or field, or the data key is wrong."
        ) from None


def decrypt_text(dek: bytes, ciphertext: bytes, *, field: str, row_id: UUID, owner: str) -> str:
    """``decrypt_field`` for values that were encrypted as text."""
    data = decrypt_field(dek, ciphertext, field=field, row_id=row_id, owner=owner)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionFailed(f"An encrypted {field} value holds bytes, not text.") from None
