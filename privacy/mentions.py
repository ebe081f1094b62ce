"""Mentions: survey comments written by other people that name a person (their full name, an email address or a
phone number of theirs), found by a background scan so the DPO's interactive search stays fast.

A scan is a row (`MentionScan`) saying whom to look for; the job carries only its id. Each run of the job
decrypts one bounded batch of comments (each with its writer's key, or its month's key when anonymous), records
the comments that mention the person (`MentionHit`, flagged for the DPO to review), moves the scan's cursor on
and commits, so a crash loses at most one batch. When the last batch is done the scan is marked done and the DPO
sees it on the search and request pages (and in the audit log). The needles are read from the person's own
record at each run, never stored: an erasure in the meantime ends the scan with nothing more to find.

Only survey comments (the `answer` table's free text) are scanned: notes on cases and callbacks are written by
staff about the person they concern, and are found by the ordinary search.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
import structlog
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base, table
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue
from privacy.blind_index import normalise_email, normalise_name, normalise_phone
from privacy.exceptions import InvalidIdentifier, KeyDestroyed, PrivacyError
from privacy.models import DataSubject
from privacy.vault import Vault

log = structlog.get_logger("civicvoice.mentions")

MENTION_SCAN_JOB = "privacy.mention_scan"
MENTION_BATCH = 200
COMMENT_TABLE, COMMENT_COLUMN, COMMENT_FIELD = "answer", "text_ciphertext", "answer.text"
OUTCOMES = {"relevant": "Is about them (include, redacting others)", "not_relevant": "Not about them"}


class MentionScan(Base):
    """One background scan for comments mentioning a person (a customer or a staff member)."""

    __tablename__ = "mention_scan"
    __datamap__ = DataMapEntry(
        purpose="Find comments by other people that mention a person, for their subject request",
        holds=("link to the person looked for", "progress and counts of the scan"),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="with the subject request (6 years)",
        subject_link="subject_id",
        links=(Link("staff_user_id", "staff_user"), Link("requested_by", "staff_user")),
    )
    __table_args__ = (Index("ix_mention_scan_subject", "subject_id"), Index("ix_mention_scan_staff", "staff_user_id"))

    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("staff_user.id", ondelete="SET NULL"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    requested_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued, running, done
    # The last comment scanned (comment ids are UUIDv7, so later comments sort after it): where a run resumes.
    cursor: Mapped[uuid.UUID | None] = mapped_column(GUID)
    scanned: Mapped[int] = mapped_column(default=0)
    flagged: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class MentionHit(Base):
    """A comment that mentions the person looked for: flagged until the DPO has reviewed it."""

    __tablename__ = "mention_hit"
    __datamap__ = DataMapEntry(
        purpose="Comments by others that may be about a person, for the DPO to review for their request",
        holds=("which comments mention the person, and how",),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="with the subject request (6 years)",
        links=(Link("scan_id", "mention_scan"), Link("reviewed_by", "staff_user")),
    )
    __table_args__ = (Index("ix_mention_hit_scan", "scan_id"),)

    scan_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("mention_scan.id", ondelete="CASCADE"))
    answer_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("answer.id", ondelete="CASCADE"))
    matched: Mapped[str] = mapped_column(String(40))  # "name", "email", "phone", comma-separated
    found_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(20))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))


# --- what counts as a mention (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Needles:
    """What identifies the person in free text, normalised as their blind indexes are."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.names or self.emails or self.phones)

    @classmethod
    def of(cls, names: Iterable[str | None], emails: Iterable[str], phones: Iterable[str]) -> Needles:
        def clean(values: Iterable[str | None], normalise: Any) -> tuple[str, ...]:
            out: list[str] = []
            for value in values:
                try:
                    normalised = normalise(value or "") if value else ""
                except InvalidIdentifier:
                    continue
                if normalised and normalised not in out:
                    out.append(normalised)
            return tuple(out)

        return cls(clean(names, normalise_name), clean(emails, normalise_email), clean(phones, normalise_phone))


_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\\,;:\"']+@[^\s<>()\[\]\\,;:\"']+")


def mentions(text: str, needles: Needles, *, region: str = "GB") -> list[str]:
    """How ``text`` mentions the person: "name" (their full name as whole words, accents, case and spacing aside),
    "email" (an address of theirs), "phone" (a number of theirs, however it is written)."""
    found: list[str] = []
    if needles.names:
        words = normalise_name(text[:20000])
        if any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", words) for name in needles.names):
            found.append("name")
    if needles.emails:
        addresses = set()
        for candidate in _EMAIL_IN_TEXT.findall(text):
            try:
                addresses.add(normalise_email(candidate.rstrip(".")))
            except InvalidIdentifier:
                continue
        if addresses & set(needles.emails):
            found.append("email")
    if needles.phones:
        numbers = {
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in phonenumbers.PhoneNumberMatcher(text, region)
        }
        if numbers & set(needles.phones):
            found.append("phone")
    return found


