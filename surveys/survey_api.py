"""HTTP API for administrators designing surveys: surveys, their versions, drafts, publishing and channels.

Needs an API key with the `surveys:admin` scope. A published version never changes (409 when asked to): a change
is a new draft. Publishing refuses a broken version with 422, each problem in the problem details' `errors`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access
from civicvoice.core.clock import utcnow
from civicvoice.core.http import problem_responses, service
from surveys.builder import (
    Campaign,
    SurveySummary,
    create_survey,
    find_survey,
    list_surveys,
    new_draft,
    publish_version,
    replace_draft,
    set_campaign,
    set_channels,
    version_of,
)
from surveys.campaigns import MAX_RECIPIENTS, Campaigns, RecipientIn, campaign_progress, keep_to_period
from surveys.controllers import api_principal, strictly
from surveys.definitions import SurveyDefinition, SurveyKind, stored_definition
from surveys.models import SurveyVersion
from surveys.rules import InvitationChannel

SURVEYS_ADMIN = "surveys:admin"
ChannelName = Annotated[str, Meta(max_length=20)]


class SurveyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Short name used in links")]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    kind: SurveyKind = SurveyKind.post_contact
    channels: Annotated[list[ChannelName], Meta(max_length=len(InvitationChannel))] | None = None
    # The first draft; without it the draft has the survey's name as its title and no questions yet.
    definition: SurveyDefinition | None = None


class ChannelsIn(msgspec.Struct, forbid_unknown_fields=True):
    channels: Annotated[list[ChannelName], Meta(max_length=len(InvitationChannel))]


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    starts_on: date | None = None
    ends_on: date | None = None
    target_responses: Annotated[int, Meta(ge=1, le=10_000_000)] | None = None


class CampaignOut(msgspec.Struct):
    starts_on: date | None
    ends_on: date | None
    target_responses: int | None
    responses: int  # so far, over all the survey's versions
    recipients: int  # people on its list
    invited: int  # of them, invited so far
    responded: int  # of them, who have answered their invitation
    percent_of_target: int | None  # responses as a whole percentage of the target


class RecipientsIn(msgspec.Struct, forbid_unknown_fields=True):
    recipients: Annotated[list[RecipientIn], Meta(min_length=1, max_length=MAX_RECIPIENTS)]


class RecipientRejected(msgspec.Struct):
    position: int  # its place in the list sent, from 0
    reason: str  # invalid_email, invalid_mobile, no_contact_details, no_channel, opted_out, suppressed, ...
    detail: str
    field: str | None


class RecipientsOut(msgspec.Struct):
    added: int
    already: int  # already on the list: nothing added
    invited: int  # invited at once, the campaign being under way
    rejected: list[RecipientRejected]
    campaign: CampaignOut


class VersionSummary(msgspec.Struct):
    number: int
    status: str
    created_at: datetime
    published_at: datetime | None


class SurveyOut(msgspec.Struct):
    slug: str
    name: str
    kind: str
    channels: list[str]
    # The version being sent (the latest published one), if any.
    live_version: int | None
    versions: list[VersionSummary]
    campaign: CampaignOut | None  # a campaign's period, target and progress; None for a post-contact survey


class SurveyList(msgspec.Struct):
    surveys: list[SurveyOut]


class VersionOut(msgspec.Struct):
    survey: str
    number: int
    status: str
    created_at: datetime
    published_at: datetime | None
    definition: SurveyDefinition


def _summary(version: SurveyVersion) -> VersionSummary:
    return VersionSummary(
        number=version.number, status=version.status, created_at=version.created_at, published_at=version.published_at
    )


async def survey_out(session: AsyncSession, found: SurveySummary) -> SurveyOut:
    live = found.live
    survey = found.survey
    campaign = None
    if survey.kind == SurveyKind.campaign:
        campaign = await campaign_out(session, found)
    return SurveyOut(
        slug=found.survey.slug,
        name=found.survey.name,
        kind=found.survey.kind,
        channels=list(found.survey.channels),
        live_version=live.number if live is not None else None,
        versions=[_summary(v) for v in found.versions],
        campaign=campaign,
    )


async def campaign_out(session: AsyncSession, found: SurveySummary) -> CampaignOut:
    progress = await campaign_progress(session, found.survey)
    return CampaignOut(
        starts_on=progress.starts_on,
        ends_on=progress.ends_on,
        target_responses=progress.target,
        responses=progress.responses,
        recipients=progress.recipients,
        invited=progress.invited,
        responded=progress.responded,
        percent_of_target=progress.percent,
    )


def version_out(found: SurveySummary, version: SurveyVersion) -> VersionOut:
    return VersionOut(
        survey=found.survey.slug,
        number=version.number,
        status=version.status,
        created_at=version.created_at,
        published_at=version.published_at,
        definition=stored_definition(version.definition),
    )


class SurveyAdminController(Controller):
    path = "/api/v1/surveys"
    tags = ["Surveys"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    opt = Access.api(SURVEYS_ADMIN).opt()

    @get("/", responses=problem_responses(401, 403), summary="List the surveys and their versions")
    async def list_all(self, db_session: NamedDependency[AsyncSession]) -> SurveyList:
        return SurveyList(surveys=[await survey_out(db_session, found) for found in await list_surveys(db_session)])

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 409, 422),
        summary="Create a survey with its first draft",
        description=(
            "A post-contact survey (sent after contacts; each published version has exactly one CSAT 1-5 "
            "question) or a campaign (sent to a list). `channels` defaults to email and web_link. The draft is "
            "checked only when it is published."
        ),
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[SurveyIn], db_session: NamedDependency[AsyncSession]
    ) -> SurveyOut:
        body = await strictly(request, SurveyIn)
        await create_survey(
            db_session,
            api_principal(request).actor,
            slug=body.slug,
            name=body.name,
            kind=body.kind,
            channels=body.channels,
            definition=body.definition,
        )
        return await survey_out(db_session, await find_survey(db_session, body.slug))

    @get("/{slug:str}", responses=problem_responses(401, 403, 404), summary="One survey and its versions")
    async def show(self, db_session: NamedDependency[AsyncSession], slug: FromPath[str]) -> SurveyOut:
        return await survey_out(db_session, await find_survey(db_session, slug))

    @put(
        "/{slug:str}/campaign",
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="Set a campaign's period and target",
        description=(
            "Only a campaign survey has them; its progress is the number of responses to its versions. Invitations "
            "already sent close no later than the new end."
        ),
    )
    async def campaign(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CampaignIn],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> SurveyOut:
        body = await strictly(request, CampaignIn)
        found = await find_survey(db_session, slug)
        campaign = Campaign(body.starts_on, body.ends_on, body.target_responses)
        await set_campaign(db_session, api_principal(request).actor, found, campaign)
        await keep_to_period(db_session, found.survey, utcnow())
        return await survey_out(db_session, found)

    @post(
        "/{slug:str}/recipients",
        status_code=HTTP_200_OK,
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="Add people to a campaign's list",
        description=(
            f"At most {MAX_RECIPIENTS} a request, each with an email address and/or a mobile number (checked like a "
            "contact's), and optionally a name and an organisation. Each person refused is reported in `rejected` "
            "by its position with the reason (a bad identifier, no channel the campaign can use, opted out, on the "
            "suppression list, restricted) and nothing is stored for them; a person already on the list is counted "
            "in `already`. People added to a campaign under way are invited at once, else on its start day."
        ),
    )
    async def recipients(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RecipientsIn],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> RecipientsOut:
        body = await strictly(request, RecipientsIn)
        found = await find_survey(db_session, slug)
        added = await service(request, Campaigns).add_recipients(
            db_session, api_principal(request).actor, found, body.recipients
        )
        return RecipientsOut(
            added=added.added,
            already=added.already,
            invited=added.invited,
            rejected=[RecipientRejected(p.position, p.reason, p.detail, p.field) for p in added.rejected],
            campaign=await campaign_out(db_session, found),
        )

    @put(
        "/{slug:str}/channels",
        responses=problem_responses(400, 401, 403, 404, 422),
        summary="Set the channels a survey may use",
        description=(
            "IVR and SMS ask at most three questions (those a key press or a one-word reply answers); the kiosk "
            "asks one tap question and at most one optional comment. Refused (422) if the version being sent "
            "cannot be asked on a channel named."
        ),
    )
    async def channels(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChannelsIn],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
    ) -> SurveyOut:
        body = await strictly(request, ChannelsIn)
        found = await find_survey(db_session, slug)
        await set_channels(db_session, api_principal(request).actor, found, body.channels)
        return await survey_out(db_session, found)

    @get(
        "/{slug:str}/versions/{number:int}",
        responses=problem_responses(401, 403, 404),
        summary="One version with its whole definition",
    )
    async def version(
        self, db_session: NamedDependency[AsyncSession], slug: FromPath[str], number: FromPath[int]
    ) -> VersionOut:
        found = await find_survey(db_session, slug)
        return version_out(found, version_of(found, number))

    @put(
        "/{slug:str}/versions/{number:int}",
        responses=problem_responses(400, 401, 403, 404, 409, 422),
        summary="Replace a draft's definition",
        description="A published version never changes: 409. Make a new draft (POST .../versions) and change that.",
    )
    async def replace(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SurveyDefinition],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> VersionOut:
        definition = await strictly(request, SurveyDefinition)
        found = await find_survey(db_session, slug)
        version = await replace_draft(db_session, api_principal(request).actor, found, number, definition)
        return version_out(found, version)

    @post(
        "/{slug:str}/versions",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(401, 403, 404),
        summary="Make a new draft from the latest version",
        description="Numbered after the latest version, with a copy of its definition.",
    )
    async def draft(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> VersionOut:
        found = await find_survey(db_session, slug)
        version = await new_draft(db_session, api_principal(request).actor, found)
        return version_out(found, version)

    @post(
        "/{slug:str}/versions/{number:int}/publish",
        status_code=HTTP_200_OK,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Publish a draft",
        description=(
            "Checks the whole definition and how it is asked on each of the survey's channels. A broken version "
            "is refused (422) naming every problem, each in `errors` under its question's id; a version already "
            "published is refused (409)."
        ),
    )
    async def publish(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> VersionOut:
        found = await find_survey(db_session, slug)
        version = await publish_version(db_session, api_principal(request).actor, found, number)
        return version_out(found, version)


ROUTES = [SurveyAdminController]
API_SCOPES = {SURVEYS_ADMIN: "Design surveys: create them, edit drafts, publish versions, set channels"}
