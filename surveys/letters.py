"""Paper surveys: the print queue, print batches, and paper returns keyed in by staff against the reference.

A paper invitation is decided by the rules like any other (post enabled, and the person reachable only by post)
and waits, queued, in the print queue. Downloading a batch prints the letters that are due (one PDF, one A4 page
each) and, in the same transaction, marks them sent with a fresh reference each: if the PDF cannot be made,
nothing is marked. Opt-out, suppression, restriction, erasure and expiry are checked again at print time, as at
send time. A returned form is found by its reference and recorded through the same response model as every
channel (channel "paper"); a second entry, an unknown reference, a mistyped one and a closed survey are refused
with a message that says which.

A letter is printed in the language its contact event asked for when the survey has it (or in Welsh then English,
when the council prints bilingual letters). A letter still unanswered some days after printing is due one
reminder letter (same reference, same QR code), printed from "Reminders due" the same way, under the reminder rule
every channel follows and the same print-time checks; a reminder refused then is called off for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.errors import CivicVoiceError, Conflict, InvalidInput, NotFound
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.vault import IdentityClaim, Vault
from surveys.channels.paper import PrintedLetter, letter_languages, letters_pdf, link_language
from surveys.definitions import SurveyDefinition
from surveys.letter_models import Letter, LetterBatch
from surveys.letter_references import ReferenceProblem, new_reference, printed, read_reference
from surveys.models import Contact, Invitation, InvitationState, Service
from surveys.responses import AlreadyAnswered, InvitationClosed, ResponseRecorder, Submission, refusal
from surveys.rules import InvitationChannel, one_reminder_due
from surveys.sending import send_refusal
from surveys.timeline import ANSWERED, REMINDED, REMINDER_CANCELLED, record_event
from surveys.tokens import TokenSigner, short_digest

log = structlog.get_logger("civicvoice.letters")

PAPER = InvitationChannel.paper.value
BATCH_LIMIT = 500  # letters in one batch at most: one print run, one PDF a print room can handle


class NothingToPrint(Conflict):
    slug = "nothing-to-print"
    title = "No letters are due to print"


class InvalidReference(InvalidInput):
    slug = "invalid-letter-reference"
    title = "Check the reference"


class UnknownReference(NotFound):
    slug = "unknown-letter-reference"
    title = "No letter has this reference"


class AlreadyKeyed(Conflict):
    slug = "letter-already-answered"
    title = "This survey has already been answered"


class BlankReturn(InvalidInput):
    slug = "blank-letter-return"
    title = "There are no answers to record"


class LetterClosed(CivicVoiceError):
    status = 410
    slug = "letter-closed"
    title = "This survey has closed"


@dataclass(frozen=True)
class QueueLine:
    service: str
    due: int
    waiting: int  # queued, not yet due (the rules' delay after contact)
    oldest_due_at: datetime | None


@dataclass(frozen=True)
class ReminderLine:
    service: str
    due: int  # reminder letters due to print
    oldest_sent_at: datetime | None  # when the longest-waiting letter was printed


@dataclass(frozen=True)
class PrintedBatch:
    batch_id: uuid.UUID
    printed_at: datetime
    letters: int
    not_printed: int  # dropped at print time: opted out, erased, restricted, expired, no address
    pdf: bytes


@dataclass(frozen=True)
class ReturnForm:
    """A returned paper survey, found by its reference: what the keying form needs. No personal data."""

    reference: str
    invitation_id: uuid.UUID
    survey: SurveyDefinition
    service: str
    printed_at: datetime
    expires_at: datetime


def _london_day(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%-d %B %Y")


def _london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


@dataclass(frozen=True)
class _Recipient:
    """Who a letter goes to and what it asks, read from the person's identity at print time; never stored."""

    name: str | None
    address: tuple[str, ...]
    service: str
    survey: SurveyDefinition
    preferred_language: str | None
    email: str | None  # for the suppression check only
    phone: str | None


