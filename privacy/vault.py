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
from sqlalchemy import bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.ids import new_id
from privacy.blind_index import BlindIndexer, SuppressionHasher, normalise_name
from privacy.crypto import WrappedKey, decrypt_field, decrypt_text, encrypt_field, new_dek, unwrap_dek, wrap_dek
from privacy.exceptions import InvalidIdentifier, KeyDestroyed
from privacy.keyring import Keyring
from privacy.models import DataKey, DataSubject, SubjectConflict, SubjectIndex, SubjectNameIndex, SuppressionEntry

IDENTITY_FIELD = "subject.identity"
# Resolution order: the strongest identifier first.
RESOLUTION_ORDER = ("external_id", "email", "phone")


def subject_owner(subject_id: uuid.UUID) -> str:
    return f"subject:{subject_id}"


def period_owner(period: str) -> str:
    return f"period:{period}"


def _in(column: Any, name: str) -> Any:
    return column.in_(bindparam(name, expanding=True))


# Built once, on the tables (not the ORM classes, whose statements cost more to run): these run for every batch.
# The people owning blind indexes, and the suppression entries, among the values looked up. Filtering each
# column with IN (rather than a row-value IN) lets both databases use the unique indexes; the exact triples are
# checked in Python.
_INDEX, _SUPPRESSION = table(SubjectIndex).c, table(SuppressionEntry).c
_SUBJECT, _KEY = table(DataSubject).c, table(DataKey).c
_LOOKUP = union_all(
    select(literal("index").label("list"), _INDEX.field, _INDEX.key_version, _INDEX.digest, _INDEX.subject_id).where(
        _in(_INDEX.field, "fields"), _in(_INDEX.key_version, "index_versions"), _in(_INDEX.digest, "index_digests")
    ),
    select(
        literal("suppression").label("list"),
        _SUPPRESSION.kind,
        _SUPPRESSION.key_version,
        _SUPPRESSION.digest,
        literal(None, GUID).label("subject_id"),
    ).where(
        _in(_SUPPRESSION.kind, "kinds"),
        _in(_SUPPRESSION.key_version, "suppression_versions"),
        _in(_SUPPRESSION.digest, "suppression_digests"),
    ),
)
# Everyone whose name index holds one of the digests (the DPO's search by name).
_NAME = table(SubjectNameIndex).c
_FIND_BY_NAME = (
    select(_NAME.subject_id).where(_in(_NAME.key_version, "versions"), _in(_NAME.digest, "digests")).distinct()
)
# People found, with their keys, locked in one order by every writer (no deadlock between them).
_LOCK_PEOPLE = (
    select(
        _SUBJECT.id,
        _SUBJECT.identity_ciphertext,
        _SUBJECT.opted_out_at,
        _SUBJECT.erased_at,
        _SUBJECT.do_not_survey,
        _KEY.id,
        _KEY.kek_version,
        _KEY.wrapped,
        _KEY.destroyed_at,
    )
    .select_from(table(DataSubject))
    .outerjoin(table(DataKey), _KEY.subject_id == _SUBJECT.id)
    .where(_in(_SUBJECT.id, "ids"))
    .order_by(_SUBJECT.id)
    .with_for_update(of=table(DataSubject))
)


@dataclass(frozen=True)
class IdentityClaim:
    """Identifiers an event gives for a person, already normalised (see privacy.blind_index)."""

    external_id: str | None = None  # namespaced: "source\x1fid"
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    # A postal address (privacy.postal), held like the name: it never finds or merges a person.
    address: str | None = None

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
    # The person was erased (their key is gone): nothing about them was read or changed.
    erased: bool = False


@dataclass(frozen=True)
class Identity:
    name: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    external_ids: tuple[str, ...]
    # Postal addresses (privacy.postal), the latest last: where a paper survey is posted.
    addresses: tuple[str, ...] = ()

    def to_json(self) -> str:
        data: dict[str, object] = {
            "name": self.name,
            "emails": self.emails,
            "phones": self.phones,
            "external_ids": self.external_ids,
        }
        if self.addresses:  # identities written before addresses were held read back the same
            data["addresses"] = self.addresses
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Identity:
        data = json.loads(text)
        return cls(
            data.get("name"),
            tuple(data["emails"]),
            tuple(data["phones"]),
            tuple(data["external_ids"]),
            tuple(data.get("addresses", ())),
        )

    def merged(self, claim: IdentityClaim, *, accept: set[str]) -> Identity:
        def add(values: tuple[str, ...], value: str | None, name: str) -> tuple[str, ...]:
            return (*values, value) if value and name in accept and value not in values else values

        return Identity(
            name=claim.name or self.name,
            emails=add(self.emails, claim.email, "email"),
            phones=add(self.phones, claim.phone, "phone"),
            external_ids=add(self.external_ids, claim.external_id, "external_id"),
            # The address given most recently goes last: letters go to it.
            addresses=(*(a for a in self.addresses if a != claim.address), claim.address)
            if claim.address
            else self.addresses,
        )


