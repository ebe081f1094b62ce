"""Rectification (Art. 16): the DPO corrects a person's name, email or phone; the encrypted identity and the blind
indexes change together, so the old value no longer finds the person and the new one does. A value that belongs
to someone else is refused with nothing changed. Audited with the fields, never the values."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.app import build_services, features
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import InvalidInput
from civicvoice.core.settings import Settings
from privacy.models import DataSubject, SubjectIndex
from privacy.rectification import Correction, RectificationConflict, rectify
from privacy.requests import SubjectRequest
from privacy.vault import IdentityClaim, Vault
from tests.integration.support import TestDatabase
from tests.integration.test_privacy_pages import signed_in_dpo
from tests.integration.test_staff_login import csrf_from

Client = AsyncTestClient[Litestar]


async def identity_of(db: TestDatabase, vault: Vault, person: object) -> dict[str, object]:
    async with db.sessions() as session:
        subject = await session.get(DataSubject, person)
        assert subject is not None
        return json.loads((await vault.identity(session, subject)).to_json())  # type: ignore[no-any-return]


async def test_the_dpo_corrects_a_persons_details_through_their_request(
    client: Client, db: TestDatabase, settings: Settings
) -> None:
    vault = (await build_services(settings, db.sessions, features())).get(Vault)
    async with unit_of_work(db.sessions) as session:
        claim = IdentityClaim(email="old@example.org", phone="+447911123456", name="Jo Blogs")
        person = (await vault.resolve(session, claim)).subject_id
    await signed_in_dpo(client, db)
    form = await client.get("/staff/privacy/requests/new")
    created = await client.post(
        "/staff/privacy/requests/new",
        data={
            "csrf_token": csrf_from(form.text),
            "kind": "rectification",
            "name": "Jo Bloggs",
            "email": "old@example.org",
            "details": "My name is spelt wrong and my email changed to new@example.org",
        },
        follow_redirects=False,
    )
    page = await client.get(created.headers["location"])
    assert "Correct their details" in page.text and "Wrong email address" in page.text
    token = csrf_from(page.text)
    empty = await client.post(created.headers["location"] + "/fulfil", data={"csrf_token": token})
    assert empty.status_code == 422 and "Give the corrected name" in empty.text
    done = await client.post(
        created.headers["location"] + "/fulfil",
        data={"csrf_token": token, "name": "Jo Bloggs", "new_email": "New@Example.org"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    async with db.sessions() as session:
        assert await vault.find(session, IdentityClaim(email="old@example.org")) == {}
        assert await vault.find(session, IdentityClaim(email="new@example.org")) == {"email": person}
        assert await vault.find(session, IdentityClaim(phone="+447911123456")) == {"phone": person}
        assert await vault.find_by_name(session, "Jo Bloggs") == [person]  # the name index follows the correction
        assert await vault.find_by_name(session, "Jo Blogs") == []
        request = await session.scalar(select(SubjectRequest))
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.rectify"))
    identity = await identity_of(db, vault, person)
    assert identity["name"] == "Jo Bloggs" and identity["emails"] == ["new@example.org"]
    assert identity["phones"] == ["+447911123456"]
    assert request is not None and request.state == "completed"
    assert audit is not None and audit.detail["fields"] == ["name", "email"]
    assert "new@example.org" not in json.dumps(audit.detail) and "Bloggs" not in json.dumps(audit.detail)
    after = await client.get(created.headers["location"])
    assert "Rectified" in after.text and "Completed" in after.text


async def test_a_correction_never_takes_another_persons_identifier(db: TestDatabase, settings: Settings) -> None:
    vault = (await build_services(settings, db.sessions, features())).get(Vault)
    async with unit_of_work(db.sessions) as session:
        person = (await vault.resolve(session, IdentityClaim(email="a@example.org", phone="+447911123457"))).subject_id
        other = (await vault.resolve(session, IdentityClaim(email="taken@example.org"))).subject_id
        before = sorted((await session.scalars(select(SubjectIndex.digest))).all())
    with pytest.raises(RectificationConflict):
        async with unit_of_work(db.sessions) as session:
            await rectify(session, vault, person, Correction(new_email="taken@example.org"), actor=Actor.cli())
    for wrong in (Correction(old_email="nothere@example.org", new_email="b@example.org"), Correction()):
        with pytest.raises(InvalidInput):
            async with unit_of_work(db.sessions) as session:
                await rectify(session, vault, person, wrong, actor=Actor.cli())
    async with db.sessions() as session:
        assert sorted((await session.scalars(select(SubjectIndex.digest))).all()) == before
        assert await vault.find(session, IdentityClaim(email="taken@example.org")) == {"email": other}
    # Removing a wrong phone number: it no longer finds them, the email still does.
    async with unit_of_work(db.sessions) as session:
        changed = await rectify(session, vault, person, Correction(old_phone="07911 123457"), actor=Actor.cli())
    assert changed == ["phone"]
    async with db.sessions() as session:
        assert await vault.find(session, IdentityClaim(phone="+447911123457")) == {}
        assert await vault.find(session, IdentityClaim(email="a@example.org")) == {"email": person}
    assert (await identity_of(db, vault, person))["phones"] == []
