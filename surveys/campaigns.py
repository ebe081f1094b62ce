"""Campaigns: a relationship survey sent to a list of people between a start and an end day, with its progress.

Recipients are people like any other: resolved through the Vault (encrypted identity, blind indexes), so access,
erasure, restriction and opt-out cover them. A campaign invites each person on its list once, on the day it starts
(or at once when people are added to a campaign already running), through the same outbox and sender as a
post-contact invitation; it does not count towards the post-contact frequency cap.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import msgspec
import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.db import table
from civicvoice.core.errors import InvalidInput
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import JobContext, enqueue_many, job_row
from privacy.blind_index import normalise_email, normalise_phone
from privacy.exceptions import InvalidIdentifier
from privacy.models import DataSubject
from privacy.restriction import RESTRICTED, restricted_among
from privacy.vault import IdentityClaim, SubjectClaim, Vault
from surveys.builder import SurveySummary, responses_to
from surveys.definitions import SurveyKind
from surveys.intake import load_policy
from surveys.models import CampaignRecipient, Invitation, InvitationState, Survey, SurveyVersion, VersionStatus
from surveys.rules import InvitationChannel, InvitationPolicy
from surveys.sending import SEND_INVITATION_JOB

log = structlog.get_logger("civicvoice.campaigns")

SEND_CAMPAIGNS_JOB = "campaigns.send"
ORGANISATION_FIELD: Final = "campaign_recipient.organisation"
MAX_RECIPIENTS: Final = 1000  # one request or one upload
_INVITE_BATCH: Final = 500


class RecipientIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: str | None = None
    mobile: str | None = None
    name: str | None = None
    organisation: str | None = None


@dataclass(frozen=True)
class RecipientProblem:
    """A recipient not added (``reason`` says why, naming the field when one is wrong), by its place in the list."""

    position: int
    reason: str
    detail: str
    field: str | None = None


@dataclass
class RecipientsAdded:
    added: int = 0
    already: int = 0  # on this campaign's list before: nothing added
    invited: int = 0  # invited at once, the campaign being under way
    rejected: list[RecipientProblem] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignProgress:
    recipients: int
    invited: int
    responded: int
    responses: int  # every response to the campaign's versions
    target: int | None
    starts_on: date | None
    ends_on: date | None

    @property
    def percent(self) -> int | None:
        """Responses as a whole percentage of the target (may pass 100)."""
        if not self.target:
            return None
        return self.responses * 100 // self.target


class NotACampaign(InvalidInput):
    slug = "not-a-campaign"
    title = "Not a campaign"


class RecipientsUnreadable(InvalidInput):
    slug = "recipients-unreadable"
    title = "Recipients could not be read"


def under_way(survey: Survey, today: date) -> bool:
    """Whether a campaign sends today: it has a start and an end, and today (in London) lies between them."""
    starts, ends = survey.campaign_starts_on, survey.campaign_ends_on
    return starts is not None and ends is not None and starts <= today <= ends


def closes_at(ends_on: date) -> datetime:
    """The moment a campaign ends: midnight in London after its last day."""
    return datetime.combine(ends_on + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)


def today_in_london(now: datetime) -> date:
    return now.astimezone(LONDON).date()


@dataclass(frozen=True)
class _Checked:
    position: int
    claim: IdentityClaim
    channel: InvitationChannel
    organisation: str | None


def _one_line(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.split())
    return cleaned[:limit] or None


def check_recipient(position: int, given: RecipientIn, channels: frozenset[str]) -> _Checked | RecipientProblem:
    """Normalise one recipient's identifiers like a contact's, and pick the channel to ask them on."""
    email_text, mobile_text = (given.email or "").strip(), (given.mobile or "").strip()
    if not email_text and not mobile_text:
        return RecipientProblem(position, "no_contact_details", "Give an email address or a mobile number.", "email")
    try:
        email = normalise_email(email_text) if email_text else None
    except InvalidIdentifier as exc:
        return RecipientProblem(position, "invalid_email", exc.detail, "email")
    try:
        phone = normalise_phone(mobile_text) if mobile_text else None
    except InvalidIdentifier as exc:
        return RecipientProblem(position, "invalid_mobile", exc.detail, "mobile")
    if email and InvitationChannel.email in channels:
        channel = InvitationChannel.email
    elif phone and InvitationChannel.sms in channels:
        channel = InvitationChannel.sms
    else:
        return RecipientProblem(
            position,
            "no_channel",
            "This campaign cannot reach them: give an email address (or a mobile number if the campaign may use "
            "text messages).",
            "email" if email_text else "mobile",
        )
    name = _one_line(given.name, 200)
    claim = IdentityClaim(email=email, phone=phone, name=name)
    return _Checked(position, claim, channel, _one_line(given.organisation, 200))


_HEADERS: Final = {
    "email": "email",
    "email address": "email",
    "mobile": "mobile",
    "mobile number": "mobile",
    "phone": "mobile",
    "name": "name",
    "organisation": "organisation",
    "organization": "organisation",
}


def recipients_from_csv(text: str) -> list[tuple[int, RecipientIn]]:
    """Recipients from CSV text whose first row names the columns (email, mobile, name, organisation), each with
    the number of the row it is on (blank rows are skipped). RecipientsUnreadable if the columns are not named or
    there are too many."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, row))
            if len(rows) > MAX_RECIPIENTS + 1:
                raise RecipientsUnreadable(f"Add at most {MAX_RECIPIENTS} people at a time.")
    except csv.Error as exc:
        raise RecipientsUnreadable(f"The list is not valid CSV (row {reader.line_num}): {exc}.") from None
    if not rows:
        raise RecipientsUnreadable("The list is empty: give a first row naming the columns, then one row per person.")
    columns = [_HEADERS.get(cell.strip().lower()) for cell in rows[0][1]]
    if "email" not in columns and "mobile" not in columns:
        raise RecipientsUnreadable(
            "The first row must name the columns: email and/or mobile, and optionally name and organisation."
        )
    found: list[tuple[int, RecipientIn]] = []
    for number, row in rows[1:]:
        values: dict[str, str] = {}
        for column, cell in zip(columns, row, strict=False):
            if column is not None and cell.strip():
                values[column] = cell.strip()[:320]
        found.append((number, RecipientIn(**values)))
    if not found:
        raise RecipientsUnreadable("The list names its columns but has nobody in it: add one row per person.")
    return found


