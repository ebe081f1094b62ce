"""The vault: finds or creates the person behind an event, and encrypts and decrypts under their own key.

Subject resolution follows DESIGN.md: the source system's customer id first, then email, then phone. Records
are never merged; an event whose identifiers point at two people is recorded as a conflict for review.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from advanced_alchemy.types import GUID
from sqlalchemy import Select, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.ids import new_id
from privacy.blind_index import BlindIndexer, SuppressionHasher
from privacy.crypto import WrappedKey, decrypt_field, decrypt_text, encrypt_field, new_dek, unwrap_dek, wrap_dek
from privacy.exceptions import KeyDestroyed
from privacy.keyring import Keyring
from privacy.models import DataKey, DataSubject, SubjectConflict, SubjectIndex, SuppressionEntry

IDENTITY_FIELD = "subject.identity"
# Resolution order: the strongest identifier first.
RESOLUTION_ORDER = ("external_id", "email", "phone")


def subject_owner(subject_id: uuid.UUID) -> str:
    return f"subject:{subject_id}"


def period_owner(period: str) -> str:
    return f"period:{period}"


def identity_lookups(
    wanted: Sequence[tuple[str, int, bytes]], blocked: Sequence[tuple[str, int, bytes]]
) -> tuple[Select[Any], Select[Any]]:
    """Two selects of (field, key version, digest, subject id) to UNION: the people owning the ``wanted``
    blind indexes, and the suppression entries among ``blocked`` (field "suppressed", no subject). One
    round trip finds a person and whether they may be contacted, for one event or a whole batch."""
    owners = select(SubjectIndex.field, SubjectIndex.key_version, SubjectIndex.digest, SubjectIndex.subject_id).where(
        SubjectIndex.field.in_({w[0] for w in wanted}),
        SubjectIndex.key_version.in_({w[1] for w in wanted}),
        SubjectIndex.digest.in_([w[2] for w in wanted]),
    )
    suppressed = select(
        literal("suppressed").label("field"),
        SuppressionEntry.key_version,
        SuppressionEntry.digest,
        literal(None, GUID).label("subject_id"),
    ).where(
        SuppressionEntry.kind.in_({b[0] for b in blocked}),
        SuppressionEntry.key_version.in_({b[1] for b in blocked}),
        SuppressionEntry.digest.in_([b[2] for b in blocked]),
    )
    return owners, suppressed


@dataclass(frozen=True)
class IdentityClaim:
    """Identifiers an event gives for a person, already normalised (see privacy.blind_index)."""

    external_id: str | None = None  # namespaced: "source\x1fid"
    email: str | None = None
    phone: str | None = None
    name: str | None = None

    def identifiers(self) -> dict[str, str]:
        values = {"external_id": self.external_id, "email": self.email, "phone": self.phone}
        return {k: v for k, v in values.items() if v}

    @property
    def is_empty(self) -> bool:
        return not self.identifiers()


@dataclass
class Resolution:
    """The person an event is about, after the event's own changes (opt-out, "do not survey") are applied."""

    subject_id: uuid.UUID
    created: bool
    matched_on: str | None
    identity: Identity
    opted_out: bool
    suppressed: bool
    conflicts: list[tuple[str, uuid.UUID]] = field(default_factory=list)


@dataclass(frozen=True)
class Identity:
    name: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    external_ids: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "emails": self.emails, "phones": self.phones, "external_ids": self.external_ids},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Identity:
        data = json.loads(text)
        return cls(data.get("name"), tuple(data["emails"]), tuple(data["phones"]), tuple(data["external_ids"]))

    def merged(self, claim: IdentityClaim, *, accept: set[str]) -> Identity:
        def add(values: tuple[str, ...], value: str | None, name: str) -> tuple[str, ...]:
            return (*values, value) if value and name in accept and value not in values else values

        return Identity(
            name=claim.name or self.name,
            emails=add(self.emails, claim.email, "email"),
            phones=add(self.phones, claim.phone, "phone"),
            external_ids=add(self.external_ids, claim.external_id, "external_id"),
        )


