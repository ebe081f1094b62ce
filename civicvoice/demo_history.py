"""Thirteen months of realistic history for the demo, so every page and chart has something real to show.

Everything goes through the features' own writers: contacts through `ContactIntake.record` (people resolved and
encrypted by the vault, decisions by the rules), answers through `ResponseRecorder.record` (free text encrypted
under each person's key), comments scored and classified by feedback's own scorer, callbacks raised by its own
rule, cases opened and moved through their stages by `feedback.cases`, improvement actions by `feedback.actions`
and evaluations by `feedback.quality`. Intake decides as if each contact had just happened (the rules do not
invite for contacts days old); the history's own times are then written onto the rows, and the sending jobs of
these past invitations are removed, so starting the service sends nothing to the demo's invented people.

Volumes follow a council's year: January to April busy with Council Tax bills and benefits renewals, summer busy
for waste and parking, December quiet; the phone's share of contacts falls month by month as web chat and web
forms grow. Waits rise with volume. Generated in bulk: 13 months at the default size load in a few seconds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.clock import utcnow
from civicvoice.core.db import table
from civicvoice.core.jobs import Job
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from feedback.actions import create_action, link_case, update_action
from feedback.callbacks import CALLBACK_HOURS, Callback, complete, raise_callbacks
from feedback.cases import ComplaintCase, acknowledge, answer_stage, close, open_case
from feedback.models import CommentClassification, CommentScore
from feedback.quality import DEFAULT_FORM, Evaluation, evaluate
from feedback.scorecard.entries import enter_figure, set_target
from feedback.scorecard.measures import Direction, Unit
from feedback.scorecard.measures import measure as measure_of
from feedback.scorecard.service import Scorecard
from feedback.scorecard.upkeep import fill_history
from feedback.scoring import SCORE_RESPONSE_JOB, score_response
from privacy.closures import council_calendar
from privacy.deadlines import WorkingCalendar
from privacy.vault import Vault
from surveys.definitions import CONTACT_REQUEST
from surveys.intake import ContactIntake, IntakeResult
from surveys.models import Contact, Invitation, InvitationDecision, InvitationState, Response, Service
from surveys.responses import ResponseRecorder, Submission
from surveys.schemas import ContactEvent
from surveys.sending import SEND_INVITATION_JOB

MONTHS = 13
PER_MONTH = 700  # contacts in an average month at the default size
CHUNK = 500  # events or answers written per statement batch
RESPONSE_RATE = 0.24  # of invitations
AGENTS = tuple(f"agent-{n:02d}" for n in range(1, 25))
REVIEWERS = ("demo-reviewer-1", "demo-reviewer-2")
DEMO_ACTOR = Actor.system()
RECEIVED_AFTER = timedelta(seconds=5)  # from the contact to civicvoice

# A council's year: the bills arrive in March, renewals in spring, bins and parking in summer, a quiet December.
SEASON = {1: 1.15, 2: 1.05, 3: 1.35, 4: 1.30, 5: 1.0, 6: 0.95, 7: 1.0, 8: 0.95, 9: 1.0, 10: 1.05, 11: 1.0, 12: 0.75}
SERVICE_WEIGHT = {
    "council-tax": 3.0,
    "benefits": 2.2,
    "housing-repairs": 2.4,
    "waste-and-recycling": 2.6,
    "parking": 1.4,
    "homelessness": 0.8,
}
SUMMER_SERVICES = {"waste-and-recycling", "parking"}
# (channel, share 12 months ago, share now): the shift to digital channels the strategy asks for.
CHANNEL_SHIFT = (
    ("phone", 0.56, 0.42),
    ("web_chat", 0.10, 0.20),
    ("email", 0.14, 0.13),
    ("web_form", 0.10, 0.16),
    ("face_to_face", 0.07, 0.06),
    ("post", 0.03, 0.03),
)
WAIT_SECONDS = {"phone": 170.0, "web_chat": 60.0, "face_to_face": 420.0}  # a quiet month's mean
HANDLING_SECONDS = {"phone": 390.0, "web_chat": 540.0, "email": 300.0, "web_form": 240.0, "face_to_face": 780.0}

COMPLAINTS = (
    "I waited over forty minutes on the phone before anyone answered.",
    "Nobody called me back even though I was promised a call within two days.",
    "The repair still has not been done and I have reported it three times.",
    "The person I spoke to was rude and did not listen to me.",
    "I was passed between departments and had to explain everything again each time.",
    "The website kept crashing when I tried to pay my council tax.",
    "My bin was missed again this week and nobody told me why.",
    "I received a parking fine even though I had a valid permit on display.",
    "The letter I got was confusing and did not explain what I owe.",
    "It took weeks to get an answer to a simple question about my claim.",
    "The office was closed when the website said it would be open.",
    "I was given the wrong information and now I have to start again.",
)
SUGGESTIONS = (
    "It would help if you could text me when the repair is booked.",
    "Please let me upload documents online instead of posting them.",
    "Longer opening hours on a Saturday would make it easier for people who work.",
    "A call back option instead of waiting in the queue would be better.",
    "Could the online form save my answers so I can finish later?",
    "Send a reminder the day before the bin collection changes.",
)
COMPLIMENTS = (
    "The adviser was friendly, patient and sorted everything in one call.",
    "Really helpful staff at the customer service centre, thank you.",
    "Quick and easy to report online, and the problem was fixed the next day.",
    "The person on web chat explained everything clearly and kindly.",
    "Excellent service, much better than I expected.",
    "She went out of her way to help me with my benefit claim.",
)
NEUTRAL = ("Nothing to add.", "It was fine.", "No comment", "n/a")
ACTIONS = (
    (
        "Call-back option in the phone queue",
        "Offer callers a call back instead of waiting once the queue passes ten minutes.",
        "You told us you waited too long on the phone.",
        "We added a call-back option: nobody now waits more than ten minutes to be offered one.",
    ),
    (
        "Repair appointment texts",
        "Text tenants the booked date and a reminder the day before each repair appointment.",
        "You told us repairs were booked without telling you when.",
        "Every repair appointment is now confirmed by text, with a reminder the day before.",
    ),
    (
        "Plain English council tax letters",
        "Rewrite the council tax bill and reminder letters with residents, tested for readability.",
        "You told us our letters were hard to understand.",
        "We rewrote our council tax letters with residents' help.",
    ),
    (
        "Missed bin reports followed up",
        "Every missed collection report gets a collection date within two working days.",
        "You told us missed bins were not followed up.",
        "Missed collections are now collected within two working days, and we tell you when.",
    ),
    (
        "One contact for transferred calls",
        "Transferred callers keep one case reference so nobody explains twice.",
        "You told us you had to repeat yourself when transferred.",
        "Your case reference now follows you between teams.",
    ),
)


# Figures other systems hold, entered monthly per team: (measure, typical value, spread), percentages as 0-100.
ENTERED = (
    ("utilisation", 78.0, 4.0),
    ("ict-reliability", 99.2, 0.5),
    ("service-request-fulfilment", 91.0, 3.0),
    ("service-requests-within-service-level", 84.0, 5.0),
    ("service-delivered", 95.0, 2.0),
    ("staff-training-hours", 60.0, 15.0),
    ("staff-performing-to-expectation", 88.0, 4.0),
    ("sickness-absence-days", 38.0, 10.0),
    ("staff-leaving", 1.0, 1.0),
)
ENTERING_SERVICES = ("council-tax", "housing-repairs", "waste-and-recycling")
TEAM = "Customer contact centre"
# Council-wide targets set by managers: (measure, target, direction, amber tolerance).
TARGETS = (
    ("customer-satisfaction", 80.0, Direction.higher_is_better, 5.0),
    ("first-contact-resolution", 75.0, Direction.higher_is_better, 5.0),
    ("service-level", 80.0, Direction.higher_is_better, 10.0),
    ("average-speed-of-answer", 180.0, Direction.lower_is_better, 60.0),
    ("transfers-out", 8.0, Direction.lower_is_better, 2.0),
    ("response-rate", 20.0, Direction.higher_is_better, 5.0),
    ("callbacks-on-time", 90.0, Direction.higher_is_better, 5.0),
    ("complaints-generating-improvements", 30.0, Direction.higher_is_better, 10.0),
    ("contacts-evaluated", 3.0, Direction.higher_is_better, 1.0),
    ("ict-reliability", 99.0, Direction.higher_is_better, 0.5),
    ("sickness-absence-days", 40.0, Direction.lower_is_better, 8.0),
)


@dataclass(frozen=True)
class HistoryCounts:
    contacts: int
    invitations: int
    responses: int
    comments: int
    callbacks: int
    cases: int
    actions: int
    evaluations: int


@dataclass
class _Planned:
    event: ContactEvent
    occurred_at: datetime
    contact_id: uuid.UUID | None = None
    invitation_id: uuid.UUID | None = None


def _month_starts(now: datetime) -> list[datetime]:
    starts: list[datetime] = []
    year, month = now.year, now.month
    for _ in range(MONTHS):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _plan(rng: random.Random, services: Sequence[str], now: datetime, per_month: int) -> list[_Planned]:
    """Every contact of the history, oldest first, with the time it really happened."""
    planned: list[_Planned] = []
    people: list[dict[str, str]] = []
    starts = _month_starts(now)
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else now - timedelta(hours=1)
        progress = index / (MONTHS - 1)
        mix = {channel: old + (new - old) * progress for channel, old, new in CHANNEL_SHIFT}
        volume = round(per_month * SEASON[start.month] * (end - start) / timedelta(days=30.4))
        busy = SEASON[start.month]
        for _ in range(volume):
            service = rng.choices(services, weights=[_service_weight(s, start.month) for s in services])[0]
            channel = _weighted(rng, mix)
            occurred = start + (end - start) * rng.random()
            customer: dict[str, str] | None = None
            if rng.random() < 0.85:
                if people and rng.random() < 0.18:
                    customer = rng.choice(people)
                else:
                    serial = len(people)
                    customer = {
                        "email": f"resident.{serial}@example.org",
                        "phone": f"0790{serial:07d}",
                        "name": f"Resident {serial}",
                    }
                    if rng.random() < 0.25:
                        customer.pop("email")  # a mobile number only
                    people.append(customer)
            wait = WAIT_SECONDS.get(channel)
            handling = HANDLING_SECONDS.get(channel)
            body: dict[str, object] = {
                "source": "crm",
                "external_id": f"demo-{len(planned):07d}",
                "channel": channel,
                "service": service,
                "occurred_at": (now - timedelta(minutes=2)).isoformat(),
                "transferred": rng.random() < 0.07,
            }
            if channel in ("phone", "web_chat", "face_to_face"):
                body["agent_id"] = rng.choice(AGENTS)
            if wait is not None:
                body["wait_seconds"] = int(rng.expovariate(1 / (wait * busy**2)))
            if handling is not None:
                body["handling_seconds"] = int(30 + rng.expovariate(1 / handling))
            if channel not in ("email", "post"):
                body["resolved_first_contact"] = rng.random() < 0.74 - 0.1 * (busy - 1)
            if customer is not None:
                body["customer"] = customer
            planned.append(_Planned(msgspec.convert(body, ContactEvent), occurred))
    planned.sort(key=lambda p: p.occurred_at)
    return planned


def _service_weight(slug: str, month: int) -> float:
    weight = SERVICE_WEIGHT.get(slug, 1.0)
    if slug in SUMMER_SERVICES and month in (6, 7, 8):
        weight *= 1.4
    return weight


def _answers(rng: random.Random, planned: _Planned) -> dict[str, str]:
    """A plausible response: satisfaction follows the wait and whether the issue was resolved."""
    event = planned.event
    resolved = event.resolved_first_contact if event.resolved_first_contact is not None else rng.random() < 0.7
    long_wait = (event.wait_seconds or 0) > 600
    centre = 4.1 if resolved else 2.6
    centre -= 0.8 if long_wait else 0.0
    satisfaction = min(5, max(1, round(rng.gauss(centre, 1.0))))
    form = {
        "satisfaction": str(satisfaction),
        "resolved": "yes" if resolved else rng.choice(("partly", "no")),
    }
    roll = rng.random()
    if satisfaction <= 2 and roll < 0.7:
        form["improve"] = rng.choice(COMPLAINTS)
    elif satisfaction == 3 and roll < 0.4:
        form["improve"] = rng.choice(SUGGESTIONS)
    elif roll < 0.08:
        form["improve"] = rng.choice(NEUTRAL)
    if satisfaction >= 4 and rng.random() < 0.35:
        form["praise"] = rng.choice(COMPLIMENTS)
    if satisfaction <= 2 and rng.random() < 0.3:
        form[CONTACT_REQUEST] = "yes"
    return form


async def load_history(
    session: AsyncSession, services: Services, *, per_month: int = PER_MONTH, seed: int = 2026
) -> HistoryCounts:
    """Write the demo's history in the caller's transaction (no commit); the database must hold the demo's
    catalogue and its published survey, and no history yet."""
    rng = random.Random(seed)  # noqa: S311 - invented demo data
    now = utcnow()
    intake = services.get(ContactIntake)
    recorder = services.get(ResponseRecorder)
    vault = services.get(Vault)
    calendar = await council_calendar(session, services.get(Settings))
    slugs = list((await session.scalars(select(Service.slug).where(Service.active).order_by(Service.slug))).all())
    planned = _plan(rng, slugs, now, per_month)

    # Contacts through intake, oldest first (the frequency cap then sees each person's contacts in order).
    for first in range(0, len(planned), CHUNK):
        chunk = planned[first : first + CHUNK]
        outcomes = await intake.record(session, [p.event for p in chunk])
        for item, outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, IntakeResult):
                item.contact_id = outcome.accepted.contact_id
                item.invitation_id = outcome.accepted.invitation_id
    stored = [p for p in planned if p.contact_id is not None]
    invited = [p for p in stored if p.invitation_id is not None]
    answering = [p for p in invited if rng.random() < RESPONSE_RATE]
    for first in range(0, len(answering), CHUNK):
        chunk = answering[first : first + CHUNK]
        await recorder.record(
            session, [Submission(p.invitation_id, _answers(rng, p)) for p in chunk if p.invitation_id]
        )

    # The callbacks the rule raises for these answers (dated from their response below).
    raised = 0
    while found := await raise_callbacks(session, calendar, now=now):
        raised += found
    # The history's own times on every row, and no sending for invitations of the past.
    answered_ids = {p.invitation_id for p in answering}
    await _retime(session, stored, invited, answered_ids, rng)
    responses = (
        list((await session.scalars(select(Response).where(Response.invitation_id.in_(list(answered_ids))))).all())
        if answered_ids
        else []
    )
    comments = 0
    for response in responses:
        comments += await score_response(session, vault, response.id)
    await session.execute(delete(Job).where(Job.dedupe_key.like(f"{SCORE_RESPONSE_JOB}:%")))
    await _retime_feedback(session, responses)
    await _callbacks(session, vault, calendar, responses, now, rng)
    cases = await _cases(session, vault, calendar, now, rng)
    actions = await _actions(session, cases, now, rng)
    evaluations = await _evaluations(session, stored, now, rng)
    await _entered_and_targets(session, now, rng)
    # The scorecard's rollups for every month, as upkeep would have kept them.
    await fill_history(session, thresholds=await services.get(Scorecard).thresholds(session), now=now)
    return HistoryCounts(
        contacts=len(stored),
        invitations=len(invited),
        responses=len(responses),
        comments=comments,
        callbacks=raised,
        cases=len(cases),
        actions=actions,
        evaluations=evaluations,
    )


async def _retime(
    session: AsyncSession,
    stored: Sequence[_Planned],
    invited: Sequence[_Planned],
    answered: set[uuid.UUID | None],
    rng: random.Random,
) -> None:
    contacts = table(Contact)
    await session.execute(
        update(contacts)
        .where(contacts.c.id == bindparam("cid"))
        .values(occurred_at=bindparam("when"), received_at=bindparam("received")),
        [
            {"cid": p.contact_id, "when": p.occurred_at, "received": p.occurred_at + timedelta(seconds=5)}
            for p in stored
        ],
    )
    decisions = table(InvitationDecision)
    await session.execute(
        update(decisions).where(decisions.c.contact_id == bindparam("cid")).values(decided_at=bindparam("when")),
        [{"cid": p.contact_id, "when": p.occurred_at + timedelta(seconds=5)} for p in stored],
    )
    invitations = table(Invitation)
    rows = []
    for p in invited:
        sent = p.occurred_at + timedelta(minutes=rng.randrange(5, 90))
        expires = sent + timedelta(days=14)
        responded = sent + timedelta(hours=rng.expovariate(1 / 20)) if p.invitation_id in answered else None
        rows.append(
            {
                "iid": p.invitation_id,
                "created": p.occurred_at + timedelta(seconds=5),
                "due": sent,
                "sent": sent,
                "expires": expires,
                "responded": responded,
                "state": InvitationState.delivered if responded else InvitationState.expired,
                "changed": responded or expires,
            }
        )
    await session.execute(
        update(invitations)
        .where(invitations.c.id == bindparam("iid"))
        .values(
            created_at=bindparam("created"),
            due_at=bindparam("due"),
            sent_at=bindparam("sent"),
            expires_at=bindparam("expires"),
            responded_at=bindparam("responded"),
            state=bindparam("state"),
            state_changed_at=bindparam("changed"),
            reminder_at=None,
            send_attempts=1,
        ),
        rows,
    )
    responses = table(Response)
    await session.execute(
        update(responses)
        .where(responses.c.invitation_id == bindparam("iid"))
        .values(submitted_at=bindparam("responded")),
        [{"iid": r["iid"], "responded": r["responded"]} for r in rows if r["responded"] is not None],
    )
    ids = [str(p.invitation_id) for p in invited]
    for first in range(0, len(ids), CHUNK):
        keys = [f"{SEND_INVITATION_JOB}:{i}" for i in ids[first : first + CHUNK]]
        await session.execute(delete(Job).where(Job.dedupe_key.in_(keys)))


async def _retime_feedback(session: AsyncSession, responses: Sequence[Response]) -> None:
    """Scores and classifications dated a minute after their response."""
    submitted = {
        response_id: when
        for response_id, when in await session.execute(
            select(Response.id, Response.submitted_at).where(Response.id.in_([r.id for r in responses]))
        )
    }
    for model, column in ((CommentScore, "scored_at"), (CommentClassification, "classified_at")):
        target = table(model)
        await session.execute(
            update(target).where(target.c.response_id == bindparam("rid")).values({column: bindparam("when")}),
            [{"rid": rid, "when": when + timedelta(minutes=1)} for rid, when in submitted.items()],
        )


async def _callbacks(
    session: AsyncSession,
    vault: Vault,
    calendar: WorkingCalendar,
    responses: Sequence[Response],
    now: datetime,
    rng: random.Random,
) -> None:
    """Callbacks dated from their response; all but the last fortnight's are done, and some of those too."""
    submitted = {r.id: r.submitted_at for r in responses}
    callbacks = (await session.scalars(select(Callback))).all()
    for callback in callbacks:
        when = submitted.get(callback.response_id)
        if when is None:
            continue
        if when < now - timedelta(days=14) or rng.random() < 0.4:
            await complete(session, vault, callback.id, outcome="resolved", note="", actor=DEMO_ACTOR)
            callback.done_at = when + timedelta(hours=rng.uniform(2, 60))
        callback.raised_at = when
        callback.due_at = calendar.due_after_working_hours(when, CALLBACK_HOURS)


