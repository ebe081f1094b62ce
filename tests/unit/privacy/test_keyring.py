"""Keyring: the key-file format, refusing unusable keys, creating key files, rotation, check values."""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.exceptions import KeyProblem
from privacy.keyring import Keyring, check_value, create_key_file

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are a POSIX notion")

KEYRING = Keyring.generate()


def all_keys(keyring: Keyring) -> list[bytes]:
    return [*keyring.kek.values(), *keyring.index.values(), *keyring.suppression.values(), keyring.token]


def key_renderings(keyring: Keyring) -> list[str]:
    """Every way a key could leak into a message: base64, hex, Python bytes repr."""
    found: list[str] = []
    for key in all_keys(keyring):
        found += [base64.b64encode(key).decode(), key.hex(), repr(key)[2:-1]]
    return found


def assert_operator_message(problem: KeyProblem, *, source: str, keyring: Keyring = KEYRING) -> None:
    message = str(problem)
    assert "\n" not in message
    assert source in message
    for rendering in key_renderings(keyring):
        assert rendering not in message


def valid_document(keyring: Keyring = KEYRING) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(keyring.to_json())
    return document


# --- generate, repr, immutability -----------------------------------------------------------------


def test_generated_keyring_has_version_one_of_every_key() -> None:
    keyring = Keyring.generate()
    assert (keyring.kek_active, keyring.index_active, keyring.suppression_active) == (1, 1, 1)
    assert list(keyring.kek) == list(keyring.index) == list(keyring.suppression) == [1]
    assert all(len(key) == 32 for key in all_keys(keyring))
    assert len(set(all_keys(keyring))) == 4


def test_each_generated_keyring_is_new() -> None:
    assert not set(all_keys(Keyring.generate())) & set(all_keys(Keyring.generate()))


def test_repr_shows_versions_but_no_key_material() -> None:
    shown = repr(KEYRING)
    assert "kek=[1] active 1" in shown
    for rendering in key_renderings(KEYRING):
        assert rendering not in shown


def test_keyring_cannot_be_changed_in_place() -> None:
    with pytest.raises(FrozenInstanceError):
        KEYRING.kek_active = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        KEYRING.kek[2] = bytes(32)  # type: ignore[index]


def test_a_caller_changing_its_dict_afterwards_does_not_change_the_keyring() -> None:
    keys = {1: bytes(32)}
    keyring = replace(KEYRING, kek=keys, kek_active=1)
    keys[1] = bytes([1]) * 32
    assert keyring.kek[1] == bytes(32)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kek": {1: bytes(16)}}, "kek version 1 is not 32 bytes"),
        ({"index_active": 2}, "index_active is 2 but index has no version 2"),
        ({"suppression": {}}, "suppression holds no keys"),
        ({"token": bytes(31)}, "token is not 32 bytes"),
    ],
)
def test_constructing_an_unusable_keyring_is_refused(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        replace(KEYRING, **changes)


# --- JSON format ----------------------------------------------------------------------------------


def test_json_round_trip_gives_the_same_keys() -> None:
    rotated = KEYRING.with_new_kek().with_new_kek().with_new_index_key()
    assert Keyring.from_json(rotated.to_json(), source="test") == rotated


def test_json_is_the_documented_format() -> None:
    document = valid_document()
    assert document["format"] == 1
    assert base64.b64decode(document["kek"]["1"]) == KEYRING.kek[1]
    assert document["kek_active"] == 1
    assert base64.b64decode(document["token"]) == KEYRING.token


def _set(path: tuple[str, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _drop(name: str) -> Any:
    def change(document: dict[str, Any]) -> None:
        del document[name]

    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_drop("format"), 'no "format" entry'),
        (_set(("format",), 2), "format 2 is not one this version of civicvoice reads"),
        (_set(("format",), "1"), '"format" is not a whole number'),
        (_set(("kek_activ",), 1), "unexpected entries: kek_activ"),
        (_drop("kek"), '"kek" is missing or holds no keys'),
        (_set(("index",), {}), '"index" is missing or holds no keys'),
        (_set(("kek", "one"), base64.b64encode(bytes(32)).decode()), "not a positive whole number"),
        (_set(("kek", "0"), base64.b64encode(bytes(32)).decode()), "not a positive whole number"),
        (_set(("kek", "2"), base64.b64encode(bytes(16)).decode()), "kek version 2 is 16 bytes, not 32"),
        (_set(("kek", "2"), "not base64!"), "kek version 2 is not valid base64"),
        (_set(("kek", "2"), 12345), "kek version 2 is missing or not a base64 string"),
        (_set(("kek_active",), 3), "kek_active is 3 but kek has no version 3"),
        (_set(("index_active",), True), '"index_active" is missing or not a whole number'),
        (_drop("suppression_active"), '"suppression_active" is missing or not a whole number'),
        (_drop("token"), "token is missing or not a base64 string"),
        (_set(("token",), base64.b64encode(bytes(33)).decode()), "token is 33 bytes, not 32"),
    ],
)
def test_every_problem_in_the_key_json_is_one_line_naming_the_source_and_no_key(change: Any, reason: str) -> None:
    document = valid_document()
    change(document)
    with pytest.raises(KeyProblem) as caught:
        Keyring.from_json(json.dumps(document), source="/etc/civicvoice/keys.json")
    assert reason in str(caught.value)
    assert "never creates a new key over existing data" in str(caught.value)
    assert_operator_message(caught.value, source="/etc/civicvoice/keys.json")


