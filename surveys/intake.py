"""Contact intake: one contact event in, the person resolved, the contact stored and its invitation decided.

Each event is one unit of work. The person's row is locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE
holds the writer lock) while their invitations are counted, so the frequency cap holds under concurrency.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.cache import TtlCache
from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue
from privacy.blind_index import normalise_email, normalise_external_id, normalise_phone
from privacy.exceptions import InvalidIdentifier
from privacy.vault import Identity, IdentityClaim, Vault
from surveys.models import (
    Contact,
    Invitation,
    InvitationDecision,
    InvitationPolicyRecord,
    InvitationState,
    Service,
    Survey,
    SurveyVersion,
)
from surveys.rules import (
    RULES_VERSION,
    ContactFacts,
    Decision,
    InvitationChannel,
    InvitationPolicy,
    PersonFacts,
    Reason,
    decide,
)
from surveys.schemas import ContactAccepted, ContactEvent, DecisionOut
from surveys.sending import SEND_INVITATION_JOB

_RETRIES = 5

# Higher layers (feedback) answer "does this person have an open complaint?"; surveys never imports them.
OpenComplaintCheck = Callable[[AsyncSession, uuid.UUID], Awaitable[bool]]


class UnknownService(InvalidInput):
    slug = "unknown-service"
    title = "Unknown service"


class EventInFuture(InvalidInput):
    slug = "contact-in-future"
    title = "Contact in the future"


@dataclass(frozen=True)
class IntakeResult:
    accepted: ContactAccepted

    @property
    def duplicate(self) -> bool:
        return self.accepted.duplicate


def contact_facts(
    event: ContactEvent,
    contact_id: uuid.UUID,
    service: ServiceRef,
    has_open_complaint: bool,
    reachable: frozenset[InvitationChannel],
) -> ContactFacts:
    """What the invitation rules need to know about this contact."""
    customer = event.customer
    return ContactFacts(
        contact_id=contact_id,
        service_slug=service.slug,
        service_excluded=service.survey_excluded,
        channel=event.channel,
        occurred_at=event.occurred_at,
        do_not_survey=bool(customer and customer.do_not_survey),
        has_open_complaint=has_open_complaint,
        reachable=reachable,
        preference=customer.contact_preference if customer else None,
    )


def check_occurred_at(event: ContactEvent, now: datetime) -> None:
    """A contact reported from the future (beyond a little clock skew) is refused, naming the field."""
    if event.occurred_at > now + timedelta(minutes=5):
        raise EventInFuture("occurred_at is in the future; send the time the contact ended.", field="occurred_at")


def reachable_channels(identity: Identity) -> frozenset[InvitationChannel]:
    """The channels an invitation could reach this person on, from what we hold for them."""
    channels = set()
    if identity.emails:
        channels.add(InvitationChannel.email)
    if identity.phones:
        channels.add(InvitationChannel.sms)
    return frozenset(channels)


def claim_from_event(event: ContactEvent) -> IdentityClaim:
    """Normalise the customer's identifiers; a bad one is refused naming its field."""
    customer = event.customer
    if customer is None:
        return IdentityClaim()
    try:
        email = normalise_email(customer.email) if customer.email else None
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(exc.detail, field="customer.email") from None
    try:
        phone = normalise_phone(customer.phone) if customer.phone else None
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(exc.detail, field="customer.phone") from None
    try:
        external = normalise_external_id(event.source, customer.source_id) if customer.source_id else None
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(exc.detail, field="customer.source_id") from None
    name = " ".join(customer.name.split()) if customer.name else None
    return IdentityClaim(external_id=external, email=email, phone=phone, name=name or None)


def decision_out(decision: InvitationDecision, invitation: Invitation | None) -> DecisionOut:
    return DecisionOut(
        invite=decision.invite,
        reason=decision.reason,
        detail=decision.detail,
        rules_version=decision.rules_version,
        channel=invitation.channel if invitation else None,
        due_at=invitation.due_at if invitation else None,
        expires_at=invitation.expires_at if invitation else None,
    )


def contact_row(
    event: ContactEvent,
    *,
    contact_id: uuid.UUID,
    ref_key_version: int,
    ref_digest: bytes,
    subject_id: uuid.UUID | None,
    service_id: uuid.UUID,
    received_at: datetime,
) -> dict[str, object]:
    """The contact table's row for one event."""
    customer = event.customer
    return {
        "id": contact_id,
        "source": event.source,
        "ref_key_version": ref_key_version,
        "ref_digest": ref_digest,
        "subject_id": subject_id,
        "service_id": service_id,
        "channel": event.channel.value,
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "agent_ref": event.agent_id,
        "wait_seconds": event.wait_seconds,
        "handling_seconds": event.handling_seconds,
        "transferred": event.transferred,
        "resolved_first_contact": event.resolved_first_contact,
        "contact_preference": customer.contact_preference.value if customer and customer.contact_preference else None,
        "do_not_survey": bool(customer and customer.do_not_survey),
    }


