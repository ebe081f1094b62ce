"""Legal holds: what keeps a person's records from erasure and retention, asked of every feature that holds some.

Features register a check through `LEGAL_HOLDS` (an open complaint case holds its complainant's records); the
DPO's own holds (litigation, an investigation) join them. Privacy asks before it erases or expires anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.services import ExtensionPoint


@dataclass(frozen=True)
class LegalHold:
    """One reason a person's records must be kept: shown to the DPO when an erasure is refused or narrowed."""

    kind: str  # "open_complaint", "litigation", ...
    reason: str  # plain English, no personal data
    record_kind: str | None = None  # the record the hold covers ("complaint_case"); None: all of the person's records
    record_id: uuid.UUID | None = None


@dataclass(frozen=True)
class LegalHoldSource:
    """What a feature tells privacy about the holds it places: on one person (before an erasure, with reasons to
    show), and everyone held at once (so a retention run leaves their rows alone without asking row by row)."""

    name: str
    holds_on: Callable[[AsyncSession, uuid.UUID], Awaitable[Iterable[LegalHold]]]
    held_people: Callable[[AsyncSession], Awaitable[set[uuid.UUID]]]


LEGAL_HOLDS: ExtensionPoint[LegalHoldSource] = ExtensionPoint(
    "privacy.legal_holds", "asked which holds cover a person's records before erasure or retention"
)


async def holds_on(session: AsyncSession, subject_id: uuid.UUID, sources: Iterable[LegalHoldSource]) -> list[LegalHold]:
    """Every hold any feature reports on this person, in registration order."""
    found: list[LegalHold] = []
    for source in sources:
        found.extend(await source.holds_on(session, subject_id))
    return found


async def held_people(session: AsyncSession, sources: Iterable[LegalHoldSource]) -> dict[uuid.UUID, str]:
    """Everyone some hold covers, with the name of the first source that holds them."""
    held: dict[uuid.UUID, str] = {}
    for source in sources:
        for subject_id in await source.held_people(session):
            held.setdefault(subject_id, source.name)
    return held