@dataclass(frozen=True)
class SubjectClaim:
    """One event's claim on a person, for `Vault.resolve_many`: its identifiers and the flags it carries."""

    claim: IdentityClaim
    contact_id: uuid.UUID | None = None  # recorded with any conflict it raises
    opted_out: bool = False  # sticky: sets the person's opt-out and suppresses the identifiers
    do_not_survey: bool | None = None  # None leaves the person's flag as it is


@dataclass
class _Person:
    """A person as one resolution sees them: loaded (and locked) or created in it; written once at the end."""

    id: uuid.UUID
    identity: Identity
    opted_out_at: datetime | None
    do_not_survey: bool
    key: tuple[uuid.UUID, bytes] | None  # (key id, DEK); None when erased
    ciphertext: bytes | None
    created: bool
    wrapped: WrappedKey | None = None  # a new person's key, to store
    touched: bool = False
    identity_changed: bool = False
    name_changed: bool = False

    @property
    def erased(self) -> bool:
        return self.key is None


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

    def _suppression_values(self, claim: IdentityClaim) -> list[tuple[str, int, bytes]]:
        return [
            (kind, version, self.suppression.digest(kind, value, version=version))
            for kind, value in claim.identifiers().items()
            for version in self.keyring.suppression
        ]

    async def _lookup(
        self,
        session: AsyncSession,
        wanted: Sequence[tuple[str, int, bytes]],
        blocked: Sequence[tuple[str, int, bytes]],
    ) -> tuple[dict[tuple[str, int, bytes], uuid.UUID], set[tuple[str, int, bytes]]]:
        """Owners of the ``wanted`` blind indexes and the ``blocked`` values on the suppression list: one query."""
        if not wanted and not blocked:
            return {}, set()
        wanted_set, blocked_set = set(wanted), set(blocked)
        owner_of: dict[tuple[str, int, bytes], uuid.UUID] = {}
        found: set[tuple[str, int, bytes]] = set()
        values = {
            "fields": sorted({w[0] for w in wanted}),
            "index_versions": sorted({w[1] for w in wanted}),
            "index_digests": [w[2] for w in wanted],
            "kinds": sorted({b[0] for b in blocked}),
            "suppression_versions": sorted({b[1] for b in blocked}),
            "suppression_digests": [b[2] for b in blocked],
        }
        for which, name, version, digest, subject_id in (await session.execute(_LOOKUP, values)).all():
            value = (name, version, digest)
            if which == "suppression":
                if value in blocked_set:
                    found.add(value)
            elif value in wanted_set:
                owner_of[value] = subject_id
        return owner_of, found

    async def lookup(self, session: AsyncSession, claim: IdentityClaim) -> tuple[dict[str, uuid.UUID], bool]:
        """Who each identifier belongs to (any index-key version), and whether any is suppressed: one query."""
        owner_of, found = await self._lookup(session, self._index_values(claim), self._suppression_values(claim))
        return {name: subject_id for (name, _, _), subject_id in owner_of.items()}, bool(found)

    async def find(self, session: AsyncSession, claim: IdentityClaim) -> dict[str, uuid.UUID]:
        """Who each identifier belongs to, without changing anything (the DPO's search)."""
        return (await self.lookup(session, claim))[0]

    async def resolve(self, session: AsyncSession, claim: IdentityClaim) -> Resolution:
        """One claim: a batch of one through `resolve_many`."""
        return (await self.resolve_many(session, [SubjectClaim(claim)]))[0]

    async def resolve_many(self, session: AsyncSession, claims: Sequence[SubjectClaim]) -> list[Resolution]:
        """Find or create the person behind each claim, in order, and apply its flags; one resolution per claim.

        Claims are resolved as if one after another: a person created or given an identifier by an earlier
        claim is found by a later one. Existing people are locked (FOR UPDATE on PostgreSQL, in id order so
        writers never deadlock; SQLite's BEGIN IMMEDIATE already holds the writer lock) and stay locked until
        the caller's transaction ends, which is what lets a caller count their invitations safely. A handful
        of statements serves any number of claims; nothing is committed.

        Two transactions creating the same new person at once collide on the blind index's unique constraint;
        the caller retries its unit of work and then finds the person the other one created.
        """
        now = utcnow()
        wanted = [self._index_values(c.claim) for c in claims]
        blocked = [self._suppression_values(c.claim) for c in claims]
        owner_of, suppressed = await self._lookup(
            session, [w for ws in wanted for w in ws], [b for bs in blocked for b in bs]
        )
        people = await self._load_locked(session, sorted(set(owner_of.values())))

        batch_owner: dict[tuple[str, str], uuid.UUID] = {}  # identifiers given to a person by an earlier claim
        index_rows: list[dict[str, object]] = []
        conflict_rows: list[dict[str, object]] = []
        suppression_rows: list[dict[str, object]] = []
        resolutions: list[Resolution] = []
        for request, claim_wanted, claim_blocked in zip(claims, wanted, blocked, strict=True):
            claim = request.claim
            identifiers = claim.identifiers()
            matches = {name: owner_of[(name, v, d)] for name, v, d in claim_wanted if (name, v, d) in owner_of}
            for name, value in identifiers.items():
                if (name, value) in batch_owner:
                    matches[name] = batch_owner[(name, value)]
            is_suppressed = any(b in suppressed for b in claim_blocked)
            chosen_field = next((f for f in RESOLUTION_ORDER if f in matches), None)
            conflicts: list[tuple[str, uuid.UUID]] = []
            if chosen_field is None:
                person = self._new_person(claim, request, now)
                people[person.id] = person
                new = identifiers
            else:
                person = people[matches[chosen_field]]
                conflicts = [(f, other) for f, other in matches.items() if other != person.id]
                conflict_rows.extend(
                    {
                        "id": new_id(),
                        "chosen_subject_id": person.id,
                        "other_subject_id": other,
                        "matched_on": chosen_field,
                        "conflicting_field": conflicting_field,
                        "contact_id": request.contact_id,
                        "detected_at": now,
                    }
                    for conflicting_field, other in conflicts
                )
                # New identifiers join the person found; identifiers that belong to someone else never move.
                new = {f: v for f, v in identifiers.items() if f not in matches}
                if not person.erased:  # an erased person's row is left as erasure left it
                    person.touched = True
                    if request.opted_out and person.opted_out_at is None:
                        person.opted_out_at = now
                    if request.do_not_survey is not None:
                        person.do_not_survey = request.do_not_survey
                    if new or claim.name or claim.address:
                        updated = person.identity.merged(claim, accept=set(new))
                        if updated != person.identity:
                            if updated.name != person.identity.name:
                                person.name_changed = True
                            person.identity, person.identity_changed = updated, True
                else:
                    new = {}
            for name, value in new.items():
                batch_owner[(name, value)] = person.id
            active = self.indexer.active_version
            index_rows.extend(
                {"id": new_id(), "subject_id": person.id, "field": name, "key_version": active, "digest": digest}
                for name, version, digest in claim_wanted
                if version == active and name in new
            )
            if request.opted_out:
                # The objection outlives the person: it goes on the suppression list, under its own key.
                for kind, value in identifiers.items():
                    entry = (kind, self.suppression.active_version, self.suppression.digest(kind, value))
                    if entry not in suppressed:
                        suppressed.add(entry)
                        suppression_rows.append(
                            {
                                "id": new_id(),
                                "kind": kind,
                                "key_version": entry[1],
                                "digest": entry[2],
                                "reason": "opt_out",
                                "created_at": now,
                            }
                        )
            resolutions.append(
                Resolution(
                    person.id,
                    created=chosen_field is None,
                    matched_on=chosen_field,
                    identity=person.identity,
                    opted_out=person.opted_out_at is not None,
                    suppressed=is_suppressed,
                    conflicts=conflicts,
                    erased=person.erased,
                )
            )
        await self._write_people(session, list(people.values()), now)
        renamed = [p for p in people.values() if p.name_changed]
        await self._write_names(
            session, {p.id: p.identity.name for p in renamed}, replace=[p.id for p in renamed if not p.created]
        )
        # Unique values in one order for every writer: two of them wait for each other rather than deadlock.
        index_rows.sort(key=lambda row: (row["field"], row["digest"]))
        suppression_rows.sort(key=lambda row: (row["kind"], row["digest"]))
        for target, rows in (
            (table(SubjectIndex), index_rows),
            (table(SubjectConflict), conflict_rows),
            (table(SuppressionEntry), suppression_rows),
        ):
            if rows:
                await session.execute(insert(target), rows)
        return resolutions

    async def _load_locked(self, session: AsyncSession, subject_ids: list[uuid.UUID]) -> dict[uuid.UUID, _Person]:
        """The people named, locked, with their keys unwrapped and identities decrypted: one query."""
        if not subject_ids:
            return {}
        rows = await session.execute(_LOCK_PEOPLE, {"ids": subject_ids})
        people: dict[uuid.UUID, _Person] = {}
        for sid, ciphertext, opted_out_at, erased_at, dns, key_id, kek_version, wrapped, destroyed in rows:
            key: tuple[uuid.UUID, bytes] | None = None
            identity = Identity(None, (), (), ())
            # No key row means erased too: a key is only ever made with its person.
            if erased_at is None and key_id is not None and wrapped is not None and destroyed is None:
                dek = unwrap_dek(self.keyring, WrappedKey(kek_version, wrapped), owner=subject_owner(sid))
                key = (key_id, dek)
                self._remember_key(session, sid, key_id, dek)
                if ciphertext is not None:
                    text = decrypt_text(dek, ciphertext, field=IDENTITY_FIELD, row_id=sid, owner=subject_owner(sid))
                    identity = Identity.from_json(text)
            people[sid] = _Person(
                id=sid,
                identity=identity,
                opted_out_at=opted_out_at,
                do_not_survey=dns,
                key=key,
                ciphertext=ciphertext,
                created=False,
            )
        return people

    def _new_person(self, claim: IdentityClaim, request: SubjectClaim, now: datetime) -> _Person:
        """A new person with their own data key, in memory until `_write_people`."""
        subject_id = new_id()
        dek, key_id = new_dek(), new_id()
        return _Person(
            id=subject_id,
            identity=Identity(None, (), (), ()).merged(claim, accept=set(claim.identifiers())),
            opted_out_at=now if request.opted_out else None,
            do_not_survey=bool(request.do_not_survey),
            key=(key_id, dek),
            ciphertext=None,
            created=True,
            wrapped=wrap_dek(self.keyring, dek, owner=subject_owner(subject_id)),
            identity_changed=True,
            name_changed=bool(claim.name),
        )

    async def _write_people(self, session: AsyncSession, people: list[_Person], now: datetime) -> None:
        """New people, their keys and the changes to people found: one statement per kind."""
        for person in people:
            if person.identity_changed and person.key is not None:
                key_id, dek = person.key
                person.ciphertext = encrypt_field(
                    dek,
                    key_id,
                    person.identity.to_json(),
                    field=IDENTITY_FIELD,
                    row_id=person.id,
                    owner=subject_owner(person.id),
                )
                self._remember_key(session, person.id, key_id, dek)
        created = [p for p in people if p.created]
        if created:
            await session.execute(
                insert(table(DataSubject)),
                [
                    {
                        "id": p.id,
                        "identity_ciphertext": p.ciphertext,
                        "created_at": now,
                        "last_contact_at": now,
                        "opted_out_at": p.opted_out_at,
                        "do_not_survey": p.do_not_survey,
                    }
                    for p in created
                ],
            )
            await session.execute(
                insert(table(DataKey)),
                [
                    {
                        "id": p.key[0],
                        "subject_id": p.id,
                        "kek_version": p.wrapped.kek_version,
                        "wrapped": p.wrapped.blob,
                        "created_at": now,
                    }
                    for p in created
                    if p.key is not None and p.wrapped is not None
                ],
            )
        touched = [p for p in people if p.touched and not p.created]
        if touched:
            subjects = table(DataSubject)
            await session.execute(
                update(subjects)
                .where(subjects.c.id == bindparam("b_id"))
                .values(
                    identity_ciphertext=bindparam("b_ciphertext"),
                    last_contact_at=bindparam("b_last"),
                    opted_out_at=bindparam("b_opted_out"),
                    do_not_survey=bindparam("b_dns"),
                ),
                [
                    {
                        "b_id": p.id,
                        "b_ciphertext": p.ciphertext,
                        "b_last": now,
                        "b_opted_out": p.opted_out_at,
                        "b_dns": p.do_not_survey,
                    }
                    for p in touched
                ],
            )

    # --- names -------------------------------------------------------------------------------------------

    def name_digests(self, name: str | None) -> list[tuple[int, bytes]]:
        """The name's blind index under every index-key version held (a rotation consults old and new)."""
        normalised = normalise_name(name or "")
        if not normalised:
            return []
        return [(v, self.indexer.digest("name", normalised, version=v)) for v in self.keyring.index]

    async def _write_names(
        self, session: AsyncSession, names: dict[uuid.UUID, str | None], *, replace: Sequence[uuid.UUID]
    ) -> None:
        """Index these people's current names under the active index key, first dropping the old name of those
        in ``replace`` (people created now have none). A name too long or with nothing indexable in it leaves the
        person unindexed by name rather than refuse the event."""
        if not names:
            return
        names_table = table(SubjectNameIndex)
        if replace:
            await session.execute(delete(names_table).where(names_table.c.subject_id.in_(list(replace))))
        rows = []
        active = self.indexer.active_version
        for subject_id, name in sorted(names.items()):
            try:
                normalised = normalise_name(name or "")
            except InvalidIdentifier:
                continue
            if normalised:
                digest = self.indexer.digest("name", normalised, version=active)
                rows.append({"id": new_id(), "subject_id": subject_id, "key_version": active, "digest": digest})
        if rows:
            await session.execute(insert(names_table), rows)

    async def index_name(self, session: AsyncSession, subject_id: uuid.UUID, name: str | None) -> None:
        """Re-index one person's name after it changed outside intake (rectification): the same writer."""
        await self._write_names(session, {subject_id: name}, replace=[subject_id])

    async def find_by_name(self, session: AsyncSession, name: str) -> list[uuid.UUID]:
        """Everyone whose current name matches ``name`` once normalised, under any index-key version held."""
        digests = self.name_digests(name)
        if not digests:
            return []
        rows = await session.scalars(
            _FIND_BY_NAME, {"versions": sorted({v for v, _ in digests}), "digests": [d for _, d in digests]}
        )
        return sorted(set(rows.all()))

    @staticmethod
    def _remember_key(session: AsyncSession, subject_id: uuid.UUID, key_id: uuid.UUID, dek: bytes) -> None:
        # Unwrapped keys live only as long as the unit of work that needed them.
        session.info.setdefault("civicvoice.deks", {})[subject_id] = (key_id, dek)

    # --- identity ----------------------------------------------------------------------------------------

    async def identity(self, session: AsyncSession, subject: DataSubject) -> Identity:
        if subject.identity_ciphertext is None:
            return Identity(None, (), (), ())
        text = await self.decrypt(session, subject.id, IDENTITY_FIELD, subject.id, subject.identity_ciphertext)
        return Identity.from_json(text)

    # --- keys and ciphertexts ----------------------------------------------------------------------------

    async def _subject_key(self, session: AsyncSession, subject_id: uuid.UUID) -> tuple[uuid.UUID, bytes]:
        remembered = session.info.get("civicvoice.deks", {}).get(subject_id)
        if remembered is not None:
            return remembered  # type: ignore[no-any-return]
        row = await session.scalar(select(DataKey).where(DataKey.subject_id == subject_id))
        # A person's key is made with the person (`resolve_many`) and never again: a missing row means the
        # person was erased, and a fresh key would quietly re-identify them.
        if row is None or row.wrapped is None or row.destroyed_at is not None:
            raise KeyDestroyed("This person's data has been erased.")
        dek = unwrap_dek(self.keyring, WrappedKey(row.kek_version, row.wrapped), owner=subject_owner(subject_id))
        self._remember_key(session, subject_id, row.id, dek)
        return row.id, dek

    async def load_subject_keys(self, session: AsyncSession, subject_ids: Iterable[uuid.UUID]) -> None:
        """Unwrap many people's keys for this unit of work with one query; `encrypt` and `decrypt` then use them.

        People with no key, or a destroyed one, are erased: `encrypt` and `decrypt` raise `KeyDestroyed` for them.
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
        dek_id, dek = await self._subject_key(session, subject_id)
        return encrypt_field(dek, dek_id, plaintext, field=field_id, row_id=row_id, owner=subject_owner(subject_id))

    async def decrypt(
        self, session: AsyncSession, subject_id: uuid.UUID, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> str:
        _, dek = await self._subject_key(session, subject_id)
        return decrypt_text(dek, ciphertext, field=field_id, row_id=row_id, owner=subject_owner(subject_id))

    async def decrypt_bytes(
        self, session: AsyncSession, subject_id: uuid.UUID, field_id: str, row_id: uuid.UUID, ciphertext: bytes
    ) -> bytes:
        _, dek = await self._subject_key(session, subject_id)
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

    async def is_suppressed(self, session: AsyncSession, claim: IdentityClaim) -> bool:
        """Whether any of the claim's identifiers is on the suppression list (no owner lookup): one query."""
        return bool((await self._lookup(session, (), self._suppression_values(claim)))[1])

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
