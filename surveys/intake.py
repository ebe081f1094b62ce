"""Contact intake: contact events in, each person resolved, each contact stored and its invitation decided.

One writer, `ContactIntake.record`, serves a single contact (a batch of one) and a thousand. Known people's rows
are locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE holds the writer lock) while their invitations
are counted, so the frequency cap holds under concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import msgspec
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.cache import TtlCache
from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from civicvoice.core.group_commit import FALLBACK, GroupCommit
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue_many, job_row
from privacy.blind_index import normalise_email, normalise_external_id, normalise_phone
from privacy.exceptions import InvalidIdentifier
from privacy.postal import normalise_address
from privacy.restriction import restricted_among
from privacy.vault import Identity, IdentityClaim, Resolution, SubjectClaim, Vault
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
    ANSWERED_ON_THE_SPOT,
    PRINTED,
    RULES_VERSION,
    ContactChannel,
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

# The channel a contact's own channel can ask on while the person is still there.
_ON_THE_SPOT: dict[ContactChannel, frozenset[InvitationChannel]] = {
    ContactChannel.phone: frozenset({InvitationChannel.ivr}),
    ContactChannel.web_chat: frozenset({InvitationChannel.chat}),
    ContactChannel.web_form: frozenset({InvitationChannel.web_link}),
}

# Higher layers (feedback) answer "does this person have an open complaint?"; surveys never imports them.
# Given people, returns those of them with an open complaint (one query for many people).
OpenComplaintCheck = Callable[[AsyncSession, Iterable[uuid.UUID]], Awaitable[set[uuid.UUID]]]


def lost_race(exc: DBAPIError) -> bool:
    """Whether the same transaction run again can succeed: another one stored the same person or contact first,
    PostgreSQL broke a deadlock between two writers, or SQLite's writer lock stayed busy."""
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in _RETRY_STATES or "database is locked" in str(exc)


_RETRY_STATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


class UnknownService(InvalidInput):
    slug = "unknown-service"
    title = "Unknown service"


class EventInFuture(InvalidInput):
    slug = "contact-in-future"
    title = "Contact in the future"


class EventTooOld(InvalidInput):
    slug = "contact-too-old"
    title = "Contact too old"


OLDEST_CONTACT = timedelta(days=3653)  # ten years: older than any retention period, so never a real report


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
    if event.occurred_at < now - OLDEST_CONTACT:
        raise EventTooOld(
            "occurred_at is more than ten years ago; send the time the contact ended.", field="occurred_at"
        )


def reachable_channels(identity: Identity) -> frozenset[InvitationChannel]:
    """The channels an invitation could reach this person on, from what we hold for them."""
    return _REACHABLE[(bool(identity.emails), bool(identity.phones), bool(identity.addresses))]


# Every answer of `reachable_channels`, made once: reading an Enum member is slow on the intake's hot path.
_REACHABLE: Final = {
    (email, sms, paper): frozenset(
        channel
        for channel, held in (
            (InvitationChannel.email, email),
            (InvitationChannel.sms, sms),
            (InvitationChannel.paper, paper),
        )
        if held
    )
    for email in (False, True)
    for sms in (False, True)
    for paper in (False, True)
}


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
    address = None
    if customer.postal_address is not None:
        given = customer.postal_address
        try:
            address = normalise_address(given.lines, given.postcode)
        except InvalidIdentifier as exc:
            raise InvalidIdentifier(exc.detail, field=f"customer.postal_address.{exc.field or 'lines'}") from None
    return IdentityClaim(external_id=external, email=email, phone=phone, name=name or None, address=address)


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
        "preferred_language": customer.preferred_language if customer else None,
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


