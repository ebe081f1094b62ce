"""The DPO's search: who an identifier (email, phone, contact-system reference, name) belongs to, and every row
held about them, customer or staff, found by following the data map's search steps (`privacy.datamap`).

The steps are the ones the data-map test checks, so a table holding personal data that the test passes is a
table the search reads. Interactive searches cap the rows shown per table (the counts stay exact); the access
package reads everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import StaffUser, normalise_staff_email
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput
from privacy.blind_index import normalise_email, normalise_external_id, normalise_name, normalise_phone
from privacy.datamap import ROOTS, data_map, search_steps
from privacy.models import DataSubject
from privacy.vault import IdentityClaim, Vault

QueryField = Literal["email", "phone", "ref", "name", "staff"]
QUERY_FIELDS: tuple[QueryField, ...] = ("email", "phone", "ref", "name", "staff")
# Columns that mean nothing to the DPO or must never be shown (keyed hashes, key material, password hashes).
HIDDEN = frozenset(
    {
        "sa_orm_sentinel",
        "ref_digest",
        "ref_key_version",
        "digest",
        "key_version",
        "wrapped",
        "password_hash",
        "token_digest",
    }
)


@dataclass(frozen=True)
class Query:
    """One identifier, normalised as its blind index is (or a staff email, matched on the account)."""

    field: QueryField
    value: str

    @classmethod
    def parse(cls, field_name: str, raw: str) -> Query:
        """Normalise what the DPO typed; InvalidInput (naming the field) when it cannot be an identifier."""
        if field_name not in QUERY_FIELDS:
            raise InvalidInput(f"Search by one of: {', '.join(QUERY_FIELDS)}.", field="field")
        text = raw.strip()
        if not text:
            raise InvalidInput("Enter what to search for.", field="value")
        query_field = field_name
        if query_field == "email":
            return cls("email", normalise_email(text))
        if query_field == "phone":
            return cls("phone", normalise_phone(text))
        if query_field == "staff":
            return cls("staff", normalise_staff_email(text))
        if query_field == "name":
            name = normalise_name(text)
            if not name:
                raise InvalidInput("Enter the person's name.", field="value")
            return cls("name", name)
        source, _, value = text.partition(":")
        if not source or not value:
            raise InvalidInput("Give the reference as SOURCE:ID, for example crm:12345.", field="value")
        return cls("ref", normalise_external_id(source, value))


async def find_subjects(session: AsyncSession, vault: Vault, query: Query) -> list[uuid.UUID]:
    """The customers an identifier belongs to, under every index-key version held (several only for a name)."""
    if query.field == "name":
        return await vault.find_by_name(session, query.value)
    if query.field == "staff":
        return []
    claim = {
        "email": IdentityClaim(email=query.value),
        "phone": IdentityClaim(phone=query.value),
        "ref": IdentityClaim(external_id=query.value),
    }[query.field]
    return sorted(set((await vault.find(session, claim)).values()))


async def find_staff(session: AsyncSession, query: Query) -> StaffUser | None:
    if query.field != "staff":
        return None
    user: StaffUser | None = await session.scalar(select(StaffUser).where(StaffUser.email == query.value))
    return user


# --- following the data map ----------------------------------------------------------------------------------


@dataclass
class Found:
    """The rows of one table about the person (at most the cap, when capped), and how many there are."""

    table: str
    entry: DataMapEntry
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def _keys_for(column: Any, values: Iterable[Any]) -> list[Any]:
    # Staff ids are kept as text in some tables (actor_id, owner_id) and as UUIDs in others.
    if isinstance(column.type, String):
        return sorted({str(v) for v in values})
    return sorted(set(values), key=str)


async def collect(
    session: AsyncSession,
    kind: Literal["customer", "staff"],
    person_id: uuid.UUID,
    *,
    base: Any = Base,
    cap: int | None = None,
) -> dict[str, Found]:
    """Every row about one person of ``kind``, table by table, through `search_steps`. Tables that hold no personal
    data are walked through but not returned. With ``cap``, at most that many rows per table are kept in memory
    (the newest first where the table has a time column); totals are exact."""
    tables = base.metadata.tables
    entries = data_map(base)
    root = ROOTS[kind]
    keys: dict[str, dict[str, set[Any]]] = {root: {"id": {person_id}}}
    found: dict[str, Found] = {}
    for step in search_steps(base, kind):
        wanted = keys.get(step.source, {}).get(step.source_column)
        if not wanted:
            continue
        table = tables[step.table]
        entry = entries[step.table]
        assert entry is not None
        column = table.c[step.column]
        match = column.in_(_keys_for(column, wanted))
        section = found.setdefault(step.table, Found(step.table, entry))
        seen = {row["id"] for row in section.rows}
        if cap is not None:
            section.total += int(await session.scalar(select(func.count()).select_from(table).where(match)) or 0)
            stmt = select(table).where(match).order_by(table.c.id.desc()).limit(cap)
        else:
            stmt = select(table).where(match)
        rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
        fresh = [r for r in rows if r["id"] not in seen]
        section.rows.extend(fresh)
        if cap is None:
            section.total = len(section.rows)
        # What later steps start from: every column a step out of this table reads (ids, agent references).
        # Only the rows read are followed; with a cap, the children of rows beyond it are not shown either.
        store = keys.setdefault(step.table, {})
        for row in fresh:
            for name, value in row.items():
                if value is not None and name in ("id", "agent_ref"):
                    store.setdefault(name, set()).add(value)
    return {name: f for name, f in found.items() if f.entry.holds_personal_data}


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime | date) else str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in row.items()
    }


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the DPO sees it: no keyed hashes, key material or ciphertext (decrypted text is added apart)."""
    return {
        k: v for k, v in row.items() if k not in HIDDEN and not k.endswith("_ciphertext") and not isinstance(v, bytes)
    }


async def subject_summary(session: AsyncSession, vault: Vault, subject_id: uuid.UUID) -> dict[str, Any]:
    """Who a customer is, for choosing between several people of one name (nothing decrypted for the erased)."""
    person = await session.get(DataSubject, subject_id)
    if person is None:
        return {"id": str(subject_id), "erased": True}
    if person.erased_at is not None:
        return {"id": str(subject_id), "erased": True, "erased_on": person.erased_at.date().isoformat()}
    identity = await vault.identity(session, person)
    return {
        "id": str(subject_id),
        "erased": False,
        "name": identity.name,
        "emails": list(identity.emails),
        "phones": list(identity.phones),
        "first_seen": person.created_at.date().isoformat(),
    }


@dataclass
class StaffRecord:
    """Everything held about one staff member: their account, their activity, the contacts naming them as agent."""

    staff_id: uuid.UUID
    identity: dict[str, Any]
    sections: list[Found]

    def as_json(self) -> dict[str, Any]:
        return {
            "staff": {"id": str(self.staff_id), **self.identity},
            "records": {s.table: [jsonable(shown(r)) for r in s.rows] for s in self.sections if s.rows},
            "totals": {s.table: s.total for s in self.sections if s.total},
        }


async def gather_staff(
    session: AsyncSession, user: StaffUser, *, base: Any = Base, cap: int | None = None
) -> StaffRecord:
    """A staff member's data, through the data map's staff steps (their account row is shown without its hash)."""
    found = await collect(session, "staff", user.id, base=base, cap=cap)
    identity = {
        "name": user.display_name,
        "email": user.email,
        "role": user.role,
        "agent_ref": user.agent_ref,
        "active": user.active,
    }
    sections = [f for name, f in sorted(found.items()) if name != "staff_user"]
    return StaffRecord(user.id, identity, sections)
