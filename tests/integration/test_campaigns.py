"""Campaigns sent to a list: people added by the API and the staff builder (checked like contacts, refused ones
reported by position, nobody twice), invited once each through the outbox to the SMTP sink while the campaign
runs and never outside its days, progress counted, and an erased recipient gone from the campaign's data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Worker
from civicvoice.core.settings import Settings
from privacy.access import gather
from privacy.erasure import erase, purge
from privacy.vault import IdentityClaim, SubjectClaim, Vault
from surveys.campaigns import SEND_CAMPAIGNS_JOB, today_in_london
from surveys.models import CampaignRecipient, Invitation, InvitationState, Response
from tests.integration.notify_standin import NotifyStandIn
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_notify import MOBILE, MOBILE_E164, notify_settings, serve
from tests.integration.test_survey_builder_pages import sign_in

Client = AsyncTestClient[Litestar]
URL = "/api/v1/surveys"

DEFINITION = {
    "title": {"en": "How are we doing for your organisation?"},
    "kind": "campaign",
    "questions": [
        {
            "id": "overall",
            "kind": "rating",
            "text": {"en": "Overall, how well do we serve you?"},
            "choices": [{"value": str(p), "label": {"en": str(p)}} for p in range(1, 6)],
        },
    ],
}


@pytest.fixture
async def admin(db: TestDatabase) -> dict[str, str]:
    return {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}


def days(offset: int) -> str:
    return (today_in_london(utcnow()) + timedelta(days=offset)).isoformat()


async def campaign(client: Client, admin: dict[str, str], slug: str, starts: int, ends: int, **extra: Any) -> None:
    body = {"slug": slug, "name": "Key accounts", "kind": "campaign", "definition": DEFINITION}
    assert (await client.post(URL, json=body, headers=admin)).status_code == 201
    assert (await client.post(f"{URL}/{slug}/versions/1/publish", headers=admin)).status_code == 200
    period = {"starts_on": days(starts), "ends_on": days(ends), **extra}
    assert (await client.put(f"{URL}/{slug}/campaign", json=period, headers=admin)).status_code == 200


async def add(client: Client, admin: dict[str, str], slug: str, *people: dict[str, str]) -> Any:
    answer = await client.post(f"{URL}/{slug}/recipients", json={"recipients": list(people)}, headers=admin)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def run_jobs(app: Litestar, db: TestDatabase, *, later: timedelta = timedelta(0)) -> None:
    """One cron slot (``later`` moves to another) and every job it leads to, as the worker would."""
    worker = Worker(app.state.jobs, db.sessions, app.state.services)
    await worker.schedule_crons(utcnow() + later)
    await worker.run_due(utcnow() + later)


async def opt_out(app: Litestar, db: TestDatabase, email: str) -> None:
    async with unit_of_work(db.sessions) as session:
        await app.state.services.get(Vault).resolve_many(
            session, [SubjectClaim(IdentityClaim(email=email), opted_out=True)]
        )


def recipients_of(messages: list[EmailMessage]) -> list[str]:
    return sorted(str(m["To"]) for m in messages)


async def test_a_campaign_invites_each_person_on_its_list_once_from_its_start(
    loop_client: Client, loop_app: Litestar, admin: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await campaign(loop_client, admin, "key-accounts", starts=1, ends=30, target_responses=4)
    await opt_out(loop_app, db, "gone@example.org")
    async with unit_of_work(db.sessions) as session:
        vault = loop_app.state.services.get(Vault)
        await vault.suppress(session, IdentityClaim(email="blocked@example.org"), reason="bounced")
    added = await add(
        loop_client,
        admin,
        "key-accounts",
        {"email": "Ann@Example.org", "name": "Ann Buyer", "organisation": "Acme Ltd"},
        {"email": "not an address"},
        {"email": "ann@example.org "},  # the same person again
        {"mobile": "07911 123456"},  # this campaign may not send texts
        {"email": "gone@example.org"},
        {"name": "Nobody"},
        {"email": "bob@example.org", "mobile": "+44 7912 345678"},
        {"email": "blocked@example.org"},
    )
    assert (added["added"], added["already"], added["invited"]) == (2, 1, 0), added
    rejected = [(r["position"], r["reason"], r["field"]) for r in added["rejected"]]
    assert rejected == [
        (1, "invalid_email", "email"),
        (3, "no_channel", "mobile"),
        (4, "opted_out", None),
        (5, "no_contact_details", "email"),
        (7, "suppressed", None),
    ]
    async with db.sessions() as session:  # nothing was stored for anyone refused
        assert await vault.find(session, IdentityClaim(email="blocked@example.org")) == {}
    assert added["campaign"]["recipients"] == 2 and added["campaign"]["invited"] == 0
    again = await add(loop_client, admin, "key-accounts", {"email": "ann@example.org"})
    assert (again["added"], again["already"]) == (0, 1)
    assert len(await db.all(CampaignRecipient)) == 2

    # Before the start day: the cron sends nothing.
    await run_jobs(loop_app, db)
    assert smtp.messages == [] and await db.all(Invitation) == []

    # From the start day: each person once, through the outbox and the sender, expiring at the campaign's end.
    started = await loop_client.put(
        f"{URL}/key-accounts/campaign",
        json={"starts_on": days(0), "ends_on": days(30), "target_responses": 4},
        headers=admin,
    )
    assert started.status_code == 200
    await run_jobs(loop_app, db, later=timedelta(minutes=15))  # the next cron slot
    assert recipients_of(smtp.messages) == ["ann@example.org", "bob@example.org"]
    invitations = await db.all(Invitation)
    assert {(i.state, i.contact_id, i.channel) for i in invitations} == {(InvitationState.sent, None, "email")}
    assert all(i.reminder_at is not None for i in invitations)  # the policy's reminder, as after a contact
    await run_jobs(loop_app, db, later=timedelta(minutes=30))  # the slot after invites nobody again
    assert len(smtp.messages) == 2 and len(await db.all(Invitation)) == 2

    # Someone added while it runs is invited at once.
    late = await add(loop_client, admin, "key-accounts", {"email": "cat@example.org"}, {"email": "ann@example.org"})
    assert (late["added"], late["already"], late["invited"]) == (1, 1, 1)
    await run_jobs(loop_app, db)
    assert recipients_of(smtp.messages) == ["ann@example.org", "bob@example.org", "cat@example.org"]

    # An answer counts in the progress, against the target.
    body = smtp.messages[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://testserver\.local(/s/[A-Za-z0-9_\-]+)", body)
    assert link is not None
    answered = await loop_client.post(link.group(1), data={"overall": "4"}, follow_redirects=False)
    assert answered.status_code == 303, answered.text
    [response] = await db.all(Response)
    assert response.contact_id is None and response.service_id is None
    progress = (await loop_client.get(f"{URL}/key-accounts", headers=admin)).json()["campaign"]
    assert {k: progress[k] for k in ("recipients", "invited", "responded", "responses", "percent_of_target")} == {
        "recipients": 3,
        "invited": 3,
        "responded": 1,
        "responses": 1,
        "percent_of_target": 25,
    }
    actions = [e.action for e in await db.all(AuditEvent) if e.action == "surveys.campaign.recipients"]
    assert len(actions) == 3


async def test_nothing_is_sent_after_a_campaign_ends(
    loop_client: Client, loop_app: Litestar, admin: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await campaign(loop_client, admin, "last-year", starts=-40, ends=-1)
    added = await add(loop_client, admin, "last-year", {"email": "ann@example.org"})
    assert (added["added"], added["invited"]) == (1, 0)
    await run_jobs(loop_app, db)
    assert smtp.messages == [] and await db.all(Invitation) == []
    assert SEND_CAMPAIGNS_JOB in loop_app.state.jobs.crons


async def test_an_invitation_still_queued_when_the_campaign_ends_is_not_sent(
    loop_client: Client, loop_app: Litestar, admin: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await campaign(loop_client, admin, "today", starts=0, ends=0)
    assert (await add(loop_client, admin, "today", {"email": "ann@example.org"}))["invited"] == 1
    [invitation] = await db.all(Invitation)
    end_of_today = datetime.combine(today_in_london(utcnow()) + timedelta(days=1), time(0), tzinfo=LONDON)
    assert invitation.expires_at == end_of_today
    # Before its send job runs, the administrator ends the campaign yesterday: the invitation closes with it.
    ended = {"starts_on": days(-3), "ends_on": days(-1)}
    assert (await loop_client.put(f"{URL}/today/campaign", json=ended, headers=admin)).status_code == 200
    await run_jobs(loop_app, db)
    [invitation] = await db.all(Invitation)
    assert smtp.messages == [] and (invitation.state, invitation.failure) == (InvitationState.expired, "expired")


async def test_a_campaign_does_not_count_towards_the_post_contact_cap(
    loop_client: Client, loop_app: Litestar, admin: dict[str, str], smtp: SmtpServer, db: TestDatabase
) -> None:
    await campaign(loop_client, admin, "key-accounts", starts=0, ends=10)
    assert (await add(loop_client, admin, "key-accounts", {"email": "ann@example.org"}))["invited"] == 1
    contacts = {"Authorization": f"Bearer {await db.api_key(['contacts:write'])}"}
    event = {
        "source": "crm",
        "external_id": "c1",
        "channel": "phone",
        "service": "waste-and-recycling",
        "occurred_at": (utcnow() - timedelta(minutes=2)).isoformat(),
        "customer": {"email": "ann@example.org"},
    }
    decided = (await loop_client.post("/api/v1/contacts", json=event, headers=contacts)).json()
    assert decided["decision"]["invite"] is True, decided
    await run_jobs(loop_app, db)
    assert recipients_of(smtp.messages) == ["ann@example.org", "ann@example.org"]


async def test_bad_requests_change_nothing(client: Client, admin: dict[str, str], db: TestDatabase) -> None:
    await campaign(client, admin, "key-accounts", starts=1, ends=5)
    good = {"email": "ann@example.org"}
    cases = [
        ("post-contact", {"recipients": [good]}, 422),  # not a campaign
        ("nowhere", {"recipients": [good]}, 404),
        ("key-accounts", {"recipients": []}, 400),
        ("key-accounts", {"recipients": [{**good, "phone": "1"}]}, 400),  # unknown field
        ("key-accounts", {"recipients": [good] * 1001}, 400),
        ("key-accounts", {"people": [good]}, 400),
    ]
    for slug, body, status in cases:
        answer = await client.post(f"{URL}/{slug}/recipients", json=body, headers=admin)
        assert answer.status_code == status, (slug, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert await db.all(CampaignRecipient) == []
    contacts_only = {"Authorization": f"Bearer {await db.api_key(['contacts:write'])}"}
    refused = await client.post(f"{URL}/key-accounts/recipients", json={"recipients": [good]}, headers=contacts_only)
    assert refused.status_code == 403 and await db.all(CampaignRecipient) == []


async def test_erasing_a_recipient_removes_them_from_the_campaign(
    client: Client, app: Litestar, admin: dict[str, str], db: TestDatabase, settings: Settings
) -> None:
    await campaign(client, admin, "key-accounts", starts=1, ends=5)
    await add(client, admin, "key-accounts", {"email": "ann@example.org", "organisation": "Acme Ltd"})
    [recipient] = await db.all(CampaignRecipient)
    assert recipient.organisation_ciphertext and b"Acme" not in recipient.organisation_ciphertext
    assert recipient.subject_id is not None
    async with db.sessions() as session:  # their access package shows the campaign and the organisation
        found = await gather(session, app.state.services.get(Vault), recipient.subject_id)
    [section] = [s for s in found.sections if s.table == "campaign_recipient"]
    assert [row["organisation"] for row in section.rows] == ["Acme Ltd"]
    async with unit_of_work(db.sessions) as session:
        assert (await erase(session, settings, recipient.subject_id, actor=Actor.cli(), holds=())).erased
    async with unit_of_work(db.sessions) as session:
        await purge(session, recipient.subject_id)
    [recipient] = await db.all(CampaignRecipient)
    assert (recipient.subject_id, recipient.organisation_ciphertext) == (None, None)
    # Erased people are not found again, so the same address makes a new, unrelated person.
    again = await add(client, admin, "key-accounts", {"email": "ann@example.org"})
    assert again["added"] == 1


# --- the staff builder --------------------------------------------------------------------------------------


async def test_staff_paste_and_upload_a_list_without_javascript(
    client: Client, admin: dict[str, str], db: TestDatabase
) -> None:
    await campaign(client, admin, "key-accounts", starts=1, ends=5, target_responses=10)
    csrf = await sign_in(client, db)
    page = await client.get("/staff/surveys/key-accounts")
    assert page.status_code == 200 and 'id="campaign-progress"' in page.text
    path = "/staff/surveys/key-accounts/recipients"
    pasted = "Email,Name,Organisation\nann@example.org,Ann,Acme\n\nnot-an-address,Bob,\nann@example.org,,\n"
    report = await client.post(path, data={"csrf_token": csrf, "recipients": pasted})
    assert report.status_code == 200, report.text
    outcome = report.text.split('id="recipients-outcome"', 1)[1].split("</ul>", 1)[0]
    assert [" ".join(item.split()) for item in re.findall(r"<li>([^<]+)</li>", outcome)] == [
        "1 added",
        "1 already on the list",
        "0 invited now",
        "1 not added",
    ]
    rejected = report.text.split('id="recipients-rejected"', 1)[1]
    assert re.search(r'<td class="govuk-table__cell">4</td>', rejected)  # the row it was on in the list

    upload = await client.post(
        path,
        data={"csrf_token": csrf, "recipients": ""},
        files={"recipients_file": ("people.csv", b"\xef\xbb\xbfmobile,email\n,bob@example.org\n", "text/csv")},
    )
    assert upload.status_code == 200 and len(await db.all(CampaignRecipient)) == 2
    assert re.search(r'id="progress-recipients">2<', upload.text)
    assert "0 of 10 (0 per cent of the target)" in upload.text

    for form, files, message in [
        ({"recipients": ""}, None, "Paste the list or choose a CSV file."),
        ({"recipients": "ann@example.org\n"}, None, "The first row must name the columns"),
        ({"recipients": ""}, {"recipients_file": ("p.csv", b"email\n\xff\xfe", "text/csv")}, "saved as UTF-8"),
    ]:
        refused = await client.post(path, data={"csrf_token": csrf, **form}, files=files)
        assert refused.status_code == 422 and message in refused.text
        assert "govuk-error-summary" in refused.text
    assert len(await db.all(CampaignRecipient)) == 2
    not_campaign = await client.post(
        "/staff/surveys/post-contact/recipients", data={"csrf_token": csrf, "recipients": pasted}
    )
    assert not_campaign.status_code == 422 and "Only a campaign" in not_campaign.text
    assert len(await db.all(CampaignRecipient)) == 2


# --- by text message, with GOV.UK Notify configured (its stand-in) --------------------------------------------


@pytest.fixture
def standin() -> Iterator[NotifyStandIn]:
    server = NotifyStandIn().start()
    yield server
    server.stop()


async def test_a_campaign_texts_a_mobile_number_when_notify_is_configured(
    settings: Settings, standin: NotifyStandIn, db: TestDatabase, catalogue: None, auth: dict[str, str]
) -> None:
    admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    with serve(notify_settings(settings, standin), standin, db, auth) as site:
        async with httpx.AsyncClient(base_url=site.url) as client:
            body = {"slug": "texts", "name": "Key accounts", "kind": "campaign", "channels": ["sms"]}
            assert (await client.post(URL, json={**body, "definition": DEFINITION}, headers=admin)).status_code == 201
            assert (await client.post(f"{URL}/texts/versions/1/publish", headers=admin)).status_code == 200
            period = {"starts_on": days(0), "ends_on": days(7)}
            assert (await client.put(f"{URL}/texts/campaign", json=period, headers=admin)).status_code == 200
            answer = await client.post(
                f"{URL}/texts/recipients", json={"recipients": [{"mobile": MOBILE}]}, headers=admin
            )
            assert answer.status_code == 200 and answer.json()["invited"] == 1, answer.text
        [recipient] = await db.all(CampaignRecipient)
        message = await site.sent(str(recipient.invitation_id))
        assert (message.kind, message.to) == ("sms", MOBILE_E164)
        invitation = await site.invitation(str(recipient.invitation_id))
        assert (invitation.channel, invitation.contact_id) == ("sms", None)
