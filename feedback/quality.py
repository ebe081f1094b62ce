"""Contact quality evaluation: reviewers score a sample of contacts against a weighted quality form, beside the
customer's own survey answer when there is one. The council reports the average contact quality score and the
percentage of contacts evaluated.

The sample is drawn per agent and service at a set rate, so every agent is evaluated and no one is picked on.
An evaluation is personal data of the staff member evaluated (declared in the data map); agents see their own,
service managers their services' averages, and calibration (two reviewers scoring the same contact) shows how
far apart reviewers are.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from surveys.models import Contact


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    weight: float  # relative weight; the score is the weighted mean of 0-4 marks, as a percentage


DEFAULT_FORM: tuple[Criterion, ...] = (
    Criterion("greeting", "Greeting and introduction", 1.0),
    Criterion("accuracy", "Accuracy of information", 3.0),
    Criterion("resolution", "Resolution or clear next steps", 3.0),
    Criterion("courtesy", "Courtesy and empathy", 2.0),
    Criterion("data_protection", "Data protection check", 2.0),
)
MAX_MARK = 4


@dataclass(frozen=True)
class QualityForm:
    """The form in use, read from the settings once at start-up (a bad one stops the start with its reason)."""

    criteria: tuple[Criterion, ...] = DEFAULT_FORM


def quality_form(raw: str | None) -> tuple[Criterion, ...]:
    """The council's quality form from its JSON setting (CIVICVOICE_QUALITY_FORM), or the default form.

    ConfigurationError, naming what to fix, for a form that is not a list of criteria with a key, a label and a
    positive weight, or that repeats a key. Each evaluation stores the weights it was scored with, so changing the
    form never changes a score already given."""
    if raw is None:
        return DEFAULT_FORM
    problem = 'CIVICVOICE_QUALITY_FORM must be a JSON list of {"key", "label", "weight"} objects'
    try:
        items = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"{problem}; it is not valid JSON.") from None
    if not isinstance(items, list) or not items:
        raise ConfigurationError(f"{problem}, with at least one criterion.")
    form: list[Criterion] = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"key", "label", "weight"}:
            raise ConfigurationError(f"{problem}; each needs exactly those three.")
        key, label, weight = item["key"], item["label"], item["weight"]
        if not (isinstance(key, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key)):
            raise ConfigurationError(f"{problem}; a key is 1 to 40 lower-case letters, digits or _ (got {key!r}).")
        if not (isinstance(label, str) and 0 < len(label.strip()) <= 100):
            raise ConfigurationError(f"{problem}; the label of {key!r} must be 1 to 100 characters.")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            raise ConfigurationError(f"{problem}; the weight of {key!r} must be a number above 0, at most 100.")
        form.append(Criterion(key, label.strip(), float(weight)))
    if len({c.key for c in form}) != len(form):
        raise ConfigurationError(f"{problem}; each key once.")
    return tuple(form)


# Share of each agent's contacts per service drawn for evaluation.
DEFAULT_SAMPLE_RATE = 0.05


class Evaluation(Base):
    """One reviewer's marks for one contact against the quality form."""

    __tablename__ = "contact_evaluation"
    __datamap__ = DataMapEntry(
        purpose="Evaluate the quality of contacts against the council's quality form",
        holds=("the agent evaluated (their reference)", "reviewer's marks and comments"),
        category="staff performance",
        lawful_basis="public_task",
        retention="2 years",
        subject_kind="staff",
        subject_link="reviewer_id",
        # The agent evaluated, as well as the reviewer: both find the evaluation from their account.
        links=(Link("agent_ref", "staff_user", to="agent_ref"),),
    )
    __table_args__ = (
        UniqueConstraint("contact_id", "reviewer_id", name="uq_contact_evaluation_reviewer"),
        Index("ix_contact_evaluation_agent", "agent_ref", "evaluated_at"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("contact.id", ondelete="CASCADE"))
    agent_ref: Mapped[str | None] = mapped_column(String(100))
    service_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("service.id"))
    reviewer_id: Mapped[str] = mapped_column(String(64))
    marks: Mapped[dict[str, int]] = mapped_column(JsonB)
    weights: Mapped[dict[str, float]] = mapped_column(JsonB)
    score: Mapped[float]  # 0 to 100
    evaluated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)


def weighted_score(marks: Mapping[str, int], form: Sequence[Criterion] = DEFAULT_FORM) -> float:
    """The weighted mean of the marks (0 to MAX_MARK each) as a percentage, to one decimal place."""
    total_weight = sum(c.weight for c in form)
    if total_weight <= 0:
        raise InvalidInput("The quality form's weights must add up to more than zero.", field="weights")
    missing = [c.label for c in form if c.key not in marks]
    if missing:
        raise InvalidInput(f"Mark every criterion: {', '.join(missing)}.", field=form[0].key)
    for criterion in form:
        mark = marks[criterion.key]
        if not 0 <= mark <= MAX_MARK:
            raise InvalidInput(f"Marks are 0 to {MAX_MARK}.", field=criterion.key)
    weighted = sum(marks[c.key] * c.weight for c in form) / (total_weight * MAX_MARK)
    return round(weighted * 100, 1)