_REFUSALS: Final = {
    "erased": ("erased", "This person asked to be erased; they cannot be added."),
    "opted_out": ("opted_out", "This person opted out of surveys; they will not be invited."),
    "do_not_survey": ("do_not_survey", "This person is marked 'do not survey'; they will not be invited."),
    "suppressed": ("suppressed", "This address or number is on the suppression list; it will not be used."),
    RESTRICTED: (RESTRICTED, "Processing of this person's data is restricted; they will not be invited."),
}


def _require_campaign(found: SurveySummary) -> Survey:
    if found.survey.kind != SurveyKind.campaign:
        raise NotACampaign("Only a campaign has a list of recipients; this survey is sent after contacts.")
    return found.survey


class Campaigns:
    """Adds people to campaigns' lists and invites them while a campaign is under way."""

    def __init__(self, vault: Vault, *, sendable: frozenset[str] | None = None) -> None:
        self.vault = vault
        # The channels this deployment can send on (SMS only with GOV.UK Notify configured); None: all.
        self.sendable = sendable

    def usable_channels(self, survey: Survey) -> frozenset[str]:
        allowed = frozenset(survey.channels) & {InvitationChannel.email.value, InvitationChannel.sms.value}
        return allowed if self.sendable is None else allowed & self.sendable

    async def add_recipients(
        self, session: AsyncSession, actor: Actor, found: SurveySummary, given: Sequence[RecipientIn]
    ) -> RecipientsAdded:
        """Add people to a campaign's list (in the caller's transaction), each checked like a contact's
        identifiers; one refused is reported by its position with nothing stored for it. If the campaign is under
        way they are invited at once."""
        survey = _require_campaign(found)
        if len(given) > MAX_RECIPIENTS:
            raise InvalidInput(f"Add at most {MAX_RECIPIENTS} people at a time.", field="recipients")
        channels = self.usable_channels(survey)
        outcome = RecipientsAdded()
        checked: list[_Checked] = []
        for position, recipient in enumerate(given):
            result = check_recipient(position, recipient, channels)
            if isinstance(result, RecipientProblem):
                outcome.rejected.append(result)
            else:
                checked.append(result)
        # Refused before the vault stores anything: an identifier on the suppression list, or a known person who
        # opted out, asked not to be surveyed or is restricted (one look-up per person, one query for the people).
        looked_up: dict[int, tuple[set[uuid.UUID], bool]] = {}
        for c in checked:
            matches, blocked = await self.vault.lookup(session, c.claim)
            looked_up[c.position] = set(matches.values()), blocked
        refusals = await _refusals(session, sorted(set().union(*(owners for owners, _ in looked_up.values()))))
        known: set[int] = set()
        for c in checked:
            owners, suppressed = looked_up[c.position]
            # What the person asked for says more than the suppression list their opt-out also added them to.
            reasons = sorted(refusals[p] for p in owners if p in refusals) or (["suppressed"] if suppressed else [])
            if reasons:
                outcome.rejected.append(RecipientProblem(c.position, *_REFUSALS[reasons[0]]))
            else:
                known.add(c.position)
        checked = [c for c in checked if c.position in known]
        resolutions = await self.vault.resolve_many(session, [SubjectClaim(c.claim) for c in checked])
        people = {r.subject_id for r in resolutions if not r.erased}
        restricted = await restricted_among(session, people)
        listed = set(
            await session.scalars(
                select(CampaignRecipient.subject_id).where(
                    CampaignRecipient.survey_id == survey.id, CampaignRecipient.subject_id.in_(sorted(people))
                )
            )
        )
        now = utcnow()
        for c, resolution in zip(checked, resolutions, strict=True):
            # The same checks again on the person as resolved (another request may have changed them meanwhile).
            reason = None
            if resolution.erased:
                reason = "erased"
            elif resolution.opted_out:
                reason = "opted_out"
            elif resolution.suppressed:
                reason = "suppressed"
            elif resolution.subject_id in restricted:
                reason = RESTRICTED
            if reason is not None:
                outcome.rejected.append(RecipientProblem(c.position, *_REFUSALS[reason]))
                continue
            if resolution.subject_id in listed:
                outcome.already += 1
                continue
            listed.add(resolution.subject_id)
            row_id = new_id()
            organisation = None
            if c.organisation:
                organisation = await self.vault.encrypt(
                    session, resolution.subject_id, ORGANISATION_FIELD, row_id, c.organisation
                )
            session.add(
                CampaignRecipient(
                    id=row_id,
                    survey_id=survey.id,
                    subject_id=resolution.subject_id,
                    channel=c.channel.value,
                    organisation_ciphertext=organisation,
                    added_at=now,
                )
            )
            outcome.added += 1
        outcome.rejected.sort(key=lambda problem: problem.position)
        await session.flush()
        record(
            session,
            actor,
            "surveys.campaign.recipients",
            target_kind="survey",
            target_id=survey.id,
            detail={"added": outcome.added, "already": outcome.already, "rejected": len(outcome.rejected)},
        )
        if outcome.added and under_way(survey, today_in_london(now)):
            outcome.invited = await self.invite(session, survey, now)
        return outcome

    async def invite(self, session: AsyncSession, survey: Survey, now: datetime) -> int:
        """Invite everyone on an under-way campaign's list not yet invited (one batch, in the caller's
        transaction); returns how many were invited. Nothing happens outside the campaign's days."""
        if not under_way(survey, today_in_london(now)):
            return 0
        assert survey.campaign_ends_on is not None
        version_id = await session.scalar(
            select(SurveyVersion.id)
            .where(SurveyVersion.survey_id == survey.id, SurveyVersion.status == VersionStatus.published)
            .order_by(SurveyVersion.number.desc())
            .limit(1)
        )
        if version_id is None:
            return 0  # nothing published yet: they are invited once a version is
        expires_at = closes_at(survey.campaign_ends_on)
        policy = await load_policy(session)
        # Locked, so a cron run and an admin adding people at the same moment never invite anyone twice.
        waiting = list(
            await session.scalars(
                select(CampaignRecipient)
                .where(
                    CampaignRecipient.survey_id == survey.id,
                    CampaignRecipient.invitation_id.is_(None),
                    CampaignRecipient.not_invited.is_(None),
                    CampaignRecipient.subject_id.is_not(None),
                )
                .order_by(CampaignRecipient.id)
                .limit(_INVITE_BATCH)
                .with_for_update()
            )
        )
        if not waiting:
            return 0
        refusals = await _refusals(session, [r.subject_id for r in waiting if r.subject_id is not None])
        invitations: list[dict[str, Any]] = []
        jobs: list[dict[str, object]] = []
        for recipient in waiting:
            assert recipient.subject_id is not None
            refusal = refusals.get(recipient.subject_id)
            timing = schedule(policy, InvitationChannel(recipient.channel), now, expires_at)
            if refusal is not None:
                recipient.not_invited = refusal
                continue
            if timing is None:
                continue  # the campaign ends before the channel's quiet hours do: nothing may be sent now
            due_at, reminder_at = timing
            invitation_id = new_id()
            invitations.append(
                {
                    "id": invitation_id,
                    "contact_id": None,
                    "decision_id": None,
                    "subject_id": recipient.subject_id,
                    "survey_version_id": version_id,
                    "channel": recipient.channel,
                    "state": InvitationState.queued,
                    "due_at": due_at,
                    "expires_at": expires_at,
                    "reminder_at": reminder_at,
                    "reminders_sent": 0,
                    "send_attempts": 0,
                    "created_at": now,
                }
            )
            jobs.append(
                job_row(
                    SEND_INVITATION_JOB,
                    {"invitation_id": invitation_id},
                    key=f"{SEND_INVITATION_JOB}:{invitation_id}",
                    run_at=due_at,
                    now=now,
                )
            )
            recipient.invitation_id, recipient.invited_at = invitation_id, now
        if invitations:
            await session.execute(insert(table(Invitation)), invitations)
            await enqueue_many(session, jobs)
        await session.flush()
        if invitations:
            log.info("campaign_invited", survey=survey.slug, count=len(invitations))
        return len(invitations)

    async def invite_all_under_way(self, ctx: JobContext) -> int:
        """The cron: every campaign under way today invites the people on its list not yet invited."""
        invited = 0
        now = utcnow()
        today = today_in_london(now)
        async with ctx.sessions() as session:
            ids = list(
                await session.scalars(
                    select(Survey.id).where(
                        Survey.kind == SurveyKind.campaign,
                        Survey.campaign_starts_on <= today,
                        Survey.campaign_ends_on >= today,
                    )
                )
            )
        for survey_id in ids:
            while True:  # in batches, each its own transaction
                async with ctx.sessions() as session, session.begin():
                    survey = await session.get(Survey, survey_id)
                    batch = 0 if survey is None else await self.invite(session, survey, now)
                invited += batch
                if batch < _INVITE_BATCH:
                    break
        return invited


