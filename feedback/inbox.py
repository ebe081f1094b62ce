"""The quality team's inbox: recent responses with their sentiment and the comments redacted, scoped by role.

Admins, quality reviewers and the DPO see every service; a service manager sees the services in their scope;
an agent sees responses about their own contacts. Comments are decrypted only for the page shown and always
pass through privacy.redaction before they reach a template.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import Row, Select, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.clock import LONDON
from civicvoice.core.errors import InvalidInput
from civicvoice.core.http import acting_staff, form_values, staff_template
from feedback.actions import find_action, link_comment, open_actions
from feedback.classification import CommentClass, Theme
from feedback.demand import HINTS as DEMAND_HINTS
from feedback.demand import LABELS as DEMAND_LABELS
from feedback.demand import DemandTag, tags_for
from feedback.models import CommentClassification, CommentScore
from feedback.originals import may_see_originals
from feedback.review import classifier_report, review
from feedback.scorecard.formulas import DemandType
from privacy.exceptions import KeyDestroyed
from privacy.redaction import redact
from privacy.vault import Vault
from surveys.definitions import ENGLISH, stored_definition
from surveys.models import Answer, Response, Service, SurveyVersion
from surveys.responses import read_answer_text

PAGE_SIZE = 25
# A text search reads at most this many responses' comments (the newest matching the other filters).
SEARCH_WINDOW = 500
# Counting stops here: a count over a million responses would cost more than the page itself. Past it the page
# says "more than", and asks for narrower filters to reach further back.
COUNT_CAP = 10_000
SEES_EVERY_SERVICE = frozenset({"admin", "quality_reviewer", "dpo"})
# Who confirms or corrects a comment's class and themes.
REVIEWERS = ("quality_reviewer", "admin")


@dataclass(frozen=True)
class InboxFilters:
    service: str | None = None
    channel: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    comment_class: str | None = None  # the reviewer's class when reviewed, else the classifier's
    text: str | None = None  # words every shown comment must contain (searched in the redacted text)


@dataclass
class Comment:
    question: str
    text: str
    sentiment: str | None
    answer_id: uuid.UUID | None = None
    comment_class: str | None = None  # the reviewer's when reviewed, else the classifier's
    confidence: float | None = None
    themes: tuple[str, ...] = ()
    reviewed: bool = False
    demand: DemandTag | None = None  # a complaint's own demand tag


@dataclass
class InboxRow:
    submitted_at: datetime
    service: str
    channel: str
    satisfaction: int | None
    resolved: str | None
    sentiment: str | None
    response_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    demand: DemandTag | None = None  # the contact's demand tag
    comments: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # at most COUNT_CAP
    page: int
    pages: int
    more: bool = False  # more than COUNT_CAP responses match
    searched: int | None = None  # with a text search: how many of the newest matching responses were searched


def scoped(stmt: Select[Any], viewer: StaffUser) -> Select[Any]:
    """Limit a query over Response (joined to Service) to what the viewer's role may see."""
    if viewer.role in SEES_EVERY_SERVICE:
        return stmt
    if viewer.role == "service_manager":
        scope = list(viewer.service_scope or [])
        return stmt.where(Service.slug.in_(scope)) if scope else stmt.where(false())
    if viewer.role == "agent" and viewer.agent_ref:
        return stmt.where(Response.agent_ref == viewer.agent_ref)
    return stmt.where(false())


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON)