class LetterPrinting:
    def __init__(
        self,
        vault: Vault,
        signer: TokenSigner,
        recorder: ResponseRecorder,
        *,
        base_url: str,
        council_name: str,
        privacy_url: str,
        reminder_days: int = 14,
        bilingual: bool = False,
    ) -> None:
        self.vault = vault
        self.signer = signer
        self.recorder = recorder
        self.base_url = base_url
        self.council_name = council_name
        self.privacy_url = privacy_url if "://" in privacy_url else f"{base_url}{privacy_url}"
        # An unanswered letter is due its one reminder this long after printing (`one_reminder_due`).
        self.reminder_after = timedelta(days=reminder_days)
        self.bilingual = bilingual  # the council prints every letter in Welsh then English (when the survey has Welsh)

    # --- the print queue ---------------------------------------------------------------------------------

    async def queue(self, session: AsyncSession, now: datetime | None = None) -> list[QueueLine]:
        """Queued paper invitations per service: how many are due to print, and how many wait for their time."""
        now = now or utcnow()
        is_due = Invitation.due_at <= now
        rows = await session.execute(
            select(
                Service.name,
                func.count().filter(is_due),
                func.count().filter(~is_due),
                func.min(Invitation.due_at).filter(is_due),
            )
            .select_from(Invitation)
            .join(Contact, Contact.id == Invitation.contact_id)
            .join(Service, Service.id == Contact.service_id)
            .where(Invitation.channel == PAPER, Invitation.state == InvitationState.queued)
            .group_by(Service.name)
            .order_by(Service.name)
        )
        return [QueueLine(name, due, waiting, oldest) for name, due, waiting, oldest in rows]

    async def batches(self, session: AsyncSession, limit: int = 20) -> list[LetterBatch]:
        return list(await session.scalars(select(LetterBatch).order_by(LetterBatch.printed_at.desc()).limit(limit)))

    # --- printing ----------------------------------------------------------------------------------------

    async def print_batch(
        self, session: AsyncSession, *, actor: Actor, limit: int = 100, now: datetime | None = None
    ) -> PrintedBatch:
        """Print the letters that are due (oldest first, at most ``limit``) and mark them sent; does not commit."""
        if not 1 <= limit <= BATCH_LIMIT:
            raise InvalidInput(
                f"Enter how many letters to print, a whole number from 1 to {BATCH_LIMIT}.", field="limit"
            )
        now = now or utcnow()
        invitations = list(
            await session.scalars(
                select(Invitation)
                .where(
                    Invitation.channel == PAPER,
                    Invitation.state == InvitationState.queued,
                    Invitation.due_at <= now,
                )
                .order_by(Invitation.due_at, Invitation.id)
                .limit(limit)
                # Two people printing at once take different letters: none is printed twice.
                .with_for_update(skip_locked=True)
            )
        )
        if not invitations:
            raise NothingToPrint("No letters are due to print. Letters wait in the queue until their due time.")
        batch = LetterBatch(printed_at=now, printed_by=actor.id)
        session.add(batch)
        await session.flush()
        references = await self._fresh_references(session, len(invitations))
        letters: list[PrintedLetter] = []
        not_printed = 0
        for invitation in invitations:
            content = await self._content(session, invitation, now)
            if isinstance(content, str):
                not_printed += 1
                invitation.state = InvitationState.expired if content == "expired" else InvitationState.cancelled
                invitation.failure = content
                invitation.state_changed_at = now
                await record_event(session, invitation.id, invitation.state, content, at=now)
                continue
            reference = references.pop()
            session.add(Letter(invitation_id=invitation.id, reference=reference, batch_id=batch.id))
            if invitation.short_digest is None:
                invitation.short_digest = short_digest(self.signer.short_code(invitation.id))
            invitation.state = InvitationState.sent
            invitation.sent_at = invitation.state_changed_at = now
            invitation.send_attempts += 1
            invitation.message_ref = f"letter:{reference}"
            invitation.failure = None
            # Its one reminder letter, if the survey is still open by then (as the rules drop an email reminder).
            reminder_at = now + self.reminder_after
            invitation.reminder_at = reminder_at if reminder_at < invitation.expires_at else None
            await record_event(session, invitation.id, InvitationState.sent, f"printed, reference {printed(reference)}")
            letters.append(self._letter(content, reference, invitation, now))
        return await _finish_batch(session, actor, "letters.printed", batch, letters, not_printed, now)

    # --- reminder letters ------------------------------------------------------------------------------

    def _reminder_due(self, now: datetime) -> tuple[ColumnElement[bool], ...]:
        """What `one_reminder_due` says, as a query: printed, unanswered, never reminded, open, waited long enough,
        and its reminder not called off (``reminder_at`` is cleared when one is refused or could not come in time)."""
        return (
            Invitation.channel == PAPER,
            Invitation.state == InvitationState.sent,
            Invitation.responded_at.is_(None),
            Invitation.reminders_sent == 0,
            Invitation.reminder_at.is_not(None),
            Invitation.sent_at <= now - self.reminder_after,
            Invitation.expires_at > now,
            Letter.reminder_batch_id.is_(None),
        )

    async def reminders_due(self, session: AsyncSession, now: datetime | None = None) -> list[ReminderLine]:
        """Reminder letters due to print, per service."""
        now = now or utcnow()
        rows = await session.execute(
            select(Service.name, func.count(), func.min(Invitation.sent_at))
            .select_from(Invitation)
            .join(Letter, Letter.invitation_id == Invitation.id)
            .join(Contact, Contact.id == Invitation.contact_id)
            .join(Service, Service.id == Contact.service_id)
            .where(*self._reminder_due(now))
            .group_by(Service.name)
            .order_by(Service.name)
        )
        return [ReminderLine(name, due, oldest) for name, due, oldest in rows]

    async def print_reminders(
        self, session: AsyncSession, *, actor: Actor, limit: int = 100, now: datetime | None = None
    ) -> PrintedBatch:
        """Print the reminder letters that are due (the longest waiting first, at most ``limit``), each with its
        letter's reference and QR code, and record each on its invitation's timeline; does not commit.

        Everything checked when a letter is printed is checked again; a reminder refused now is called off, never
        printed later (as an email reminder is)."""
        if not 1 <= limit <= BATCH_LIMIT:
            raise InvalidInput(
                f"Enter how many reminders to print, a whole number from 1 to {BATCH_LIMIT}.", field="limit"
            )
        now = now or utcnow()
        first_batch = aliased(LetterBatch)
        rows = (
            await session.execute(
                select(Invitation, Letter, first_batch.printed_at)
                .join(Letter, Letter.invitation_id == Invitation.id)
                .join(first_batch, first_batch.id == Letter.batch_id)
                .where(*self._reminder_due(now))
                .order_by(Invitation.sent_at, Invitation.id)
                .limit(limit)
                .with_for_update(of=Invitation, skip_locked=True)
            )
        ).tuples()
        due = [
            (invitation, letter, first_printed)
            for invitation, letter, first_printed in rows
            if one_reminder_due(
                sent_at=invitation.sent_at,
                responded=invitation.responded_at is not None,
                reminders_sent=invitation.reminders_sent,
                expires_at=invitation.expires_at,
                after=self.reminder_after,
                now=now,
            )
        ]
        if not due:
            raise NothingToPrint(
                f"No reminder letters are due to print. A letter not answered {self.reminder_after.days} days after "
                "it was printed is due one reminder."
            )
        batch = LetterBatch(printed_at=now, printed_by=actor.id, reminders=True)
        session.add(batch)
        await session.flush()
        letters: list[PrintedLetter] = []
        not_printed = 0
        for invitation, letter, first_printed in due:
            recipient = await self._content(session, invitation, now)
            if isinstance(recipient, str):
                not_printed += 1
                invitation.reminder_at = None
                await record_event(session, invitation.id, REMINDER_CANCELLED, recipient, at=now)
                continue
            letter.reminder_batch_id = batch.id
            invitation.reminders_sent += 1
            await record_event(
                session,
                invitation.id,
                REMINDED,
                f"reminder letter printed, reference {printed(letter.reference)}",
                at=now,
            )
            letters.append(self._letter(recipient, letter.reference, invitation, now, first_printed))
        return await _finish_batch(session, actor, "letters.reminders_printed", batch, letters, not_printed, now)

    async def reprint(self, session: AsyncSession, batch_id: uuid.UUID, *, actor: Actor) -> tuple[LetterBatch, bytes]:
        """A batch's letters again (the printer jammed): the same references; people erased since are left out."""
        batch = await session.get(LetterBatch, batch_id)
        if batch is None:
            raise NotFound("There is no such print batch.")
        in_batch = Letter.reminder_batch_id == batch_id if batch.reminders else Letter.batch_id == batch_id
        first_batch = aliased(LetterBatch)
        rows = await session.execute(
            select(Letter, Invitation, first_batch.printed_at)
            .join(Invitation, Invitation.id == Letter.invitation_id)
            .join(first_batch, first_batch.id == Letter.batch_id)
            .where(in_batch)
            .order_by(Invitation.due_at, Invitation.id)
        )
        letters = []
        for letter, invitation, first_printed in rows.tuples():
            recipient = await self._recipient(session, invitation)
            if isinstance(recipient, str):
                continue
            first_sent = first_printed if batch.reminders else None
            letters.append(self._letter(recipient, letter.reference, invitation, batch.printed_at, first_sent))
        record(session, actor, "letters.reprinted", target_kind="letter_batch", target_id=batch.id)
        if not letters:
            raise NothingToPrint("None of this batch's letters can be printed again: their people have been erased.")
        return batch, letters_pdf(letters)

    async def letter(self, session: AsyncSession, reference: str, *, actor: Actor) -> PrintedLetter:
        """One printed letter by its reference, to print again from a browser."""
        found = await self._letter_row(session, reference)
        letter, invitation = found
        batch = await session.get(LetterBatch, letter.batch_id)
        recipient = await self._recipient(session, invitation)
        if isinstance(recipient, str):
            raise LetterClosed("This letter's person has been erased: it cannot be shown or printed again.")
        record(session, actor, "letters.viewed", target_kind="letter", target_id=letter.id)
        printed_at = batch.printed_at if batch is not None else utcnow()
        return self._letter(recipient, letter.reference, invitation, printed_at)

    async def _fresh_references(self, session: AsyncSession, count: int) -> list[str]:
        """``count`` references no letter has (a clash among 31**8 is rare, but a reference must find one letter)."""
        fresh: set[str] = set()
        while len(fresh) < count:
            wanted = {new_reference() for _ in range(count - len(fresh))} - fresh
            taken = set(await session.scalars(select(Letter.reference).where(Letter.reference.in_(wanted))))
            fresh |= wanted - taken
        return sorted(fresh)

    async def _recipient(self, session: AsyncSession, invitation: Invitation) -> _Recipient | str:
        """Who the letter goes to and what it asks, or why it cannot be printed."""
        if invitation.subject_id is None:
            return "erased"
        subject = await session.get(DataSubject, invitation.subject_id)
        if subject is None or subject.erased_at is not None:
            return "erased"
        try:
            identity = await self.vault.identity(session, subject)
        except KeyDestroyed:
            return "erased"
        if not identity.addresses:
            return "no_contact_details"
        found = (
            await session.execute(
                select(Service.name, Contact.preferred_language)
                .join(Contact, Contact.service_id == Service.id)
                .where(Contact.id == invitation.contact_id)
            )
        ).first()
        service, preferred = (found.name, found.preferred_language) if found is not None else (None, None)
        survey = await self.recorder.definition(session, invitation.survey_version_id)
        return _Recipient(
            identity.name,
            tuple(identity.addresses[-1].split("\n")),
            service or "our services",
            survey,
            preferred,
            identity.emails[-1] if identity.emails else None,
            identity.phones[-1] if identity.phones else None,
        )

    async def _content(self, session: AsyncSession, invitation: Invitation, now: datetime) -> _Recipient | str:
        """The letter's recipient, or why it must not be printed now: the checks every channel makes at send time
        (`send_refusal`: erased, opted out, "do not survey", restricted, expired) and suppression."""
        reason = await send_refusal(session, invitation, now)
        if reason is not None:
            return reason
        recipient = await self._recipient(session, invitation)
        if isinstance(recipient, str):
            return recipient
        claim = IdentityClaim(email=recipient.email, phone=recipient.phone)
        if not claim.is_empty and await self.vault.is_suppressed(session, claim):
            return "suppressed"
        return recipient

    def _letter(
        self,
        recipient: _Recipient,
        reference: str,
        invitation: Invitation,
        printed_at: datetime,
        first_sent_at: datetime | None = None,
    ) -> PrintedLetter:
        survey = recipient.survey
        languages = letter_languages(recipient.preferred_language, survey.languages, bilingual=self.bilingual)
        # The QR code and the link open the web survey in the letter's language.
        code = self.signer.short_code(invitation.id)
        shown = link_language(languages, recipient.preferred_language, survey.languages)
        return PrintedLetter(
            reference=reference,
            name=recipient.name,
            address=recipient.address,
            council_name=self.council_name,
            service_name=recipient.service,
            survey=survey,
            short_url=f"{self.base_url}/r/{code}" + (f"?lang={shown}" if shown else ""),
            expires_on=_london_date(invitation.expires_at),
            privacy_url=self.privacy_url,
            dated=_london_date(printed_at),
            languages=languages,
            first_sent_on=_london_date(first_sent_at) if first_sent_at is not None else None,
        )

    # --- paper returns -----------------------------------------------------------------------------------

    async def _letter_row(self, session: AsyncSession, keyed: str, *, lock: bool = False) -> tuple[Letter, Invitation]:
        try:
            reference = read_reference(keyed)
        except ReferenceProblem as exc:
            raise InvalidReference(str(exc), field="reference") from None
        stmt = (
            select(Letter, Invitation)
            .join(Invitation, Invitation.id == Letter.invitation_id)
            .where(Letter.reference == reference)
        )
        if lock:
            stmt = stmt.with_for_update(of=Letter)
        found = (await session.execute(stmt)).tuples().first()
        if found is None:
            raise UnknownReference(
                f"No letter has the reference {printed(reference)}. Check it against the letter; a letter printed "
                "by another system cannot be keyed in here.",
                field="reference",
            )
        return found

    def _refusal(self, letter: Letter, invitation: Invitation, now: datetime) -> CivicVoiceError | None:
        problem = refusal(invitation, now)
        if isinstance(problem, AlreadyAnswered):
            if letter.keyed_at is not None:
                return AlreadyKeyed(
                    f"The answers on letter {printed(letter.reference)} were keyed in on {_london_day(letter.keyed_at)}"
                    ". A form is recorded once: put this copy aside.",
                    field="reference",
                )
            answered = invitation.responded_at or now
            return AlreadyKeyed(
                f"The person answered letter {printed(letter.reference)} online on {_london_day(answered)}. "
                "Their paper form is not recorded again.",
                field="reference",
            )
        if isinstance(problem, InvitationClosed):
            if invitation.subject_id is None:
                return LetterClosed(
                    f"The person who was sent letter {printed(letter.reference)} has been erased: their answers "
                    "cannot be recorded. Destroy the form.",
                    field="reference",
                )
            return LetterClosed(
                f"The survey on letter {printed(letter.reference)} closed on {_london_day(invitation.expires_at)}. "
                "Answers that arrive after the closing date are not recorded.",
                field="reference",
            )
        return problem

    async def return_form(self, session: AsyncSession, keyed: str, now: datetime | None = None) -> ReturnForm:
        """The returned letter behind a keyed reference, if its answers can still be recorded."""
        letter, invitation = await self._letter_row(session, keyed)
        problem = self._refusal(letter, invitation, now or utcnow())
        if problem is not None:
            raise problem
        batch = await session.get(LetterBatch, letter.batch_id)
        service = await session.scalar(
            select(Service.name)
            .join(Contact, Contact.service_id == Service.id)
            .where(Contact.id == invitation.contact_id)
        )
        return ReturnForm(
            reference=letter.reference,
            invitation_id=invitation.id,
            survey=await self.recorder.definition(session, invitation.survey_version_id),
            service=service or "",
            printed_at=batch.printed_at if batch is not None else invitation.sent_at or invitation.created_at,
            expires_at=invitation.expires_at,
        )

    async def key_in(
        self,
        session: AsyncSession,
        keyed: str,
        form: Mapping[str, str],
        *,
        actor: Actor,
        now: datetime | None = None,
    ) -> uuid.UUID:
        """Record a returned form's answers against its reference (channel paper); does not commit.

        A question left blank on paper is left unanswered (none is required); an answer that is not one of the
        question's choices is refused (`InvalidAnswers`) and nothing is stored.
        """
        now = now or utcnow()
        letter, invitation = await self._letter_row(session, keyed, lock=True)
        problem = self._refusal(letter, invitation, now)
        if problem is not None:
            raise problem
        survey = await self.recorder.definition(session, invitation.survey_version_id)
        if not any(form.get(question.id, "").strip() for question in survey.questions):
            raise BlankReturn(
                "Nothing was keyed in. Key in the answers ticked or written on the form; a blank form is not recorded.",
                field=survey.questions[0].id,
            )
        [outcome] = await self.recorder.record(session, [Submission(invitation.id, form, partial=True)])
        if isinstance(outcome, AlreadyAnswered):  # answered online between the check and now
            raise AlreadyKeyed(outcome.detail, field="reference")
        if isinstance(outcome, CivicVoiceError):  # InvalidAnswers, or the person was erased meanwhile
            raise outcome
        letter.keyed_at, letter.keyed_by = now, actor.id
        await record_event(session, invitation.id, ANSWERED, "paper form keyed in by staff", at=now)
        record(session, actor, "letters.return_keyed", target_kind="letter", target_id=letter.id)
        await session.flush()
        return outcome


async def _finish_batch(
    session: AsyncSession,
    actor: Actor,
    action: str,
    batch: LetterBatch,
    letters: list[PrintedLetter],
    not_printed: int,
    now: datetime,
) -> PrintedBatch:
    """Count a printed batch, audit it (``action``) and make its PDF."""
    batch.letters = len(letters)
    record(
        session,
        actor,
        action,
        target_kind="letter_batch",
        target_id=batch.id,
        detail={"letters": len(letters), "not_printed": not_printed},
    )
    await session.flush()
    pdf = letters_pdf(letters) if letters else b""
    log.info(action.replace(".", "_"), batch_id=str(batch.id), letters=len(letters), not_printed=not_printed)
    return PrintedBatch(batch.id, now, len(letters), not_printed, pdf)
