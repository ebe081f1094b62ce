"""GOV.UK Notify end to end: the real app on a live server with its embedded worker, the real
notifications-python-client, and a Notify stand-in on 127.0.0.1 that checks the client's JWT, records each
message and posts Notify's callbacks back to the app."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from litestar.types import Receive, Scope, Send
from sqlalchemy import select, update

from civicvoice.app import create_app
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from privacy.models import DataSubject, SuppressionEntry
from surveys.models import Invitation, InvitationEvent, InvitationState, Response
from surveys.rules import InvitationPolicy
from tests.integration.browser import LiveServer
from tests.integration.notify_standin import NotifyStandIn, SentMessage
from tests.integration.support import TestDatabase

CALLBACK_TOKEN = "notify-callback-token-for-tests"
MOBILE = "07911 123456"
MOBILE_E164 = "+447911123456"
MOBILE_AS_NOTIFY_SENDS_IT = "447911123456"


class LazyApp:
    """The real app with its embedded worker, built once the live server knows its port (links name it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: LiveServer | None = None
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            assert self.server is not None
            self.app = create_app(self.settings.with_changes(base_url=self.server.url), worker=True)
        await self.app(scope, receive, send)


class Site:
    def __init__(self, server: LiveServer, standin: NotifyStandIn, db: TestDatabase, auth: dict[str, str]) -> None:
        self.server, self.standin, self.db, self.auth = server, standin, db, auth

    @property
    def url(self) -> str:
        return self.server.url

    async def report(self, external_id: str, **customer: Any) -> dict[str, Any]:
        contact = {
            "source": "crm",
            "external_id": external_id,
            "channel": "phone",
            "service": "waste-and-recycling",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            "customer": {"name": "Resident Person", **customer},
        }
        async with httpx.AsyncClient(base_url=self.url) as client:
            answer = await client.post("/api/v1/contacts", json=contact, headers=self.auth)
        assert answer.status_code == 202, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def until(self, check: Callable[[], Any], what: str, within: float = 20.0) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    async def invitation(self, invitation_id: str) -> Invitation:
        async with self.db.sessions() as session:
            row = await session.get(Invitation, uuid.UUID(invitation_id))
        assert row is not None
        return row

    async def sent(self, invitation_id: str, count: int = 1) -> SentMessage:
        """The message Notify accepted for this invitation, once the embedded worker has sent it."""

        def mine() -> list[SentMessage]:
            found = [m for m in self.standin.messages if m.reference == invitation_id]
            return found if len(found) >= count else []

        messages: list[SentMessage] = await self.until(mine, f"{count} message(s) for {invitation_id}")
        await self.until(
            lambda: self._state_is(invitation_id, InvitationState.sent), f"invitation {invitation_id} marked sent"
        )
        return messages[-1]

    async def _state_is(self, invitation_id: str, state: str) -> bool:
        return (await self.invitation(invitation_id)).state == state

    async def callback(self, path: str, payload: Any, token: str | None = CALLBACK_TOKEN) -> tuple[int, Any]:
        return await asyncio.to_thread(NotifyStandIn.post, f"{self.url}/api/v1/notify/{path}", payload, token)

    async def events(self, invitation_id: str) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.scalars(
                select(InvitationEvent.state)
                .where(InvitationEvent.invitation_id == uuid.UUID(invitation_id))
                .order_by(InvitationEvent.at, InvitationEvent.id)
            )
            return list(rows)


@pytest.fixture
def standin() -> Iterator[NotifyStandIn]:
    server = NotifyStandIn().start()
    yield server
    server.stop()


def notify_settings(settings: Settings, standin: NotifyStandIn, **changes: Any) -> Settings:
    return settings.with_changes(
        notify_api_key=standin.api_key,
        notify_base_url=standin.url,
        notify_sms_template_id=standin.sms_template_id,
        notify_callback_token=CALLBACK_TOKEN,
        embedded_worker=True,
        worker_poll_seconds=0.05,
        **changes,
    )


@contextmanager
def serve(settings: Settings, standin: NotifyStandIn, db: TestDatabase, auth: dict[str, str]) -> Iterator[Site]:
    lazy = LazyApp(settings)
    server = LiveServer(cast(Litestar, lazy))
    lazy.server = server
    with server:
        yield Site(server, standin, db, auth)


@pytest.fixture
def site(
    settings: Settings, standin: NotifyStandIn, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> Iterator[Site]:
    with serve(notify_settings(settings, standin), standin, db, auth) as served:
        yield served


@pytest.fixture
def question_site(
    settings: Settings, standin: NotifyStandIn, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> Iterator[Site]:
    with serve(notify_settings(settings, standin, notify_sms_mode="question"), standin, db, auth) as served:
        yield served


# --- link mode: the invitation is a text with a short link ----------------------------------------------------


async def test_a_mobile_number_alone_is_invited_by_sms_with_a_short_link(site: Site) -> None:
    answer = await site.report("n1", phone=MOBILE)
    assert answer["decision"]["invite"] is True and answer["decision"]["detail"] == "Invited by sms."
    invitation_id = answer["invitation_id"]

    message = await site.sent(invitation_id)
    # The stand-in accepted the real client's JWT; the reference is the invitation id and nothing personal.
    assert site.standin.refused == []
    assert message.kind == "sms" and message.to == MOBILE_E164 and message.reference == invitation_id
    fields = message.personalisation
    assert set(fields) == {
        "council_name",
        "service_name",
        "survey_link",
        "expires_on",
        "reminder",
        "question",
        "reply_options",
        "body",
    }
    assert fields["question"] == "" and fields["survey_link"] in fields["body"]
    short = fields["survey_link"]
    assert short.startswith(f"{site.url}/r/") and len(short) - len(site.url) <= 16
    assert len(fields["body"]) <= 160, fields["body"]

    # The short link leads to the survey, signed afresh; a made-up code does not.
    async with httpx.AsyncClient() as client:
        hop = await client.get(short)
        assert hop.status_code == 303 and hop.headers["location"].startswith("/s/")
        page = await client.get(site.url + hop.headers["location"])
        assert page.status_code == 200 and "Tell us about" in page.text
        assert (await client.get(f"{site.url}/r/AAAAAAAAAAAA")).status_code == 404

    invitation = await site.invitation(invitation_id)
    assert invitation.channel == "sms" and invitation.message_ref == invitation_id
    assert invitation.answer_by_reply is False
    assert await site.events(invitation_id) == ["sending", "sent"]


@pytest.mark.parametrize("policy", [InvitationPolicy(), InvitationPolicy.demo()], ids=["default", "demo"])
async def test_only_a_mobile_number_is_invited_by_sms_under_the_default_and_demo_policies(
    site: Site, db: TestDatabase, policy: InvitationPolicy
) -> None:
    await db.set_policy(policy)
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Job).values(state="done"))  # nothing else to send
    answer = await site.report("p1", phone=MOBILE)
    assert answer["decision"] == {**answer["decision"], "invite": True, "detail": "Invited by sms."}


async def test_without_notify_a_mobile_number_alone_is_not_invited(
    settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> None:
    app = create_app(settings, worker=False)
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        contact = {
            "source": "crm",
            "external_id": "x1",
            "channel": "phone",
            "service": "waste-and-recycling",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            "customer": {"phone": MOBILE},
        }
        answer = (await client.post("/api/v1/contacts", json=contact, headers=auth)).json()
    assert answer["decision"]["invite"] is False and answer["decision"]["reason"] == "no_enabled_channel"


# --- delivery receipts -----------------------------------------------------------------------------------------


async def test_receipts_move_the_invitation_and_a_permanent_failure_is_never_retried(site: Site) -> None:
    delivered_id = (await site.report("r1", phone="07911 123001"))["invitation_id"]
    failed_id = (await site.report("r2", phone="07911 123002"))["invitation_id"]
    delivered, failed = await site.sent(delivered_id), await site.sent(failed_id)

    status, answer = await site.callback("delivery-receipts", site.standin.receipt_for(delivered, "delivered"))
    assert (status, answer) == (200, {"outcome": "moved"})
    # Notify may send the same receipt again: nothing changes the second time.
    status, answer = await site.callback("delivery-receipts", site.standin.receipt_for(delivered, "delivered"))
    assert (status, answer) == (200, {"outcome": "unchanged"})
    assert (await site.invitation(delivered_id)).state == InvitationState.delivered

    status, answer = await site.callback("delivery-receipts", site.standin.receipt_for(failed, "permanent-failure"))
    assert (status, answer) == (200, {"outcome": "moved"})
    invitation = await site.invitation(failed_id)
    assert invitation.state == InvitationState.permanent_failure and invitation.failure == "permanent-failure"
    # Never sent again: no job for it, and the worker (polling all along) sends nothing more.
    await asyncio.sleep(0.5)
    assert [m.reference for m in site.standin.messages].count(failed_id) == 1
    assert await site.events(failed_id) == ["sending", "sent", "permanent_failure"]
    assert await site.events(delivered_id) == ["sending", "sent", "delivered"]

    # A receipt for a message sent from Notify's own pages (no reference) changes nothing.
    own = {**site.standin.receipt_for(delivered, "delivered"), "reference": None}
    assert await site.callback("delivery-receipts", own) == (200, {"outcome": "unknown"})


@pytest.mark.parametrize("status", ["temporary-failure", "technical-failure"])
async def test_a_temporary_or_technical_failure_is_sent_again_later(site: Site, db: TestDatabase, status: str) -> None:
    invitation_id = (await site.report("t1", phone=MOBILE))["invitation_id"]
    message = await site.sent(invitation_id)
    answer = await site.callback("delivery-receipts", site.standin.receipt_for(message, status))
    assert answer == (200, {"outcome": "redelivering"})
    state = status.replace("-", "_")
    assert await site.events(invitation_id) == ["sending", "sent", state, "queued"]
    invitation = await site.invitation(invitation_id)
    assert invitation.state == InvitationState.queued and invitation.failure == status
    [job] = [j for j in await db.all(Job) if (j.dedupe_key or "").endswith(":redeliver-1")]
    assert job.run_at > datetime.now(UTC) + timedelta(minutes=5)

    # When it is due, the same reference goes out again.
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Job).where(Job.id == job.id).values(run_at=datetime.now(UTC)))
    again = await site.sent(invitation_id, count=2)
    assert again.reference == invitation_id and again.id != message.id


