"""Replies by text message to a question asked by SMS: answered, opted out, or not understood.

Only a number we hold for a person, replying while their question is open, is answered: a reply from an unknown
number, or to a question that has expired or was answered, is stored nowhere and gets no message back (a reply
would let anyone run up texting costs). "STOP" from a number we hold opts the person out on every channel. The
reply's text is never stored: only the rating it gave.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from privacy.vault import IdentityClaim, Vault
from surveys.channels import InboundReply
from surveys.models import Invitation, InvitationState
from surveys.responses import ResponseRecorder, Submission
from surveys.sms_answers import OptOut, Rating, read_reply
from surveys.timeline import ANSWERED, OPTED_OUT, REPLY_NOT_UNDERSTOOD, record_event
from surveys.unsubscribe import opt_out

log = structlog.get_logger("civicvoice.replies")


class ReplyOutcome(StrEnum):
    answered = "answered"
    opted_out = "opted_out"
    not_understood = "not_understood"
    ignored = "ignored"  # unknown number, no open question, expired or already answered: nothing stored


@dataclass(frozen=True)
class ReplyResult:
    outcome: ReplyOutcome
    invitation_id: str | None = None


async def handle_reply(
    session: AsyncSession, vault: Vault, recorder: ResponseRecorder, reply: InboundReply, *, channel: str
) -> ReplyResult:
    """Apply one reply in the caller's transaction."""
    owners = await vault.find(session, IdentityClaim(phone=reply.sender))
    subject_id = owners.get("phone")
    if subject_id is None:
        log.info("reply_ignored", reason="unknown_number")
        return ReplyResult(ReplyOutcome.ignored)
    now = utcnow()
    latest = await session.scalar(
        select(Invitation)
        .where(
            Invitation.subject_id == subject_id,
            Invitation.channel == channel,
            Invitation.answer_by_reply.is_(True),
            Invitation.sent_at.is_not(None),
        )
        .order_by(Invitation.sent_at.desc())
        .limit(1)
        .with_for_update()
    )
    open_question = (
        latest is not None
        and latest.responded_at is None
        and latest.expires_at > now
        and latest.state in (InvitationState.sent, InvitationState.delivered)
    )
    meaning = read_reply(reply.text)
    if isinstance(meaning, OptOut):
        # Honoured from any number we hold, question open or not: opting out is never refused.
        await opt_out(session, vault, subject_id, reason="sms_stop")
        if latest is not None:
            await record_event(session, latest.id, OPTED_OUT, "STOP by SMS reply", at=now)
        log.info("reply_opted_out", invitation_id=str(latest.id) if latest else None)
        return ReplyResult(ReplyOutcome.opted_out, str(latest.id) if latest else None)
    if not open_question or latest is None:
        log.info("reply_ignored", reason="no_open_question")
        return ReplyResult(ReplyOutcome.ignored)
    if not isinstance(meaning, Rating):
        await record_event(session, latest.id, REPLY_NOT_UNDERSTOOD, at=now)
        log.info("reply_not_understood", invitation_id=str(latest.id))
        return ReplyResult(ReplyOutcome.not_understood, str(latest.id))
    definition = await recorder.definition(session, latest.survey_version_id)
    csat = definition.csat_question
    if csat is None:
        return ReplyResult(ReplyOutcome.ignored)
    submission = Submission(latest.id, {csat.id: str(meaning.value)}, asked=frozenset({csat.id}))
    try:
        async with session.begin_nested():
            [outcome] = await recorder.record(session, [submission])
    except IntegrityError:  # answered at the same moment by another reply or the web page
        return ReplyResult(ReplyOutcome.ignored)
    if isinstance(outcome, CivicVoiceError):
        log.info("reply_ignored", reason=outcome.slug)
        return ReplyResult(ReplyOutcome.ignored)
    await record_event(session, latest.id, ANSWERED, "by SMS reply", at=now)
    log.info("reply_answered", invitation_id=str(latest.id))
    return ReplyResult(ReplyOutcome.answered, str(latest.id))