def test_a_key_problem_is_always_one_line() -> None:
    problem = KeyProblem("The key file /x/keys.json is missing;\n  restore it.")
    assert str(problem) == problem.detail == "The key file /x/keys.json is missing; restore it."
    assert problem.status == 500


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not valid JSON (line 1, column 1)"),
        ("{'kek': 1}", "not valid JSON"),
        ('["format", 1]', "not a JSON object"),
        ("null", "not a JSON object"),
    ],
)
def test_text_that_is_not_a_key_document_is_refused(text: str, reason: str) -> None:
    with pytest.raises(KeyProblem) as caught:
        Keyring.from_json(text, source="CIVICVOICE_KEYS")
    assert reason in str(caught.value)
    assert_operator_message(caught.value, source="CIVICVOICE_KEYS")


def test_truncated_json_message_does_not_quote_the_document() -> None:
    text = KEYRING.to_json()[:-20]
    with pytest.raises(KeyProblem) as caught:
        Keyring.from_json(text, source="CIVICVOICE_KEYS")
    assert_operator_message(caught.value, source="CIVICVOICE_KEYS")


def test_a_key_pasted_as_an_entry_name_is_not_echoed() -> None:
    document = valid_document()
    pasted = base64.b64encode(KEYRING.kek[1]).decode()
    document[pasted] = 1
    with pytest.raises(KeyProblem, match="unexpected entries") as caught:
        Keyring.from_json(json.dumps(document), source="keys.json")
    assert_operator_message(caught.value, source="keys.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(name=st.sampled_from(sorted(valid_document())), value=json_values)
def test_any_damage_to_one_entry_gives_keys_or_a_key_problem(name: str, value: Any) -> None:
    document = valid_document()
    document[name] = value
    try:
        keyring = Keyring.from_json(json.dumps(document), source="keys.json")
    except KeyProblem as problem:
        assert_operator_message(problem, source="keys.json")
    else:
        assert keyring.check_values()


@given(st.text())
def test_arbitrary_text_gives_a_key_problem_never_a_crash(text: str) -> None:
    with pytest.raises(KeyProblem) as caught:
        Keyring.from_json(text, source="CIVICVOICE_KEYS")
    assert "\n" not in str(caught.value)


# --- load -----------------------------------------------------------------------------------------


def write_key_file(path: Path, keyring: Keyring, mode: int = 0o600) -> Path:
    path.write_text(keyring.to_json())
    path.chmod(mode)
    return path


def test_load_with_nothing_configured_gives_none(tmp_path: Path) -> None:
    assert Keyring.load(key_file=None, env_value=None) is None
    assert Keyring.load(key_file=tmp_path / "absent.json", env_value=None) is None


def test_load_reads_the_key_file(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "keys.json", KEYRING)
    assert Keyring.load(key_file=path, env_value=None) == KEYRING


def test_the_environment_wins_over_the_key_file(tmp_path: Path) -> None:
    other = Keyring.generate()
    path = write_key_file(tmp_path / "keys.json", KEYRING)
    assert Keyring.load(key_file=path, env_value=other.to_json()) == other


def test_bad_keys_in_the_environment_name_the_variable(tmp_path: Path) -> None:
    path = write_key_file(tmp_path / "keys.json", KEYRING)
    with pytest.raises(KeyProblem) as caught:
        Keyring.load(key_file=path, env_value='{"format": 1}')
    assert_operator_message(caught.value, source="CIVICVOICE_KEYS")


@pytest.mark.parametrize("value", ["", "  \n"])
def test_an_empty_environment_value_is_refused_not_ignored(tmp_path: Path, value: str) -> None:
    path = write_key_file(tmp_path / "keys.json", KEYRING)
    with pytest.raises(KeyProblem, match="CIVICVOICE_KEYS is set but empty"):
        Keyring.load(key_file=path, env_value=value)


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666])
def test_a_key_file_open_to_other_users_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "keys.json", KEYRING, mode)
    with pytest.raises(KeyProblem) as caught:
        Keyring.load(key_file=path, env_value=None)
    assert f"chmod 600 {path}" in str(caught.value)
    assert_operator_message(caught.value, source=str(path))


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_only_its_owner_can_read_loads(tmp_path: Path, mode: int) -> None:
    path = write_key_file(tmp_path / "keys.json", KEYRING, mode)
    assert Keyring.load(key_file=path, env_value=None) == KEYRING