# --- question mode: the text asks the CSAT question and the reply answers it ------------------------------------


async def test_a_reply_answers_the_question_once(question_site: Site, db: TestDatabase) -> None:
    site = question_site
    invitation_id = (await site.report("q1", phone=MOBILE))["invitation_id"]
    message = await site.sent(invitation_id)
    fields = message.personalisation
    assert fields["question"] and "Reply 1 (" in fields["reply_options"] and "STOP" in fields["reply_options"]
    assert (await site.invitation(invitation_id)).answer_by_reply is True

    nonsense = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "what is this?")
    assert await site.callback("inbound-sms", nonsense) == (200, {"outcome": "not_understood"})
    assert await db.count(Response) == 0

    reply = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "4 thanks")
    assert await site.callback("inbound-sms", reply) == (200, {"outcome": "answered"})
    [response] = await db.all(Response)
    assert response.satisfaction == 4 and response.channel == "sms"
    assert str(response.invitation_id) == invitation_id

    # A second reply is stored nowhere, and no message is sent back for any of them.
    again = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "1")
    assert await site.callback("inbound-sms", again) == (200, {"outcome": "ignored"})
    assert [r.satisfaction for r in await db.all(Response)] == [4]
    assert len(site.standin.messages) == 1
    assert await site.events(invitation_id) == ["sending", "sent", "reply_not_understood", "answered"]


