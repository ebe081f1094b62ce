"""Exports from the staff pages: filtered like the staff screens, pseudonymised by default, recorded (who, filter,
row count) and audited; small ones stream at once, large ones are built in the background with progress on
their page, sealed at rest under their own key, downloadable only by who asked, and deleted when they expire.
The identified form is a separate permission and needs a reason, kept encrypted."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from civicvoice.core.audit import AuditEvent
from civicvoice.core.db import unit_of_work
from exports import runs
from exports.models import ExportRun
from exports.runs import delete_expired, export_dir
from privacy.audit_reasons import read_reason
from privacy.vault import Vault
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import worker_for

Client = AsyncTestClient[Litestar]
NAMED = "=HYPERLINK(1) Spoke to Dave Smith, call me on 07700 900123."


def contact(external_id: str, service: str, channel: str = "phone", **extra: Any) -> dict[str, Any]:
    return {
        "source": "crm",
        "external_id": external_id,
        "channel": channel,
        "service": service,
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "agent_id": "=cmd|' /C calc'!A0",
        "wait_seconds": 30,
        **extra,
    }


async def some_contacts(client: Client, auth: dict[str, str]) -> None:
    events = [contact(f"c{n}", "council-tax") for n in range(3)] + [contact("p1", "parking", "email")]
    answer = await client.post("/api/v1/contacts/batch", json={"events": events}, headers=auth)
    assert answer.status_code == 200 and answer.json()["accepted"] == 4, answer.text


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


async def test_a_small_export_streams_filtered_and_is_recorded(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await some_contacts(client, auth)
    user = await make_user(db, "quality_reviewer")
    token = await sign_in(client, "quality_reviewer@council.gov.uk")
    form = await client.get("/staff/exports")
    assert form.status_code == 200 and "Export data" in form.text and "/staff/exports/identified" in form.text
    answer = await client.post(
        "/staff/exports",
        data={
            "csrf_token": token,
            "dataset": "contacts",
            "format": "csv",
            "service": "council-tax",
            "channel": "phone",
        },
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="contacts-')
    assert answer.headers["cache-control"] == "no-store"
    rows = csv_rows(answer.content)
    assert rows[0][:4] == ["Contact", "Occurred", "Service", "Channel"] and len(rows) == 4
    assert {row[2] for row in rows[1:]} == {"Council Tax"}
    assert all(row[4].startswith("'=cmd") for row in rows[1:])  # never a formula

    workbook = await client.post(
        "/staff/exports", data={"csrf_token": token, "dataset": "contacts", "format": "xlsx", "from": "2020-01-01"}
    )
    assert workbook.status_code == 200 and workbook.headers["content-type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(workbook.content))
    sheet = book["Contacts"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I5"
    assert isinstance(sheet["B2"].value, datetime) and sheet["F2"].value == 30
    about = {row[0]: row[1] for row in book["About this export"].iter_rows(values_only=True) if row[0]}
    assert (
        about["Rows"] == 4 and about["Filter: From"] == "2020-01-01" and about["Created by"] == "Test quality_reviewer"
    )

    async with db.sessions() as session:
        recorded = (await session.scalars(select(ExportRun).order_by(ExportRun.created_at))).all()
        audit = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "exports.run"))).all()
    assert [(r.dataset, r.format, r.rows, r.state, r.service, r.channel) for r in recorded] == [
        ("contacts", "csv", 3, "streamed", "council-tax", "phone"),
        ("contacts", "xlsx", 4, "streamed", None, None),
    ]
    assert all(r.created_by == str(user.id) and not r.identified for r in recorded)
    assert len(audit) == 2 and audit[0].actor_id == str(user.id)
    assert {a.detail["export"] for a in audit} == {str(r.id) for r in recorded}
    assert audit[0].detail["filter"] in ({"Service": "council-tax", "Channel": "phone"}, {"From": "2020-01-01"})
    listing = await client.get("/staff/exports")
    assert "Your recent exports" in listing.text and "Downloaded" in listing.text


async def test_bad_choices_are_refused_and_nothing_is_recorded(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    await make_user(db, "dpo")
    token = await sign_in(client, "dpo@council.gov.uk")
    for data, message in (
        ({"dataset": "everything", "format": "csv"}, "Unknown export"),
        ({"dataset": "contacts", "format": "pdf"}, "Choose xlsx or csv"),
        ({"dataset": "contacts", "format": "csv", "from": "yesterday"}, "Enter the from date"),
        ({"dataset": "contacts", "format": "csv", "from": "2026-12-10", "to": "2026-12-01"}, "before the"),
        ({"dataset": "contacts", "format": "csv", "channel": "telepathy"}, "Choose a channel"),
        ({"dataset": "comments", "format": "csv", "identified": "yes"}, None),  # ignored on this page: pseudonymised
    ):
        answer = await client.post("/staff/exports", data={"csrf_token": token, **data})
        if message is None:
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
            continue
        assert answer.status_code == 422 and message in answer.text and "There is a problem" in answer.text, data
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ExportRun)) == 1
        assert (await session.scalar(select(ExportRun))).identified is False  # type: ignore[union-attr]


async def test_a_large_export_is_built_in_the_background_sealed_and_expires(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "DIRECT_ROWS", 2)
    monkeypatch.setattr(runs, "PROGRESS_EVERY_ROWS", 1)
    await some_contacts(loop_client, auth)
    await make_user(db, "admin")
    await make_user(db, "dpo")
    token = await sign_in(loop_client, "admin@council.gov.uk")
    queued = await loop_client.post(
        "/staff/exports", data={"csrf_token": token, "dataset": "contacts", "format": "csv"}, follow_redirects=False
    )
    assert queued.status_code == 303
    page_path = queued.headers["location"]
    export_id = uuid.UUID(page_path.rsplit("/", 1)[1])
    waiting = await loop_client.get(page_path)
    assert waiting.status_code == 200 and "Waiting to start" in waiting.text and "Check progress" in waiting.text
    assert "export-progress.mjs" in waiting.text
    early = await loop_client.get(f"{page_path}/download")
    assert early.status_code == 410

    await worker_for(loop_app, db).run_due()
    ready = await loop_client.get(page_path)
    assert "Your export is ready" in ready.text and f"{page_path}/download" in ready.text
    async with db.sessions() as session:
        run = await session.get(ExportRun, export_id)
    assert run is not None and run.state == "ready" and run.rows == 4 and run.expected_rows == 4
    assert run.file_key is not None and run.expires_at is not None
    stored = export_dir(loop_app.state.settings) / str(run.file_name)
    sealed = stored.read_bytes()
    assert b"Council Tax" not in sealed and b"Contact" not in sealed  # encrypted at rest

    download = await loop_client.get(f"{page_path}/download")
    assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    rows = csv_rows(download.content)
    assert len(rows) == 5 and {row[2] for row in rows[1:]} == {"Council Tax", "Parking and permits"}

    # Only who asked sees it.
    loop_client.cookies.clear()
    await sign_in(loop_client, "dpo@council.gov.uk")
    assert (await loop_client.get(page_path)).status_code == 404
    assert (await loop_client.get(f"{page_path}/download")).status_code == 404
    loop_client.cookies.clear()
    await sign_in(loop_client, "admin@council.gov.uk")

    # Past its time the file and its key go; the record of the export stays.
    async with unit_of_work(db.sessions) as session:
        assert await delete_expired(session, loop_app.state.settings, now=run.expires_at - timedelta(minutes=1)) == 0
        assert await delete_expired(session, loop_app.state.settings, now=run.expires_at + timedelta(minutes=1)) == 1
    assert not stored.exists()
    async with db.sessions() as session:
        expired = await session.get(ExportRun, export_id)
        actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("exports.%")))).all()
    assert expired is not None and expired.state == "expired" and expired.file_key is None and expired.rows == 4
    gone = await loop_client.get(f"{page_path}/download")
    assert gone.status_code == 410
    assert "File deleted" in (await loop_client.get(page_path)).text
    assert sorted(actions) == ["exports.download", "exports.run"]


async def test_an_xlsx_built_in_the_background_opens_with_its_types(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "DIRECT_ROWS", 0)
    await some_contacts(loop_client, auth)
    await make_user(db, "admin")
    token = await sign_in(loop_client, "admin@council.gov.uk")
    queued = await loop_client.post(
        "/staff/exports",
        data={"csrf_token": token, "dataset": "contacts", "format": "xlsx", "service": "parking"},
        follow_redirects=False,
    )
    await worker_for(loop_app, db).run_due()
    download = await loop_client.get(queued.headers["location"] + "/download")
    book = load_workbook(io.BytesIO(download.content))
    assert [row[2] for row in book["Contacts"].iter_rows(min_row=2, values_only=True)] == ["Parking and permits"]
    about = {row[0]: row[1] for row in book["About this export"].iter_rows(values_only=True) if row[0]}
    assert about["Filter: Service"] == "parking" and about["Created by"] == "Test admin"


async def test_identified_exports_are_a_separate_permission_with_a_reason(
    loop_client: Client, loop_app: Litestar, auth: dict[str, str], db: TestDatabase, smtp: SmtpServer
) -> None:
    await give_feedback(loop_client, loop_app, auth, db, smtp, 1, service="council-tax", agent="A1", improve=NAMED)
    await worker_for(loop_app, db).run_due()
    await make_user(db, "admin")
    reviewer = await make_user(db, "quality_reviewer")
    token = await sign_in(loop_client, "admin@council.gov.uk")
    assert "/staff/exports/identified" not in (await loop_client.get("/staff/exports")).text
    refused = await loop_client.get("/staff/exports/identified", follow_redirects=False)
    assert refused.status_code == 403
    pseudonymised = await loop_client.post(
        "/staff/exports", data={"csrf_token": token, "dataset": "comments", "format": "csv"}
    )
    comment = csv_rows(pseudonymised.content)[1][5]
    assert "07700 900123" not in comment and "Dave Smith" not in comment and comment.startswith("'=HYPERLINK")

    loop_client.cookies.clear()
    token = await sign_in(loop_client, "quality_reviewer@council.gov.uk")
    form = await loop_client.get("/staff/exports/identified")
    assert form.status_code == 200 and "Why do you need comments as written?" in form.text
    assert 'value="contacts"' not in form.text  # only datasets with an identified form
    no_reason = await loop_client.post(
        "/staff/exports/identified", data={"csrf_token": csrf_from(form.text), "dataset": "comments", "format": "csv"}
    )
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    identified = await loop_client.post(
        "/staff/exports/identified",
        data={"csrf_token": token, "dataset": "comments", "format": "csv", "reason": "Complaint investigation CC-1"},
    )
    assert identified.status_code == 200
    assert csv_rows(identified.content)[1][5] == "'" + NAMED  # as written, still never a formula
    async with db.sessions() as session:
        runs_ = (await session.scalars(select(ExportRun).order_by(ExportRun.created_at))).all()
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "exports.identified"))
        assert event is not None and event.actor_id == str(reviewer.id)
        assert await read_reason(session, loop_app.state.services.get(Vault), event) == "Complaint investigation CC-1"
    assert [(r.identified, r.rows) for r in runs_] == [(False, 1), (True, 1)]
    assert event.reason_ciphertext is not None and b"CC-1" not in event.reason_ciphertext
    assert event.detail["export"] == str(runs_[1].id)
