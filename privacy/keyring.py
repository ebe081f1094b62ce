"""The service's long-lived keys (KEKs, blind-index, suppression and token keys): loading, creating, rotating.

Keys come from CIVICVOICE_KEYS or a 0600 key file; check values let start-up detect a missing or wrong key.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from privacy.exceptions import KeyProblem

KEY_BYTES = 32
KEY_FILE_FORMAT = 1
ENV_VAR = "CIVICVOICE_KEYS"

_RINGS = ("kek", "index", "suppression")
_TOP_LEVEL = frozenset({"format", "token", *_RINGS, *(f"{name}_active" for name in _RINGS)})
_NEVER_REPLACES = "civicvoice never creates a new key over existing data."
_CHECK_LABEL = b"civicvoice key check v1|"
# Only names shaped like ours are echoed in messages: anything else might be a pasted key.
_ECHOABLE_NAME = re.compile(r"[a-z_]{1,30}")


def _new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def check_value(key: bytes, purpose: str) -> str:
    """A short public fingerprint of ``key``, stored in the database to detect a wrong key at start-up.

    HMAC over a fixed label reveals nothing about the key. Anything else keyed with the raw key (the token
    signer, for one) must never MAC a message starting with this label, or it could forge a check value.
    """
    mac = hmac.new(key, _CHECK_LABEL + purpose.encode("utf-8"), hashlib.sha256)
    return mac.digest()[:16].hex()


def _ring_problem(name: str, keys: Mapping[int, bytes], active: int) -> str | None:
    if not keys:
        return f"{name} holds no keys"
    for version, key in keys.items():
        if type(version) is not int or version < 1:
            return f"{name} has a version that is not a positive whole number"
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            return f"{name} version {version} is not {KEY_BYTES} bytes"
    if type(active) is not int:
        return f"{name}_active is not a whole number"
    if active not in keys:
        return f"{name}_active is {active} but {name} has no version {active}"
    return None


@dataclass(frozen=True, repr=False)
class Keyring:
    """Every key the service holds, each ring by version; ``*_active`` is the version new data uses."""

    kek: Mapping[int, bytes]
    kek_active: int
    index: Mapping[int, bytes]
    index_active: int
    suppression: Mapping[int, bytes]
    suppression_active: int
    token: bytes

    def __post_init__(self) -> None:
        for name, keys, active in self._rings():
            problem = _ring_problem(name, keys, active)
            if problem is not None:
                raise ValueError(problem)
            # Read-only copies: a keyring shared across requests must not change under them.
            object.__setattr__(self, name, MappingProxyType(dict(sorted(keys.items()))))
        if not isinstance(self.token, bytes) or len(self.token) != KEY_BYTES:
            raise ValueError(f"token is not {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        # Keyrings end up in tracebacks and debuggers; show versions, never key bytes.
        rings = ", ".join(f"{name}={sorted(keys)} active {active}" for name, keys, active in self._rings())
        return f"Keyring({rings}, token=<set>)"

    def _rings(self) -> Iterator[tuple[str, Mapping[int, bytes], int]]:
        yield "kek", self.kek, self.kek_active
        yield "index", self.index, self.index_active
        yield "suppression", self.suppression, self.suppression_active

    @classmethod
    def generate(cls) -> Keyring:
        """A fresh keyring with version 1 of every key."""
        return cls(
            kek={1: _new_key()},
            kek_active=1,
            index={1: _new_key()},
            index_active=1,
            suppression={1: _new_key()},
            suppression_active=1,
            token=_new_key(),
        )

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Keyring:
        """Parse the key-file JSON; ``source`` (a path or the variable's name) is named in any error."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # ``from None``: the decode error holds the whole document, keys included.
            raise _unusable(source, f"it is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        except (TypeError, ValueError):
            raise _unusable(source, "it is not valid JSON") from None
        if not isinstance(data, dict):
            raise _unusable(source, "it is not a JSON object")
        _check_format(data, source)
        unexpected = sorted(set(data) - _TOP_LEVEL)
        if unexpected:
            shown = ", ".join(n if _ECHOABLE_NAME.fullmatch(n) else "(unnamed)" for n in unexpected)
            raise _unusable(source, f"it has unexpected entries: {shown}")
        rings = {name: _parse_ring(data, name, source) for name in _RINGS}
        actives = {name: _parse_active(data, name, source) for name in _RINGS}
        token = _parse_key(data.get("token"), "token", source)
        try:
            return cls(
                kek=rings["kek"],
                kek_active=actives["kek"],
                index=rings["index"],
                index_active=actives["index"],
                suppression=rings["suppression"],
                suppression_active=actives["suppression"],
                token=token,
            )
        except ValueError as exc:
            raise _unusable(source, str(exc)) from None

    def to_json(self) -> str:
        """The key-file JSON that ``from_json`` reads back."""
        document: dict[str, Any] = {"format": KEY_FILE_FORMAT}
        for name, keys, active in self._rings():
            document[name] = {str(v): _b64(key) for v, key in sorted(keys.items())}
            document[f"{name}_active"] = active
        document["token"] = _b64(self.token)
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def load(cls, *, key_file: Path | None, env_value: str | None) -> Keyring | None:
        """The keyring from CIVICVOICE_KEYS if set, else from ``key_file`` if it exists, else None."""
        if env_value is not None:
            # An empty value usually means a secret failed to inject; falling back to a file would hide that.
            if not env_value.strip():
                raise KeyProblem(
                    f"{ENV_VAR} is set but empty; set it to the key JSON, or unset it to use the key file."
                )
            return cls.from_json(env_value, source=ENV_VAR)
        if key_file is None:
            return None
        text = _read_key_file(key_file)
        if text is None:
            return None
        return cls.from_json(text, source=str(key_file))

    def with_new_kek(self) -> Keyring:
        """A copy with a new KEK version, made active; older versions stay so existing DEKs still unwrap."""
        version = max(self.kek) + 1
        return replace(self, kek={**self.kek, version: _new_key()}, kek_active=version)

    def with_new_index_key(self) -> Keyring:
        """A copy with a new blind-index key version, made active; old indexes stay searchable meanwhile."""
        version = max(self.index) + 1
        return replace(self, index={**self.index, version: _new_key()}, index_active=version)

    # No with_new_suppression_key: suppression entries are hashes of values we no longer hold,
    # so they could never be recomputed under a new key and the list would silently stop working.

    def check_values(self) -> dict[str, str]:
        """Check values of every key held, keyed "kek:<v>", "index:<v>", "suppression:<v>" and "token"."""
        values: dict[str, str] = {}
        for name, keys, _active in self._rings():
            for version, key in sorted(keys.items()):
                label = f"{name}:{version}"
                values[label] = check_value(key, label)
        values["token"] = check_value(self.token, "token")
        return values


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _unusable(source: str, reason: str) -> KeyProblem:
    return KeyProblem(
        f"The keys in {source} cannot be used: {reason}. "
        f"Restore the correct key file or {ENV_VAR} value; {_NEVER_REPLACES}"
    )


def _check_format(data: dict[str, Any], source: str) -> None:
    if "format" not in data:
        raise _unusable(source, 'it has no "format" entry')
    found = data["format"]
    if type(found) is not int:
        raise _unusable(source, '"format" is not a whole number')
    if found != KEY_FILE_FORMAT:
        raise _unusable(source, f"format {found} is not one this version of civicvoice reads")


def _parse_key(value: object, label: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise _unusable(source, f"{label} is missing or not a base64 string")
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _unusable(source, f"{label} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise _unusable(source, f"{label} is {len(key)} bytes, not {KEY_BYTES}")
    return key


def _parse_ring(data: dict[str, Any], name: str, source: str) -> dict[int, bytes]:
    entries = data.get(name)
    if not isinstance(entries, dict) or not entries:
        raise _unusable(source, f'"{name}" is missing or holds no keys')
    ring: dict[int, bytes] = {}
    for version_text, value in entries.items():
        plausible = version_text.isascii() and version_text.isdigit() and len(version_text) <= 9
        if not plausible or int(version_text) < 1:
            raise _unusable(source, f"{name} has a version that is not a positive whole number")
        version = int(version_text)
        if version in ring:
            raise _unusable(source, f"{name} lists version {version} twice")
        ring[version] = _parse_key(value, f"{name} version {version}", source)
    return ring


def _parse_active(data: dict[str, Any], name: str, source: str) -> int:
    label = f"{name}_active"
    active = data.get(label)
    if type(active) is not int:
        raise _unusable(source, f'"{label}" is missing or not a whole number')
    return active


def _read_key_file(path: Path) -> str | None:
    try:
        # Non-blocking, so a FIFO put in its place cannot hang start-up; reads of a regular file still block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if os.path.lexists(path):
            raise KeyProblem(
                f"The key file {path} is a link to a file that does not exist; restore the key file. {_NEVER_REPLACES}"
            ) from None
        return None
    except OSError as exc:
        raise KeyProblem(
            f"The key file {path} could not be opened ({exc.strerror}); check that civicvoice's user owns it."
        ) from None
    # Checked on the open file, not the path, so the file read is the file checked.
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyProblem(f"The key file {path} is not a regular file; point the key file setting at the key JSON.")
        if os.name == "posix" and info.st_mode & 0o077:
            raise KeyProblem(
                f"The key file {path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run `chmod 600 {path}` and start again."
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unusable(str(path), "it is not UTF-8 text") from None


def create_key_file(path: Path) -> Keyring:
    """Generate a keyring and write it to a new 0600 file at ``path``; never replaces an existing file."""
    if os.path.lexists(path):
        raise _exists(path)
    keyring = Keyring.generate()
    data = keyring.to_json().encode("utf-8")
    try:
        _make_private_dirs(path.parent)
        # Write a private temp file and link it into place: the key file appears complete or not at all,
        # and linking, unlike rename, fails rather than replace a file created meanwhile.
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp_name, path)
            except FileExistsError:
                raise _exists(path) from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                # Some filesystems (network and container volumes) have no hard links.
                _write_exclusive(path, data)
        finally:
            os.unlink(temp_name)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise KeyProblem(
            f"The key file {path} could not be created ({exc.strerror}); "
            "check its directory is writable by civicvoice's user."
        ) from None
    return keyring


def _exists(path: Path) -> KeyProblem:
    return KeyProblem(
        f"The key file {path} already exists and was not replaced; use it, or move it away only if no data "
        f"was ever encrypted with it. {_NEVER_REPLACES}"
    )


def _write_exclusive(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        raise _exists(path) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _make_private_dirs(directory: Path) -> None:
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for new_dir in reversed(missing):
        try:
            new_dir.mkdir(mode=0o700)
        except FileExistsError:
            continue
        if os.name == "posix":
            # A strict umask can strip the owner's own write bit from the mode given to mkdir.
            new_dir.chmod(0o700)


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; not possible on Windows, where it is not needed.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
