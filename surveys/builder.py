"""Designing surveys: creating one, editing a draft version, publishing it, and the channels a survey may use.

One service for the administrators' API and the staff builder pages. Publishing checks the whole definition
(`check_definition`) and how it renders on each of the survey's channels (`channel_problems`) together, so a
refusal names every problem at once. A published version is never edited: a change is a new draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from msgspec.structs import replace
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from surveys.channels.ivr import keypad_question
from surveys.definitions import (
    ENGLISH,
    DefinitionFault,
    DefinitionProblem,
    InvalidSurveyDefinition,
    Question,
    QuestionKind,
    SurveyDefinition,
    SurveyKind,
    check_definition,
    stored_definition,
    stored_form,
)
from surveys.models import Response, Survey, SurveyVersion, VersionStatus
from surveys.rules import InvitationChannel
from surveys.versions import VersionNotDraft, add_draft, publish

# Channels that ask the questions themselves, a few at a time: by keypad on the call, or by text message reply.
ASKED_BRIEFLY: Final = frozenset({InvitationChannel.ivr, InvitationChannel.sms})
MOST_ASKED_BRIEFLY: Final = 3
# What a new survey may use unless its creator says otherwise: a link in an email or after an online form.
NEW_SURVEY_CHANNELS: Final = (InvitationChannel.email.value, InvitationChannel.web_link.value)
_SLUG_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,63}$"


class UnknownChannel(InvalidInput):
    slug = "unknown-channel"
    title = "Unknown channel"


class ChannelsDoNotFit(InvalidInput):
    slug = "channels-do-not-fit"
    title = "The survey's published version cannot be asked on these channels"


def _is_asked_briefly(question: Question) -> bool:
    """A question the keypad or a one-word text reply can answer (not free text, not several choices)."""
    return keypad_question(question) is not None


def _is_one_tap(question: Question) -> bool:
    return question.kind is not QuestionKind.free_text and question.kind is not QuestionKind.multiple_choice


def channel_problems(definition: SurveyDefinition, channels: Iterable[str]) -> list[DefinitionProblem]:
    """Why this definition cannot be asked on some of ``channels``; empty when it can on each.

    IVR and SMS ask the questions a key press or a one-word reply answers, at most three (free text is left to
    the web version their link leads to). The kiosk asks one tap question and, optionally, one comment.
    """
    problems: list[DefinitionProblem] = []
    for channel in sorted(set(channels)):
        if channel in ASKED_BRIEFLY:
            asked = [q.id for q in definition.questions if _is_asked_briefly(q)]
            if len(asked) > MOST_ASKED_BRIEFLY:
                problems.append(
                    DefinitionProblem(
                        DefinitionFault.channel_limit,
                        f"The survey may be asked by {channel.upper()}, which asks at most {MOST_ASKED_BRIEFLY} "
                        f"questions; this version has {len(asked)} it would ask ({', '.join(map(repr, asked))}). "
                        f"Remove questions or take {channel.upper()} off the survey's channels.",
                    )
                )
            elif not asked:
                problems.append(
                    DefinitionProblem(
                        DefinitionFault.channel_limit,
                        f"The survey may be asked by {channel.upper()}, but this version has no question a key "
                        "press or a one-word reply can answer.",
                    )
                )
        elif channel == InvitationChannel.kiosk:
            taps = [q for q in definition.questions if _is_one_tap(q)]
            comments = [q for q in definition.questions if q.kind is QuestionKind.free_text]
            others = [q for q in definition.questions if q.kind is QuestionKind.multiple_choice]
            if len(taps) != 1 or len(comments) > 1 or others or any(q.required for q in comments):
                problems.append(
                    DefinitionProblem(
                        DefinitionFault.channel_limit,
                        "The survey may be asked on the kiosk, which asks one tap question and at most one optional "
                        f"comment; this version has {len(taps)} tap question(s), {len(comments)} comment question(s)"
                        f"{' (one of them required)' if any(q.required for q in comments) else ''}"
                        f"{' and multiple-choice questions' if others else ''}.",
                    )
                )
    return problems


def checked_channels(raw: Sequence[str]) -> tuple[str, ...]:
    """The channels named, each once and in the usual order; UnknownChannel for a name that is not one."""
    known = [channel.value for channel in InvitationChannel]
    unknown = [name for name in raw if name not in known]
    if unknown:
        raise UnknownChannel(
            f"{', '.join(map(repr, unknown))} is not a channel; use any of {', '.join(known)}.", field="channels"
        )
    return tuple(channel for channel in known if channel in raw)


def starter_definition(name: str, kind: SurveyKind) -> SurveyDefinition:
    """A new survey's first draft: its title and nothing to ask yet."""
    return SurveyDefinition(title={ENGLISH: name}, kind=kind, questions=())