async def test_a_reply_from_an_unknown_number_or_to_an_expired_question_is_stored_nowhere(
    question_site: Site, db: TestDatabase
) -> None:
    site = question_site
    invitation_id = (await site.report("q2", phone=MOBILE))["invitation_id"]
    await site.sent(invitation_id)
    before = await site.events(invitation_id)

    stranger = site.standin.inbound("447911123999", "5")
    assert await site.callback("inbound-sms", stranger) == (200, {"outcome": "ignored"})

    async with unit_of_work(db.sessions) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(invitation_id))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    late = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "5")
    assert await site.callback("inbound-sms", late) == (200, {"outcome": "ignored"})

    assert await db.count(Response) == 0
    assert await site.events(invitation_id) == before
    assert len(site.standin.messages) == 1  # nothing answered


async def test_stop_opts_the_number_out_on_every_channel(question_site: Site, db: TestDatabase) -> None:
    site = question_site
    invitation_id = (await site.report("s1", phone=MOBILE, email="texter@example.org", contact_preference="sms"))[
        "invitation_id"
    ]
    await site.sent(invitation_id)

    stop = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "STOP")
    assert await site.callback("inbound-sms", stop) == (200, {"outcome": "opted_out"})
    [subject] = await db.all(DataSubject)
    assert subject.opted_out_at is not None
    # The number and the email address are both on the suppression list.
    assert sorted(e.kind for e in await db.all(SuppressionEntry)) == ["email", "phone"]
    assert await db.count(Response) == 0

    # A later contact on another channel is not surveyed.
    later = await site.report("s2", email="texter@example.org")
    assert later["decision"]["invite"] is False and later["decision"]["reason"] in {"opted_out", "suppressed"}