def accepted_new(contact_id: uuid.UUID, decision: Decision, invitation_id: uuid.UUID | None) -> IntakeResult:
    """The answer for a contact stored just now."""
    return IntakeResult(
        ContactAccepted(
            contact_id=contact_id,
            duplicate=False,
            decision=DecisionOut(
                invite=decision.invite,
                reason=decision.reason.value,
                detail=decision.detail,
                rules_version=RULES_VERSION,
                channel=decision.channel.value if decision.channel else None,
                due_at=decision.due_at,
                expires_at=decision.expires_at,
            ),
            invitation_id=invitation_id,
        )
    )


class ContactIntake:
    def __init__(
        self,
        vault: Vault,
        *,
        open_complaint_checks: Sequence[OpenComplaintCheck] = (),
        reference: ReferenceData | None = None,
    ) -> None:
        self.vault = vault
        self.reference = reference or ReferenceData()
        self.open_complaint_checks = open_complaint_checks

    async def has_open_complaint(self, session: AsyncSession, subject_id: uuid.UUID) -> bool:
        for check in self.open_complaint_checks:
            if await check(session, subject_id):
                return True
        return False

    async def report(self, session: AsyncSession, event: ContactEvent) -> IntakeResult:
        """Store one event and decide its invitation, committing on success; retried on a lost race.

        The same (source, external id) twice is caught by the contact's unique constraint rather than a
        look-up first: duplicates are rare, and every new contact saves a round trip.
        """
        check_occurred_at(event, utcnow())
        claim = claim_from_event(event)
        ref = normalise_external_id(event.source, event.external_id)
        for attempt in range(_RETRIES):
            try:
                result = await self._report_once(session, event, claim, ref)
                await session.commit()
                return result
            except (IntegrityError, OperationalError) as exc:
                # Reported before, or another event created the same person first, or SQLite was busy.
                await session.rollback()
                existing = await self._existing(session, ref)
                await session.rollback()
                if existing is not None:
                    return existing
                if attempt == _RETRIES - 1 or (isinstance(exc, OperationalError) and "locked" not in str(exc)):
                    raise
            except BaseException:
                await session.rollback()
                raise
        raise AssertionError("unreachable")

    async def _existing(self, session: AsyncSession, ref: str) -> IntakeResult | None:
        indexer = self.vault.indexer
        for version in self.vault.keyring.index:
            digest = indexer.digest("contact_ref", ref, version=version)
            contact = await session.scalar(
                select(Contact).where(Contact.ref_key_version == version, Contact.ref_digest == digest)
            )
            if contact is not None:
                decision = await session.scalar(
                    select(InvitationDecision).where(InvitationDecision.contact_id == contact.id)
                )
                invitation = await session.scalar(select(Invitation).where(Invitation.contact_id == contact.id))
                assert decision is not None
                return IntakeResult(
                    ContactAccepted(
                        contact_id=contact.id,
                        duplicate=True,
                        decision=decision_out(decision, invitation),
                        invitation_id=invitation.id if invitation else None,
                    )
                )
        return None

    async def _report_once(
        self, session: AsyncSession, event: ContactEvent, claim: IdentityClaim, ref: str
    ) -> IntakeResult:
        service = await self.reference.active_service(session, event.service)
        policy = await self.reference.policy(session)
        now = utcnow()
        contact_id = new_id()
        customer = event.customer
        person: PersonFacts | None = None
        reachable: frozenset[InvitationChannel] = frozenset()
        subject_id: uuid.UUID | None = None
        has_open_complaint = False

        if customer is not None and not claim.is_empty:
            resolution = await self.vault.resolve(
                session,
                claim,
                contact_id=contact_id,
                opted_out=customer.opted_out,
                do_not_survey=customer.do_not_survey,
            )
            subject_id = resolution.subject_id
            if customer.opted_out:
                await self.vault.suppress(session, claim, reason="opt_out")
            reachable = reachable_channels(resolution.identity)
            times: tuple[datetime, ...] = ()
            if not resolution.created:  # a person made just now has no invitations yet
                window = policy.cap_window
                times = tuple(
                    (
                        await session.scalars(
                            select(Invitation.due_at).where(
                                Invitation.subject_id == subject_id,
                                Invitation.state != InvitationState.cancelled,
                                Invitation.due_at > event.occurred_at - 2 * window,
                                Invitation.due_at < max(now, event.occurred_at) + 2 * window,
                            )
                        )
                    ).all()
                )
                has_open_complaint = await self.has_open_complaint(session, subject_id)
            person = PersonFacts(
                opted_out=resolution.opted_out,
                suppressed=resolution.suppressed or customer.opted_out,
                invitation_times=times,
            )

        # Rows are written with single statements in foreign-key order; a duplicate contact fails here.
        await session.execute(
            insert(table(Contact)),
            [
                contact_row(
                    event,
                    contact_id=contact_id,
                    ref_key_version=self.vault.indexer.active_version,
                    ref_digest=self.vault.indexer.digest("contact_ref", ref),
                    subject_id=subject_id,
                    service_id=service.id,
                    received_at=now,
                )
            ],
        )
        facts = contact_facts(event, contact_id, service, has_open_complaint, reachable)
        decision = decide(facts, person, policy, now=now)
        version_id = None
        if decision.invite:
            version_id = await self.reference.survey_version(session)
            if version_id is None:
                decision = Decision(
                    invite=False,
                    reason=Reason.no_published_survey,
                    detail="No post-contact survey is published, so nobody can be invited.",
                )
        decision_id = new_id()
        await session.execute(
            insert(table(InvitationDecision)),
            [
                {
                    "id": decision_id,
                    "contact_id": contact_id,
                    "subject_id": subject_id,
                    "invite": decision.invite,
                    "reason": decision.reason.value,
                    "detail": decision.detail,
                    "rules_version": RULES_VERSION,
                    "decided_at": now,
                }
            ],
        )
        invitation_id = None
        if decision.invite:
            assert decision.channel and decision.due_at and decision.expires_at and version_id
            invitation_id = new_id()
            await session.execute(
                insert(table(Invitation)),
                [
                    {
                        "id": invitation_id,
                        "contact_id": contact_id,
                        "decision_id": decision_id,
                        "subject_id": subject_id,
                        "survey_version_id": version_id,
                        "channel": decision.channel.value,
                        "state": InvitationState.queued,
                        "due_at": decision.due_at,
                        "expires_at": decision.expires_at,
                        "reminder_at": decision.reminder_at,
                        "reminders_sent": 0,
                        "send_attempts": 0,
                        "created_at": now,
                    }
                ],
            )
            await enqueue(
                session,
                SEND_INVITATION_JOB,
                {"invitation_id": invitation_id},
                key=f"{SEND_INVITATION_JOB}:{invitation_id}",
                run_at=decision.due_at,
            )
        return accepted_new(contact_id, decision, invitation_id)


