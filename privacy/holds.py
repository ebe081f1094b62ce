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


LegalHoldCheck = Callable[[AsyncSession, uuid.UUID], Awaitable[Iterable[LegalHold]]]

LEGAL_HOLDS: ExtensionPoint[LegalHoldCheck] = ExtensionPoint(
    "privacy.legal_holds", "asked which holds cover a person's records before erasure or retention"
)


async def holds_on(session: AsyncSession, subject_id: uuid.UUID, checks: Iterable[LegalHoldCheck]) -> list[LegalHold]:
    """Every hold any feature reports on this person, in registration order."""
    found: list[LegalHold] = []
    for check in checks:
        found.extend(await check(session, subject_id))
    return found
