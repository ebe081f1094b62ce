"""Envelope encryption: data opens only with the right key, field, row and owner; KEK rotation re-wraps."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID, uuid4

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privacy.crypto import (
    FORMAT_VERSION,
    WrappedKey,
    decrypt_field,
    decrypt_text,
    encrypt_field,
    new_dek,
    read_header,
    rewrap,
    unwrap_dek,
    wrap_dek,
)
from privacy.exceptions import DecryptionFailed, KeyProblem
from privacy.keyring import Keyring

KEYRING = Keyring.generate()
DEK = new_dek()
DEK_ID = UUID("0190a8e2-7b1c-7c3d-8e4f-123456789abc")
ROW = UUID("0190a8e2-7b1c-7c3d-8e4f-000000000001")
OWNER = "subject:0190a8e2-7b1c-7c3d-8e4f-0000000000aa"
FIELD = "response.comment"

fields = st.text(min_size=1, max_size=40)
owners = st.text(min_size=1, max_size=60)
# Any text a respondent can type, including astral-plane emoji, combining marks and NULs.
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]))


def encrypt(plaintext: str | bytes = "The bins were not collected", **changes: object) -> bytes:
    args: dict[str, object] = {"field": FIELD, "row_id": ROW, "owner": OWNER}
    args.update(changes)
    return encrypt_field(DEK, DEK_ID, plaintext, **args)  # type: ignore[arg-type]


# --- data keys ------------------------------------------------------------------------------------


def test_new_deks_are_256_bit_and_never_repeat() -> None:
    deks = {new_dek() for _ in range(100)}
    assert len(deks) == 100
    assert all(len(dek) == 32 for dek in deks)


@given(owner=owners)
def test_a_wrapped_dek_unwraps_for_its_owner(owner: str) -> None:
    dek = new_dek()
    wrapped = wrap_dek(KEYRING, dek, owner=owner)
    assert wrapped.kek_version == KEYRING.kek_active
    assert dek not in wrapped.blob
    assert unwrap_dek(KEYRING, wrapped, owner=owner) == dek


@given(owner=owners, other=owners)
def test_a_wrapped_dek_is_bound_to_its_owner(owner: str, other: str) -> None:
    assume(owner != other)
    wrapped = wrap_dek(KEYRING, DEK, owner=owner)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(KEYRING, wrapped, owner=other)


def test_wrapping_twice_gives_different_blobs() -> None:
    assert wrap_dek(KEYRING, DEK, owner=OWNER).blob != wrap_dek(KEYRING, DEK, owner=OWNER).blob


@given(data=st.data())
def test_a_damaged_wrapped_dek_is_refused(data: st.DataObject) -> None:
    wrapped = wrap_dek(KEYRING, DEK, owner=OWNER)
    blob = bytearray(wrapped.blob)
    position = data.draw(st.integers(0, len(blob) - 1), label="byte")
    blob[position] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    with pytest.raises(DecryptionFailed):
        unwrap_dek(KEYRING, replace(wrapped, blob=bytes(blob)), owner=OWNER)


@given(cut=st.integers(0, 59))
def test_a_truncated_wrapped_dek_is_refused(cut: int) -> None:
    wrapped = wrap_dek(KEYRING, DEK, owner=OWNER)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(KEYRING, replace(wrapped, blob=wrapped.blob[:cut]), owner=OWNER)


def test_a_dek_wrapped_by_another_installation_is_refused() -> None:
    wrapped = wrap_dek(Keyring.generate(), DEK, owner=OWNER)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(KEYRING, wrapped, owner=OWNER)


def test_a_dek_labelled_with_another_kek_version_is_refused() -> None:
    rotated = KEYRING.with_new_kek()
    wrapped = wrap_dek(rotated, DEK, owner=OWNER)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(rotated, replace(wrapped, kek_version=1), owner=OWNER)


@pytest.mark.parametrize("version", [0, 2, 99])
def test_a_kek_version_not_held_is_a_key_problem_for_the_operator(version: int) -> None:
    wrapped = WrappedKey(kek_version=version, blob=wrap_dek(KEYRING, DEK, owner=OWNER).blob)
    with pytest.raises(KeyProblem) as caught:
        unwrap_dek(KEYRING, wrapped, owner=OWNER)
    message = str(caught.value)
    assert message.startswith(f"KEK version {version} is not in the keyring;")
    assert "\n" not in message
    assert caught.value.status == 500


@pytest.mark.parametrize("dek", [b"", bytes(16), bytes(33)])
def test_only_256_bit_deks_are_wrapped(dek: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_dek(KEYRING, dek, owner=OWNER)


def test_an_empty_owner_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="owner"):
        wrap_dek(KEYRING, DEK, owner="")


# --- rotation -------------------------------------------------------------------------------------


@given(comment=texts)
def test_data_stays_readable_after_kek_rotation_and_rewrap(comment: str) -> None:
    dek = new_dek()
    wrapped = wrap_dek(KEYRING, dek, owner=OWNER)
    ciphertext = encrypt_field(dek, DEK_ID, comment, field=FIELD, row_id=ROW, owner=OWNER)

    rotated = KEYRING.with_new_kek()
    rewrapped = rewrap(rotated, wrapped, owner=OWNER)

    assert rewrapped.kek_version == 2
    assert (
        decrypt_text(unwrap_dek(rotated, rewrapped, owner=OWNER), ciphertext, field=FIELD, row_id=ROW, owner=OWNER)
        == comment
    )


def test_after_rewrap_the_old_kek_can_be_retired() -> None:
    rotated = KEYRING.with_new_kek()
    rewrapped = rewrap(rotated, wrap_dek(KEYRING, DEK, owner=OWNER), owner=OWNER)
    retired = replace(rotated, kek={2: rotated.kek[2]})
    assert unwrap_dek(retired, rewrapped, owner=OWNER) == DEK


def test_a_rewrapped_dek_needs_the_new_kek() -> None:
    rotated = KEYRING.with_new_kek()
    rewrapped = rewrap(rotated, wrap_dek(KEYRING, DEK, owner=OWNER), owner=OWNER)
    with pytest.raises(KeyProblem, match="KEK version 2"):
        unwrap_dek(KEYRING, rewrapped, owner=OWNER)


def test_a_rewrapped_dek_stays_bound_to_its_owner() -> None:
    rotated = KEYRING.with_new_kek()
    rewrapped = rewrap(rotated, wrap_dek(KEYRING, DEK, owner=OWNER), owner=OWNER)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(rotated, rewrapped, owner="subject:someone-else")


def test_rewrap_refuses_a_dek_of_another_owner() -> None:
    wrapped = wrap_dek(KEYRING, DEK, owner=OWNER)
    with pytest.raises(DecryptionFailed):
        rewrap(KEYRING.with_new_kek(), wrapped, owner="period:2026-11")


# --- field encryption -----------------------------------------------------------------------------


@given(plaintext=texts, field=fields, row=st.uuids(), owner=owners, dek_id=st.uuids())
def test_any_text_round_trips(plaintext: str, field: str, row: UUID, owner: str, dek_id: UUID) -> None:
    ciphertext = encrypt_field(DEK, dek_id, plaintext, field=field, row_id=row, owner=owner)
    assert decrypt_text(DEK, ciphertext, field=field, row_id=row, owner=owner) == plaintext
    assert read_header(ciphertext).dek_id == dek_id


@given(plaintext=st.binary())
def test_any_bytes_round_trip(plaintext: bytes) -> None:
    assert decrypt_field(DEK, encrypt(plaintext), field=FIELD, row_id=ROW, owner=OWNER) == plaintext


@given(plaintext=texts)
def test_the_ciphertext_does_not_contain_the_plaintext(plaintext: str) -> None:
    encoded = plaintext.encode()
    assume(len(encoded) >= 8)
    assert encoded not in encrypt(plaintext)


def test_the_same_comment_encrypts_differently_each_time() -> None:
    assert encrypt("Very helpful, thank you") != encrypt("Very helpful, thank you")


def test_the_header_names_the_format_and_dek_without_a_key() -> None:
    header = read_header(encrypt())
    assert header.version == FORMAT_VERSION == 1
    assert header.dek_id == DEK_ID


def test_the_ciphertext_layout_is_header_nonce_then_sealed_data() -> None:
    ciphertext = encrypt("abc")
    assert ciphertext[0] == 1
    assert ciphertext[1:17] == DEK_ID.bytes
    assert len(ciphertext) == 17 + 12 + len("abc") + 16


@given(other=st.uuids())
def test_a_ciphertext_moved_to_another_row_is_refused(other: UUID) -> None:
    assume(other != ROW)
    with pytest.raises(DecryptionFailed):
        decrypt_text(DEK, encrypt(), field=FIELD, row_id=other, owner=OWNER)


@given(other=owners)
def test_a_ciphertext_moved_to_another_person_is_refused(other: str) -> None:
    assume(other != OWNER)
    with pytest.raises(DecryptionFailed):
        decrypt_text(DEK, encrypt(), field=FIELD, row_id=ROW, owner=other)


@given(other=fields)
def test_a_ciphertext_moved_to_another_field_is_refused(other: str) -> None:
    assume(other != FIELD)
    with pytest.raises(DecryptionFailed):
        decrypt_text(DEK, encrypt(), field=other, row_id=ROW, owner=OWNER)


@given(data=st.data())
def test_field_and_owner_cannot_be_traded_against_each_other(data: st.DataObject) -> None:
    # Length-prefixed associated data: field "ab" with owner "c" must not pass for "a" with "bc".
    joined = data.draw(st.text(min_size=3, max_size=40), label="field+owner")
    split, other_split = data.draw(
        st.lists(st.integers(1, len(joined) - 1), min_size=2, max_size=2, unique=True), label="splits"
    )
    ciphertext = encrypt(field=joined[:split], owner=joined[split:])
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, ciphertext, field=joined[:other_split], row_id=ROW, owner=joined[other_split:])


def test_swapping_field_and_owner_is_refused() -> None:
    ciphertext = encrypt(field="a", owner="b")
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, ciphertext, field="b", row_id=ROW, owner="a")


@given(wrong=st.binary(min_size=32, max_size=32))
def test_another_persons_dek_cannot_read_the_data(wrong: bytes) -> None:
    assume(wrong != DEK)
    with pytest.raises(DecryptionFailed):
        decrypt_text(wrong, encrypt(), field=FIELD, row_id=ROW, owner=OWNER)


@given(data=st.data())
def test_any_flipped_bit_is_detected(data: st.DataObject) -> None:
    ciphertext = bytearray(encrypt(data.draw(texts, label="plaintext")))
    position = data.draw(st.integers(0, len(ciphertext) - 1), label="byte")
    ciphertext[position] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, bytes(ciphertext), field=FIELD, row_id=ROW, owner=OWNER)


@given(data=st.data())
def test_a_truncated_ciphertext_is_refused(data: st.DataObject) -> None:
    ciphertext = encrypt(data.draw(texts, label="plaintext"))
    cut = data.draw(st.integers(0, len(ciphertext) - 1), label="cut")
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, ciphertext[:cut], field=FIELD, row_id=ROW, owner=OWNER)


@given(extra=st.binary(min_size=1, max_size=32))
def test_a_ciphertext_with_bytes_appended_is_refused(extra: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, encrypt() + extra, field=FIELD, row_id=ROW, owner=OWNER)


def test_a_ciphertext_relabelled_with_another_dek_id_is_refused() -> None:
    ciphertext = encrypt()
    relabelled = ciphertext[:1] + uuid4().bytes + ciphertext[17:]
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, relabelled, field=FIELD, row_id=ROW, owner=OWNER)


@pytest.mark.parametrize("length", [0, 1, 17, 44])
def test_a_value_too_short_to_be_a_ciphertext_has_no_header(length: int) -> None:
    with pytest.raises(DecryptionFailed, match="too short"):
        read_header(encrypt()[:length])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_format_is_refused_by_name(version: int) -> None:
    ciphertext = bytes([version]) + encrypt()[1:]
    with pytest.raises(DecryptionFailed, match=f"format {version}"):
        read_header(ciphertext)
    with pytest.raises(DecryptionFailed):
        decrypt_field(DEK, ciphertext, field=FIELD, row_id=ROW, owner=OWNER)


def test_bytes_that_are_not_text_are_refused_as_text() -> None:
    ciphertext = encrypt(b"\xff\xfe")
    with pytest.raises(DecryptionFailed, match="not text"):
        decrypt_text(DEK, ciphertext, field=FIELD, row_id=ROW, owner=OWNER)


def test_decryption_failures_are_server_errors_and_name_no_personal_data() -> None:
    with pytest.raises(DecryptionFailed) as caught:
        decrypt_text(DEK, encrypt("Jo Bloggs, 07911 123456"), field=FIELD, row_id=ROW, owner="subject:other")
    assert caught.value.status == 500
    assert caught.value.slug == "decryption-failed"
    assert "Jo Bloggs" not in str(caught.value)
    assert "subject:other" not in str(caught.value)


@pytest.mark.parametrize(("field", "owner"), [("", OWNER), (FIELD, "")])
def test_empty_field_or_owner_is_a_programming_error(field: str, owner: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        encrypt(field=field, owner=owner)


@pytest.mark.parametrize("dek", [b"", bytes(16), bytes(24), bytes(64)])
def test_only_256_bit_deks_encrypt_or_decrypt(dek: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_field(dek, DEK_ID, "x", field=FIELD, row_id=ROW, owner=OWNER)
    with pytest.raises(ValueError, match="32 bytes"):
        decrypt_field(dek, encrypt(), field=FIELD, row_id=ROW, owner=OWNER)
