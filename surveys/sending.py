"""Sending invitations: at-least-once, with the invitation row holding its own state.

queued -> sending (committed before the provider is called) -> sent | failed. A crash between the provider's
acceptance and the final commit leaves the row in "sending"; the job runs again and sends a message with the
same reference (Message-ID), the only possible duplicate. Opt-out, suppression, "do not survey", a restriction
of processing and erasure are checked again at send time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.jobs import JobContext, RetryLater, describe_error, enqueue_once
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.restriction import RESTRICTED, is_restricted
from privacy.vault import IdentityClaim, Vault
from surveys.channels import Channel, ChannelError, InlineQuestion, OutgoingInvitation
from surveys.definitions import ENGLISH, stored_definition
from surveys.models import Contact, Invitation, InvitationState, Service, SurveyVersion
from surveys.timeline import REMINDED, record_event, record_events
from surveys.tokens import UNSUBSCRIBE_LIFETIME, Purpose, TokenSigner, short_digest

log = structlog.get_logger("civicvoice.sending")

SEND_INVITATION_JOB = "invitations.send"
SEND_REMINDER_JOB = "invitations.remind"
EXPIRE_INVITATIONS_JOB = "invitations.expire"


@dataclass(frozen=True)
class SendOutcome:
    state: str
    reason: str | None = None


def survey_links(signer: TokenSigner, base_url: str, invitation: Invitation) -> tuple[str, str]:
    survey = signer.sign(invitation.id, Purpose.survey, invitation.expires_at)
    unsubscribe = signer.sign(invitation.id, Purpose.unsubscribe, utcnow() + UNSUBSCRIBE_LIFETIME)
    return f"{base_url}/s/{survey}", f"{base_url}/u/{unsubscribe}"


async def send_refusal(session: AsyncSession, invitation: Invitation, now: datetime) -> str | None:
    """Why an invitation must not go out now (its person erased, opted out, restricted; it expired), or None.

    Checked again at send time by every channel, printed letters included."""
    if invitation.subject_id is None:
        return "erased"
    subject = await session.get(DataSubject, invitation.subject_id)
    if subject is None or subject.erased_at is not None:
        return "erased"
    if subject.opted_out_at is not None:
        return "opted_out"
    if subject.do_not_survey:
        return "do_not_survey"
    if await is_restricted(session, subject.id):
        return RESTRICTED
    if invitation.expires_at <= now:
        return "expired"
    return None


class InvitationSender:
    def __init__(
        self,
        vault: Vault,
        signer: TokenSigner,
        channels: Mapping[str, Channel],
        *,
        base_url: str,
        council_name: str,
    ) -> None:
        self.vault = vault
        self.signer = signer
        self.channels = channels
        self.base_url = base_url
        self.council_name = council_name
        # A published version never changes: its CSAT question is read once per process.
        self._questions: dict[uuid.UUID, InlineQuestion | None] = {}

    async def _question(self, session: AsyncSession, version_id: uuid.UUID) -> InlineQuestion | None:
        if version_id not in self._questions:
            stored = await session.scalar(select(SurveyVersion.definition).where(SurveyVersion.id == version_id))
            csat = stored_definition(stored).csat_question if stored is not None else None
            self._questions[version_id] = (
                None
                if csat is None
                else InlineQuestion(
                    key=csat.id,
                    text=csat.text_in(ENGLISH),
                    scale=tuple((int(option.value), option.label_in(ENGLISH)) for option in csat.options()),
                )
            )
        return self._questions[version_id]

    async def prepare(
        self, session: AsyncSession, invitation_id: uuid.UUID, *, reminder: bool, ctx: JobContext
    ) -> tuple[Invitation, OutgoingInvitation] | SendOutcome:
        """First transaction: re-check, mark "sending" and build the message (never stored).

        Only the run that holds its job's live lease may send: the job row is locked first (the same order as
        a reclaim takes), so no other worker can take the job until "sending" is committed. An invitation
        already in "sending" is therefore only ever resent by a later attempt of its own job, after the run
        that marked it lost its lease: the crash window DESIGN.md allows, with the same Message-ID.
        """
        now = utcnow()
        if not await ctx.holds_lease(session):
            return SendOutcome("lease_lost", "another worker holds this job")
        found = (
            await session.execute(
                select(Invitation, Service.name)
                .outerjoin(Contact, Contact.id == Invitation.contact_id)
                .outerjoin(Service, Service.id == Contact.service_id)
                .where(Invitation.id == invitation_id)
                .with_for_update(of=Invitation)
            )
        ).first()
        if found is None:
            return SendOutcome("missing")
        invitation, service_name = found
        if reminder:
            if invitation.state != InvitationState.sent or invitation.responded_at or invitation.reminders_sent >= 1:
                return SendOutcome(invitation.state, "no reminder due")
        elif invitation.state not in (InvitationState.queued, InvitationState.sending):
            return SendOutcome(invitation.state, "already handled")
        channel = self.channels.get(invitation.channel)
        # Held here, so send_refusal's look-up and the identity below read it once (the session keeps an object
        # only while something refers to it).
        subject = await session.get(DataSubject, invitation.subject_id) if invitation.subject_id else None
        reason = await send_refusal(session, invitation, now)
        if reason is None and channel is None:
            reason = "channel_unavailable"
        identity = None
        if reason is None:
            assert subject is not None
            try:
                identity = await self.vault.identity(session, subject)
            except KeyDestroyed:
                reason = "erased"
        if reason is None and identity is not None:
            claim = IdentityClaim(
                email=identity.emails[-1] if identity.emails else None,
                phone=identity.phones[-1] if identity.phones else None,
            )
            if await self.vault.is_suppressed(session, claim):
                reason = "suppressed"
        recipient = None
        if reason is None and identity is not None:
            recipient = (
                (identity.emails or (None,))[-1] if invitation.channel == "email" else (identity.phones or (None,))[-1]
            )
            if recipient is None:
                reason = "no_contact_details"
        if reason is not None:
            if not reminder:
                invitation.state = InvitationState.expired if reason == "expired" else InvitationState.cancelled
                invitation.failure = reason
                invitation.state_changed_at = now
                await record_event(session, invitation.id, invitation.state, reason, at=now)
            log.info("invitation_not_sent", invitation_id=str(invitation.id), reason=reason)
            return SendOutcome(invitation.state, reason)

        assert channel is not None and recipient is not None
        survey_url, unsubscribe_url = survey_links(self.signer, self.base_url, invitation)
        code = self.signer.short_code(invitation.id)
        if invitation.short_digest is None:
            invitation.short_digest = short_digest(code)
        outgoing = OutgoingInvitation(
            invitation_id=invitation.id,
            recipient=recipient,
            survey_url=survey_url,
            unsubscribe_url=unsubscribe_url,
            council_name=self.council_name,
            service_name=service_name or "our services",
            expires_on=invitation.expires_at.astimezone(LONDON).strftime("%-d %B %Y"),
            reminder=reminder,
            short_url=f"{self.base_url}/r/{code}",
            question=await self._question(session, invitation.survey_version_id),
        )
        if not reminder:
            invitation.state = InvitationState.sending
            invitation.state_changed_at = now
            invitation.send_attempts += 1
            invitation.message_ref = channel.reference_for(outgoing)
            await record_event(session, invitation.id, InvitationState.sending, f"attempt {invitation.send_attempts}")
        return invitation, outgoing

    async def send(
        self, ctx: JobContext, invitation_id: uuid.UUID, *, reminder: bool = False, final_attempt: bool = False
    ) -> SendOutcome:
        async with ctx.sessions() as session, session.begin():
            prepared = await self.prepare(session, invitation_id, reminder=reminder, ctx=ctx)
            if isinstance(prepared, SendOutcome) and prepared.state != "lease_lost":
                await ctx.finish(session)  # nothing to send: the job is done with this transaction
        if isinstance(prepared, SendOutcome):
            if prepared.state == "lease_lost":
                # This run no longer owns its job (its lease lapsed, or another worker holds it): send nothing,
                # and do not let the job count as done; the lease holder, or a later run, sends it.
                raise RetryLater(timedelta(seconds=1))
            return prepared
        invitation, outgoing = prepared
        channel = self.channels[invitation.channel]
        try:
            delivery = await channel.send(outgoing)
        except RetryLater:
            # The provider's shared rate limit has no slot soon enough: back to the queue, no attempt counted.
            await self._requeue(ctx, invitation_id, "rate limit: waiting for a free slot", reminder=reminder)
            raise
        except ChannelError as exc:
            if final_attempt or exc.permanent:
                # The provider refused every attempt: a lasting failure, recorded on the invitation.
                await self._close(ctx, invitation_id, f"delivery: {exc}", reminder=reminder)
                log.error("invitation_failed", invitation_id=str(invitation_id))
                return SendOutcome("failed", str(exc))
            # Not accepted: back to the queue; the job retries with back-off, nothing is lost.
            await self._requeue(ctx, invitation_id, f"delivery: {exc}", reminder=reminder)
            raise
        except Exception as exc:
            # Anything else is a fault of ours; the job retries it, and on the last attempt it dies and
            # `invitation_dead` closes the invitation as failed.
            if not final_attempt:
                await self._requeue(ctx, invitation_id, f"technical: {describe_error(exc)}", reminder=reminder)
            raise
        await self.mark_sent(
            ctx, invitation_id, delivery.reference, reminder=reminder, awaits_reply=delivery.awaits_reply
        )
        return SendOutcome("sent")

    async def _requeue(self, ctx: JobContext, invitation_id: uuid.UUID, reason: str, *, reminder: bool) -> None:
        if reminder:
            return
        async with ctx.sessions() as session, session.begin():
            row = await session.get(Invitation, invitation_id)
            if row is not None and row.state == InvitationState.sending:
                row.state, row.failure, row.state_changed_at = InvitationState.queued, reason[:300], utcnow()
                await record_event(session, row.id, InvitationState.queued, reason)

    async def _close(self, ctx: JobContext, invitation_id: uuid.UUID, reason: str, *, reminder: bool) -> None:
        if reminder:
            return
        async with ctx.sessions() as session, session.begin():
            await fail_invitation(session, invitation_id, reason)

    async def mark_sent(
        self,
        ctx: JobContext,
        invitation_id: uuid.UUID,
        reference: str,
        *,
        reminder: bool,
        awaits_reply: bool = False,
    ) -> None:
        """Second transaction: record the provider's acceptance, queue the reminder, and finish the job."""
        async with ctx.sessions() as session, session.begin():
            await ctx.finish(session)
            row = await session.get(Invitation, invitation_id)
            if row is None:
                return
            if reminder:
                row.reminders_sent += 1
                await record_event(session, row.id, REMINDED)
                return
            row.state = InvitationState.sent
            row.sent_at = row.state_changed_at = utcnow()
            row.message_ref = reference
            row.failure = None
            row.answer_by_reply = awaits_reply
            await record_event(
                session,
                row.id,
                InvitationState.sent,
                "asked the question; a reply answers it" if awaits_reply else None,
            )
            if row.reminder_at is not None:
                await enqueue_once(
                    session,
                    SEND_REMINDER_JOB,
                    {"invitation_id": row.id},
                    key=f"{SEND_REMINDER_JOB}:{row.id}",
                    run_at=row.reminder_at,
                )


