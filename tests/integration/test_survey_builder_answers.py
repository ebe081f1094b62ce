"""A version published through the builder API is the one answered: several choices for one question are
stored one row each, read back in order, and the response records the version it answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from msgspec.structs import replace

from surveys.builder import responses_to
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import Choice, Question, QuestionKind, ShowIf
from surveys.models import Answer, Invitation, Response, Survey, SurveyVersion
from surveys.tokens import Purpose, TokenSigner
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]

WITH_TOPICS = replace(
    POST_CONTACT_SURVEY,
    questions=(
        *POST_CONTACT_SURVEY.questions[:2],
        Question(
            id="topics",
            kind=QuestionKind.multiple_choice,
            text={"en": "What was your contact about?"},
            hint={"en": "Select all that apply."},
            choices=tuple(
                Choice(value=value, label={"en": label})
                for value, label in [("tax", "Council Tax"), ("bins", "Bins"), ("parking", "Parking")]
            ),
        ),
        Question(
            id="parking_detail",
            kind=QuestionKind.free_text,
            text={"en": "What could we do better about parking?"},
            max_length=300,
            show_if=ShowIf(question="topics", any_of=("parking",)),
        ),
    ),
)


async def test_several_choices_are_stored_and_read_back(
    client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    draft = (await client.post("/api/v1/surveys/post-contact/versions", headers=admin)).json()
    body: Any = msgspec.json.decode(msgspec.json.encode(WITH_TOPICS))
    url = f"/api/v1/surveys/post-contact/versions/{draft['number']}"
    assert (await client.put(url, json=body, headers=admin)).status_code == 200
    assert (await client.post(f"{url}/publish", headers=admin)).status_code == 200

    contact = {
        "source": "crm",
        "external_id": "mc-1",
        "channel": "phone",
        "service": "parking",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "customer": {"email": "resident@example.org", "name": "Resident Person"},
    }
    accepted = (await client.post("/api/v1/contacts", json=contact, headers=auth)).json()
    [invitation] = await db.all(Invitation)
    assert str(invitation.id) == accepted["invitation_id"]
    version = next(v for v in await db.all(SurveyVersion) if v.number == draft["number"])
    assert invitation.survey_version_id == version.id  # invitations use the newest published version

    token = app.state.services.get(TokenSigner).sign(invitation.id, Purpose.survey, invitation.expires_at)
    page = await client.get(f"/s/{token}")
    assert page.status_code == 200
    assert page.text.count('name="topics" type="checkbox"') == 3 and "Select all that apply." in page.text

    # A choice the question does not offer is refused, with what was ticked kept.
    wrong = await client.post(
        f"/s/{token}",
        data={"satisfaction": "4", "resolved": "yes", "topics": ["tax", "pigeons"]},
        follow_redirects=False,
    )
    assert wrong.status_code == 400 and 'href="#topics"' in wrong.text
    assert 'value="tax" checked' in wrong.text and await db.count(Response) == 0

    done = await client.post(
        f"/s/{token}",
        data={"satisfaction": "4", "resolved": "yes", "topics": ["parking", "tax"], "parking_detail": "More bays"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    [response] = await db.all(Response)
    assert response.survey_version_id == version.id
    topics = sorted((a for a in await db.all(Answer) if a.question_key == "topics"), key=lambda a: a.position)
    assert [(a.choice, a.position) for a in topics] == [("tax", 0), ("parking", 1)]
    keys = sorted(a.question_key for a in await db.all(Answer))
    assert keys == ["parking_detail", "resolved", "satisfaction", "topics", "topics"]
    [survey] = [s for s in await db.all(Survey) if s.slug == "post-contact"]
    async with db.sessions() as session:
        assert await responses_to(session, survey) == 1  # a campaign's progress counts the same way