def _filtered(stmt: Select[Any], filters: InboxFilters) -> Select[Any]:
    if filters.service:
        stmt = stmt.where(Service.slug == filters.service)
    if filters.channel:
        stmt = stmt.where(Response.channel == filters.channel)
    if filters.date_from:
        stmt = stmt.where(Response.submitted_at >= _local_midnight(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Response.submitted_at < _local_midnight(filters.date_to + timedelta(days=1)))
    if filters.comment_class:
        stmt = stmt.where(
            exists().where(
                CommentClassification.response_id == Response.id,
                func.coalesce(CommentClassification.reviewed_class, CommentClassification.comment_class)
                == filters.comment_class,
            )
        )
    if filters.text:
        stmt = stmt.where(exists().where(Answer.response_id == Response.id, Answer.text_ciphertext.is_not(None)))
    return stmt


def _matches(row: InboxRow, words: list[str]) -> bool:
    text = " ".join(comment.text for comment in row.comments).casefold()
    return all(word in text for word in words)


def _overall(labels: list[str]) -> str | None:
    # A comment not scored (Welsh, for one) says nothing about the overall sentiment.
    labels = [label for label in labels if label != "not_scored"]
    if not labels:
        return None
    if "negative" in labels and "positive" in labels:
        return "mixed"
    return "negative" if "negative" in labels else ("positive" if "positive" in labels else "neutral")


async def recent_feedback(session: AsyncSession, vault: Any, viewer: StaffUser, filters: InboxFilters) -> InboxPage:
    base = _filtered(
        scoped(select(Response, Service.name).join(Service, Service.id == Response.service_id), viewer), filters
    )
    newest = base.order_by(Response.submitted_at.desc(), Response.id.desc())
    if filters.text:
        # Comments are stored encrypted, so words are searched in the decrypted, redacted text of the newest
        # SEARCH_WINDOW responses that match the other filters (dates reach further back).
        words = filters.text.casefold().split()
        window = (await session.execute(newest.limit(SEARCH_WINDOW))).all()
        matched = [row for row in await _rows(session, vault, window) if _matches(row, words)]
        pages = max(1, -(-len(matched) // PAGE_SIZE))
        page = min(max(1, filters.page), pages)
        shown = matched[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return InboxPage(shown, len(matched), page, pages, searched=len(window))
    counted = base.with_only_columns(Response.id).order_by(None).limit(COUNT_CAP + 1)
    total = await session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    more = total > COUNT_CAP
    total = min(total, COUNT_CAP)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    found = (await session.execute(newest.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))).all()
    return InboxPage(await _rows(session, vault, found), total, page, pages, more)


async def _rows(session: AsyncSession, vault: Any, found: Sequence[Row[Any]]) -> list[InboxRow]:
    """The page's rows: each response with its comments decrypted for this page only, and redacted."""
    ids = [response.id for response, _ in found]
    answers: dict[uuid.UUID, list[Answer]] = defaultdict(list)
    labels: dict[uuid.UUID, str] = {}
    questions: dict[uuid.UUID, dict[str, str]] = {}
    classes: dict[uuid.UUID, CommentClassification] = {}
    if ids:
        for answer in (
            await session.scalars(
                select(Answer).where(Answer.response_id.in_(ids), Answer.text_ciphertext.is_not(None))
            )
        ).all():
            answers[answer.response_id].append(answer)
        for score in (await session.scalars(select(CommentScore).where(CommentScore.response_id.in_(ids)))).all():
            labels[score.answer_id] = score.label
        for found_class in (
            await session.scalars(select(CommentClassification).where(CommentClassification.response_id.in_(ids)))
        ).all():
            classes[found_class.answer_id] = found_class
        version_ids = {response.survey_version_id for response, _ in found}
        for version in (await session.scalars(select(SurveyVersion).where(SurveyVersion.id.in_(version_ids)))).all():
            questions[version.id] = {q.id: q.text_in(ENGLISH) for q in stored_definition(version.definition).questions}
    contact_tags, answer_tags = await tags_for(
        session,
        contact_ids=[response.contact_id for response, _ in found if response.contact_id],
        answer_ids=[answer.id for listed in answers.values() for answer in listed],
    )
    rows: list[InboxRow] = []
    for response, service_name in found:
        row = InboxRow(
            response.submitted_at.astimezone(LONDON),
            service_name,
            response.channel,
            response.satisfaction,
            response.resolved,
            None,
            response.id,
            response.contact_id,
            contact_tags.get(response.contact_id) if response.contact_id else None,
        )
        for answer in sorted(answers[response.id], key=lambda a: a.question_key):
            try:
                text = await read_answer_text(session, vault, response, answer)
            except KeyDestroyed:
                text = None
            if not text:
                continue
            question = questions.get(response.survey_version_id, {}).get(answer.question_key, answer.question_key)
            comment = Comment(
                question, redact(text), labels.get(answer.id), answer.id, demand=answer_tags.get(answer.id)
            )
            classified = classes.get(answer.id)
            if classified is not None:
                comment.comment_class = classified.final_class
                comment.reviewed = classified.reviewed_class is not None
                comment.confidence = None if comment.reviewed else classified.confidence
                comment.themes = tuple(
                    classified.reviewed_themes
                    if classified.reviewed_themes is not None
                    else [t["theme"] for t in classified.themes or []]
                )
            row.comments.append(comment)
        row.sentiment = _overall([c.sentiment for c in row.comments if c.sentiment])
        rows.append(row)
    return rows


async def visible_services(session: AsyncSession, viewer: StaffUser) -> list[tuple[str, str]]:
    stmt = select(Service.slug, Service.name).order_by(Service.name)
    if viewer.role == "service_manager":
        stmt = stmt.where(Service.slug.in_(list(viewer.service_scope or [])))
    elif viewer.role not in SEES_EVERY_SERVICE and viewer.role != "agent":
        stmt = stmt.where(false())
    return [(slug, name) for slug, name in (await session.execute(stmt)).all()]


CHANNELS = {
    "email": "Email",
    "sms": "Text message",
    "ivr": "Phone keypad",
    "chat": "Web chat",
    "kiosk": "Kiosk",
    "paper": "Paper",
    "web_link": "Web link",
}


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationException(
            detail="Validation failed", extra=[{"key": name, "message": "Enter a date as YYYY-MM-DD."}]
        ) from None


class FeedbackInbox(Controller):
    path = "/staff/feedback"
    include_in_schema = False
    opt = Access.staff().opt()

    @get("/")
    async def recent(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        service: Annotated[str | None, QueryParameter(name="service", required=False, max_length=64)] = None,
        channel: Annotated[str | None, QueryParameter(name="channel", required=False, max_length=20)] = None,
        raw_from: Annotated[str | None, QueryParameter(name="from", required=False, max_length=10)] = None,
        raw_to: Annotated[str | None, QueryParameter(name="to", required=False, max_length=10)] = None,
        page: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
        comment_class: Annotated[str | None, QueryParameter(name="class", required=False, max_length=12)] = None,
        text: Annotated[str | None, QueryParameter(name="q", required=False, max_length=200)] = None,
    ) -> Template:
        viewer: StaffUser = request.state.staff_user
        # The filter form sends every field, empty ones too: an empty date is no date.
        date_from, date_to = _day(raw_from, "from"), _day(raw_to, "to")
        if comment_class and comment_class not in {item.value for item in CommentClass}:
            raise InvalidInput("Choose complaint, compliment, suggestion or other.", field="class")
        text = " ".join((text or "").split()) or None
        filters = InboxFilters(service or None, channel or None, date_from, date_to, page, comment_class or None, text)
        result = await recent_feedback(db_session, request.app.state.services.get(Vault), viewer, filters)
        services = await visible_services(db_session, viewer)
        query = {
            k: v
            for k, v in {
                "service": service,
                "channel": channel,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
                "class": comment_class,
                "q": text,
            }.items()
            if v
        }
        return staff_template(
            request,
            "feedback/recent.html.j2",
            result=result,
            filters=filters,
            services=services,
            channels=CHANNELS,
            query=query,
            classes=list(CommentClass),
            themes=list(Theme),
            may_review=viewer.role in REVIEWERS,
            open_actions=await open_actions(db_session) if viewer.role in REVIEWERS else [],
            may_see_originals=await may_see_originals(db_session, viewer),
            demand_types=list(DemandType),
            demand_labels=DEMAND_LABELS,
            demand_hints=DEMAND_HINTS,
            may_open_case=viewer.role in ("quality_reviewer", "admin", "service_manager"),
            back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        )


class CommentReview(Controller):
    """Confirming or correcting comments' classes, and the classifier's measured accuracy: reviewers only."""

    path = "/staff/feedback"
    include_in_schema = False
    opt = Access.staff(*REVIEWERS).opt()

    @post("/comments/{answer_id:uuid}/review", status_code=303)
    async def review_comment(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], answer_id: FromPath[uuid.UUID]
    ) -> Redirect:
        form = await request.form()
        await review(
            db_session,
            answer_id,
            comment_class=str(form.get("comment_class", "")),
            themes=[str(theme) for theme in form.getall("themes", [])],
            actor=Actor("staff", str(request.state.staff_user.id)),
        )
        back = str(form.get("back", ""))
        safe = back if back.startswith("/staff/feedback") and "//" not in back else "/staff/feedback"
        return Redirect(safe, status_code=303)

    @post("/comments/{answer_id:uuid}/action", status_code=303)
    async def link_to_action(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], answer_id: FromPath[uuid.UUID]
    ) -> Redirect:
        """The comment prompted an improvement action: linked in one action from the inbox."""
        form = await form_values(request, limit=2000)
        if not form.get("action", "").strip():
            raise InvalidInput("Choose the improvement action this comment prompted.", field="action")
        action = await find_action(db_session, form["action"], lock=True)
        await link_comment(db_session, action, answer_id, actor=acting_staff(request))
        back = form.get("back", "")
        safe = back if back.startswith("/staff/feedback") and "//" not in back else "/staff/feedback"
        return Redirect(safe, status_code=303)

    @get("/classifier")
    async def classifier(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        found = await classifier_report(db_session)
        return staff_template(request, "feedback/classifier.html.j2", report=found)


ROUTES = [FeedbackInbox, CommentReview]
