"""Group commit for contact intake: many requests' events stored in one transaction by one writer task.

Each request validates and normalises its event in its own coroutine (errors go to that request only), then
hands it to the process's single writer. The writer takes whatever is queued (up to ``max_batch``), resolves
every person in arrival order in memory after a fixed handful of queries, decides each invitation with
`decide`, writes each table with one executemany and commits once. Should the batch fail (a race with another
process, SQLite busy, anything unexpected), it is rolled back and every event of it goes through the ordinary
per-event `ContactIntake.report` instead, in its request's own session: behaviour and error isolation are
those of the per-event path. The queue, the writer task and the fallback are `civicvoice.core.group_commit`.

Opt-out events always take the per-event path (they write the suppression list).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.group_commit import FALLBACK, GroupCommit
from civicvoice.core.ids import new_id
from civicvoice.core.jobs import enqueue_many, job_row
from privacy.blind_index import normalise_external_id
from privacy.crypto import WrappedKey, unwrap_dek
from privacy.models import DataKey, DataSubject, SubjectConflict, SubjectIndex
from privacy.vault import (
    IDENTITY_FIELD,
    RESOLUTION_ORDER,
    Identity,
    IdentityClaim,
    NewSubject,
    identity_lookups,
    subject_owner,
)
from surveys.intake import (
    ContactIntake,
    IntakeResult,
    ServiceRef,
    accepted_new,
    check_occurred_at,
    claim_from_event,
    contact_facts,
    contact_row,
    decision_out,
    reachable_channels,
)
from surveys.models import Contact, Invitation, InvitationDecision, InvitationState
from surveys.rules import RULES_VERSION, Decision, InvitationChannel, PersonFacts, Reason, decide
from surveys.schemas import ContactAccepted, ContactEvent
from surveys.sending import SEND_INVITATION_JOB


@dataclass
class _Pending:
    event: ContactEvent
    claim: IdentityClaim
    service: ServiceRef
    ref_digests: list[tuple[int, bytes]]  # (version, digest) of the contact ref for every index-key version
    ref_active: tuple[int, bytes]
    wanted: list[tuple[str, int, bytes]]  # subject_index look-ups
    blocked: list[tuple[str, int, bytes]]  # suppression look-ups
    made: NewSubject | None = None  # the person's rows prepared ahead, used if the batch finds nobody


@dataclass
class _Person:
    """A person as this batch sees them: loaded (and locked) or created in it."""

    id: uuid.UUID
    key_id: uuid.UUID
    dek: bytes
    identity: Identity
    ciphertext: bytes | None
    created: bool
    opted_out: bool
    erased: bool
    do_not_survey: bool
    last_contact_at: datetime | None
    created_at: datetime | None = None
    wrapped_row: dict[str, object] | None = None
    times: list[datetime] = field(default_factory=list)
    open_complaint: bool = False
    touched: bool = False


class _Unbatchable(Exception):
    pass


class BatchingIntake:
    """`ContactIntake` with group commit; the same ``report(session, event)`` as the per-event intake."""

    def __init__(
        self, intake: ContactIntake, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 64
    ) -> None:
        self.intake = intake
        self.vault = intake.vault
        self.reference = intake.reference
        self.sessions = sessions
        # Looked up at each batch, so a test can wrap `_write_batch`.
        self.group: GroupCommit[_Pending, IntakeResult] = GroupCommit(
            sessions,
            lambda session, batch: self._write_batch(session, batch),
            name="contact-intake-writer",
            max_batch=max_batch,
        )

    # --- the request side --------------------------------------------------------------------------------

    async def report(self, session: AsyncSession, event: ContactEvent) -> IntakeResult:
        """Store one event and decide its invitation; ``session`` is used only on the per-event path."""
        customer = event.customer
        if customer is not None and customer.opted_out:
            return await self.intake.report(session, event)
        outcome = await self.group.submit(await self._prepare(event))
        if outcome is FALLBACK:
            return await self.intake.report(session, event)
        assert isinstance(outcome, IntakeResult)
        return outcome

    async def _prepare(self, event: ContactEvent) -> _Pending:
        now = utcnow()
        check_occurred_at(event, now)
        claim = claim_from_event(event)
        ref = normalise_external_id(event.source, event.external_id)
        # A fresh session: a cached service needs no connection; the request's own session is never held open.
        async with self.sessions() as lookup:
            service = await self.reference.active_service(lookup, event.service)
        indexer = self.vault.indexer
        ref_digests = [(v, indexer.digest("contact_ref", ref, version=v)) for v in self.vault.keyring.index]
        active = indexer.active_version
        ref_active = next(((v, d) for v, d in ref_digests if v == active), None) or (
            active,
            indexer.digest("contact_ref", ref, version=active),
        )
        customer = event.customer
        # Most contacts are from someone new: their key and ciphertext are made here, outside the writer.
        made = (
            self.vault.new_subject(claim, now, opted_out=False, do_not_survey=bool(customer.do_not_survey))
            if customer is not None and not claim.is_empty
            else None
        )
        return _Pending(
            event=event,
            claim=claim,
            service=service,
            ref_digests=ref_digests,
            ref_active=ref_active,
            made=made,
            wanted=self.vault._index_values(claim),
            blocked=self.vault._suppression_values(claim),
        )

    async def aclose(self) -> None:
        """Stop the writer (events still queued take the per-event path)."""
        await self.group.aclose()

    # --- the writer --------------------------------------------------------------------------------------

    async def _write_batch(self, session: AsyncSession, batch: list[_Pending]) -> list[IntakeResult]:
        vault = self.vault
        policy = await self.reference.policy(session)
        now = utcnow()

        # 1. One look-up: owners of every identifier, suppression entries, contacts already stored.
        wanted = [w for p in batch for w in p.wanted]
        blocked = [b for p in batch for b in p.blocked]
        refs = [r for p in batch for r in p.ref_digests]
        owners, suppressed = identity_lookups(wanted, blocked)
        contacts = select(
            literal("contact").label("field"), Contact.ref_key_version, Contact.ref_digest, Contact.id
        ).where(Contact.ref_key_version.in_({r[0] for r in refs}), Contact.ref_digest.in_([r[1] for r in refs]))
        owner_of: dict[tuple[str, int, bytes], uuid.UUID] = {}
        blocked_found: set[tuple[int, bytes]] = set()
        stored_contact: dict[tuple[int, bytes], uuid.UUID] = {}
        for name, version, digest, row_id in (await session.execute(union_all(owners, suppressed, contacts))).all():
            if name == "suppressed":
                blocked_found.add((version, digest))
            elif name == "contact":
                stored_contact[(version, digest)] = row_id
            else:
                owner_of[(name, version, digest)] = row_id

        # 2. Contacts stored before: answered with their stored decision.
        earlier: dict[uuid.UUID, IntakeResult] = {}
        if stored_contact:
            decided = (
                await session.execute(
                    select(InvitationDecision, Invitation)
                    .outerjoin(Invitation, Invitation.contact_id == InvitationDecision.contact_id)
                    .where(InvitationDecision.contact_id.in_(list(stored_contact.values())))
                )
            ).all()
            for decision_row, invitation in decided:
                earlier[decision_row.contact_id] = IntakeResult(
                    ContactAccepted(
                        contact_id=decision_row.contact_id,
                        duplicate=True,
                        decision=decision_out(decision_row, invitation),
                        invitation_id=invitation.id if invitation else None,
                    )
                )

        # 3. Existing people named by the batch: locked, with their keys, and their invitation times.
        people: dict[uuid.UUID, _Person] = {}
        existing_ids = sorted({owner_of[w] for p in batch for w in p.wanted if w in owner_of})
        if existing_ids:
            rows = (
                await session.execute(
                    select(
                        DataSubject.id,
                        DataSubject.identity_ciphertext,
                        DataSubject.opted_out_at,
                        DataSubject.erased_at,
                        DataSubject.do_not_survey,
                        DataSubject.last_contact_at,
                        DataKey.id,
                        DataKey.kek_version,
                        DataKey.wrapped,
                        DataKey.destroyed_at,
                    )
                    .outerjoin(DataKey, DataKey.subject_id == DataSubject.id)
                    .where(DataSubject.id.in_(existing_ids))
                    .order_by(DataSubject.id)
                    .with_for_update(of=table(DataSubject))
                )
            ).all()
            for sid, ciphertext, opted_out_at, erased_at, dns, last, key_id, kek_version, wrapped, destroyed in rows:
                if erased_at is not None or key_id is None or wrapped is None or destroyed is not None:
                    raise _Unbatchable("erased person")  # rare: the per-event path knows these cases
                dek = unwrap_dek(self.vault.keyring, WrappedKey(kek_version, wrapped), owner=subject_owner(sid))
                vault._remember_key(session, sid, key_id, dek)
                identity = (
                    Identity.from_json(await vault.decrypt(session, sid, IDENTITY_FIELD, sid, ciphertext))
                    if ciphertext is not None
                    else Identity(None, (), (), ())
                )
                people[sid] = _Person(
                    id=sid,
                    key_id=key_id,
                    dek=dek,
                    identity=identity,
                    ciphertext=ciphertext,
                    created=False,
                    opted_out=opted_out_at is not None,
                    erased=False,
                    do_not_survey=dns,
                    last_contact_at=last,
                )
            window = policy.cap_window
            low = min(p.event.occurred_at for p in batch) - 2 * window
            high = max(now, max(p.event.occurred_at for p in batch)) + 2 * window
            for sid, due_at in (
                await session.execute(
                    select(Invitation.subject_id, Invitation.due_at).where(
                        Invitation.subject_id.in_(existing_ids),
                        Invitation.state != InvitationState.cancelled,
                        Invitation.due_at > low,
                        Invitation.due_at < high,
                    )
                )
            ).all():
                people[sid].times.append(due_at)
            for sid in existing_ids:
                people[sid].open_complaint = await self.intake.has_open_complaint(session, sid)

        # 4. In memory, in arrival order.
        batch_owner: dict[tuple[str, str], uuid.UUID] = {}  # identifiers given to a person in this batch
        seen_refs: dict[tuple[int, bytes], IntakeResult] = {}
        results: list[IntakeResult] = []
        index_rows: list[dict[str, object]] = []
        conflict_rows: list[dict[str, object]] = []
        contact_rows: list[dict[str, object]] = []
        decision_rows: list[dict[str, object]] = []
        invitation_rows: list[dict[str, object]] = []
        job_rows: list[dict[str, object]] = []
        version_id: uuid.UUID | None = None
        version_loaded = False
        for p in batch:
            event, claim, customer = p.event, p.claim, p.event.customer
            prior = next((stored_contact[r] for r in p.ref_digests if r in stored_contact), None)
            if prior is not None:
                if prior not in earlier:
                    raise _Unbatchable("contact without a decision")
                results.append(earlier[prior])
                continue
            again = seen_refs.get(p.ref_active)
            if again is not None:
                results.append(
                    IntakeResult(
                        ContactAccepted(
                            contact_id=again.accepted.contact_id,
                            duplicate=True,
                            decision=again.accepted.decision,
                            invitation_id=again.accepted.invitation_id,
                        )
                    )
                )
                continue

            contact_id = new_id()
            person: PersonFacts | None = None
            reachable: frozenset[InvitationChannel] = frozenset()
            subject: _Person | None = None
            has_open_complaint = False
            if customer is not None and not claim.is_empty:
                identifiers = claim.identifiers()
                matches: dict[str, uuid.UUID] = {}
                for name, version, digest in p.wanted:
                    owner = owner_of.get((name, version, digest))
                    if owner is not None:
                        matches[name] = owner
                for name, value in identifiers.items():
                    owner = batch_owner.get((name, value))
                    if owner is not None:
                        matches[name] = owner
                is_suppressed = any((b[1], b[2]) in blocked_found for b in p.blocked)
                chosen_field = next((f for f in RESOLUTION_ORDER if f in matches), None)
                if chosen_field is None:
                    made = p.made or vault.new_subject(
                        claim, now, opted_out=False, do_not_survey=bool(customer.do_not_survey)
                    )
                    made.key_row["created_at"] = now
                    subject = _Person(
                        id=made.subject_id,
                        key_id=made.key_id,
                        dek=made.dek,
                        identity=made.identity,
                        ciphertext=made.subject_row["identity_ciphertext"],  # type: ignore[arg-type]
                        created=True,
                        opted_out=False,
                        erased=False,
                        do_not_survey=bool(customer.do_not_survey),
                        last_contact_at=now,
                        created_at=now,
                        wrapped_row=made.key_row,
                    )
                    people[subject.id] = subject
                    vault._remember_key(session, subject.id, made.key_id, made.dek)
                    for name, value in identifiers.items():
                        batch_owner[(name, value)] = subject.id
                    index_rows.extend(vault.index_rows(subject.id, identifiers))
                    first_time = True
                else:
                    subject = people[matches[chosen_field]]
                    first_time = False
                    for conflicting_field, other in matches.items():
                        if other != subject.id:
                            conflict_rows.append(
                                {
                                    "id": new_id(),
                                    "chosen_subject_id": subject.id,
                                    "other_subject_id": other,
                                    "matched_on": chosen_field,
                                    "conflicting_field": conflicting_field,
                                    "contact_id": contact_id,
                                    "detected_at": now,
                                }
                            )
                    new = {f: v for f, v in identifiers.items() if f not in matches}
                    subject.last_contact_at = now
                    subject.do_not_survey = bool(customer.do_not_survey)
                    subject.touched = True
                    if new or claim.name:
                        updated = subject.identity.merged(claim, accept=set(new))
                        if updated != subject.identity:
                            subject.identity = updated
                            subject.ciphertext = await vault.encrypt(
                                session, subject.id, IDENTITY_FIELD, subject.id, updated.to_json()
                            )
                        if new:
                            for name, value in new.items():
                                batch_owner[(name, value)] = subject.id
                            index_rows.extend(vault.index_rows(subject.id, new))
                    has_open_complaint = subject.open_complaint
                reachable = reachable_channels(subject.identity)
                person = PersonFacts(
                    opted_out=subject.opted_out,
                    suppressed=is_suppressed,
                    invitation_times=() if first_time else tuple(subject.times),
                )

            service = p.service
            contact_rows.append(
                contact_row(
                    event,
                    contact_id=contact_id,
                    ref_key_version=p.ref_active[0],
                    ref_digest=p.ref_active[1],
                    subject_id=subject.id if subject else None,
                    service_id=service.id,
                    received_at=now,
                )
            )
            facts = contact_facts(event, contact_id, service, has_open_complaint, reachable)
            decision = decide(facts, person, policy, now=now)
            if decision.invite and not version_loaded:
                version_id, version_loaded = await self.reference.survey_version(session), True
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
                    "subject_id": subject.id if subject else None,
                    "invite": decision.invite,
                    "reason": decision.reason.value,
                    "detail": decision.detail,
                    "rules_version": RULES_VERSION,
                    "decided_at": now,
                }
            )
            invitation_id = None
            if decision.invite:
                assert decision.channel and decision.due_at and decision.expires_at and version_id and subject
                invitation_id = new_id()
                invitation_rows.append(
                    {
                        "id": invitation_id,
                        "contact_id": contact_id,
                        "decision_id": decision_id,
                        "subject_id": subject.id,
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
                subject.times.append(decision.due_at)  # the cap counts it for this person's later events
                job_rows.append(
                    job_row(
                        SEND_INVITATION_JOB,
                        {"invitation_id": invitation_id},
                        key=f"{SEND_INVITATION_JOB}:{invitation_id}",
                        run_at=decision.due_at,
                        now=now,
                    )
                )
            result = accepted_new(contact_id, decision, invitation_id)
            seen_refs[p.ref_active] = result
            results.append(result)

        # 5. Writes: one statement per table, in foreign-key order.
        created = [s for s in people.values() if s.created]
        if created:
            await session.execute(
                insert(table(DataSubject)),
                [
                    {
                        "id": s.id,
                        "identity_ciphertext": s.ciphertext,
                        "created_at": s.created_at,
                        "last_contact_at": s.last_contact_at,
                        "opted_out_at": None,
                        "do_not_survey": s.do_not_survey,
                    }
                    for s in created
                ],
            )
            await session.execute(insert(table(DataKey)), [s.wrapped_row for s in created if s.wrapped_row])
        touched = [s for s in people.values() if not s.created and s.touched]
        if touched:
            subjects = table(DataSubject)
            await session.execute(
                update(subjects)
                .where(subjects.c.id == bindparam("b_id"))
                .values(
                    identity_ciphertext=bindparam("b_ciphertext"),
                    last_contact_at=bindparam("b_last"),
                    do_not_survey=bindparam("b_dns"),
                ),
                [
                    {"b_id": s.id, "b_ciphertext": s.ciphertext, "b_last": s.last_contact_at, "b_dns": s.do_not_survey}
                    for s in touched
                ],
            )
        for target, new_rows in (
            (table(SubjectIndex), index_rows),
            (table(SubjectConflict), conflict_rows),
            (table(Contact), contact_rows),
            (table(InvitationDecision), decision_rows),
            (table(Invitation), invitation_rows),
        ):
            if new_rows:
                await session.execute(insert(target), new_rows)
        await enqueue_many(session, job_rows)
        return results