@dataclass
class NewSubject:
    """A person about to be created: their rows and their data key, still only in memory."""

    subject_id: uuid.UUID
    key_id: uuid.UUID
    dek: bytes
    identity: Identity
    subject_row: dict[str, object]
    key_row: dict[str, object]


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        self.use_keyring(keyring)

    def use_keyring(self, keyring: Keyring) -> None:
        """Switch to a reloaded keyring (a key rotation added or activated a version)."""
        self.keyring = keyring
        self.indexer = BlindIndexer(keyring)
        self.suppression = SuppressionHasher(keyring)

    # --- resolution --------------------------------------------------------------------------------------

    def _index_values(self, claim: IdentityClaim) -> list[tuple[str, int, bytes]]:
        return [
            (name, version, self.indexer.digest(name, value, version=version))
            for name, value in claim.identifiers().items()
            for version in self.keyring.index
        ]

    async def lookup(self, session: AsyncSession, claim: IdentityClaim) -> tuple[dict[str, uuid.UUID], bool]:
        """Who each identifier belongs to (any index-key version), and whether any is suppressed: one query.

        Filtering by each column with IN (rather than a row-value IN) lets both databases use the unique
        index; the exact (field, version, digest) pairs are then checked here.
        """
        wanted = self._index_values(claim)
        if not wanted:
            return {}, False
        blocked = self._suppression_values(claim)
        owners, suppressed = identity_lookups(wanted, blocked)
        wanted_set, blocked_digests = set(wanted), {(b[1], b[2]) for b in blocked}
        matches: dict[str, uuid.UUID] = {}
        is_suppressed = False
        for name, version, digest, subject_id in (await session.execute(union_all(owners, suppressed))).all():
            if name == "suppressed":
                is_suppressed = is_suppressed or (version, digest) in blocked_digests
            elif (name, version, digest) in wanted_set:
                matches[name] = subject_id
        return matches, is_suppressed

    async def find(self, session: AsyncSession, claim: IdentityClaim) -> dict[str, uuid.UUID]:
        return (await self.lookup(session, claim))[0]

    async def resolve(
        self,
        session: AsyncSession,
        claim: IdentityClaim,
        *,
        contact_id: uuid.UUID | None = None,
        opted_out: bool = False,
        do_not_survey: bool | None = None,
    ) -> Resolution:
        """Find or create the person and apply the event's flags; an existing person's row stays locked.

        Two events creating the same new person at once collide on the blind index's unique constraint;
        the caller retries its unit of work and then finds the person the other event created.
        """
        matches, suppressed = await self.lookup(session, claim)
        chosen_field = next((f for f in RESOLUTION_ORDER if f in matches), None)
        now = utcnow()
        if chosen_field is None:
            return await self._create(
                session, claim, now, opted_out=opted_out, do_not_survey=bool(do_not_survey), suppressed=suppressed
            )

        subject_id = matches[chosen_field]
        # The person's row and data key in one round trip; the row lock serialises their invitations.
        row = (
            await session.execute(
                select(DataSubject, DataKey)
                .outerjoin(DataKey, DataKey.subject_id == DataSubject.id)
                .where(DataSubject.id == subject_id)
                .with_for_update(of=DataSubject)
            )
        ).one()
        subject, key = row
        if key is not None and key.wrapped is not None and key.destroyed_at is None:
            dek = unwrap_dek(self.keyring, WrappedKey(key.kek_version, key.wrapped), owner=subject_owner(subject_id))
            self._remember_key(session, subject_id, key.id, dek)
        conflicts = [(f, other) for f, other in matches.items() if other != subject_id]
        if conflicts:
            await session.execute(
                insert(table(SubjectConflict)),
                [
                    {
                        "id": new_id(),
                        "chosen_subject_id": subject_id,
                        "other_subject_id": other,
                        "matched_on": chosen_field,
                        "conflicting_field": conflicting_field,
                        "contact_id": contact_id,
                        "detected_at": now,
                    }
                    for conflicting_field, other in conflicts
                ],
            )
        # New identifiers join the person found; identifiers that belong to someone else never move.
        new = {f: v for f, v in claim.identifiers().items() if f not in matches}
        subject.last_contact_at = now
        if opted_out and subject.opted_out_at is None:
            subject.opted_out_at = now
        if do_not_survey is not None:
            subject.do_not_survey = do_not_survey
        identity = await self.identity(session, subject)
        if (new or claim.name) and subject.erased_at is None:
            updated = identity.merged(claim, accept=set(new))
            if updated != identity:
                await self._store_identity(session, subject, updated)
                identity = updated
            await self._insert_indexes(session, subject_id, new)
        return Resolution(
            subject_id,
            created=False,
            matched_on=chosen_field,
            identity=identity,
            opted_out=subject.opted_out_at is not None,
            suppressed=suppressed,
            conflicts=conflicts,
        )

    async def _create(
        self,
        session: AsyncSession,
        claim: IdentityClaim,
        now: datetime,
        *,
        opted_out: bool,
        do_not_survey: bool,
        suppressed: bool,
    ) -> Resolution:
        # Everything about a new person is made in memory first, then written in foreign-key order.
        made = self.new_subject(claim, now, opted_out=opted_out, do_not_survey=do_not_survey)
        await session.execute(insert(table(DataSubject)), [made.subject_row])
        await session.execute(insert(table(DataKey)), [made.key_row])
        await self._insert_indexes(session, made.subject_id, claim.identifiers())
        self._remember_key(session, made.subject_id, made.key_id, made.dek)
        return Resolution(
            made.subject_id,
            created=True,
            matched_on=None,
            identity=made.identity,
            opted_out=opted_out,
            suppressed=suppressed,
        )

    def new_subject(self, claim: IdentityClaim, now: datetime, *, opted_out: bool, do_not_survey: bool) -> NewSubject:
        """A new person's rows (data_subject, data_key), built in memory; nothing is written."""
        subject_id = new_id()
        owner = subject_owner(subject_id)
        dek, key_id = new_dek(), new_id()
        wrapped = wrap_dek(self.keyring, dek, owner=owner)
        identity = Identity(None, (), (), ()).merged(claim, accept=set(claim.identifiers()))
        ciphertext = encrypt_field(
            dek, key_id, identity.to_json(), field=IDENTITY_FIELD, row_id=subject_id, owner=owner
        )
        return NewSubject(
            subject_id=subject_id,
            key_id=key_id,
            dek=dek,
            identity=identity,
            subject_row={
                "id": subject_id,
                "identity_ciphertext": ciphertext,
                "created_at": now,
                "last_contact_at": now,
                "opted_out_at": now if opted_out else None,
                "do_not_survey": do_not_survey,
            },
            key_row={
                "id": key_id,
                "subject_id": subject_id,
                "kek_version": wrapped.kek_version,
                "wrapped": wrapped.blob,
                "created_at": now,
            },
        )

    def index_rows(self, subject_id: uuid.UUID, identifiers: dict[str, str]) -> list[dict[str, object]]:
        """subject_index rows for identifiers joining a person, under the active index key."""
        version = self.indexer.active_version
        return [
            {
                "id": new_id(),
                "subject_id": subject_id,
                "field": name,
                "key_version": version,
                "digest": self.indexer.digest(name, value, version=version),
            }
            for name, value in identifiers.items()
        ]

    async def _insert_indexes(self, session: AsyncSession, subject_id: uuid.UUID, identifiers: dict[str, str]) -> None:
        if not identifiers:
            return
        await session.execute(insert(table(SubjectIndex)), self.index_rows(subject_id, identifiers))

    @staticmethod
    def _remember_key(session: AsyncSession, subject_id: uuid.UUID, key_id: uuid.UUID, dek: bytes) -> None:
        # Unwrapped keys live only as long as the unit of work that needed them.
        session.info.setdefault("civicvoice.deks", {})[subject_id] = (key_id, dek)

    # --- identity ----------------------------------------------------------------------------------------

    async def _store_identity(self, session: AsyncSession, subject: DataSubject, identity: Identity) -> None:
        subject.identity_ciphertext = await self.encrypt(
            session, subject.id, IDENTITY_FIELD, subject.id, identity.to_json()
        )

    async def identity(self, session: AsyncSession, subject: DataSubject) -> Identity:
        if subject.identity_ciphertext is None:
            return Identity(None, (), (), ())
        text = await self.decrypt(session, subject.id, IDENTITY_FIELD, subject.id, subject.identity_ciphertext)
        return Identity.from_json(text)

    # --- keys and ciphertexts ----------------------------------------------------------------------------

    async def _subject_key(
        self, session: AsyncSession, subject_id: uuid.UUID, *, create: bool
    ) -> tuple[uuid.UUID, bytes]:
        remembered = session.info.get("civicvoice.deks", {}).get(subject_id)
        if remembered is not None:
            return remembered  # type: ignore[no-any-return]
        row = await session.scalar(select(DataKey).where(DataKey.subject_id == subject_id))
        owner = subject_owner(subject_id)
        if row is None:
            if not create:
                raise KeyDestroyed("This person's data has been erased.")
            dek = new_dek()
            wrapped = wrap_dek(self.keyring, dek, owner=owner)
            row = DataKey(
                subject_id=subject_id, kek_version=wrapped.kek_version, wrapped=wrapped.blob, created_at=utcnow()
            )
            session.add(row)
            await session.flush()
            self._remember_key(session, subject_id, row.id, dek)
            return row.id, dek
        if row.wrapped is None or row.destroyed_at is not None:
            raise KeyDestroyed("This person's data has been erased.")
        dek = unwrap_dek(self.keyring, WrappedKey(row.kek_version, row.wrapped), owner=owner)
        self._remember_key(session, subject_id, row.id, dek)
        return row.id, dek

    async def load_subject_keys(self, session: AsyncSession, subject_ids: Iterable[uuid.UUID]) -> None:
        """Unwrap many people's keys for this unit of work with one query; `encrypt` and `decrypt` then use them.

        People with no key row are left to `encrypt` (which makes one); a destroyed key still raises there.
        """
        cache = session.info.get("civicvoice.deks", {})
        wanted = {s for s in subject_ids if s not in cache}
        if not wanted:
            return
        rows = await session.execute(
            select(DataKey.id, DataKey.subject_id, DataKey.kek_version, DataKey.wrapped).where(
                DataKey.subject_id.in_(wanted), DataKey.destroyed_at.is_(None), DataKey.wrapped.is_not(None)
            )
        )
        for key_id, subject_id, kek_version, wrapped in rows:
            dek = unwrap_dek(self.keyring, WrappedKey(kek_version, wrapped), owner=subject_owner(subject_id))
            self._remember_key(session, subject_id, key_id, dek)

    async def encrypt(
        self, session: AsyncSession, subject_id: uuid.UUID, field_id: str, row_id: uuid.UUID, plaintext: str | bytes
    ) -> bytes:
        dek_id, dek = await self._subject_key(session, subject_id, create=True)
        return encrypt_field(dek, dek_id, plaintext, field=field_id, row_id=row_id, owner=subject_owner(subject_id))

    async def decrypt(
        self, session: AsyncSession, subject_id: uuid.UUID, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> str:
        _, dek = await self._subject_key(session, subject_id, create=False)
        return decrypt_text(dek, ciphertext, field=field_id, row_id=row_id, owner=subject_owner(subject_id))

    async def decrypt_bytes(
        self, session: AsyncSession, subject_id: uuid.UUID, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> bytes:
        _, dek = await self._subject_key(session, subject_id, create=False)
        return decrypt_field(dek, ciphertext, field=field_id, row_id=row_id, owner=subject_owner(subject_id))

    async def _period_key(self, session: AsyncSession, period: str, *, create: bool) -> tuple[uuid.UUID, bytes]:
        row = await session.scalar(select(DataKey).where(DataKey.period == period))
        owner = period_owner(period)
        if row is None:
            if not create:
                raise KeyDestroyed(f"The key for {period} has been destroyed by retention.")
            dek = new_dek()
            wrapped = wrap_dek(self.keyring, dek, owner=owner)
            row = DataKey(period=period, kek_version=wrapped.kek_version, wrapped=wrapped.blob, created_at=utcnow())
            session.add(row)
            await session.flush()
            return row.id, dek
        if row.wrapped is None or row.destroyed_at is not None:
            raise KeyDestroyed(f"The key for {period} has been destroyed by retention.")
        return row.id, unwrap_dek(self.keyring, WrappedKey(row.kek_version, row.wrapped), owner=owner)

    async def encrypt_for_period(
        self, session: AsyncSession, period: str, field_id: str, row_id: uuid.UUID, plaintext: str
    ) -> bytes:
        """Text owned by a period rather than a person (anonymous answers by month, audit reasons by year);
        destroying the period's key erases it all."""
        dek_id, dek = await self._period_key(session, period, create=True)
        return encrypt_field(dek, dek_id, plaintext, field=field_id, row_id=row_id, owner=period_owner(period))

    async def decrypt_for_period(
        self, session: AsyncSession, period: str, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> str:
        _, dek = await self._period_key(session, period, create=False)
        return decrypt_text(dek, ciphertext, field=field_id, row_id=row_id, owner=period_owner(period))

    async def encrypt_anonymous(
        self, session: AsyncSession, moment: datetime, field_id: str, row_id: uuid.UUID, plaintext: str
    ) -> bytes:
        """Anonymous text (kiosk, unnamed paper) is encrypted under its month's key, destroyed by retention."""
        period = moment.strftime("%Y-%m")
        dek_id, dek = await self._period_key(session, period, create=True)
        return encrypt_field(dek, dek_id, plaintext, field=field_id, row_id=row_id, owner=period_owner(period))

    async def decrypt_anonymous(
        self, session: AsyncSession, moment: datetime, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> str:
        period = moment.strftime("%Y-%m")
        _, dek = await self._period_key(session, period, create=False)
        return decrypt_text(dek, ciphertext, field=field_id, row_id=row_id, owner=period_owner(period))

    # --- suppression -------------------------------------------------------------------------------------

    def _suppression_values(self, claim: IdentityClaim) -> list[tuple[str, int, bytes]]:
        values = []
        for kind, value in claim.identifiers().items():
            for version in self.keyring.suppression:
                values.append((kind, version, self.suppression.digest(kind, value, version=version)))
        return values

    async def is_suppressed(self, session: AsyncSession, claim: IdentityClaim) -> bool:
        return (await self.lookup(session, claim))[1]

    async def suppress(self, session: AsyncSession, claim: IdentityClaim, *, reason: str) -> int:
        """Add the claim's identifiers to the suppression list; returns how many were new."""
        version = self.suppression.active_version
        added = 0
        for kind, value in claim.identifiers().items():
            digest = self.suppression.digest(kind, value, version=version)
            exists = await session.scalar(
                select(SuppressionEntry.id).where(
                    SuppressionEntry.kind == kind,
                    SuppressionEntry.key_version == version,
                    SuppressionEntry.digest == digest,
                )
            )
            if exists is None:
                session.add(
                    SuppressionEntry(kind=kind, key_version=version, digest=digest, reason=reason, created_at=utcnow())
                )
                added += 1
        return added