async def _cases(
    session: AsyncSession, vault: Vault, calendar: WorkingCalendar, now: datetime, rng: random.Random
) -> list[ComplaintCase]:
    """About half of the classified complaints become cases; older ones have gone through their stages."""
    complaints = (
        await session.execute(
            select(CommentClassification.answer_id, Response.submitted_at)
            .join(Response, Response.id == CommentClassification.response_id)
            .where(CommentClassification.comment_class == "complaint")
            .order_by(Response.submitted_at)
        )
    ).all()
    cases: list[ComplaintCase] = []
    for answer_id, submitted in complaints:
        if rng.random() > 0.5:
            continue
        day = submitted.date()
        case = await open_case(
            session, calendar, answer_id=answer_id, owner_id="demo-case-officer", actor=DEMO_ACTOR, today=day
        )
        await session.flush()  # its notes refer to it
        age = (now - submitted).days
        if age > 7:
            await acknowledge(session, calendar, case, actor=DEMO_ACTOR, today=calendar.add_working_days(day, 2))
        if age > 25:
            await answer_stage(
                session,
                vault,
                case,
                outcome=rng.choice(("upheld", "partly_upheld", "not_upheld")),
                letter="Thank you for your complaint. We have looked into what happened and written to explain.",
                actor=DEMO_ACTOR,
                today=calendar.add_working_days(day, 9),
            )
            await close(session, case, actor=DEMO_ACTOR)
        cases.append(case)
    return cases


