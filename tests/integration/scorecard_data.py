"""Scorecard test data: contacts with their invitations, answers, comment scores, reviews, evaluations, cases and
callbacks written as the features write them, described by small specs so tests and properties can generate them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.ids import new_id
from feedback.actions import ActionLink, ImprovementAction
from feedback.callbacks import Callback
from feedback.cases import ComplaintCase
from feedback.models import CommentClassification, CommentScore
from feedback.quality import Evaluation
from privacy.models import DataSubject
from surveys.models import Answer, Contact, Invitation, InvitationDecision, Response, Service, SurveyVersion


@dataclass(frozen=True)
class ContactSpec:
    service: str
    channel: str
    occurred_at: datetime
    agent: str | None = None
    person: int | None = None
    wait: int | None = None
    handling: int | None = None
    transferred: bool = False
    reported_fcr: bool | None = None
    invited: bool = False
    answered: bool = False
    satisfaction: int | None = None
    resolved: str | None = None
    sentiment: float | None = None
    compliment: bool = False
    evaluation: float | None = None
    complaint_closed: bool = False
    improved: bool = False
    callback_on_time: bool | None = None


class Builder:
    """Writes specs; the same person index is the same data subject across calls."""

    def __init__(self) -> None:
        self.people: dict[int, uuid.UUID] = {}
        self.cases = 0

    async def add(self, session: AsyncSession, specs: list[ContactSpec]) -> list[uuid.UUID]:
        services = dict((await session.execute(select(Service.slug, Service.id))).tuples().all())
        version = await session.scalar(select(SurveyVersion.id).limit(1))
        assert version is not None
        ids = []
        for spec in specs:
            subject_id = None
            if spec.person is not None:
                if spec.person not in self.people:
                    subject = DataSubject()
                    session.add(subject)
                    self.people[spec.person] = subject.id
                subject_id = self.people[spec.person]
            contact = Contact(
                source="crm",
                ref_key_version=1,
                ref_digest=new_id().bytes * 2,
                subject_id=subject_id,
                service_id=services[spec.service],
                channel=spec.channel,
                occurred_at=spec.occurred_at,
                agent_ref=spec.agent,
                wait_seconds=spec.wait,
                handling_seconds=spec.handling,
                transferred=spec.transferred,
                resolved_first_contact=spec.reported_fcr,
            )
            session.add(contact)
            ids.append(contact.id)
            await session.flush()
            if not spec.invited:
                continue
            decision = InvitationDecision(
                contact_id=contact.id,
                subject_id=subject_id,
                invite=True,
                reason="invited",
                detail="",
                rules_version="t",
            )
            session.add(decision)
            await session.flush()
            sent = spec.occurred_at + timedelta(minutes=5)
            invitation = Invitation(
                contact_id=contact.id,
                decision_id=decision.id,
                subject_id=subject_id,
                survey_version_id=version,
                channel="email",
                state="sent",
                due_at=sent,
                expires_at=sent + timedelta(days=14),
                sent_at=sent,
                responded_at=sent + timedelta(hours=1) if spec.answered else None,
            )
            session.add(invitation)
            await session.flush()
            if not spec.answered:
                continue
            response = Response(
                invitation_id=invitation.id,
                survey_version_id=version,
                subject_id=subject_id,
                service_id=contact.service_id,
                contact_id=contact.id,
                channel="email",
                submitted_at=sent + timedelta(hours=1),
                satisfaction=spec.satisfaction,
                resolved=spec.resolved,
            )
            session.add(response)
            await session.flush()
            if spec.sentiment is not None or spec.compliment:
                answer = Answer(response_id=response.id, question_key="improve", text_length=0)
                session.add(answer)
                await session.flush()
                if spec.sentiment is not None:
                    session.add(
                        CommentScore(
                            answer_id=answer.id,
                            response_id=response.id,
                            question_key="improve",
                            polarity=spec.sentiment,
                            label="neutral",
                            scorer_version="t",
                        )
                    )
                if spec.compliment:
                    session.add(
                        CommentClassification(
                            answer_id=answer.id,
                            response_id=response.id,
                            comment_class="compliment",
                            confidence=0.9,
                            classifier_version="t",
                            reviewed_class="compliment",
                            reviewed_by="reviewer",
                            reviewed_at=sent,
                        )
                    )
            if spec.complaint_closed:
                self.cases += 1
                case = ComplaintCase(
                    reference=f"T{self.cases:06d}{new_id().hex[-8:]}",
                    service_id=contact.service_id,
                    response_id=response.id,
                    owner_id="owner",
                    received_on=spec.occurred_at.date(),
                    acknowledge_due=spec.occurred_at.date(),
                    status="closed",
                    closed_at=spec.occurred_at + timedelta(days=1),
                )
                session.add(case)
                await session.flush()
                if spec.improved:
                    action = ImprovementAction(
                        reference=f"A{self.cases:06d}{new_id().hex[-8:]}",
                        title="Fix it",
                        description="Fix it",
                        service_id=contact.service_id,
                        owner_id="owner",
                    )
                    session.add(action)
                    await session.flush()
                    session.add(ActionLink(action_id=action.id, case_id=case.id))
            if spec.callback_on_time is not None:
                due = spec.occurred_at + timedelta(days=1)
                session.add(
                    Callback(
                        response_id=response.id,
                        subject_id=subject_id,
                        service_id=contact.service_id,
                        reason="dissatisfied",
                        raised_at=spec.occurred_at,
                        due_at=due,
                        done_at=due - timedelta(hours=1) if spec.callback_on_time else due + timedelta(hours=3),
                        done_by="agent",
                        outcome="resolved",
                    )
                )
        for spec, contact_id in zip(specs, ids, strict=True):
            if spec.evaluation is not None:
                session.add(
                    Evaluation(
                        contact_id=contact_id,
                        agent_ref=spec.agent,
                        service_id=services[spec.service],
                        reviewer_id="reviewer",
                        marks={},
                        weights={},
                        score=spec.evaluation,
                    )
                )
        await session.flush()
        return ids
