"""IVR post-call survey: a telephony platform reports the call, then walks the keypad survey through the signed
webhook; answers land in the one response model. Unsigned, wrongly signed, stale and malformed requests change
nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.app import create_app
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from surveys.channels.ivr import THANK_YOU
from surveys.models import Answer, Invitation, IvrCall, Response
from surveys.rules import InvitationChannel, InvitationPolicy
from surveys.sending import SEND_INVITATION_JOB
from surveys.signed_requests import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_request
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]

PLATFORM = "telephony"
SECRET = "s" * 24 + "-shared-secret-for-tests"
IVR_POLICY = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.ivr}),
)


@pytest.fixture
async def ivr_app(settings: Settings, db: TestDatabase) -> Litestar:
    await db.load_catalogue(IVR_POLICY)
    return create_app(settings.with_changes(ivr_secrets={PLATFORM: SECRET, "other": "o" * 40}), worker=False)


@pytest.fixture
async def ivr(ivr_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=ivr_app, base_url="http://testserver.local") as client:
        yield client


def call_event(call_id: str, channel: str = "phone", **customer: Any) -> dict[str, Any]:
    return {
        "source": PLATFORM,
        "external_id": call_id,
        "channel": channel,
        "service": "waste-and-recycling",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "customer": {"phone": "07911 123456", "email": "caller@example.org", **customer},
    }


async def step(
    client: Client, call_id: str, body: dict[str, Any] | None = None, *, secret: str = SECRET, **sign: Any
) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    path = f"/api/v1/ivr/calls/{call_id}"
    headers = sign_request(
        sign.get("platform", PLATFORM), secret, "POST", path, raw, sign.get("now", datetime.now(UTC))
    )
    headers["content-type"] = "application/json"
    return await client.post(path, content=raw, headers=headers)


async def reported(client: Client, auth: dict[str, str], call_id: str, **kw: Any) -> dict[str, Any]:
    answer = await client.post("/api/v1/contacts", json=call_event(call_id, **kw), headers=auth)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_phone_contact_is_surveyed_on_the_call_and_answers_are_stored(
    ivr: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    decision = await reported(ivr, auth, "CALL-1")
    assert decision["decision"]["invite"] is True and decision["decision"]["channel"] == "ivr"
    # Nothing is sent: the invitation waits for the call.
    assert not [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]

    first = await step(ivr, "CALL-1")
    assert first.status_code == 200, first.text
    prompt = first.json()
    assert prompt["action"] == "ask" and prompt["question"] == "satisfaction" and prompt["attempt"] == 1
    assert prompt["digits"] == ["5", "4", "3", "2", "1"]  # as the choices are spoken, very satisfied first
    assert prompt["max_digits"] == 1
    assert prompt["prompt"].startswith("Overall, how satisfied") and "press 5" in prompt["prompt"]
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sent" and invitation.sent_at is not None

    # Resuming (the platform lost our answer) repeats the same prompt and changes nothing.
    again = (await step(ivr, "CALL-1")).json()
    assert again == prompt

    # Out of range: asked once more, then the call moves on with the question unanswered.
    wrong = (await step(ivr, "CALL-1", {"question": "satisfaction", "digits": "9"})).json()
    assert wrong["question"] == "satisfaction" and wrong["attempt"] == 2 and wrong["prompt"].startswith("Sorry")
    right = (await step(ivr, "CALL-1", {"question": "satisfaction", "digits": "4"})).json()
    assert right["question"] == "resolved" and right["digits"] == ["1", "2", "3"] and right["attempt"] == 1
    assert "For Partly, press 2." in right["prompt"]

    # A replay of the first answer (inside the time window) is refused and changes nothing.
    replay = await step(ivr, "CALL-1", {"question": "satisfaction", "digits": "1"})
    assert replay.status_code == 409 and replay.headers["content-type"].startswith("application/problem+json")

    nothing = (await step(ivr, "CALL-1", {"question": "resolved", "digits": ""})).json()
    assert nothing["question"] == "resolved" and nothing["attempt"] == 2
    moved_on = (await step(ivr, "CALL-1", {"question": "resolved", "digits": "7"})).json()
    assert moved_on["question"] == "contact_me" and moved_on["digits"] == ["1", "2"]
    assert await db.count(Response) == 0  # nothing is stored until the survey ends

    end = (await step(ivr, "CALL-1", {"question": "contact_me", "digits": "2"})).json()
    assert end == {
        "call_id": "CALL-1",
        "action": "end",
        "prompt": THANK_YOU,
        "question": None,
        "digits": [],
        "max_digits": 0,
        "attempt": 0,
        "language": "en",
    }
    [response] = await db.all(Response)
    assert (response.satisfaction, response.resolved, response.channel) == (4, None, "ivr")
    assert response.invitation_id == invitation.id and response.subject_id == invitation.subject_id
    answers = {a.question_key: (a.number, a.choice) for a in await db.all(Answer)}
    assert answers == {"satisfaction": (4, None), "contact_me": (None, "no")}
    [call] = await db.all(IvrCall)
    assert call.finished_at is not None and call.response_id == response.id

    # After the end: a resume says goodbye again; late digits are refused; one response only.
    assert (await step(ivr, "CALL-1")).json()["action"] == "end"
    assert (await step(ivr, "CALL-1", {"question": "contact_me", "digits": "1"})).status_code == 409
    assert await db.count(Response) == 1


async def test_a_call_with_no_valid_digits_stores_no_response(
    ivr: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await reported(ivr, auth, "CALL-2")
    for question in ("satisfaction", "resolved", "contact_me"):
        prompt = (await step(ivr, "CALL-2")).json()
        assert prompt["question"] == question
        await step(ivr, "CALL-2", {"question": question, "digits": "#"})
        await step(ivr, "CALL-2", {"question": question, "digits": "#"})
    final = (await step(ivr, "CALL-2")).json()
    assert final["action"] == "end"
    assert await db.count(Response) == 0
    [call] = await db.all(IvrCall)
    assert call.finished_at is not None and call.outcomes == {
        "satisfaction": None,
        "resolved": None,
        "contact_me": None,
    }


async def test_a_call_without_an_ivr_invitation_gets_404(ivr: Client, auth: dict[str, str], db: TestDatabase) -> None:
    # A web chat contact is not invited on the IVR channel; an unknown call has no contact at all.
    await reported(ivr, auth, "CHAT-1", channel="web_chat")
    for call_id in ("CHAT-1", "NO-SUCH-CALL"):
        answer = await step(ivr, call_id)
        assert answer.status_code == 404 and answer.json()["type"] == "/problems/no-ivr-survey"
    # Another platform's call ids are its own: the same id under another source is not this call.
    await reported(ivr, auth, "CALL-3")
    other = await step(ivr, "CALL-3", platform="other", secret="o" * 40)
    assert other.status_code == 404
    assert await db.count(IvrCall) == 0


async def unchanged(db: TestDatabase) -> tuple[int, int, list[str]]:
    return await db.count(IvrCall), await db.count(Response), [i.state for i in await db.all(Invitation)]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("unsigned", 401),
        ("no timestamp", 401),
        ("wrong secret", 403),
        ("unknown platform", 403),
        ("stale", 403),
        ("future", 403),
        ("not a number", 403),
        ("body changed after signing", 403),
        ("path changed after signing", 403),
    ],
)
async def test_requests_not_signed_by_a_platform_are_refused_with_no_side_effect(
    ivr: Client, auth: dict[str, str], db: TestDatabase, case: str, status: int
) -> None:
    await reported(ivr, auth, "CALL-4")
    before = await unchanged(db)
    path = "/api/v1/ivr/calls/CALL-4"
    now = datetime.now(UTC)
    headers = sign_request(PLATFORM, SECRET, "POST", path, b"", now)
    content = b""
    if case == "unsigned":
        headers = {}
    elif case == "no timestamp":
        del headers[TIMESTAMP_HEADER]
    elif case == "wrong secret":
        headers = sign_request(PLATFORM, "x" * 40, "POST", path, b"", now)
    elif case == "unknown platform":
        headers = sign_request("nobody", SECRET, "POST", path, b"", now)
    elif case == "stale":
        headers = sign_request(PLATFORM, SECRET, "POST", path, b"", now - timedelta(minutes=6))
    elif case == "future":
        headers = sign_request(PLATFORM, SECRET, "POST", path, b"", now + timedelta(minutes=6))
    elif case == "not a number":
        headers[TIMESTAMP_HEADER] = "soon"
    elif case == "body changed after signing":
        content = b'{"question": "satisfaction", "digits": "5"}'
    elif case == "path changed after signing":
        headers = sign_request(PLATFORM, SECRET, "POST", "/api/v1/ivr/calls/CALL-9", b"", now)
    answer = await ivr.post(path, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await unchanged(db) == before
    # The same request properly signed works: the refusal was about the signature only.
    assert (await step(ivr, "CALL-4")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"digits": 4, "question": "satisfaction"}',
        b'{"digits": "4"}',
        b'{"question": "satisfaction"}',
        b'{"question": "satisfaction", "digits": "4", "extra": 1}',
        b'{"question": "Satisfaction!", "digits": "4"}',
        b'{"question": "satisfaction", "digits": "4 thanks"}',
    ],
)
async def test_malformed_payloads_get_problem_details_and_change_nothing(
    ivr: Client, auth: dict[str, str], db: TestDatabase, body: bytes
) -> None:
    await reported(ivr, auth, "CALL-5")
    await step(ivr, "CALL-5")
    before = await unchanged(db)
    path = "/api/v1/ivr/calls/CALL-5"
    headers = sign_request(PLATFORM, SECRET, "POST", path, body, datetime.now(UTC))
    answer = await ivr.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "/problems/invalid-ivr-request"
    assert await unchanged(db) == before
    async with db.sessions() as session:
        call = await session.scalar(select(IvrCall))
        assert call is not None and call.outcomes == {} and call.retries == 0


async def test_a_closed_invitation_is_not_surveyed(ivr: Client, auth: dict[str, str], db: TestDatabase) -> None:
    await reported(ivr, auth, "CALL-6")
    async with db.sessions() as session:
        invitation = await session.scalar(select(Invitation))
        assert invitation is not None
        invitation.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        await session.commit()
    answer = await step(ivr, "CALL-6")
    assert answer.status_code == 410
    assert await db.count(IvrCall) == 0


async def test_the_contract_is_in_the_openapi_schema(ivr: Client) -> None:
    schema = (await ivr.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/v1/ivr/calls/{call_id}"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {SIGNATURE_HEADER, TIMESTAMP_HEADER, "x-civicvoice-platform"} <= headers
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"question", "digits"}
    assert {"200", "401", "403", "404", "409", "410"} <= set(operation["responses"])


async def test_the_same_digits_sent_twice_at_once_are_taken_once(
    ivr: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    """A platform retrying on a timeout while the first request is still running: one answer is applied."""
    await reported(ivr, auth, "CALL-7")
    first = await asyncio.gather(*(step(ivr, "CALL-7") for _ in range(2)))
    assert sorted(r.status_code for r in first) in ([200, 200], [200, 409])
    assert await db.count(IvrCall) == 1
    answers = await asyncio.gather(
        *(step(ivr, "CALL-7", {"question": "satisfaction", "digits": "5"}) for _ in range(2))
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    [call] = await db.all(IvrCall)
    assert call.outcomes == {"satisfaction": "5"} and call.current == "resolved"