def schedule(
    policy: InvitationPolicy, channel: InvitationChannel, now: datetime, expires_at: datetime
) -> tuple[datetime, datetime | None] | None:
    """When to send (now, moved out of the channel's quiet hours) and remind, as for a post-contact invitation;
    None if it could not be sent before the campaign ends."""
    quiet = policy.quiet_hours.get(channel)
    due_at = quiet.next_allowed(now) if quiet is not None else now
    if due_at >= expires_at:
        return None
    reminder_at: datetime | None = None
    if policy.reminder_after is not None:
        reminder_at = due_at + policy.reminder_after
        if quiet is not None:
            reminder_at = quiet.next_allowed(reminder_at)
        if reminder_at >= expires_at:
            reminder_at = None
    return due_at, reminder_at


async def _refusals(session: AsyncSession, subject_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Why some of these people must not be invited now (the send-time checks run again when it is sent)."""
    refusals: dict[uuid.UUID, str] = {}
    rows = await session.execute(
        select(DataSubject.id, DataSubject.erased_at, DataSubject.opted_out_at, DataSubject.do_not_survey).where(
            DataSubject.id.in_(sorted(subject_ids))
        )
    )
    for subject_id, erased_at, opted_out_at, do_not_survey in rows:
        if erased_at is not None:
            refusals[subject_id] = "erased"
        elif opted_out_at is not None:
            refusals[subject_id] = "opted_out"
        elif do_not_survey:
            refusals[subject_id] = "do_not_survey"
    for subject_id in await restricted_among(session, subject_ids):
        refusals.setdefault(subject_id, RESTRICTED)
    return refusals


async def keep_to_period(session: AsyncSession, survey: Survey, now: datetime) -> int:
    """After a campaign's period changed: its invitations not yet answered close no later than its new end (now,
    if it has no end any more), so nothing is sent or answered after it. Returns how many were shortened."""
    closing = closes_at(survey.campaign_ends_on) if survey.campaign_ends_on is not None else now
    invited = select(CampaignRecipient.invitation_id).where(
        CampaignRecipient.survey_id == survey.id, CampaignRecipient.invitation_id.is_not(None)
    )
    shortened = await session.execute(
        update(Invitation)
        .where(
            Invitation.id.in_(invited),
            Invitation.responded_at.is_(None),
            Invitation.expires_at > closing,
        )
        .values(expires_at=closing)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(shortened, "rowcount", 0) or 0)


async def campaign_progress(session: AsyncSession, survey: Survey) -> CampaignProgress:
    """The campaign's list, how many were invited and answered, and its responses against the target."""
    recipient, invitation = table(CampaignRecipient).c, table(Invitation).c
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(recipient.invitation_id),
                func.count(invitation.responded_at),
            )
            .select_from(table(CampaignRecipient))
            .outerjoin(table(Invitation), invitation.id == recipient.invitation_id)
            .where(recipient.survey_id == survey.id)
        )
    ).one()
    return CampaignProgress(
        recipients=int(row[0]),
        invited=int(row[1]),
        responded=int(row[2]),
        responses=await responses_to(session, survey),
        target=survey.target_responses,
        starts_on=survey.campaign_starts_on,
        ends_on=survey.campaign_ends_on,
    )


async def send_campaigns(ctx: JobContext, payload: dict[str, Any]) -> None:
    invited = await ctx.service(Campaigns).invite_all_under_way(ctx)
    if invited:
        log.info("campaigns_sent", count=invited)