@dataclass(frozen=True)
class SurveySummary:
    survey: Survey
    versions: list[SurveyVersion]

    @property
    def latest(self) -> SurveyVersion | None:
        return self.versions[-1] if self.versions else None

    @property
    def live(self) -> SurveyVersion | None:
        """The version being sent: the latest published one."""
        return next((v for v in reversed(self.versions) if v.status == VersionStatus.published), None)


async def list_surveys(session: AsyncSession) -> list[SurveySummary]:
    surveys = (await session.scalars(select(Survey).order_by(Survey.name, Survey.slug))).all()
    versions = (await session.scalars(select(SurveyVersion).order_by(SurveyVersion.number))).all()
    by_survey: dict[object, list[SurveyVersion]] = {}
    for version in versions:
        by_survey.setdefault(version.survey_id, []).append(version)
    return [SurveySummary(survey, by_survey.get(survey.id, [])) for survey in surveys]


async def find_survey(session: AsyncSession, slug: str) -> SurveySummary:
    survey = await session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None:
        raise NotFound(f"There is no survey {slug[:64]!r}.")
    versions = (
        await session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey.id).order_by(SurveyVersion.number)
        )
    ).all()
    return SurveySummary(survey, list(versions))


def version_of(found: SurveySummary, number: int) -> SurveyVersion:
    version = next((v for v in found.versions if v.number == number), None)
    if version is None:
        raise NotFound(f"Survey {found.survey.slug!r} has no version {number}.")
    return version


async def create_survey(
    session: AsyncSession,
    actor: Actor,
    *,
    slug: str,
    name: str,
    kind: SurveyKind,
    channels: Sequence[str] | None = None,
    definition: SurveyDefinition | None = None,
) -> tuple[Survey, SurveyVersion]:
    """A new survey with its first draft (``definition``, or a title and no questions). Does not commit."""
    if not re.match(_SLUG_PATTERN, slug):
        raise InvalidInput(
            "Give the survey a short name for links: lower-case letters, digits and hyphens, up to 64.", field="slug"
        )
    if not name.strip() or len(name) > 200:
        raise InvalidInput("Give the survey a name of up to 200 characters.", field="name")
    chosen = checked_channels(NEW_SURVEY_CHANNELS if channels is None else channels)
    if definition is not None and definition.kind is not kind:
        raise _wrong_kind(kind, definition)
    if await session.scalar(select(func.count()).select_from(Survey).where(Survey.slug == slug)):
        raise Conflict(f"There is already a survey {slug!r}; choose another short name.", field="slug")
    survey = Survey(slug=slug, name=name.strip(), kind=kind.value, channels=list(chosen))
    session.add(survey)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"There is already a survey {slug!r}; choose another short name.", field="slug") from None
    draft = await add_draft(session, survey.id, definition or starter_definition(survey.name, kind))
    record(session, actor, "surveys.survey.create", target_kind="survey", target_id=survey.id, detail={"slug": slug})
    return survey, draft


def _wrong_kind(kind: SurveyKind, definition: SurveyDefinition) -> InvalidInput:
    return InvalidInput(
        f"This is a {kind.value.replace('_', '-')} survey; its versions' kind must be {kind.value!r}, "
        f"not {definition.kind.value!r}.",
        field="kind",
    )


async def replace_draft(
    session: AsyncSession, actor: Actor, found: SurveySummary, number: int, definition: SurveyDefinition
) -> SurveyVersion:
    """A draft's whole definition replaced; a published version is refused (VersionNotDraft). No commit."""
    version = version_of(found, number)
    if version.status != VersionStatus.draft:
        raise VersionNotDraft(
            f"Version {version.number} is {version.status} and never changes; "
            "edit the survey to make a new draft, and change that."
        )
    if definition.kind.value != found.survey.kind:
        raise _wrong_kind(SurveyKind(found.survey.kind), definition)
    version.definition = stored_form(definition)
    record(
        session,
        actor,
        "surveys.version.edit",
        target_kind="survey_version",
        target_id=version.id,
        detail={"survey": found.survey.slug, "number": version.number},
    )
    await session.flush()
    return version