async def _actions(session: AsyncSession, cases: Sequence[ComplaintCase], now: datetime, rng: random.Random) -> int:
    """The improvement register: each action answers several closed complaints; the older ones are done."""
    closed = [case for case in cases if case.status == "closed"]
    for number, (title, description, you_said, we_did) in enumerate(ACTIONS):
        action = await create_action(
            session,
            title=title,
            description=description,
            owner_id="demo-service-manager",
            actor=DEMO_ACTOR,
            due_on=(now + timedelta(days=30 * (number + 1))).date(),
        )
        for case in rng.sample(closed, min(len(closed), rng.randrange(2, 6))):
            await link_case(session, action, case, actor=DEMO_ACTOR)
        if number < 3:
            await update_action(
                session,
                action,
                status="done",
                evidence="Measured over the following month: complaints on this theme fell.",
                you_said=you_said,
                we_did=we_did,
                published=True,
                actor=DEMO_ACTOR,
            )
    return len(ACTIONS)


def measure_unit_is_percent(slug: str) -> bool:
    return measure_of(slug).unit is Unit.percent


async def _entered_and_targets(session: AsyncSession, now: datetime, rng: random.Random) -> None:
    """Each month's figures from the systems that hold them, as a service manager enters them, and targets."""
    services = {
        slug: service_id
        for slug, service_id in await session.execute(
            select(Service.slug, Service.id).where(Service.slug.in_(ENTERING_SERVICES))
        )
    }
    for start in _month_starts(now)[:-1]:  # the current month is not over: nothing entered yet
        for slug in ENTERING_SERVICES:
            if slug not in services:
                continue
            for measure, typical, spread in ENTERED:
                value = max(0.0, rng.gauss(typical, spread))
                if measure == "staff-leaving":
                    value = float(round(value))
                elif measure_unit_is_percent(measure):
                    value = min(value, 100.0)
                await enter_figure(
                    session,
                    month=start.date(),
                    service_id=services[slug],
                    team=TEAM,
                    slug=measure,
                    value=round(
                        min(value, 100.0) if typical <= 100 and measure != "staff-training-hours" else value, 1
                    ),
                    source="HR and ICT monthly returns (demo)",
                    entered_by="demo-service-manager",
                    actor=DEMO_ACTOR,
                )
    for measure, target, direction, tolerance in TARGETS:
        await set_target(
            session,
            slug=measure,
            service_id=None,
            value=target,
            direction=direction,
            tolerance=tolerance,
            actor=DEMO_ACTOR,
        )


async def _evaluations(session: AsyncSession, stored: Sequence[_Planned], now: datetime, rng: random.Random) -> int:
    """Reviewers score about one contact in thirty with an agent; one in ten twice, for calibration."""
    count = 0
    for p in stored:
        if p.event.agent_id is None or p.contact_id is None or rng.random() > 1 / 30:
            continue
        reviewers = REVIEWERS if rng.random() < 0.1 else (rng.choice(REVIEWERS),)
        for reviewer in reviewers:
            marks = {c.key: max(0, min(4, round(rng.gauss(3.2, 0.9)))) for c in DEFAULT_FORM}
            evaluation = await evaluate(session, p.contact_id, marks, reviewer_id=reviewer, actor=DEMO_ACTOR)
            count += 1
            evaluation.evaluated_at = min(now, p.occurred_at + timedelta(days=rng.uniform(1, 6)))
    await session.flush()
    return count


__all__ = ["Evaluation", "HistoryCounts", "load_history"]
