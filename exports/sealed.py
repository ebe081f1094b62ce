"""Export files at rest: encrypted as they are written, in chunks, under a key of their own.

Each file gets a fresh 256-bit key, wrapped by the key-encryption key and bound to the export's id (stored on
the export's row); destroying the wrapped key with the file makes any copy left behind (a backup, a disk
block) unreadable. The file is AES-256-GCM in chunks of 1 MiB, so a file of any size is sealed and opened in
constant memory: each chunk's nonce is a random per-file prefix and the chunk's number, and its associated
data names the export and whether it is the last chunk, so chunks cannot be reordered, swapped between files
or cut off at the end unnoticed.
"""

from __future__ import annotations

import secrets
import struct
import uuid
from collections.abc import Iterator
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from privacy.crypto import WrappedKey, new_dek, unwrap_dek, wrap_dek
from privacy.exceptions import DecryptionFailed
from privacy.keyring import Keyring

MAGIC = b"CVX1"
PREFIX_BYTES = 8
CHUNK_BYTES = 1024 * 1024
TAG_BYTES = 16
_LENGTH = struct.Struct(">I")


def owner(export_id: uuid.UUID) -> str:
    return f"export:{export_id}"


def new_file_key(keyring: Keyring, export_id: uuid.UUID) -> tuple[bytes, WrappedKey]:
    """A fresh key for one export file, and the same key wrapped for its row."""
    key = new_dek()
    return key, wrap_dek(keyring, key, owner=owner(export_id))


def open_file_key(keyring: Keyring, export_id: uuid.UUID, wrapped: WrappedKey) -> bytes:
    return unwrap_dek(keyring, wrapped, owner=owner(export_id))


def _nonce(prefix: bytes, number: int) -> bytes:
    return prefix + number.to_bytes(4, "big")


def _aad(export_id: uuid.UUID, last: bool) -> bytes:
    return b"civicvoice export v1" + export_id.bytes + (b"\x01" if last else b"\x00")


def seal(source: IO[bytes], target: IO[bytes], key: bytes, export_id: uuid.UUID) -> int:
    """Encrypt ``source`` (read from its current position to the end) into ``target``; returns bytes written."""
    cipher = AESGCM(key)
    prefix = secrets.token_bytes(PREFIX_BYTES)
    written = target.write(MAGIC + prefix)
    number = 0
    chunk = source.read(CHUNK_BYTES)
    while True:
        following = source.read(CHUNK_BYTES) if chunk else b""
        last = not following
        sealed = cipher.encrypt(_nonce(prefix, number), chunk, _aad(export_id, last))
        written += target.write(_LENGTH.pack(len(sealed)) + sealed)
        if last:
            return written
        number += 1
        if number >= 2**32:
            raise ValueError("An export file this large cannot be sealed.")
        chunk = following


def unseal(source: IO[bytes], key: bytes, export_id: uuid.UUID) -> Iterator[bytes]:
    """The plaintext of a sealed file, a chunk at a time; DecryptionFailed if it was changed or cut short."""
    cipher = AESGCM(key)
    head = source.read(len(MAGIC) + PREFIX_BYTES)
    if len(head) != len(MAGIC) + PREFIX_BYTES or not head.startswith(MAGIC):
        raise DecryptionFailed("The export file is damaged (no header), so it cannot be read.")
    prefix = head[len(MAGIC) :]
    number = 0
    while True:
        size_bytes = source.read(_LENGTH.size)
        if len(size_bytes) != _LENGTH.size:
            raise DecryptionFailed("The export file is cut short, so it cannot be read.")
        (size,) = _LENGTH.unpack(size_bytes)
        if not TAG_BYTES <= size <= CHUNK_BYTES + TAG_BYTES:
            raise DecryptionFailed("The export file is damaged (a chunk of impossible length).")
        sealed = source.read(size)
        if len(sealed) != size:
            raise DecryptionFailed("The export file is cut short, so it cannot be read.")
        at_end = source.read(1) == b""
        if not at_end:
            source.seek(-1, 1)
        try:
            plain = cipher.decrypt(_nonce(prefix, number), sealed, _aad(export_id, at_end))
        except InvalidTag:
            raise DecryptionFailed("The export file does not open with its key: it was changed or cut short.") from None
        yield plain
        if at_end:
            return
        number += 1