# --- callbacks: authentication and bad input ---------------------------------------------------------------------


async def test_callbacks_need_notifys_token_and_change_nothing_without_it(site: Site, db: TestDatabase) -> None:
    invitation_id = (await site.report("a1", phone=MOBILE))["invitation_id"]
    message = await site.sent(invitation_id)
    receipt = site.standin.receipt_for(message, "permanent-failure")
    stop = site.standin.inbound(MOBILE_AS_NOTIFY_SENDS_IT, "STOP")

    for path, payload in (("delivery-receipts", receipt), ("inbound-sms", stop)):
        status, problem = await site.callback(path, payload, token=None)
        assert status == 401 and problem["type"] == "/problems/not-authenticated"
        status, problem = await site.callback(path, payload, token="not-the-callback-token")
        assert status == 403 and problem["type"] == "/problems/permission-denied"
    assert (await site.invitation(invitation_id)).state == InvitationState.sent
    assert [s.opted_out_at for s in await db.all(DataSubject)] == [None]
    assert await db.count(SuppressionEntry) == 0


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("delivery-receipts", b"{not json"),
        ("delivery-receipts", b"[1, 2]"),
        ("delivery-receipts", {"id": "x", "reference": "y", "notification_type": "sms"}),
        ("delivery-receipts", {"id": "x", "reference": "y", "status": "lost", "notification_type": "sms"}),
        ("delivery-receipts", {"id": "x", "reference": "y", "status": "delivered", "notification_type": "fax"}),
        ("delivery-receipts", {"id": "x", "status": "delivered", "notification_type": "sms", "completed_at": "soon"}),
        ("inbound-sms", {"id": "x", "message": "4"}),
        ("inbound-sms", {"id": "x", "source_number": "not a number", "message": "4"}),
        ("inbound-sms", {"id": 5, "source_number": MOBILE_AS_NOTIFY_SENDS_IT, "message": "4"}),
    ],
)
async def test_malformed_callbacks_are_refused_with_a_problem(site: Site, path: str, payload: Any) -> None:
    status, problem = await site.callback(path, payload)
    assert status == 400 and problem["type"] == "/problems/malformed-callback", problem


