"""End-of-chat survey: a chat platform reports the chat, asks for a widget token server to server (HMAC-signed),
and the widget, on the platform's page, reads the question and posts the answer cross-origin with that token. The
answer lands on the chat's invitation in the one response model. Unsigned, stale, malformed, replayed and
expired requests change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.app import create_app
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from privacy.vault import Vault
from surveys.models import Answer, Invitation, InvitationEvent, Response
from surveys.responses import read_answer_text
from surveys.rules import InvitationChannel, InvitationPolicy
from surveys.sending import SEND_INVITATION_JOB
from surveys.signed_requests import sign_request
from surveys.timeline import timeline
from surveys.tokens import Purpose, TokenSigner
from tests.integration.support import TestDatabase
from tests.integration.test_survey_builder_welsh import WELSH_CSAT, WELSH_TITLE, publish_in_welsh

Client = AsyncTestClient[Litestar]

PLATFORM = "webchat"
SECRET = "c" * 24 + "-chat-shared-secret-for-tests"
IVR_SECRET = "i" * 40
CHAT_PAGE = "https://chat.example.org"
CHAT_POLICY = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.chat}),
)


@pytest.fixture
async def chat_app(settings: Settings, db: TestDatabase) -> Litestar:
    await db.load_catalogue(CHAT_POLICY)
    return create_app(
        settings.with_changes(
            chat_secrets={PLATFORM: SECRET},
            # The telephony platform's secret is for the IVR webhook only.
            ivr_secrets={"telephony": IVR_SECRET},
            chat_allowed_origins=(CHAT_PAGE,),
        ),
        worker=False,
    )


@pytest.fixture
async def chat(chat_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=chat_app, base_url="http://testserver.local") as client:
        yield client


def chat_event(chat_id: str, channel: str = "web_chat") -> dict[str, Any]:
    return {
        "source": PLATFORM,
        "external_id": chat_id,
        "channel": channel,
        "service": "council-tax",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "customer": {"source_id": "visitor-77", "email": "chatter@example.org"},
    }


async def reported(client: Client, auth: dict[str, str], chat_id: str, **kw: Any) -> dict[str, Any]:
    answer = await client.post("/api/v1/contacts", json=chat_event(chat_id, **kw), headers=auth)
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def token_path(chat_id: str) -> str:
    return f"/api/v1/chat/chats/{chat_id}/token"


async def ask_token(
    client: Client, chat_id: str, body: bytes = b"", *, platform: str = PLATFORM, secret: str = SECRET, **kw: Any
) -> Any:
    path = token_path(chat_id)
    headers = sign_request(platform, secret, "POST", path, body, kw.get("now", datetime.now(UTC)))
    headers["content-type"] = "application/json"
    return await client.post(path, content=body, headers=headers)


def widget(token: str, origin: str = CHAT_PAGE) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "origin": origin}


async def invitation_state(db: TestDatabase) -> tuple[list[tuple[str, bool]], int, int]:
    invitations = [(i.state, i.responded_at is not None) for i in await db.all(Invitation)]
    return invitations, await db.count(InvitationEvent), await db.count(Response)


async def test_a_chat_is_surveyed_in_the_widget_and_the_answer_lands_on_its_invitation(
    chat: Client, chat_app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    decision = await reported(chat, auth, "CHAT-1")
    assert decision["decision"]["invite"] is True and decision["decision"]["channel"] == "chat"
    # Nothing is sent: the invitation waits for the end of the chat.
    assert not [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]

    issued = await ask_token(chat, "CHAT-1", b"{}")
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    token = body["token"]
    assert body["chat_id"] == "CHAT-1" and body["script_url"] == "http://testserver.local/chat/widget.js"
    assert body["embed"] == f'<script src="{body["script_url"]}" data-token="{token}" async></script>'
    assert body["survey_url"].startswith("http://testserver.local/s/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=13) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    [invitation] = await db.all(Invitation)
    assert invitation.state == "sent" and invitation.message_ref == f"chat.{invitation.id}"

    shown = await chat.get("/api/v1/chat/survey", headers=widget(token))
    assert shown.status_code == 200, shown.text
    assert shown.headers["access-control-allow-origin"] == CHAT_PAGE and "Origin" in shown.headers["vary"]
    survey = shown.json()
    assert survey["question"]["id"] == "satisfaction"
    assert survey["question"]["text"].startswith("Overall, how satisfied")
    assert [c["value"] for c in survey["question"]["choices"]] == ["5", "4", "3", "2", "1"]
    assert survey["question"]["choices"][0]["label"] == "Very satisfied"
    assert survey["comment"]["id"] == "improve" and survey["comment"]["max_length"] == 1200
    assert survey["privacy_notice_url"] == "http://testserver.local/privacy"  # ours, not the chat page's
    assert survey["language"] == "en" and survey["messages"]["send"] == "Send feedback"
    assert survey["messages"]["limit"] == "You can enter up to 1,200 characters"

    answered = await chat.post(
        "/api/v1/chat/answers", json={"rating": "2", "comment": "The wait was long."}, headers=widget(token)
    )
    assert answered.status_code == 201, answered.text
    assert answered.headers["access-control-allow-origin"] == CHAT_PAGE
    [response] = await db.all(Response)
    assert (response.satisfaction, response.channel, response.invitation_id) == (2, "chat", invitation.id)
    assert response.subject_id == invitation.subject_id
    answers = {a.question_key: a for a in await db.all(Answer)}
    assert set(answers) == {"satisfaction", "improve"} and answers["satisfaction"].number == 2
    async with db.sessions() as session:
        vault = chat_app.state.services.get(Vault)
        assert await read_answer_text(session, vault, response, answers["improve"]) == "The wait was long."
        stored = await session.get(Invitation, invitation.id)
        assert stored is not None
        steps = [entry.state for entry in await timeline(session, stored)]
    assert steps == ["decided", "queued", "sent", "answered"]

    # Answering twice is refused (the browser may read why), as is a new token or the question again.
    again = await chat.post("/api/v1/chat/answers", json={"rating": "5"}, headers=widget(token))
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert again.headers["access-control-allow-origin"] == CHAT_PAGE
    assert (await chat.get("/api/v1/chat/survey", headers=widget(token))).status_code == 409
    assert (await ask_token(chat, "CHAT-1")).status_code == 409
    assert await db.count(Response) == 1 and await db.count(Answer) == 2


async def test_a_rating_alone_is_an_answer(chat: Client, auth: dict[str, str], db: TestDatabase) -> None:
    await reported(chat, auth, "CHAT-2")
    token = (await ask_token(chat, "CHAT-2")).json()["token"]
    answered = await chat.post("/api/v1/chat/answers", json={"rating": "5", "comment": "  "}, headers=widget(token))
    assert answered.status_code == 201, answered.text
    [response] = await db.all(Response)
    assert response.satisfaction == 5
    assert [a.question_key for a in await db.all(Answer)] == ["satisfaction"]


async def test_token_requests_not_signed_by_a_chat_platform_are_refused_with_no_side_effect(
    chat: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await reported(chat, auth, "CHAT-3")
    before = await invitation_state(db)
    path = token_path("CHAT-3")
    now = datetime.now(UTC)
    signed = sign_request(PLATFORM, SECRET, "POST", path, b"", now)
    cases: list[tuple[str, dict[str, str], bytes, int]] = [
        ("unsigned", {}, b"", 401),
        ("no signature", {k: v for k, v in signed.items() if k != "x-civicvoice-signature"}, b"", 401),
        ("wrong secret", sign_request(PLATFORM, "w" * 40, "POST", path, b"", now), b"", 403),
        ("the IVR platform", sign_request("telephony", IVR_SECRET, "POST", path, b"", now), b"", 403),
        ("stale", sign_request(PLATFORM, SECRET, "POST", path, b"", now - timedelta(minutes=6)), b"", 403),
        ("future", sign_request(PLATFORM, SECRET, "POST", path, b"", now + timedelta(minutes=6)), b"", 403),
        ("body changed after signing", signed, b"{}", 403),
        ("another chat's signature", sign_request(PLATFORM, SECRET, "POST", token_path("CHAT-9"), b"", now), b"", 403),
    ]
    for case, headers, body, status in cases:
        answer = await chat.post(path, content=body, headers={**headers, "content-type": "application/json"})
        assert answer.status_code == status, (case, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json"), case
        assert "token" not in answer.json(), case
    assert await invitation_state(db) == before
    assert before[0] == [("queued", False)]


async def test_malformed_requests_get_problem_details_and_change_nothing(
    chat: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await reported(chat, auth, "CHAT-4")
    before = await invitation_state(db)
    for body in (b"not json", b'{"colour": "red"}', b'{"language": "EN-gb"}', b"[]"):
        answer = await ask_token(chat, "CHAT-4", body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["type"] == "/problems/invalid-chat-request"
    # A language the chat's survey is not offered in (this one is in English only).
    welsh = await ask_token(chat, "CHAT-4", b'{"language": "cy"}')
    assert welsh.status_code == 400 and welsh.headers["content-type"].startswith("application/problem+json")
    assert welsh.json()["type"] == "/problems/chat-language-not-offered" and welsh.json()["field"] == "language"
    assert "'cy'" in welsh.json()["detail"] and "'en'" in welsh.json()["detail"]
    too_long = await ask_token(chat, "C" * 201)
    assert too_long.status_code == 400 and too_long.json()["field"] == "chat_id"
    assert await invitation_state(db) == before

    token = (await ask_token(chat, "CHAT-4")).json()["token"]
    issued = await invitation_state(db)
    bad_answers: list[tuple[bytes, str | None]] = [
        (b"not json", None),
        (b"{}", None),
        (b'{"rating": 4}', None),
        (b'{"rating": "4", "extra": true}', None),
        (b'{"rating": "9"}', "rating"),
        (json.dumps({"rating": "4", "comment": "x" * 1201}).encode(), "comment"),
    ]
    for body, field in bad_answers:
        answer = await chat.post(
            "/api/v1/chat/answers", content=body, headers={**widget(token), "content-type": "application/json"}
        )
        assert answer.status_code == 400, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["access-control-allow-origin"] == CHAT_PAGE
        if field is not None:
            assert answer.json()["field"] == field, answer.text
    assert await invitation_state(db) == issued


async def test_widget_tokens_are_checked_and_expire(
    chat: Client, chat_app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    await reported(chat, auth, "CHAT-5")
    token = (await ask_token(chat, "CHAT-5")).json()["token"]
    [invitation] = await db.all(Invitation)
    signer = chat_app.state.services.get(TokenSigner)
    expired = signer.sign(invitation.id, Purpose.chat, datetime.now(UTC) - timedelta(minutes=1))
    survey_link_token = signer.sign(invitation.id, Purpose.survey, invitation.expires_at)
    cases = [
        ({"origin": CHAT_PAGE}, 401, "/problems/chat-token-missing"),
        (widget("not-a-token"), 401, "/problems/chat-token-invalid"),
        (widget(token[:-2] + ("AA" if not token.endswith("AA") else "BB")), 401, "/problems/chat-token-invalid"),
        # A survey link's token is not a widget token (and the other way round).
        (widget(survey_link_token), 401, "/problems/chat-token-invalid"),
        (widget(expired), 410, "/problems/chat-token-expired"),
    ]
    for headers, status, kind in cases:
        for answer in (
            await chat.get("/api/v1/chat/survey", headers=headers),
            await chat.post("/api/v1/chat/answers", json={"rating": "3"}, headers=headers),
        ):
            assert answer.status_code == status, (headers, answer.text)
            assert answer.json()["type"] == kind
    assert (await chat.get(f"/s/{token}")).status_code == 404  # and a widget token opens no survey page
    assert await db.count(Response) == 0


async def test_a_chat_without_a_chat_invitation_gets_404(chat: Client, auth: dict[str, str], db: TestDatabase) -> None:
    # A phone contact of the same platform is invited by email; an unknown chat has no contact at all.
    await reported(chat, auth, "CALL-1", channel="phone")
    for chat_id in ("CALL-1", "NO-SUCH-CHAT"):
        answer = await ask_token(chat, chat_id)
        assert answer.status_code == 404 and answer.json()["type"] == "/problems/no-chat-survey"


async def test_what_a_chat_platform_page_may_load_and_call(chat: Client) -> None:
    for path, method in (("/api/v1/chat/answers", "POST"), ("/api/v1/chat/survey", "GET")):
        preflight = await chat.options(
            path,
            headers={
                "origin": CHAT_PAGE,
                "access-control-request-method": method,
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204, preflight.text
        assert preflight.headers["access-control-allow-origin"] == CHAT_PAGE
        assert preflight.headers["access-control-allow-methods"] == method
        assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
        assert "access-control-allow-credentials" not in preflight.headers
        refused = await chat.options(
            path, headers={"origin": "https://evil.example", "access-control-request-method": method}
        )
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert refused.json()["type"] == "/problems/chat-origin-not-allowed"
    # A page of another origin gets answers it may not read (no allow-origin header); so does a signed request.
    other = await chat.get("/api/v1/chat/survey", headers=widget("x", origin="https://evil.example"))
    assert "access-control-allow-origin" not in other.headers and "Origin" in other.headers["vary"]
    assert "access-control-allow-origin" not in (await ask_token(chat, "ANY")).headers

    # The widget's own files: any page may load them; cached for an hour, then revalidated.
    for path, kind in (("/chat/widget.js", "text/javascript"), ("/chat/widget.css", "text/css")):
        answer = await chat.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)
        assert answer.headers["cache-control"] == "public, max-age=3600"
        assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        etag = answer.headers["etag"]
        again = await chat.get(path, headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    script = (await chat.get("/chat/widget.js")).text
    assert "innerHTML" not in script and "eval(" not in script  # nothing from the server is parsed as code or HTML

    # The contract the chat platform codes against is published.
    schema = (await chat.get("/schema/openapi.json")).json()
    token = schema["paths"]["/api/v1/chat/chats/{chat_id}/token"]["post"]
    assert {p["name"] for p in token["parameters"]} >= {
        "x-civicvoice-platform",
        "x-civicvoice-timestamp",
        "x-civicvoice-signature",
    }
    answer = schema["paths"]["/api/v1/chat/answers"]["post"]
    assert answer["requestBody"]["content"]["application/json"]["schema"]["required"] == ["rating"]
    assert "get" in schema["paths"]["/api/v1/chat/survey"]


async def test_the_widget_asks_in_welsh_when_the_platform_or_the_page_asks_for_it(
    chat: Client, chat_app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    await publish_in_welsh(chat, chat_app, db)
    await reported(chat, auth, "CHAT-CY")
    issued = await ask_token(chat, "CHAT-CY", b'{"language": "cy"}')
    assert issued.status_code == 201, issued.text
    body = issued.json()
    token = body["token"]
    assert body["language"] == "cy"
    assert (
        body["embed"] == f'<script src="{body["script_url"]}" data-token="{token}" data-language="cy" async></script>'
    )
    assert body["survey_url"].endswith("?lang=cy")  # the page without JavaScript is in Welsh too

    shown = await chat.get("/api/v1/chat/survey?language=cy", headers=widget(token))
    assert shown.status_code == 200, shown.text
    survey = shown.json()
    assert survey["language"] == "cy" and survey["title"] == WELSH_TITLE
    assert survey["question"]["text"] == WELSH_CSAT
    assert survey["question"]["choices"][0]["label"] == "[cy] Very satisfied"
    assert survey["comment"]["text"] == "[cy] What could we do better?"
    messages = survey["messages"]
    assert messages["send"] == "Anfon adborth" and messages["thanks"] == "Diolch am eich adborth."
    assert messages["closed"] == "Mae'r arolwg hwn wedi cau." and messages["optional"] == "(dewisol)"
    assert messages["choose"] == "Dewiswch pa mor fodlon oeddech chi"
    assert messages["limit"] == "Gallwch nodi hyd at 1,200 nod"
    assert messages["too_long"] == "Rhaid i [cy] What could we do better fod yn 1,200 nod neu lai"
    # The same token in English, for a page that asks for none.
    english = (await chat.get("/api/v1/chat/survey", headers=widget(token))).json()
    assert english["language"] == "en" and english["messages"]["send"] == "Send feedback"

    # A language the survey does not offer: problem details the widget's page may read, and nothing changes.
    for asked in ("fr", "cy-GB", "x" * 500):
        refused = await chat.get(f"/api/v1/chat/survey?language={asked}", headers=widget(token))
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.headers["access-control-allow-origin"] == CHAT_PAGE
        assert refused.json()["type"] == "/problems/chat-language-not-offered"
        assert refused.json()["field"] == "language" and "'en', 'cy'" in refused.json()["detail"]
    wrong_language = await chat.post(
        "/api/v1/chat/answers", json={"rating": "4", "language": "fr"}, headers=widget(token)
    )
    assert wrong_language.status_code == 400 and wrong_language.json()["field"] == "language"
    # A problem with the answer is told in Welsh.
    too_long = await chat.post(
        "/api/v1/chat/answers", json={"rating": "4", "comment": "x" * 1201, "language": "cy"}, headers=widget(token)
    )
    assert too_long.status_code == 400 and too_long.json()["field"] == "comment"
    assert too_long.json()["detail"].startswith("Rhaid i [cy] What could we do better")
    assert await db.count(Response) == 0

    answered = await chat.post(
        "/api/v1/chat/answers", json={"rating": "4", "comment": "Da iawn.", "language": "cy"}, headers=widget(token)
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["message"] == "Diolch am eich adborth." and answered.json()["language"] == "cy"
    [response] = await db.all(Response)
    assert (response.satisfaction, response.channel) == (4, "chat")