# Built once, on the tables (not the ORM classes, whose statements cost more to run): these run for every batch.
_CONTACT, _DECISION, _INVITATION = table(Contact).c, table(InvitationDecision).c, table(Invitation).c
# Contacts stored under any of the references looked up, with their decisions and invitations.
_STORED = (
    select(
        _CONTACT.ref_key_version,
        _CONTACT.ref_digest,
        _DECISION.contact_id,
        _DECISION.invite,
        _DECISION.reason,
        _DECISION.detail,
        _DECISION.rules_version,
        _INVITATION.id,
        _INVITATION.channel,
        _INVITATION.due_at,
        _INVITATION.expires_at,
    )
    .select_from(table(Contact))
    .join(table(InvitationDecision), _DECISION.contact_id == _CONTACT.id)
    .outerjoin(table(Invitation), _INVITATION.contact_id == _CONTACT.id)
    .where(
        _CONTACT.ref_key_version.in_(bindparam("versions", expanding=True)),
        _CONTACT.ref_digest.in_(bindparam("digests", expanding=True)),
    )
)
# The due times of people's invitations that count towards the frequency cap, within a window. A campaign's
# invitations (no contact: `surveys.campaigns`) do not count.
_INVITATION_TIMES = select(_INVITATION.subject_id, _INVITATION.due_at).where(
    _INVITATION.subject_id.in_(bindparam("ids", expanding=True)),
    _INVITATION.contact_id.is_not(None),
    _INVITATION.state != InvitationState.cancelled,
    _INVITATION.due_at > bindparam("low"),
    _INVITATION.due_at < bindparam("high"),
)


@dataclass(frozen=True)
class _Checked:
    """An event that passed its checks, normalised and ready to store."""

    event: ContactEvent
    claim: IdentityClaim
    service: ServiceRef
    ref: str  # the (source, external id) pair, normalised
    ref_digests: tuple[tuple[int, bytes], ...]  # under every index-key version; the active one first
    position: int = 0  # its place in the batch being written

    @property
    def identified(self) -> bool:
        return self.event.customer is not None and not self.claim.is_empty


Outcome = IntakeResult | CivicVoiceError  # the stored (or earlier) contact's answer, or why this event was refused


