"""Publishing survey versions against the real database: checked as a whole, stored as JSON, read back typed."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from msgspec.structs import replace
from sqlalchemy import Connection, insert, select, update

from civicvoice.core.db import table, unit_of_work
from civicvoice.core.errors import NotFound
from privacy.vault import Vault
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import DefinitionFault, InvalidSurveyDefinition, ShowIf, stored_definition, stored_form
from surveys.models import Survey, SurveyVersion, VersionStatus
from surveys.responses import ResponseRecorder
from surveys.versions import VersionNotDraft, add_draft, publish
from tests.integration.support import TestDatabase
from tests.unit.surveys.test_definition_migration import FIRST_RELEASE, FIRST_RELEASE_TYPED


async def new_survey(db: TestDatabase) -> uuid.UUID:
    async with unit_of_work(db.sessions) as session:
        survey = Survey(slug=f"survey-{uuid.uuid4().hex[:8]}", name="Test survey")
        session.add(survey)
        await session.flush()
        return survey.id


async def test_a_good_version_is_published_and_read_back(db: TestDatabase) -> None:
    survey_id = await new_survey(db)
    async with unit_of_work(db.sessions) as session:
        draft = await add_draft(session, survey_id, POST_CONTACT_SURVEY)
        again = await add_draft(session, survey_id, POST_CONTACT_SURVEY)
        assert (draft.number, again.number) == (1, 2)
        assert await publish(session, draft.id) == POST_CONTACT_SURVEY
    [published, still_draft] = sorted(await db.all(SurveyVersion), key=lambda v: v.number)
    assert published.status == VersionStatus.published and published.published_at is not None
    assert still_draft.status == VersionStatus.draft
    # The database holds the JSON form, with its questions by id.
    assert [q["id"] for q in published.definition["questions"]] == [
        "satisfaction",
        "resolved",
        "improve",
        "praise",
        "contact_me",
    ]
    assert stored_definition(published.definition) == POST_CONTACT_SURVEY


async def test_a_broken_version_is_refused_and_stays_a_draft(db: TestDatabase) -> None:
    survey_id = await new_survey(db)
    broken = replace(
        POST_CONTACT_SURVEY,
        questions=(
            *POST_CONTACT_SURVEY.questions,
            replace(POST_CONTACT_SURVEY.questions[2], id="later", show_if=ShowIf(question="nowhere", at_most=2)),
        ),
    )
    async with unit_of_work(db.sessions) as session:
        draft_id = (await add_draft(session, survey_id, broken)).id
    with pytest.raises(InvalidSurveyDefinition) as refused:
        async with unit_of_work(db.sessions) as session:
            await publish(session, draft_id)
    assert refused.value.faults == {DefinitionFault.skip_to_unknown_question}
    assert "'later'" in refused.value.detail and "'nowhere'" in refused.value.detail
    [version] = await db.all(SurveyVersion)
    assert version.status == VersionStatus.draft and version.published_at is None


async def test_a_version_is_published_once(db: TestDatabase) -> None:
    survey_id = await new_survey(db)
    async with unit_of_work(db.sessions) as session:
        version_id = (await add_draft(session, survey_id, POST_CONTACT_SURVEY)).id
        await publish(session, version_id)
    async with unit_of_work(db.sessions) as session:
        with pytest.raises(VersionNotDraft, match="make a new draft"):
            await publish(session, version_id)
        with pytest.raises(NotFound):
            await publish(session, uuid.uuid4())


async def test_published_versions_are_cached_by_id_and_drafts_are_not(db: TestDatabase) -> None:
    survey_id = await new_survey(db)
    async with unit_of_work(db.sessions) as session:
        published_id = (await add_draft(session, survey_id, POST_CONTACT_SURVEY)).id
        await publish(session, published_id)
        draft_id = (await add_draft(session, survey_id, POST_CONTACT_SURVEY)).id
    recorder = ResponseRecorder(cast(Vault, None), [])  # reading definitions never touches the vault
    async with db.sessions() as session:
        assert await recorder.definition(session, published_id) == POST_CONTACT_SURVEY
        assert await recorder.definition(session, draft_id) == POST_CONTACT_SURVEY
    edited = replace(POST_CONTACT_SURVEY, title={"en": "Edited"})
    async with unit_of_work(db.sessions) as session:
        # A published version never changes, so a change behind the cache's back is not seen; a draft's is.
        for version_id in (published_id, draft_id):
            await session.execute(
                update(table(SurveyVersion))
                .where(SurveyVersion.id == version_id)
                .values(definition=stored_form(edited))
            )
    async with db.sessions() as session:
        assert await recorder.definition(session, published_id) == POST_CONTACT_SURVEY
        assert (await recorder.definition(session, draft_id)).title_in("en") == "Edited"


def _migration_0011() -> Any:
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0011_typed_survey_definitions.py"
    spec = importlib.util.spec_from_file_location("migration_0011", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_migration_0011_rewrites_a_first_release_version(db: TestDatabase) -> None:
    survey_id = await new_survey(db)
    old_id = uuid.uuid4()
    async with unit_of_work(db.sessions) as session:
        await session.execute(
            insert(table(SurveyVersion)).values(
                id=old_id, survey_id=survey_id, number=1, status="published", definition=FIRST_RELEASE
            )
        )
    migration = _migration_0011()

    def run(step: str) -> Any:
        def on(connection: Connection) -> None:
            with Operations.context(MigrationContext.configure(connection)):
                getattr(migration, step)()

        return on

    async with db.engine.begin() as connection:
        await connection.run_sync(run("upgrade"))
    async with db.sessions() as session:
        stored = await session.scalar(select(SurveyVersion.definition).where(SurveyVersion.id == old_id))
    assert stored is not None and stored_definition(stored) == FIRST_RELEASE_TYPED

    async with db.engine.begin() as connection:
        await connection.run_sync(run("upgrade"))  # running again changes nothing
        await connection.run_sync(run("downgrade"))
    async with db.sessions() as session:
        assert await session.scalar(select(SurveyVersion.definition).where(SurveyVersion.id == old_id)) == FIRST_RELEASE
