"""Row ids: UUIDv7, made by the application before insert, because ciphertexts are bound to their row id."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