async def test_the_callbacks_are_in_the_openapi_schema(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.url) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/v1/notify/delivery-receipts", "/api/v1/notify/inbound-sms"):
        operation = schema["paths"][path]["post"]
        assert operation["security"] == [{"providerCallback": []}]
        assert {"400", "401", "403"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["providerCallback"]["scheme"] == "bearer"


# --- Notify refusing a message -----------------------------------------------------------------------------------


async def test_a_message_notify_refuses_as_malformed_fails_at_once(
    settings: Settings, standin: NotifyStandIn, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> None:
    wrong = notify_settings(settings, standin).with_changes(notify_sms_template_id=str(uuid.uuid4()))
    with serve(wrong, standin, db, auth) as site:
        invitation_id = (await site.report("w1", phone=MOBILE))["invitation_id"]

        async def closed() -> bool:
            return (await site.invitation(invitation_id)).state == InvitationState.failed

        await site.until(closed, "the invitation to fail")
        invitation = await site.invitation(invitation_id)
        assert invitation.failure == "delivery: GOV.UK Notify answered 400: BadRequestError"
        assert standin.refused == [(400, "BadRequestError")] and standin.messages == []


async def test_a_wrong_api_key_is_refused_by_the_standin(
    settings: Settings, standin: NotifyStandIn, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> None:
    # The stand-in really checks the JWT: a key with the right service id but another secret is refused.
    forged = f"civicvoice_test-{standin.service_id}-{uuid.uuid4()}"
    with serve(notify_settings(settings, standin).with_changes(notify_api_key=forged), standin, db, auth) as site:
        invitation_id = (await site.report("k1", phone=MOBILE))["invitation_id"]

        async def requeued() -> bool:
            invitation = await site.invitation(invitation_id)
            return invitation.state == InvitationState.queued and bool(invitation.failure)

        await site.until(requeued, "the invitation to be queued again")
        # Refused, and queued again with back-off: a corrected key can still send it.
        assert standin.refused == [(403, "AuthError")] and standin.messages == []
        invitation = await site.invitation(invitation_id)
        assert invitation.failure == "delivery: GOV.UK Notify answered 403: AuthError"


# --- staff see the timeline ---------------------------------------------------------------------------------------


async def test_staff_see_each_invitations_timeline(site: Site, db: TestDatabase) -> None:
    from civicvoice.staff.web import SESSION_COOKIE
    from tests.integration.test_authorisation_matrix import session_cookie
    from tests.integration.test_staff_login import make_user

    invitation_id = (await site.report("v1", phone=MOBILE))["invitation_id"]
    message = await site.sent(invitation_id)
    await site.callback("delivery-receipts", site.standin.receipt_for(message, "delivered"))

    reviewer = await make_user(db, "quality_reviewer")
    cookies = {SESSION_COOKIE: await session_cookie(db, reviewer.id)}
    async with httpx.AsyncClient(base_url=site.url, cookies=cookies) as client:
        listing = await client.get("/staff/invitations", params={"state": "delivered"})
        assert listing.status_code == 200 and f"/staff/invitations/{invitation_id}" in listing.text
        page = await client.get(f"/staff/invitations/{invitation_id}")
    assert page.status_code == 200
    timeline = page.text[page.text.index("What happened") :]
    found = sorted(
        (timeline.index(f">{step}<"), step) for step in ("Decided", "Queued", "Sending", "Sent", "Delivered")
    )
    assert [step for _, step in found] == ["Decided", "Queued", "Sending", "Sent", "Delivered"]
    assert MOBILE_E164 not in page.text and MOBILE not in page.text  # no personal data on the timeline