def sender_from(ctx: JobContext) -> InvitationSender:
    return ctx.service(InvitationSender)


async def send_invitation(ctx: JobContext, payload: dict[str, Any]) -> None:
    await sender_from(ctx).send(ctx, uuid.UUID(payload["invitation_id"]), final_attempt=ctx.final_attempt)


async def send_reminder(ctx: JobContext, payload: dict[str, Any]) -> None:
    await sender_from(ctx).send(
        ctx, uuid.UUID(payload["invitation_id"]), reminder=True, final_attempt=ctx.final_attempt
    )


async def fail_invitation(session: AsyncSession, invitation_id: uuid.UUID, reason: str) -> None:
    """Close an invitation that was never accepted by the provider as failed, with its reason."""
    row = await session.scalar(select(Invitation).where(Invitation.id == invitation_id).with_for_update())
    if row is not None and row.state in (InvitationState.queued, InvitationState.sending):
        row.state, row.failure, row.state_changed_at = InvitationState.failed, reason[:300], utcnow()
        await record_event(session, row.id, InvitationState.failed, reason)


async def invitation_dead(session: AsyncSession, payload: dict[str, Any], reason: str) -> None:
    """Dead-letter hook of the send job (last attempt failed, or its worker died during it): the invitation
    is closed as failed with the reason, in the transaction that records the job dead."""
    await fail_invitation(session, uuid.UUID(payload["invitation_id"]), f"technical: {reason}")
    log.error("invitation_failed", invitation_id=payload["invitation_id"], reason="job_dead")


