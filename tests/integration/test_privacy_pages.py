"""The DPO's pages: record a request, see it in the queue with its deadline, move it on, be told when a move is
not allowed, and set retention periods; bad input is refused with the field to fix and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from civicvoice.app import build_services, features
from civicvoice.core.audit import AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from privacy.access import AccessPackage
from privacy.models import DataSubject
from privacy.requests import SubjectRequest
from privacy.retention import RetentionPolicy
from privacy.vault import IdentityClaim, Vault
from tests.integration.conftest import Client
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in


async def signed_in_dpo(client: Client, db: TestDatabase) -> str:
    await make_user(db, "dpo")
    return await sign_in(client, "dpo@council.gov.uk")


async def test_the_dpo_records_and_moves_a_request(client: Client, db: TestDatabase) -> None:
    await signed_in_dpo(client, db)
    form = await client.get("/staff/privacy/requests/new")
    assert form.status_code == 200 and "Record a subject request" in form.text
    created = await client.post(
        "/staff/privacy/requests/new",
        data={
            "csrf_token": csrf_from(form.text),
            "kind": "access",
            "name": "Jo Bloggs",
            "email": "jo@example.org",
            "details": "Everything about my council tax calls",
            "received": "2026-01-31",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = await client.get(created.headers["location"])
    assert page.status_code == 200 and "Jo Bloggs" in page.text and "2 March 2026" in page.text
    reference = created.headers["location"].rsplit("/", 1)[1]
    queue = await client.get("/staff/privacy/requests")
    assert reference in queue.text and "Overdue by" in queue.text and "overdue" in queue.text
    # Refusing without a reason is not allowed: the page says so, and nothing changes.
    refused = await client.post(
        f"/staff/privacy/requests/{reference}/move",
        data={"csrf_token": csrf_from(page.text), "state": "refused"},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "Give the reason for refusing" in refused.text
    done = await client.post(
        f"/staff/privacy/requests/{reference}/move",
        data={"csrf_token": csrf_from(page.text), "state": "completed", "reason": "Package sent by post"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    closed = await client.get(f"/staff/privacy/requests/{reference}")
    assert "Completed" in closed.text and "What happens next" not in closed.text
    again = await client.post(
        f"/staff/privacy/requests/{reference}/move",
        data={"csrf_token": csrf_from(closed.text), "state": "in_progress"},
        follow_redirects=False,
    )
    assert again.status_code == 409 and "closed request cannot be changed" in again.text
    async with db.sessions() as session:
        moves = await session.scalar(select(func.count()).where(AuditEvent.action == "privacy.request.move"))
    assert moves == 1


async def test_bad_requests_are_refused_with_the_field_to_fix(client: Client, db: TestDatabase) -> None:
    await signed_in_dpo(client, db)
    form = await client.get("/staff/privacy/requests/new")
    token = csrf_from(form.text)
    for data, message in (
        ({"name": "Jo"}, "Choose the kind of request"),
        ({"kind": "access", "name": "Jo"}, "at least one way to reach"),
        ({"kind": "access", "name": "Jo", "email": "jo@example.org", "received": "31/01/2026"}, "YYYY-MM-DD"),
    ):
        answer = await client.post("/staff/privacy/requests/new", data={"csrf_token": token, **data})
        assert answer.status_code == 422 and message in answer.text and "There is a problem" in answer.text
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SubjectRequest)) == 0
    missing = await client.get("/staff/privacy/requests/SR-2026-NOPE00")
    assert missing.status_code == 404


async def test_the_dpo_sets_a_retention_period(client: Client, db: TestDatabase) -> None:
    await signed_in_dpo(client, db)
    page = await client.get("/staff/privacy/retention")
    assert page.status_code == 200 and "Survey responses and comments" in page.text
    token = csrf_from(page.text)
    bad = await client.post(
        "/staff/privacy/retention", data={"csrf_token": token, "retention_class": "responses", "months": "lots"}
    )
    assert bad.status_code == 422 and "whole number" in bad.text
    saved = await client.post(
        "/staff/privacy/retention",
        data={"csrf_token": token, "retention_class": "responses", "months": "36"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    async with db.sessions() as session:
        policy = await session.scalar(select(RetentionPolicy).where(RetentionPolicy.retention_class == "responses"))
    assert policy is not None and policy.months == 36


async def test_requests_are_carried_out_for_the_person_they_are_about(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    """Erasure, objection and access requests linked to the one matching record, and done in one action."""
    app_services = await build_services(settings, db.sessions, features())
    vault = app_services.get(Vault)
    people = {}
    async with unit_of_work(db.sessions) as session:
        for name in ("erase", "object", "access"):
            people[name] = (await vault.resolve(session, IdentityClaim(email=f"{name}@example.org"))).subject_id
    await signed_in_dpo(client, db)
    for kind, name in (("erasure", "erase"), ("objection", "object"), ("access", "access")):
        form = await client.get("/staff/privacy/requests/new")
        created = await client.post(
            "/staff/privacy/requests/new",
            data={"csrf_token": csrf_from(form.text), "kind": kind, "name": "Jo", "email": f"{name}@example.org"},
            follow_redirects=False,
        )
        page = await client.get(created.headers["location"])
        assert "Linked to the person" in page.text
        done = await client.post(
            created.headers["location"] + "/fulfil", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False
        )
        assert done.status_code == 303
        after = await client.get(done.headers["location"])
        assert "carried out and completed" in after.text and "Completed" in after.text
    async with db.sessions() as session:
        erased = await session.get(DataSubject, people["erase"])
        objected = await session.get(DataSubject, people["object"])
        assert erased is not None and erased.erased_at is not None
        assert objected is not None and objected.opted_out_at is not None
        assert (await vault.lookup(session, IdentityClaim(email="object@example.org")))[1]  # suppressed
        package = await session.scalar(select(AccessPackage).where(AccessPackage.subject_id == people["access"]))
        assert package is not None and package.request_id is not None
    # Nobody to link: the DPO is told to look, and nothing is completed.
    form = await client.get("/staff/privacy/requests/new")
    created = await client.post(
        "/staff/privacy/requests/new",
        data={"csrf_token": csrf_from(form.text), "kind": "erasure", "name": "Nobody", "email": "nobody@example.org"},
        follow_redirects=False,
    )
    page = await client.get(created.headers["location"])
    refused = await client.post(created.headers["location"] + "/fulfil", data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 409 and "No single record matches" in refused.text
