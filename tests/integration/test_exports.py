"""Exports from the command line: every dataset as XLSX and CSV, pseudonymised by default (comments redacted),
the identified form only with a reason (encrypted in the audit), filters applied, and every export audited."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import select

from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.settings import Settings
from exports.models import ExportRun
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_recent_feedback import give_feedback
from tests.integration.test_survey_loop import worker_for

Client = AsyncTestClient[Litestar]
NAMED = "=HYPERLINK(1) Spoke to Dave Smith, call me on 07700 900123."


async def test_exports_of_every_dataset(
    loop_client: Client,
    loop_app: Litestar,
    auth: dict[str, str],
    db: TestDatabase,
    smtp: SmtpServer,
    mail_settings: Settings,
    tmp_path: Path,
) -> None:
    await give_feedback(loop_client, loop_app, auth, db, smtp, 1, service="council-tax", agent="A1", improve=NAMED)
    await worker_for(loop_app, db).run_due()
    runner = CliRunner()
    env = env_for(mail_settings)

    async def export(*args: str) -> tuple[int, str]:
        # The command runs its own event loop: in a thread, beside this test's.
        result = await asyncio.to_thread(runner.invoke, cli, ["export", *args], env=env)
        return result.exit_code, result.output

    for name in ("responses", "comments", "contacts", "cases", "actions"):
        code, out = await export(name, "--output", str(tmp_path / f"{name}.xlsx"))
        assert code == 0, out
        workbook = load_workbook(tmp_path / f"{name}.xlsx", read_only=True)
        assert "About this export" in workbook.sheetnames
    comments = load_workbook(tmp_path / "comments.xlsx", read_only=True)["Comments"]
    cells = [row for row in comments.iter_rows(values_only=True)]
    text = cells[1][5]
    assert "07700 900123" not in text and "Dave Smith" not in text and text.startswith("'=HYPERLINK(1) Spoke to")
    code, out = await export("comments", "--format", "csv", "--output", str(tmp_path / "c.csv"))
    assert code == 0 and json.loads(out)["rows"] == 1
    rows = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0][5] == "Comment" and "07700" not in rows[1][5]
    # A filter that matches nothing gives an empty export, not an error.
    code, out = await export(
        "responses", "--service", "parking", "--format", "csv", "--output", str(tmp_path / "p.csv")
    )
    assert code == 0 and json.loads(out)["rows"] == 0
    # Identified: only with a reason, which is stored encrypted.
    code, out = await export("comments", "--identified", "--output", str(tmp_path / "id.csv"), "--format", "csv")
    assert code != 0 and "needs a reason" in out and not (tmp_path / "id.csv").exists()
    code, out = await export(
        "comments",
        "--identified",
        "--reason",
        "Complaint investigation CC-1",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "id.csv"),
    )
    assert code == 0
    assert "07700 900123" in (tmp_path / "id.csv").read_text(encoding="utf-8-sig")
    formula = list(csv.reader(io.StringIO((tmp_path / "id.csv").read_text(encoding="utf-8-sig"))))[1][5]
    assert formula.startswith("'=HYPERLINK")  # neutralised, never a formula
    code, out = await export("responses", "--output", str(tmp_path / "responses.xlsx"))
    assert code != 0 and "exists" in out
    code, out = await export(
        "responses", "--from", "2026-12-10", "--to", "2026-12-01", "--output", str(tmp_path / "x.csv")
    )
    assert code != 0 and "before --from" in out
    async with db.sessions() as session:
        runs = (await session.scalars(select(AuditEvent).where(AuditEvent.action.like("exports.%")))).all()
        recorded = (await session.scalars(select(ExportRun))).all()
    # Each export made is recorded with its filter and row count (the command line's has no staff id without --as).
    assert len(recorded) == 8 and {r.created_by for r in recorded} == {None}
    assert {(r.dataset, r.service, r.rows) for r in recorded if r.service} == {("responses", "parking", 0)}
    assert {str(r.id) for r in recorded} == {e.detail["export"] for e in runs}
    identified = [r for r in runs if r.action == "exports.identified"]
    assert (
        len(runs) == 8 and len(identified) == 1
    )  # refused exports are not recorded: nothing was exported and identified[0].reason_ciphertext is not None
    assert identified[0].detail["rows"] == 1 and b"CC-1" not in identified[0].reason_ciphertext