# --- starting a scan ------------------------------------------------------------------------------------------


async def start_scan(
    session: AsyncSession,
    *,
    actor: Actor,
    subject_id: uuid.UUID | None = None,
    staff_user_id: uuid.UUID | None = None,
    request_id: uuid.UUID | None = None,
) -> MentionScan:
    """Queue a scan for one person (audited); the job is written in the caller's transaction with the scan's id."""
    if (subject_id is None) == (staff_user_id is None):
        raise InvalidInput("Scan for one person: a customer or a staff member.", field="person")
    if subject_id is not None:
        person = await session.get(DataSubject, subject_id)
        if person is None:
            raise NotFound("No person with that id.", field="subject_id")
        if person.erased_at is not None:
            raise Conflict("This person has been erased; there is nothing to look for.", field="subject_id")
    elif await session.get(StaffUser, staff_user_id) is None:
        raise NotFound("No staff member with that id.", field="staff_user_id")
    scan = MentionScan(
        subject_id=subject_id,
        staff_user_id=staff_user_id,
        request_id=request_id,
        requested_by=actor.id,
        state="queued",
        scanned=0,
        flagged=0,
        created_at=utcnow(),
    )
    session.add(scan)
    await session.flush()
    await enqueue(session, MENTION_SCAN_JOB, {"scan_id": scan.id}, key=f"{MENTION_SCAN_JOB}:{scan.id}")
    record(
        session,
        actor,
        "privacy.mentions.start",
        target_kind="data_subject" if subject_id else "staff_user",
        target_id=subject_id or staff_user_id,
        detail={"scan": str(scan.id)},
    )
    return scan


async def _needles(session: AsyncSession, vault: Vault, scan: MentionScan) -> Needles | None:
    """Whom the scan looks for, read afresh from their record; None when they are gone (erased)."""
    if scan.staff_user_id is not None:
        user = await session.get(StaffUser, scan.staff_user_id)
        if user is None:
            return None
        return Needles.of([user.display_name], [user.email], [])
    if scan.subject_id is None:
        return None
    person = await session.get(DataSubject, scan.subject_id)
    if person is None or person.erased_at is not None:
        return None
    try:
        identity = await vault.identity(session, person)
    except KeyDestroyed:
        return None
    return Needles.of([identity.name], identity.emails, identity.phones)


@dataclass(frozen=True)
class ScanProgress:
    scanned: int
    flagged: int
    done: bool


async def scan_batch(
    session: AsyncSession, vault: Vault, scan_id: uuid.UUID, *, batch: int = MENTION_BATCH, base: Any = Base
) -> ScanProgress:
    """Scan the next ``batch`` comments after the cursor in the caller's transaction; the scan row is locked, so
    two runs of the job never scan the same batch twice. Comments the person wrote themselves are skipped."""
    scan = await session.scalar(select(MentionScan).where(MentionScan.id == scan_id).with_for_update())
    if scan is None:
        raise NotFound("No such mention scan.", field="scan_id")
    if scan.state == "done":
        return ScanProgress(scan.scanned, scan.flagged, True)
    needles = await _needles(session, vault, scan)
    if needles is None or needles.empty:
        _finish(session, scan, note="the person is erased or nothing identifies them")
        return ScanProgress(scan.scanned, scan.flagged, True)
    answers, responses = base.metadata.tables[COMMENT_TABLE], base.metadata.tables["response"]
    stmt = (
        select(answers.c.id, answers.c[COMMENT_COLUMN], responses.c.subject_id, responses.c.submitted_at)
        .join(responses, responses.c.id == answers.c.response_id)
        .where(answers.c[COMMENT_COLUMN].is_not(None))
        .order_by(answers.c.id)
        .limit(batch)
    )
    if scan.cursor is not None:
        stmt = stmt.where(answers.c.id > scan.cursor)
    rows = (await session.execute(stmt)).all()
    await vault.load_subject_keys(session, {r.subject_id for r in rows if r.subject_id is not None})
    hits: list[dict[str, Any]] = []
    for answer_id, ciphertext, writer, submitted_at in rows:
        if scan.subject_id is not None and writer == scan.subject_id:
            continue  # their own words are in their record already
        try:
            if writer is not None:
                text = await vault.decrypt(session, writer, COMMENT_FIELD, answer_id, ciphertext)
            else:
                text = await vault.decrypt_anonymous(session, submitted_at, COMMENT_FIELD, answer_id, ciphertext)
        except PrivacyError:
            continue  # erased writer, expired month: nothing readable to flag
        kinds = mentions(text, needles)
        if kinds:
            hits.append(
                {
                    "id": new_id(),
                    "scan_id": scan.id,
                    "answer_id": answer_id,
                    "matched": ",".join(kinds),
                    "found_at": utcnow(),
                }
            )
    if hits:
        await session.execute(insert(table(MentionHit)), hits)
    scan.scanned += len(rows)
    scan.flagged += len(hits)
    if rows:
        scan.cursor = rows[-1][0]
    scan.state = "running"
    if len(rows) < batch:
        _finish(session, scan)
    await session.flush()
    return ScanProgress(scan.scanned, scan.flagged, scan.state == "done")


