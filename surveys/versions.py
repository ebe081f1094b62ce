"""Survey versions: a draft an administrator edits, then publishing, which checks the whole definition first.

A published version is immutable (invitations and answers reference it): a change is a new draft.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, NotFound
from surveys.definitions import SurveyDefinition, checked_definition, stored_form
from surveys.models import SurveyVersion, VersionStatus


class VersionNotDraft(CivicVoiceError):
    status = 409
    slug = "survey-version-not-draft"
    title = "This survey version is already published"


async def add_draft(session: AsyncSession, survey_id: uuid.UUID, definition: SurveyDefinition) -> SurveyVersion:
    """A new draft version of a survey, numbered after its latest. Does not commit."""
    latest = await session.scalar(select(func.max(SurveyVersion.number)).where(SurveyVersion.survey_id == survey_id))
    version = SurveyVersion(
        survey_id=survey_id, number=(latest or 0) + 1, status=VersionStatus.draft, definition=stored_form(definition)
    )
    session.add(version)
    await session.flush()
    return version


async def publish(session: AsyncSession, version_id: uuid.UUID) -> SurveyDefinition:
    """Check a draft's whole definition and publish it; InvalidSurveyDefinition names every problem. No commit."""
    version = await session.get(SurveyVersion, version_id, with_for_update=True)
    if version is None:
        raise NotFound("There is no such survey version.")
    if version.status != VersionStatus.draft:
        raise VersionNotDraft(f"Version {version.number} is {version.status}; edit the survey to make a new draft.")
    definition = checked_definition(version.definition)
    version.status = VersionStatus.published
    version.published_at = utcnow()
    return definition
