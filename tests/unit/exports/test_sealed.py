"""Export files at rest: sealed in chunks under their own key; any change, reordering, cut or swap is refused."""

from __future__ import annotations

import io
import os
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports import sealed
from exports.sealed import CHUNK_BYTES, new_file_key, open_file_key, seal, unseal
from privacy.exceptions import DecryptionFailed
from privacy.keyring import Keyring

EXPORT = uuid.UUID("0190f5a4-0000-7000-8000-0000000000e1")


def sealed_bytes(plain: bytes, key: bytes, export_id: uuid.UUID = EXPORT) -> bytes:
    target = io.BytesIO()
    written = seal(io.BytesIO(plain), target, key, export_id)
    assert written == len(target.getvalue())
    return target.getvalue()


def opened(blob: bytes, key: bytes, export_id: uuid.UUID = EXPORT) -> bytes:
    return b"".join(unseal(io.BytesIO(blob), key, export_id))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sealed, "CHUNK_BYTES", 64)
    return 64


@settings(max_examples=50, deadline=None)
@given(plain=st.binary(max_size=400))
def test_round_trip_at_any_length(plain: bytes) -> None:
    key = os.urandom(32)
    assert opened(sealed_bytes(plain, key), key) == plain


def test_round_trip_across_chunks_and_nothing_in_clear(small_chunks: int) -> None:
    key = os.urandom(32)
    plain = b"Council Tax,phone,resident comment " * 40
    blob = sealed_bytes(plain, key)
    assert b"Council Tax" not in blob
    assert opened(blob, key) == plain
    assert CHUNK_BYTES == 1024 * 1024  # the real size, patched here for a small test only


def test_changes_cuts_reordering_and_swaps_are_refused(small_chunks: int) -> None:
    key = os.urandom(32)
    plain = bytes(range(256)) * 2  # 8 chunks of 64
    blob = sealed_bytes(plain, key)
    record = 4 + 64 + 16  # length prefix, chunk, tag
    head = 4 + 8
    flipped = bytearray(blob)
    flipped[head + 10] ^= 1
    chunks = [blob[head + i * record : head + (i + 1) * record] for i in range(8)]
    swapped = blob[:head] + chunks[1] + chunks[0] + b"".join(chunks[2:])
    for damaged in (bytes(flipped), blob[:-1], blob[: head + 3 * record], swapped, b"CVX1", b"nonsense" * 4):
        with pytest.raises(DecryptionFailed):
            opened(damaged, key)
    with pytest.raises(DecryptionFailed):
        opened(blob, os.urandom(32))
    with pytest.raises(DecryptionFailed):  # another export's row cannot open this file
        opened(blob, key, uuid.UUID(int=7))


def test_the_file_key_is_wrapped_for_its_export_only() -> None:
    keyring = Keyring.generate()
    key, wrapped = new_file_key(keyring, EXPORT)
    assert open_file_key(keyring, EXPORT, wrapped) == key and key not in wrapped.blob
    with pytest.raises(DecryptionFailed):
        open_file_key(keyring, uuid.UUID(int=7), wrapped)