async def invitation_retried(session: AsyncSession, payload: dict[str, Any]) -> None:
    """An administrator retried the dead send job: an invitation the provider never accepted is queued again."""
    row = await session.scalar(
        select(Invitation).where(Invitation.id == uuid.UUID(payload["invitation_id"])).with_for_update()
    )
    if row is not None and row.state == InvitationState.failed and row.sent_at is None:
        row.state, row.failure, row.state_changed_at = InvitationState.queued, None, utcnow()
        await record_event(session, row.id, InvitationState.queued, "sent again by an administrator")


async def expire_invitations(session: AsyncSession, now: datetime) -> int:
    """Invitations past `expires_at` that were never answered are expired (unless a send is in flight: its
    job settles it); returns how many."""
    expiring = (
        Invitation.state.in_([InvitationState.queued, InvitationState.sent, InvitationState.delivered]),
        Invitation.expires_at <= now,
        Invitation.responded_at.is_(None),
    )
    ids = list(await session.scalars(select(Invitation.id).where(*expiring).limit(_EXPIRE_BATCH).with_for_update()))
    if not ids:
        return 0
    await session.execute(
        update(Invitation)
        .where(Invitation.id.in_(ids), *expiring)
        .values(state=InvitationState.expired, state_changed_at=now)
    )
    await record_events(session, ids, InvitationState.expired, at=now)
    return len(ids)


_EXPIRE_BATCH = 5000


async def expire_invitations_job(ctx: JobContext, payload: dict[str, Any]) -> None:
    expired = 0
    while True:  # in batches, each its own transaction
        async with ctx.sessions() as session, session.begin():
            batch = await expire_invitations(session, utcnow())
        expired += batch
        if batch < _EXPIRE_BATCH:
            break
    if expired:
        log.info("invitations_expired", count=expired)
