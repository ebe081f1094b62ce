"""The DPO's search pages over HTTP: find by name or staff email without the identifier in any URL, see what is
held, place and release a hold, start a mention scan and review what it flags; bad input is refused with the
field to fix and changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from civicvoice.app import build_services, features, job_registry
from civicvoice.core.audit import AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.jobs import Worker
from civicvoice.core.settings import Settings
from privacy.holds import DpoHold
from privacy.mentions import MentionHit, MentionScan
from privacy.requests import SubjectRequest
from privacy.vault import IdentityClaim, Vault
from tests.integration.conftest import Client
from tests.integration.support import TestDatabase
from tests.integration.test_dpo_search import answer, report
from tests.integration.test_intake_batch import POLICY
from tests.integration.test_privacy_pages import signed_in_dpo
from tests.integration.test_staff_login import csrf_from, make_user


async def people(settings: Settings, db: TestDatabase) -> dict[str, uuid.UUID]:
    vault = (await build_services(settings, db.sessions, features())).get(Vault)
    async with unit_of_work(db.sessions) as session:
        found = {}
        for key, email, name in (
            ("ann", "ann@example.org", "Ann Ní Bhriain"),
            ("sam1", "sam1@example.org", "Sam Lee"),
            ("sam2", "sam2@example.org", "Sam Lee"),
        ):
            found[key] = (await vault.resolve(session, IdentityClaim(email=email, name=name))).subject_id
        return found


async def test_the_dpo_finds_a_person_by_name_and_holds_their_records(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    found = await people(settings, db)
    await signed_in_dpo(client, db)
    form = await client.get("/staff/privacy/search")
    assert form.status_code == 200 and "Find a person" in form.text
    token = csrf_from(form.text)
    one = await client.post(
        "/staff/privacy/search",
        data={"csrf_token": token, "field": "name", "value": "ann ni bhriain"},
        follow_redirects=False,
    )
    assert one.status_code == 303 and one.headers["location"] == f"/staff/privacy/people/{found['ann']}"
    assert "ann" not in one.headers["location"].lower().replace(str(found["ann"]), "")
    page = await client.get(one.headers["location"])
    assert page.status_code == 200 and "Ann Ní Bhriain" in page.text and "ann@example.org" in page.text
    two = await client.post("/staff/privacy/search", data={"csrf_token": token, "field": "name", "value": "SAM LEE"})
    assert two.status_code == 200 and "2 people match" in two.text
    assert str(found["sam1"]) in two.text and str(found["sam2"]) in two.text

    # A hold needs a reason; refused, nothing is stored.
    refused = await client.post(
        f"/staff/privacy/people/{found['ann']}/holds",
        data={"csrf_token": csrf_from(page.text), "kind": "litigation", "reason": "  "},
    )
    assert refused.status_code == 422 and "Give the reason for the hold" in refused.text
    wrong_kind = await client.post(
        f"/staff/privacy/people/{found['ann']}/holds",
        data={"csrf_token": csrf_from(page.text), "kind": "whim", "reason": "x"},
    )
    assert wrong_kind.status_code == 422 and "Choose the kind of hold" in wrong_kind.text
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DpoHold)) == 0
    placed = await client.post(
        f"/staff/privacy/people/{found['ann']}/holds",
        data={"csrf_token": csrf_from(page.text), "kind": "litigation", "reason": "Claim K12"},
        follow_redirects=False,
    )
    assert placed.status_code == 303
    page = await client.get(f"/staff/privacy/people/{found['ann']}")
    assert "Claim K12" in page.text and "Release hold" in page.text
    holds = await client.get("/staff/privacy/holds")
    assert "Claim K12" in holds.text and str(found["ann"]) in holds.text
    async with db.sessions() as session:
        hold = await session.scalar(select(DpoHold))
    assert hold is not None
    no_reason = await client.post(
        f"/staff/privacy/holds/{hold.id}/release", data={"csrf_token": csrf_from(page.text), "reason": ""}
    )
    assert no_reason.status_code == 422 and "Give the reason the hold can be released" in no_reason.text
    released = await client.post(
        f"/staff/privacy/holds/{hold.id}/release",
        data={"csrf_token": csrf_from(page.text), "reason": "Settled"},
        follow_redirects=False,
    )
    assert released.status_code == 303
    again = await client.post(
        f"/staff/privacy/holds/{hold.id}/release", data={"csrf_token": csrf_from(page.text), "reason": "Settled"}
    )
    assert again.status_code == 409 and "was released on" in again.text
    missing = await client.get(f"/staff/privacy/people/{uuid.uuid4()}")
    assert missing.status_code == 404
    async with db.sessions() as session:
        viewed = await session.scalar(
            select(func.count()).where(AuditEvent.action == "privacy.find", AuditEvent.target_id == str(found["ann"]))
        )
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("privacy.hold%")))
        ).all()
    assert viewed == 2  # the two pages shown; refusals roll back with everything else
    assert sorted(actions) == ["privacy.hold.add", "privacy.hold.release"]


async def test_bad_searches_are_refused_with_the_field_to_fix(client: Client, db: TestDatabase) -> None:
    await signed_in_dpo(client, db)
    token = csrf_from((await client.get("/staff/privacy/search")).text)
    for data, status, message in (
        ({"field": "email", "value": "not an email"}, 422, "email address"),
        ({"field": "phone", "value": "123"}, 422, "phone number"),
        ({"field": "ref", "value": "no-colon"}, 422, "SOURCE:ID"),
        ({"field": "shoe size", "value": "9"}, 422, "Search by one of"),
        ({"field": "name", "value": ""}, 422, "Enter what to search for"),
        ({"field": "email", "value": "nobody@example.org"}, 200, "No one matches"),
        ({"field": "staff", "value": "nobody@council.gov.uk"}, 200, "No staff account has that email"),
    ):
        response = await client.post("/staff/privacy/search", data={"csrf_token": token, **data})
        assert response.status_code == status and message in response.text, (data, response.status_code)
        assert "govuk-error-summary" in response.text


async def test_a_staff_member_and_a_mention_scan_from_the_pages(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    found = await people(settings, db)
    agent = await make_user(db, "agent", email="agent@council.gov.uk", agent_ref="A7")
    await signed_in_dpo(client, db)
    token = csrf_from((await client.get("/staff/privacy/search")).text)
    staff = await client.post(
        "/staff/privacy/search",
        data={"csrf_token": token, "field": "staff", "value": "Agent@Council.gov.uk"},
        follow_redirects=False,
    )
    assert staff.status_code == 303 and staff.headers["location"] == f"/staff/privacy/staff/{agent.id}"
    page = await client.get(staff.headers["location"])
    assert page.status_code == 200 and "Test agent" in page.text and "A7" in page.text
    assert "argon2" not in page.text and "password" not in page.text.lower()

    person = await client.get(f"/staff/privacy/people/{found['ann']}")
    started = await client.post(
        f"/staff/privacy/people/{found['ann']}/mentions",
        data={"csrf_token": csrf_from(person.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303
    running = await client.get(f"/staff/privacy/people/{found['ann']}")
    assert "Scan running" in running.text
    async with db.sessions() as session:
        scan = await session.scalar(select(MentionScan).where(MentionScan.subject_id == found["ann"]))
    assert scan is not None and scan.requested_by != "" and scan.state == "queued"
    bad_review = await client.post(
        f"/staff/privacy/mentions/{uuid.uuid4()}", data={"csrf_token": csrf_from(running.text), "outcome": "relevant"}
    )
    assert bad_review.status_code == 404
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MentionHit)) == 0


async def test_a_scan_started_from_a_request_belongs_to_it(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    found = await people(settings, db)
    await signed_in_dpo(client, db)
    form = await client.get("/staff/privacy/requests/new")
    created = await client.post(
        "/staff/privacy/requests/new",
        data={"csrf_token": csrf_from(form.text), "kind": "access", "name": "Ann", "email": "ann@example.org"},
        follow_redirects=False,
    )
    reference = created.headers["location"].rsplit("/", 1)[1]
    request_page = await client.get(created.headers["location"])
    link = f"/staff/privacy/people/{found['ann']}?request={reference}"
    assert link in request_page.text
    person = await client.get(link)
    assert f'name="request" value="{reference}"' in person.text
    started = await client.post(
        f"/staff/privacy/people/{found['ann']}/mentions",
        data={"csrf_token": csrf_from(person.text), "request": reference},
        follow_redirects=False,
    )
    assert started.status_code == 303
    async with db.sessions() as session:
        scan = await session.scalar(select(MentionScan).where(MentionScan.subject_id == found["ann"]))
        request_id = await session.scalar(select(SubjectRequest.id).where(SubjectRequest.reference == reference))
    assert scan is not None and scan.request_id == request_id


async def test_the_dpo_reviews_what_a_scan_flagged(client: Client, db: TestDatabase, settings: Settings) -> None:
    await db.set_policy(POLICY)  # the client's app loaded the catalogue; these rules invite at once
    services = await build_services(settings, db.sessions, features())
    priya, _ = await report(services, db, "p-1", email="priya@example.org", name="Priya Shah")
    _, writer = await report(services, db, "p-2", email="writer@example.org")
    await answer(services, db, writer, "Priya Shah on reception was brilliant")
    await signed_in_dpo(client, db)
    page = await client.get(f"/staff/privacy/people/{priya}")
    await client.post(f"/staff/privacy/people/{priya}/mentions", data={"csrf_token": csrf_from(page.text)})
    await Worker(job_registry(features()), db.sessions, services).run_due()
    page = await client.get(f"/staff/privacy/people/{priya}")
    assert "Scan finished" in page.text and "Priya Shah on reception was brilliant" in page.text
    assert "To review" in page.text
    async with db.sessions() as session:
        hit = await session.scalar(select(MentionHit))
    assert hit is not None and hit.matched == "name"
    bad = await client.post(
        f"/staff/privacy/mentions/{hit.id}", data={"csrf_token": csrf_from(page.text), "outcome": "maybe"}
    )
    assert 400 <= bad.status_code < 500
    reviewed = await client.post(
        f"/staff/privacy/mentions/{hit.id}",
        data={"csrf_token": csrf_from(page.text), "outcome": "relevant"},
        follow_redirects=False,
    )
    assert reviewed.status_code == 303 and reviewed.headers["location"].startswith(
        f"/staff/privacy/people/{priya}#scan-"
    )
    page = await client.get(f"/staff/privacy/people/{priya}")
    assert "To review" not in page.text and "Is about them" in page.text
    async with db.sessions() as session:
        stored = await session.get(MentionHit, hit.id)
        audited = await session.scalar(select(func.count()).where(AuditEvent.action == "privacy.mentions.review"))
    assert stored is not None and stored.outcome == "relevant" and stored.reviewed_by and audited == 1