def _finish(session: AsyncSession, scan: MentionScan, *, note: str | None = None) -> None:
    """The scan is done: the DPO sees it on the search and request pages, and the audit log records it."""
    scan.state, scan.finished_at, scan.note = "done", utcnow(), note
    record(
        session,
        Actor.system(),
        "privacy.mentions.done",
        target_kind="mention_scan",
        target_id=scan.id,
        detail={"scanned": scan.scanned, "flagged": scan.flagged, "requested_by": scan.requested_by},
    )
    log.info("mention_scan_done", scan=str(scan.id), scanned=scan.scanned, flagged=scan.flagged)


# --- what the DPO sees and does -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HitView:
    hit_id: uuid.UUID
    answer_id: uuid.UUID
    matched: tuple[str, ...]
    text: str | None  # decrypted for the DPO's review; None when it can no longer be read
    outcome: str | None


async def scans_for(
    session: AsyncSession, *, subject_id: uuid.UUID | None = None, staff_user_id: uuid.UUID | None = None
) -> list[MentionScan]:
    stmt = select(MentionScan).order_by(MentionScan.created_at.desc()).limit(20)
    if subject_id is not None:
        stmt = stmt.where(MentionScan.subject_id == subject_id)
    else:
        stmt = stmt.where(MentionScan.staff_user_id == staff_user_id)
    return list((await session.scalars(stmt)).all())


async def hits_of(
    session: AsyncSession, vault: Vault, scan_id: uuid.UUID, *, limit: int = 200, base: Any = Base
) -> list[HitView]:
    """A scan's flagged comments with their text, for review (reading them is part of the audited search)."""
    answers, responses = base.metadata.tables[COMMENT_TABLE], base.metadata.tables["response"]
    rows = (
        await session.execute(
            select(
                MentionHit.id,
                MentionHit.answer_id,
                MentionHit.matched,
                MentionHit.outcome,
                answers.c[COMMENT_COLUMN],
                responses.c.subject_id,
                responses.c.submitted_at,
            )
            .join(answers, answers.c.id == MentionHit.answer_id)
            .join(responses, responses.c.id == answers.c.response_id)
            .where(MentionHit.scan_id == scan_id)
            .order_by(MentionHit.found_at, MentionHit.id)
            .limit(limit)
        )
    ).all()
    views = []
    for hit_id, answer_id, matched, outcome, ciphertext, writer, submitted_at in rows:
        text: str | None = None
        if ciphertext is not None:
            try:
                if writer is not None:
                    text = await vault.decrypt(session, writer, COMMENT_FIELD, answer_id, ciphertext)
                else:
                    text = await vault.decrypt_anonymous(session, submitted_at, COMMENT_FIELD, answer_id, ciphertext)
            except PrivacyError:
                text = None
        views.append(HitView(hit_id, answer_id, tuple(matched.split(",")), text, outcome))
    return views


async def review_hit(session: AsyncSession, hit_id: uuid.UUID, outcome: str, *, actor: Actor) -> MentionHit:
    if outcome not in OUTCOMES:
        raise InvalidInput(f"Choose one of: {', '.join(OUTCOMES)}.", field="outcome")
    hit = await session.get(MentionHit, hit_id, with_for_update=True)
    if hit is None:
        raise NotFound("No such flagged comment.", field="hit")
    hit.outcome, hit.reviewed_at, hit.reviewed_by = outcome, utcnow(), actor.id
    record(
        session,
        actor,
        "privacy.mentions.review",
        target_kind="mention_hit",
        target_id=hit.id,
        detail={"outcome": outcome},
    )
    return hit


def scan_summary(scan: MentionScan) -> dict[str, Any]:
    return {
        "scan_id": str(scan.id),
        "state": scan.state,
        "scanned": scan.scanned,
        "flagged": scan.flagged,
        "started": scan.created_at.isoformat(),
        "finished": scan.finished_at.isoformat() if scan.finished_at else None,
        "note": scan.note,
    }


__all__: Sequence[str] = [
    "MENTION_SCAN_JOB",
    "MentionHit",
    "MentionScan",
    "Needles",
    "mentions",
    "scan_batch",
    "start_scan",
]
