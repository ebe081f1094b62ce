"""The web form's survey link: an online transaction reported as a `web_form` contact is invited on the
`web_link` channel, and the contact API answers with the survey link for the confirmation page. Opening it shows
the survey; answering it records one response on that invitation, and its timeline shows the link handed over."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.app import create_app
from civicvoice.core.jobs import Job
from civicvoice.core.settings import Settings
from surveys.models import Answer, Invitation, InvitationEvent, Response
from surveys.rules import InvitationChannel, InvitationPolicy
from surveys.sending import SEND_INVITATION_JOB
from surveys.timeline import timeline
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]

WEB_POLICY = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.web_link}),
)


@pytest.fixture
async def site(settings: Settings, db: TestDatabase) -> AsyncIterator[Client]:
    await db.load_catalogue(WEB_POLICY)
    app = create_app(settings.with_changes(base_url="https://feedback.example.gov.uk"), worker=False)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        yield client


def transaction(external_id: str, channel: str = "web_form") -> dict[str, Any]:
    """One customer per transaction (the frequency cap counts a person's invitations on every channel)."""
    return {
        "source": "crm",
        "external_id": external_id,
        "channel": channel,
        "service": "parking",
        "occurred_at": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        "customer": {"email": f"{external_id.lower()}@example.org"},
    }


def local(url: str) -> str:
    """The link's path, to open it on the test client (the link names the configured base URL)."""
    assert url.startswith("https://feedback.example.gov.uk/s/"), url
    return url.removeprefix("https://feedback.example.gov.uk")


async def test_a_transaction_gets_a_survey_link_that_is_answered_once(
    site: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    reported = await site.post("/api/v1/contacts", json=transaction("PERMIT-1"), headers=auth)
    assert reported.status_code == 202, reported.text
    body = reported.json()
    assert body["decision"]["channel"] == "web_link" and body["decision"]["invite"] is True
    link = body["survey_url"]
    # Nothing is sent: the link is the delivery, and the invitation's timeline says so.
    assert not [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]
    [invitation] = await db.all(Invitation)
    assert str(invitation.id) == body["invitation_id"] and invitation.state == "sent"

    # The same contact reported again (a retry) answers with the same link and hands nothing over twice.
    retry = (await site.post("/api/v1/contacts", json=transaction("PERMIT-1"), headers=auth)).json()
    assert retry["duplicate"] is True and retry["survey_url"] == link
    assert await db.count(InvitationEvent) == 1

    page = await site.get(local(link))
    assert page.status_code == 200 and "Overall, how satisfied" in page.text
    assert page.headers["cache-control"] == "no-store"
    form = {"satisfaction": "4", "resolved": "yes", "improve": "A clearer price list."}
    done = await site.post(local(link), data=form, follow_redirects=False)
    assert done.status_code == 303, done.text
    [response] = await db.all(Response)
    assert (response.channel, response.satisfaction, response.resolved) == ("web_link", 4, "yes")
    assert response.invitation_id == invitation.id
    assert {a.question_key for a in await db.all(Answer)} == {"satisfaction", "resolved", "improve"}

    again = await site.post(local(link), data=form, follow_redirects=False)
    assert again.status_code == 409 and "already" in again.text
    assert await db.count(Response) == 1
    # Once answered, a retry of the report gets no link to a survey it cannot answer.
    assert (await site.post("/api/v1/contacts", json=transaction("PERMIT-1"), headers=auth)).json()[
        "survey_url"
    ] is None

    async with db.sessions() as session:
        stored = await session.get(Invitation, invitation.id)
        assert stored is not None
        entries = await timeline(session, stored)
    assert [e.state for e in entries] == ["decided", "queued", "sent", "answered"]
    assert entries[2].detail == "survey link returned to the contact system"


async def test_batches_carry_links_and_other_channels_do_not(
    site: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    events = [transaction("PERMIT-2"), transaction("CALL-2", channel="phone"), transaction("PERMIT-3")]
    batch = await site.post("/api/v1/contacts/batch", json={"events": events}, headers=auth)
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [r["decision"]["channel"] for r in results] == ["web_link", "email", "web_link"]
    first, phone, third = (r["survey_url"] for r in results)
    assert phone is None and first != third
    assert all(re.fullmatch(r"https://feedback\.example\.gov\.uk/s/[A-Za-z0-9_\-]+", url) for url in (first, third))
    states = {str(i.id): i.state for i in await db.all(Invitation)}
    assert [states[r["invitation_id"]] for r in results] == ["sent", "queued", "sent"]
    # The email invitation is sent by the job; the links are not sent at all.
    jobs = [j for j in await db.all(Job) if j.name == SEND_INVITATION_JOB]
    assert [j.payload["invitation_id"] for j in jobs] == [results[1]["invitation_id"]]