def in_sample(contact_id: uuid.UUID, rate: float) -> bool:
    """Whether a contact falls in the evaluation sample: a stable draw from its id, so re-drawing gives the same
    sample and each agent and service is sampled at the same rate."""
    if rate >= 1:
        return True
    draw = int.from_bytes(hashlib.sha256(contact_id.bytes).digest()[:8], "big") / 2**64
    return draw < rate


async def evaluation_queue(
    session: AsyncSession, *, since: datetime, rate: float = DEFAULT_SAMPLE_RATE, limit: int = 50
) -> list[Contact]:
    """Sampled contacts since ``since`` not yet evaluated, by agent and service in turn, oldest first."""
    evaluated = select(Evaluation.contact_id)
    candidates = (
        await session.scalars(
            select(Contact)
            .where(Contact.occurred_at >= since, Contact.agent_ref.is_not(None), Contact.id.not_in(evaluated))
            .order_by(Contact.occurred_at)
            .limit(limit * 50)
        )
    ).all()
    by_agent: dict[tuple[str | None, uuid.UUID], list[Contact]] = defaultdict(list)
    for contact in candidates:
        if in_sample(contact.id, rate):
            by_agent[(contact.agent_ref, contact.service_id)].append(contact)
    queue: list[Contact] = []
    while by_agent and len(queue) < limit:
        for key in list(by_agent):
            queue.append(by_agent[key].pop(0))
            if not by_agent[key]:
                del by_agent[key]
            if len(queue) >= limit:
                break
    return queue


async def evaluate(
    session: AsyncSession,
    contact_id: uuid.UUID,
    marks: Mapping[str, int],
    *,
    reviewer_id: str,
    actor: Actor,
    form: Sequence[Criterion] = DEFAULT_FORM,
) -> Evaluation:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("No such contact.", field="contact")
    already = await session.scalar(
        select(Evaluation.id).where(Evaluation.contact_id == contact_id, Evaluation.reviewer_id == reviewer_id)
    )
    if already is not None:
        raise Conflict("You have already evaluated this contact.", field="contact")
    evaluation = Evaluation(
        contact_id=contact_id,
        agent_ref=contact.agent_ref,
        service_id=contact.service_id,
        reviewer_id=reviewer_id,
        marks={c.key: int(marks[c.key]) for c in form if c.key in marks},
        weights={c.key: c.weight for c in form},
        score=weighted_score(marks, form),
        evaluated_at=utcnow(),
    )
    session.add(evaluation)
    record(
        session,
        actor,
        "feedback.contact_evaluated",
        target_kind="contact",
        target_id=contact_id,
        detail={"score": evaluation.score},
    )
    return evaluation


@dataclass(frozen=True)
class Calibration:
    contact_id: uuid.UUID
    scores: tuple[float, ...]

    @property
    def spread(self) -> float:
        return round(max(self.scores) - min(self.scores), 1)


async def calibrations(session: AsyncSession) -> list[Calibration]:
    """Contacts two or more reviewers scored, with how far apart they were (widest first)."""
    by_contact: dict[uuid.UUID, list[float]] = defaultdict(list)
    for contact_id, score in (await session.execute(select(Evaluation.contact_id, Evaluation.score))).tuples():
        by_contact[contact_id].append(score)
    found = [Calibration(cid, tuple(scores)) for cid, scores in by_contact.items() if len(scores) > 1]
    return sorted(found, key=lambda c: -c.spread)


@dataclass(frozen=True)
class Average:
    key: str
    evaluations: int
    average: float


async def averages(
    session: AsyncSession, *, by: str, agent_ref: str | None = None, service_ids: Sequence[uuid.UUID] | None = None
) -> list[Average]:
    """Average quality score by agent or by service, within what the viewer may see."""
    column = Evaluation.agent_ref if by == "agent" else Evaluation.service_id
    stmt = select(column, Evaluation.score)
    if agent_ref is not None:
        stmt = stmt.where(Evaluation.agent_ref == agent_ref)
    if service_ids is not None:
        stmt = stmt.where(Evaluation.service_id.in_(service_ids))
    groups: dict[str, list[float]] = defaultdict(list)
    for key, score in (await session.execute(stmt)).tuples():
        groups[str(key)].append(score)
    return [Average(k, len(v), round(sum(v) / len(v), 1)) for k, v in sorted(groups.items())]