def test_a_damaged_key_file_is_named_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(KEYRING.to_json().replace('"format": 1', '"format": 9'))
    path.chmod(0o600)
    with pytest.raises(KeyProblem, match="format 9") as caught:
        Keyring.load(key_file=path, env_value=None)
    assert_operator_message(caught.value, source=str(path))


def test_a_key_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    path.chmod(0o600)
    with pytest.raises(KeyProblem, match="not UTF-8 text"):
        Keyring.load(key_file=path, env_value=None)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    directory = tmp_path / "keys.json"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyProblem, match="not a regular file"):
        Keyring.load(key_file=directory, env_value=None)


@posix_only
def test_a_fifo_in_place_of_the_key_file_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "keys.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyProblem, match="not a regular file"):
        Keyring.load(key_file=fifo, env_value=None)


@posix_only
def test_a_key_file_link_to_nothing_is_refused_not_treated_as_absent(tmp_path: Path) -> None:
    link = tmp_path / "keys.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(KeyProblem, match="link to a file that does not exist"):
        Keyring.load(key_file=link, env_value=None)


@posix_only
def test_a_key_file_reached_through_a_link_is_checked_at_its_target(tmp_path: Path) -> None:
    target = write_key_file(tmp_path / "real.json", KEYRING, 0o644)
    link = tmp_path / "keys.json"
    link.symlink_to(target)
    with pytest.raises(KeyProblem, match="chmod 600"):
        Keyring.load(key_file=link, env_value=None)
    target.chmod(0o600)
    assert Keyring.load(key_file=link, env_value=None) == KEYRING


# --- create_key_file ------------------------------------------------------------------------------


def test_create_key_file_writes_a_private_file_that_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    created = create_key_file(path)
    assert Keyring.load(key_file=path, env_value=None) == created
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_create_key_file_leaves_no_temporary_files(tmp_path: Path) -> None:
    create_key_file(tmp_path / "keys.json")
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


@posix_only
def test_create_key_file_makes_missing_directories_private(tmp_path: Path) -> None:
    before = stat.S_IMODE(tmp_path.stat().st_mode)
    path = tmp_path / "etc" / "civicvoice" / "keys.json"
    create_key_file(path)
    assert stat.S_IMODE((tmp_path / "etc").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "etc" / "civicvoice").stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == before


@posix_only
def test_create_key_file_works_under_a_strict_umask(tmp_path: Path) -> None:
    old = os.umask(0o277)
    try:
        path = tmp_path / "new" / "keys.json"
        created = create_key_file(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Keyring.load(key_file=path, env_value=None) == created


def test_create_key_file_never_replaces_an_existing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = create_key_file(path)
    original = path.read_bytes()
    with pytest.raises(KeyProblem, match="already exists") as caught:
        create_key_file(path)
    assert_operator_message(caught.value, source=str(path), keyring=first)
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]