class ContactIntake:
    """Stores contact events and decides their invitations: one writer, `record`, for one event and for many.

    `record` checks N events and stores them in the caller's transaction with one statement per table (its
    second half, `write`, stores events already checked). Single contacts from concurrent requests are checked
    in their own requests, grouped by `civicvoice.core.group_commit` and stored by `write` together (`report`);
    a batch that fails falls back to each event in its own transaction (`report_now`), and the API's batches
    run `record` in their request's own transaction (`report_many`).
    """

    def __init__(
        self,
        vault: Vault,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        open_complaint_checks: Sequence[OpenComplaintCheck] = (),
        reference: ReferenceData | None = None,
        max_batch: int = 64,
        sendable: frozenset[str] | None = None,
    ) -> None:
        # The invitation channels this deployment can send on (SMS only with GOV.UK Notify configured); None: all.
        self.sendable = sendable
        self._narrowed: tuple[InvitationPolicy, frozenset[str], InvitationPolicy] | None = None
        self.vault = vault
        self.reference = reference or ReferenceData()
        self.open_complaint_checks = open_complaint_checks
        self._turn = asyncio.Lock()
        # Without a session factory (a script, a test) every report is its own transaction.
        self.sessions = sessions
        self.group: GroupCommit[_Checked, Outcome] | None = None
        if sessions is not None:
            # `write` is looked up at each batch, so a test can wrap it.
            self.group = GroupCommit(
                sessions,
                lambda session, checked: self.write(session, checked),
                name="contact-intake-writer",
                max_batch=max_batch,
            )

    async def with_open_complaints(self, session: AsyncSession, subject_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these people with an open complaint, by every feature that keeps complaints."""
        found: set[uuid.UUID] = set()
        for check in self.open_complaint_checks:
            found |= await check(session, subject_ids)
        return found

    async def aclose(self) -> None:
        """Stop the group-commit writer (events still queued are stored one by one)."""
        if self.group is not None:
            await self.group.aclose()

    # --- the three ways in, all through `record` (or `write`, its second half) ---------------------------

    async def report(self, session: AsyncSession, event: ContactEvent) -> IntakeResult:
        """Store one event and decide its invitation, grouped with concurrent ones; raises why it was refused.

        ``session`` is used only when the group's batch failed and the event is stored on its own.
        """
        if self.group is None or self.sessions is None:
            return await self.report_now(session, event)
        # Checked here, in the request's own task: a refusal goes to this request alone, and the checks (the
        # costliest part of an event) run while the writer waits for the database with the batch before.
        async with self.sessions() as lookup:  # a connection only if the service is not cached
            checked = await self._check(lookup, event, utcnow())
        outcome = await self.group.submit(checked)
        if outcome is FALLBACK:
            return await self.report_now(session, event)
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        assert isinstance(outcome, IntakeResult)
        return outcome

    async def report_now(self, session: AsyncSession, event: ContactEvent) -> IntakeResult:
        """Store one event in its own transaction (committed); raises why it was refused."""
        [outcome] = await self.report_many(session, [event])
        if isinstance(outcome, CivicVoiceError):
            raise outcome
        return outcome

    async def report_many(self, session: AsyncSession, events: Sequence[ContactEvent]) -> list[Outcome]:
        """Store many events in one transaction and commit; one outcome each, in order.

        A transaction that lost a race with another (the same new person or the same contact reported at the
        same moment elsewhere, SQLite busy) is rolled back and run again: `record` then finds what the other
        one stored.
        """
        for attempt in range(_RETRIES):
            try:
                async with self._writer_turn(session):
                    outcomes = await self.record(session, events)
                    await session.commit()
                return outcomes
            except DBAPIError as exc:
                await session.rollback()
                if attempt == _RETRIES - 1 or not lost_race(exc):
                    raise
            except BaseException:
                await session.rollback()
                raise
        raise AssertionError("unreachable")

    def _writer_turn(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[object]:
        """This process's own transactions take turns. Two batches naming the same new people would otherwise
        collide on the blind index and run again, perhaps again and again under a steady stream of batches;
        and on SQLite, waiting here beats SQLite's busy handler, which sleeps in steps of up to 100 ms after the
        writer lock is free. A session already in a transaction may hold locks (on SQLite the writer lock, from
        BEGIN IMMEDIATE) and must not wait for another transaction here."""
        return contextlib.nullcontext() if session.in_transaction() else self._turn

    # --- the writer --------------------------------------------------------------------------------------

    async def record(self, session: AsyncSession, events: Sequence[ContactEvent]) -> list[Outcome]:
        """Check and store each event in the caller's transaction; one outcome each, in order. Does not commit.

        A refused event (unknown or inactive service, from the future, an invalid identifier) stores nothing
        and does not affect the others. An event whose (source, external id) is stored already, or came
        earlier in ``events``, is answered with that contact's decision (``duplicate``). People are resolved
        in order by `Vault.resolve_many`, which locks those already known, so their invitations are counted
        safely and the frequency cap holds however events arrive.
        """
        now = utcnow()
        items: list[_Checked | CivicVoiceError] = []
        for event in events:
            try:
                items.append(await self._check(session, event, now))
            except CivicVoiceError as exc:
                items.append(exc)
        return await self.write(session, items)

    def narrowed(self, policy: InvitationPolicy, survey_channels: frozenset[str] = frozenset()) -> InvitationPolicy:
        """The council's policy with only the channels this deployment can send on, and the post-contact survey
        may be asked on (when it names any), enabled."""
        if self.sendable is None and not survey_channels:
            return policy
        if self._narrowed is None or self._narrowed[0] is not policy or self._narrowed[1] != survey_channels:
            enabled = frozenset(
                c
                for c in policy.enabled_channels
                if (self.sendable is None or c.value in self.sendable)
                and (not survey_channels or c.value in survey_channels)
            )
            self._narrowed = (policy, survey_channels, dataclasses.replace(policy, enabled_channels=enabled))
        return self._narrowed[2]

    async def write(self, session: AsyncSession, items: Sequence[_Checked | CivicVoiceError]) -> list[Outcome]:
        """`record`'s second half: store events already checked; a refusal is passed through as the outcome."""
        now = utcnow()
        outcomes: list[Outcome | None] = [item if isinstance(item, CivicVoiceError) else None for item in items]
        checked = [
            dataclasses.replace(item, position=position)
            for position, item in enumerate(items)
            if not isinstance(item, CivicVoiceError)
        ]

        # Contacts reported before: answered with their stored decision; repeats within the batch with the first.
        stored = await self._stored(session, {d for c in checked for d in c.ref_digests})
        fresh: list[_Checked] = []
        first_of: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for c in checked:
            earlier = next((stored[d] for d in c.ref_digests if d in stored), None)
            if earlier is not None:
                outcomes[c.position] = earlier
            elif c.ref in first_of:
                repeats.append((c.position, first_of[c.ref]))
            else:
                first_of[c.ref] = c.position
                fresh.append(c)

        contact_ids = {c.position: new_id() for c in fresh}
        identified = [c for c in fresh if c.identified]
        resolutions = await self.vault.resolve_many(
            session,
            [
                SubjectClaim(
                    c.claim,
                    contact_id=contact_ids[c.position],
                    opted_out=bool(c.event.customer and c.event.customer.opted_out),
                    do_not_survey=bool(c.event.customer and c.event.customer.do_not_survey),
                )
                for c in identified
            ],
        )
        resolution_of = {c.position: r for c, r in zip(identified, resolutions, strict=True)}
        survey = await self.reference.survey(session)
        policy = self.narrowed(await self.reference.policy(session), survey.channels)
        times, complaints, restricted = await self._people_facts(session, fresh, resolutions, policy, now)

        contact_rows: list[dict[str, object]] = []
        decision_rows: list[dict[str, object]] = []
        invitation_rows: list[dict[str, object]] = []
        job_rows: list[dict[str, object]] = []
        for c in fresh:
            event, contact_id = c.event, contact_ids[c.position]
            resolution = resolution_of.get(c.position)
            subject_id: uuid.UUID | None = None
            person: PersonFacts | None = None
            reachable: frozenset[InvitationChannel] = frozenset()
            if resolution is not None and not resolution.erased:  # an erased person is not linked again
                subject_id = resolution.subject_id
                reachable = reachable_channels(resolution.identity)
                # Still there: the telephony platform asks by keypad on the same call, the chat platform shows the
                # end-of-chat widget, the online form shows the survey link it gets back (`surveys.web_links`).
                reachable |= _ON_THE_SPOT.get(event.channel, frozenset())
                person = PersonFacts(
                    opted_out=resolution.opted_out,
                    suppressed=resolution.suppressed or bool(event.customer and event.customer.opted_out),
                    invitation_times=tuple(times[subject_id]),
                    restricted=subject_id in restricted,
                )
            version, digest = c.ref_digests[0]
            contact_rows.append(
                contact_row(
                    event,
                    contact_id=contact_id,
                    ref_key_version=version,
                    ref_digest=digest,
                    subject_id=subject_id,
                    service_id=c.service.id,
                    received_at=now,
                )
            )
            facts = contact_facts(event, contact_id, c.service, complaints.get(subject_id, False), reachable)
            decision = decide(facts, person, policy, now=now)
            version_id = survey.version_id if decision.invite else None
            if decision.invite and version_id is None:
                decision = Decision(
                    invite=False,
                    reason=Reason.no_published_survey,
                    detail="No post-contact survey is published, so nobody can be invited.",
                )
            decision_id = new_id()
            decision_rows.append(
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
            )
            invitation_id = None
            if decision.invite:
                assert decision.channel and decision.due_at and decision.expires_at and version_id and subject_id
                invitation_id = new_id()
                invitation_rows.append(
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
                )
                times[subject_id].append(decision.due_at)  # the cap counts it for this person's later events
                if decision.channel in ANSWERED_ON_THE_SPOT or decision.channel in PRINTED:
                    # Nothing to send: the channel asks while the person is still there (`surveys.channels.ivr`),
                    # or staff print the letter from the print queue (`surveys.letters`).
                    outcomes[c.position] = accepted_new(contact_id, decision, invitation_id)
                    continue
                job_rows.append(
                    job_row(
                        SEND_INVITATION_JOB,
                        {"invitation_id": invitation_id},
                        key=f"{SEND_INVITATION_JOB}:{invitation_id}",
                        run_at=decision.due_at,
                        now=now,
                    )
                )
            outcomes[c.position] = accepted_new(contact_id, decision, invitation_id)
        for position, first in repeats:
            answer = outcomes[first]
            assert isinstance(answer, IntakeResult)
            outcomes[position] = IntakeResult(msgspec.structs.replace(answer.accepted, duplicate=True))

        # One statement per table, in foreign-key order (the vault has written the people). Unique values go in
        # sorted, so two writers meet them in the same order and wait for each other instead of deadlocking.
        contact_rows.sort(key=lambda row: (row["ref_key_version"], row["ref_digest"]))
        for target, rows in (
            (table(Contact), contact_rows),
            (table(InvitationDecision), decision_rows),
            (table(Invitation), invitation_rows),
        ):
            if rows:
                await session.execute(insert(target), rows)
        await enqueue_many(session, job_rows)
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(items)
        return done

    async def _check(self, session: AsyncSession, event: ContactEvent, now: datetime) -> _Checked:
        """The event's own checks, each naming its field: the time, the identifiers, the service."""
        check_occurred_at(event, now)
        claim = claim_from_event(event)
        ref = normalise_external_id(event.source, event.external_id)
        service = await self.reference.active_service(session, event.service)
        indexer = self.vault.indexer
        active = indexer.active_version
        versions = [active, *(v for v in self.vault.keyring.index if v != active)]
        digests = tuple((v, indexer.digest("contact_ref", ref, version=v)) for v in versions)
        return _Checked(event, claim, service, ref, digests)

    async def _stored(
        self, session: AsyncSession, digests: set[tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], IntakeResult]:
        """Contacts already stored under any of these references, with their decisions: one query."""
        if not digests:
            return {}
        rows = await session.execute(
            _STORED, {"versions": sorted({v for v, _ in digests}), "digests": [d for _, d in digests]}
        )
        found: dict[tuple[int, bytes], IntakeResult] = {}
        for version, digest, contact_id, invite, reason, detail, rules_version, invitation_id, *sending in rows:
            if (version, digest) in digests:
                channel, due_at, expires_at = sending
                decision = DecisionOut(invite, reason, detail, rules_version, channel, due_at, expires_at)
                found[(version, digest)] = IntakeResult(
                    ContactAccepted(contact_id, duplicate=True, decision=decision, invitation_id=invitation_id)
                )
        return found

    async def _people_facts(
        self,
        session: AsyncSession,
        fresh: Sequence[_Checked],
        resolutions: Sequence[Resolution],
        policy: InvitationPolicy,
        now: datetime,
    ) -> tuple[defaultdict[uuid.UUID, list[datetime]], dict[uuid.UUID | None, bool], set[uuid.UUID]]:
        """Invitation due times near these contacts (one query), open complaints and restrictions of processing
        (one query), for people known before."""
        times: defaultdict[uuid.UUID, list[datetime]] = defaultdict(list)
        complaints: dict[uuid.UUID | None, bool] = {}
        created = {r.subject_id for r in resolutions if r.created}
        known = sorted({r.subject_id for r in resolutions if not r.erased} - created)
        if not known:
            return times, complaints, set()  # people made just now have no invitations or restrictions yet
        window = policy.cap_window
        low = min(c.event.occurred_at for c in fresh) - 2 * window
        high = max(now, *(c.event.occurred_at for c in fresh)) + 2 * window
        for subject_id, due_at in await session.execute(_INVITATION_TIMES, {"ids": known, "low": low, "high": high}):
            times[subject_id].append(due_at)
        open_complaints = await self.with_open_complaints(session, known)
        complaints.update((subject_id, subject_id in open_complaints) for subject_id in known)
        return times, complaints, await restricted_among(session, known)


class ReferenceData:
    """Services, the invitation policy and the published survey, read on every contact: cached briefly.

    A change made by an administrator reaches every process within ``seconds``.
    """

    def __init__(self, seconds: float = 10.0) -> None:
        self._services: TtlCache[ServiceRef] = TtlCache(seconds)
        self._policy: TtlCache[InvitationPolicy] = TtlCache(seconds)
        self._version: TtlCache[PublishedSurvey] = TtlCache(seconds)

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

    async def survey(self, session: AsyncSession) -> PublishedSurvey:
        """The post-contact survey's published version and the channels it may be asked on."""
        return await self._version.get_or_load("post-contact", lambda: published_post_contact(session))

    async def survey_version(self, session: AsyncSession) -> uuid.UUID | None:
        return (await self.survey(session)).version_id


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


@dataclass(frozen=True)
class PublishedSurvey:
    """The survey sent after a contact: its latest published version (None: nothing published) and the channels
    the survey may be asked on (empty: it names none, so every channel the policy enables)."""

    version_id: uuid.UUID | None
    channels: frozenset[str]


async def published_post_contact(session: AsyncSession) -> PublishedSurvey:
    row = (
        await session.execute(
            select(SurveyVersion.id, Survey.channels)
            .join(Survey, Survey.id == SurveyVersion.survey_id)
            .where(Survey.is_post_contact_default.is_(True), SurveyVersion.status == "published")
            .order_by(SurveyVersion.number.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return PublishedSurvey(None, frozenset())
    return PublishedSurvey(row[0], frozenset(row[1] or ()))


async def published_post_contact_version(session: AsyncSession) -> uuid.UUID | None:
    return (await published_post_contact(session)).version_id


def problem_of(exc: CivicVoiceError) -> dict[str, object]:
    return {"title": exc.title, "status": exc.status, "detail": exc.detail, "field": exc.field}


async def invitation_waiting(
    session: AsyncSession, vault: Vault, source: str, external_id: str, channel: InvitationChannel
) -> uuid.UUID | None:
    """The invitation on ``channel`` of the contact a platform reported as (source, external id): how a call or a
    chat finds the survey waiting for it, under any index-key version."""
    ref = normalise_external_id(source, external_id)
    digests = [vault.indexer.digest("contact_ref", ref, version=version) for version in vault.keyring.index]
    invitation_id: uuid.UUID | None = await session.scalar(
        select(Invitation.id)
        .join(Contact, Contact.id == Invitation.contact_id)
        .where(Contact.ref_digest.in_(digests), Invitation.channel == channel.value)
    )
    return invitation_id


async def find_contact(session: AsyncSession, vault: Vault, source: str, external_id: str) -> Contact | None:
    """The stored contact a contact system reported as (source, external id), under any index-key version."""
    ref = normalise_external_id(source, external_id)
    indexer = vault.indexer
    digests = [(v, indexer.digest("contact_ref", ref, version=v)) for v in vault.keyring.index]
    for version, digest in digests:
        found = await session.scalar(
            select(Contact).where(Contact.ref_key_version == version, Contact.ref_digest == digest)
        )
        if found is not None:
            return found
    return None