class ReferenceData:
    """Services, the invitation policy and the published survey, read on every contact: cached briefly.

    A change made by an administrator reaches every process within ``seconds``.
    """

    def __init__(self, seconds: float = 10.0) -> None:
        self._services: TtlCache[ServiceRef] = TtlCache(seconds)
        self._policy: TtlCache[InvitationPolicy] = TtlCache(seconds)
        self._version: TtlCache[tuple[uuid.UUID | None]] = TtlCache(seconds)

    def clear(self) -> None:
        self._services.clear()
        self._policy.clear()
        self._version.clear()

    async def service(self, session: AsyncSession, slug: str) -> ServiceRef | None:
        cached = self._services.get(slug)
        if cached is not None:
            return cached
        row = await session.scalar(select(Service).where(Service.slug == slug))
        if row is None:
            return None
        return self._services.put(slug, ServiceRef(row.id, row.slug, row.survey_excluded, row.active))

    async def active_service(self, session: AsyncSession, slug: str) -> ServiceRef:
        """The service a contact names; UnknownService, naming the field, if there is no such active service."""
        service = await self.service(session, slug)
        if service is None or not service.active:
            raise UnknownService(f"There is no active service {slug!r}; check the service slug.", field="service")
        return service

    async def policy(self, session: AsyncSession) -> InvitationPolicy:
        return await self._policy.get_or_load("default", lambda: load_policy(session))

    async def survey_version(self, session: AsyncSession) -> uuid.UUID | None:
        async def load() -> tuple[uuid.UUID | None]:
            return (await published_post_contact_version(session),)

        return (await self._version.get_or_load("post-contact", load))[0]


@dataclass(frozen=True)
class ServiceRef:
    id: uuid.UUID
    slug: str
    survey_excluded: bool
    active: bool


async def load_policy(session: AsyncSession) -> InvitationPolicy:
    row = await session.scalar(select(InvitationPolicyRecord).where(InvitationPolicyRecord.name == "default"))
    if row is None:
        return InvitationPolicy()
    return InvitationPolicy.from_dict(row.settings)


async def published_post_contact_version(session: AsyncSession) -> uuid.UUID | None:
    version_id: uuid.UUID | None = await session.scalar(
        select(SurveyVersion.id)
        .join(Survey, Survey.id == SurveyVersion.survey_id)
        .where(Survey.is_post_contact_default.is_(True), SurveyVersion.status == "published")
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )
    return version_id


def problem_of(exc: CivicVoiceError) -> dict[str, object]:
    return {"title": exc.title, "status": exc.status, "detail": exc.detail, "field": exc.field}