async def new_draft(session: AsyncSession, actor: Actor, found: SurveySummary) -> SurveyVersion:
    """A new draft, numbered after the latest version and starting as a copy of it. No commit."""
    latest = found.latest
    definition = (
        stored_definition(latest.definition)
        if latest is not None
        else starter_definition(found.survey.name, SurveyKind(found.survey.kind))
    )
    try:
        version = await add_draft(session, found.survey.id, definition)
    except IntegrityError:
        # Another draft took the number at the same moment (the unique survey and number refused this one).
        raise Conflict("Someone else made a new draft of this survey just now; look at its versions again.") from None
    record(
        session,
        actor,
        "surveys.version.draft",
        target_kind="survey_version",
        target_id=version.id,
        detail={"survey": found.survey.slug, "number": version.number},
    )
    return version


def publishing_problems(found: SurveySummary, definition: SurveyDefinition) -> list[DefinitionProblem]:
    """Every reason this definition cannot be published as a version of this survey, in reading order."""
    problems = check_definition(definition)
    if definition.kind.value != found.survey.kind:
        problems.append(
            DefinitionProblem(DefinitionFault.wrong_kind, str(_wrong_kind(SurveyKind(found.survey.kind), definition)))
        )
    return problems + channel_problems(definition, found.survey.channels)


async def publish_version(session: AsyncSession, actor: Actor, found: SurveySummary, number: int) -> SurveyVersion:
    """Publish a draft after checking it whole and against the survey's channels. No commit."""
    version = version_of(found, number)
    if version.status != VersionStatus.draft:
        raise VersionNotDraft(f"Version {version.number} is {version.status}; edit the survey to make a new draft.")
    problems = publishing_problems(found, stored_definition(version.definition))
    if problems:
        raise InvalidSurveyDefinition(problems)
    await publish(session, version.id)
    record(
        session,
        actor,
        "surveys.version.publish",
        target_kind="survey_version",
        target_id=version.id,
        detail={"survey": found.survey.slug, "number": version.number},
    )
    return version


@dataclass(frozen=True)
class Campaign:
    starts_on: date | None
    ends_on: date | None
    target_responses: int | None


async def set_campaign(session: AsyncSession, actor: Actor, found: SurveySummary, campaign: Campaign) -> Survey:
    """A campaign's period and target; InvalidInput naming the field for a post-contact survey or a bad value."""
    if found.survey.kind != SurveyKind.campaign:
        raise InvalidInput("Only a campaign has a period and a target; this survey is sent after contacts.")
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        raise InvalidInput("The campaign must end on or after the day it starts.", field="ends_on")
    if campaign.target_responses is not None and not 1 <= campaign.target_responses <= 10_000_000:
        raise InvalidInput("The target must be a number of responses from 1 to 10,000,000.", field="target_responses")
    survey = found.survey
    survey.campaign_starts_on, survey.campaign_ends_on = campaign.starts_on, campaign.ends_on
    survey.target_responses = campaign.target_responses
    record(
        session,
        actor,
        "surveys.survey.campaign",
        target_kind="survey",
        target_id=survey.id,
        detail={"target_responses": campaign.target_responses},
    )
    await session.flush()
    return survey


async def responses_to(session: AsyncSession, survey: Survey) -> int:
    """How many responses a survey has had, over all its versions (a campaign's progress)."""
    count = await session.scalar(
        select(func.count())
        .select_from(Response)
        .join(SurveyVersion, SurveyVersion.id == Response.survey_version_id)
        .where(SurveyVersion.survey_id == survey.id)
    )
    return int(count or 0)


async def set_channels(session: AsyncSession, actor: Actor, found: SurveySummary, raw: Sequence[str]) -> Survey:
    """Change the channels a survey may use; refused if its published version cannot be asked on them."""
    chosen = checked_channels(raw)
    live = found.live
    if live is not None:
        problems = channel_problems(stored_definition(live.definition), chosen)
        if problems:
            raise ChannelsDoNotFit(
                f"Version {live.number} is being sent. " + " ".join(p.message for p in problems), field="channels"
            )
    found.survey.channels = list(chosen)
    record(
        session,
        actor,
        "surveys.survey.channels",
        target_kind="survey",
        target_id=found.survey.id,
        detail={"channels": list(chosen)},
    )
    await session.flush()
    return found.survey


def with_question(
    definition: SurveyDefinition, question: Question, *, replacing: str | None = None
) -> SurveyDefinition:
    """The definition with ``question`` added at the end, or in place of the question ``replacing``."""
    if replacing is None:
        return replace(definition, questions=(*definition.questions, question))
    return replace(definition, questions=tuple(question if q.id == replacing else q for q in definition.questions))
