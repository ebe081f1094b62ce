"""Key start-up checks: load the keyring, compare it with the check values stored in the database.

The service refuses to start on a missing or wrong key, and never generates a new key over existing data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.settings import Settings
from privacy.exceptions import KeyProblem
from privacy.keyring import Keyring, create_key_file
from privacy.models import DataKey, DataSubject, KeyCheck


def load_keyring(settings: Settings) -> Keyring:
    keyring = Keyring.load(key_file=settings.key_file, env_value=settings.keys_json)
    if keyring is None:
        raise KeyProblem(
            f"No encryption keys: the key file {settings.key_file} does not exist and CIVICVOICE_KEYS is not set. "
            "Restore the key file, or run 'civicvoice keys init' for a new, empty installation."
        )
    return keyring


async def holds_encrypted_data(session: AsyncSession) -> bool:
    subjects = await session.scalar(select(func.count()).select_from(DataSubject))
    keys = await session.scalar(select(func.count()).select_from(DataKey))
    return bool(subjects or keys)


@dataclass(frozen=True)
class KeyStatus:
    purpose: str
    state: str  # "ok", "recorded" (first seen now), "missing" (in the database, not in the keyring), "mismatch"


async def check_keys(session: AsyncSession, keyring: Keyring, *, record_new: bool) -> list[KeyStatus]:
    """Compare the keyring with the stored check values. Raises KeyProblem on a wrong or missing key."""
    stored = {row.purpose: row.value for row in (await session.scalars(select(KeyCheck))).all()}
    current = keyring.check_values()
    if not stored and await holds_encrypted_data(session):
        raise KeyProblem(
            "The database holds encrypted data but no key check values; refusing to start. "
            "Restore the database's key_check table from backup, or contact support."
        )
    statuses: list[KeyStatus] = []
    for purpose, value in sorted(stored.items()):
        if purpose not in current:
            statuses.append(KeyStatus(purpose, "missing"))
        elif current[purpose] != value:
            statuses.append(KeyStatus(purpose, "mismatch"))
        else:
            statuses.append(KeyStatus(purpose, "ok"))
    fatal = [
        s for s in statuses if s.state == "mismatch" or (s.state == "missing" and not s.purpose.startswith("kek:"))
    ]
    for status in statuses:
        # A retired KEK may be gone once destroyed, but only when no data key is still wrapped under it.
        if status.state == "missing" and status.purpose.startswith("kek:"):
            version = int(status.purpose.split(":")[1])
            in_use = await session.scalar(
                select(func.count())
                .select_from(DataKey)
                .where(DataKey.kek_version == version, DataKey.wrapped.is_not(None))
            )
            if in_use:
                fatal.append(status)
    if fatal:
        names = ", ".join(f"{s.purpose} ({s.state})" for s in fatal)
        raise KeyProblem(
            f"The configured keys do not match this database: {names}. "
            "Point CIVICVOICE_KEY_FILE or CIVICVOICE_KEYS at the keys this database was created with."
        )
    for purpose in sorted(set(current) - set(stored)):
        statuses.append(KeyStatus(purpose, "recorded" if record_new else "unrecorded"))
        if record_new:
            session.add(KeyCheck(purpose=purpose, value=current[purpose], created_at=utcnow()))
    if record_new and set(current) - set(stored):
        record(
            session,
            Actor.system(),
            "keys.check_values_recorded",
            detail={"purposes": sorted(set(current) - set(stored))},
        )
    return statuses


async def init_keys(session: AsyncSession, settings: Settings) -> tuple[Keyring, bool]:
    """For a new installation: create the key file if none exists and the database holds no data.

    Returns the keyring and whether it was created now.
    """
    existing = Keyring.load(key_file=settings.key_file, env_value=settings.keys_json)
    if existing is not None:
        return existing, False
    if await holds_encrypted_data(session) or (await session.scalar(select(func.count()).select_from(KeyCheck))):
        raise KeyProblem(
            f"The key file {settings.key_file} is missing but this database already holds encrypted data; "
            "restore the key file. civicvoice never creates a new key over existing data."
        )
    keyring = create_key_file(settings.key_file)
    record(session, Actor.cli(), "keys.init", detail={"kek_version": keyring.kek_active})
    await check_keys(session, keyring, record_new=True)
    return keyring, True