def test_create_key_file_works_where_hard_links_are_not_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "keys.json"
    created = create_key_file(path)
    assert Keyring.load(key_file=path, env_value=None) == created
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
    with pytest.raises(KeyProblem, match="already exists"):
        create_key_file(path)
    assert Keyring.load(key_file=path, env_value=None) == created


@posix_only
def test_create_key_file_does_not_write_through_a_dangling_link(tmp_path: Path) -> None:
    link = tmp_path / "keys.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(KeyProblem, match="already exists"):
        create_key_file(link)
    assert not (tmp_path / "elsewhere.json").exists()


@posix_only
def test_create_key_file_in_an_unusable_place_is_a_key_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(KeyProblem, match="could not be created") as caught:
        create_key_file(blocker / "keys.json")
    assert "\n" not in str(caught.value)


# --- rotation -------------------------------------------------------------------------------------


def test_a_new_kek_becomes_active_and_the_old_one_is_kept() -> None:
    rotated = KEYRING.with_new_kek()
    assert rotated.kek_active == 2
    assert rotated.kek[1] == KEYRING.kek[1]
    assert rotated.kek[2] not in all_keys(KEYRING)
    assert (rotated.index, rotated.suppression, rotated.token) == (
        KEYRING.index,
        KEYRING.suppression,
        KEYRING.token,
    )
    assert KEYRING.kek_active == 1
    assert list(KEYRING.kek) == [1]


def test_a_new_index_key_becomes_active_and_the_old_one_is_kept() -> None:
    rotated = KEYRING.with_new_index_key().with_new_index_key()
    assert rotated.index_active == 3
    assert list(rotated.index) == [1, 2, 3]
    assert rotated.index[1] == KEYRING.index[1]
    assert (rotated.kek, rotated.suppression) == (KEYRING.kek, KEYRING.suppression)


def test_rotation_follows_the_highest_version_not_the_active_one() -> None:
    keyring = replace(KEYRING.with_new_kek(), kek_active=1).with_new_kek()
    assert list(keyring.kek) == [1, 2, 3]
    assert keyring.kek_active == 3


# --- check values ---------------------------------------------------------------------------------


def test_check_value_is_stable_across_releases() -> None:
    # Stored in databases: if this changes, every deployment would refuse to start.
    assert check_value(bytes(range(32)), "kek:1") == "5ac560bfc714f54afba12f6322280ce4"


@given(key=st.binary(min_size=32, max_size=32), purpose=st.text(min_size=1))
def test_check_value_is_a_fixed_length_fingerprint_that_does_not_reveal_the_key(key: bytes, purpose: str) -> None:
    value = check_value(key, purpose)
    assert len(value) == 32
    assert value == check_value(key, purpose)
    assert key.hex()[:32] != value


@given(
    keys=st.lists(st.binary(min_size=32, max_size=32), min_size=2, max_size=2, unique=True),
    purpose=st.text(min_size=1),
)
def test_different_keys_have_different_check_values(keys: list[bytes], purpose: str) -> None:
    assert check_value(keys[0], purpose) != check_value(keys[1], purpose)


def test_check_values_cover_every_key_version_held() -> None:
    keyring = KEYRING.with_new_kek().with_new_index_key()
    values = keyring.check_values()
    assert sorted(values) == ["index:1", "index:2", "kek:1", "kek:2", "suppression:1", "token"]
    assert len(set(values.values())) == len(values)


def test_check_values_survive_a_round_trip_and_rotation_keeps_old_ones() -> None:
    values = KEYRING.check_values()
    assert Keyring.from_json(KEYRING.to_json(), source="test").check_values() == values
    rotated = KEYRING.with_new_kek().check_values()
    assert {name: rotated[name] for name in values} == values


def test_a_wrong_key_file_is_detectable_by_its_check_values() -> None:
    assert Keyring.generate().check_values()["kek:1"] != KEYRING.check_values()["kek:1"]


def test_the_same_key_under_two_purposes_has_two_check_values() -> None:
    same = bytes(range(32))
    keyring = replace(KEYRING, kek={1: same}, index={1: same}, suppression={1: same}, token=same)
    assert len(set(keyring.check_values().values())) == 4
