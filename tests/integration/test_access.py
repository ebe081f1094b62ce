"""Subject access: everything about a person found through the data map, their comments decrypted, others'
names flagged for review, and a package (report, JSON, workbook) kept encrypted and released with an audit."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select, update

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import NotFound
from civicvoice.core.services import Services
from civicvoice.core.settings import Settings
from privacy.access import AccessPackage, delete_expired, gather, package_dir, prepare, release
from privacy.erasure import erase
from privacy.exceptions import KeyDestroyed
from privacy.vault import Vault
from surveys.models import Answer
from tests.integration.support import TestDatabase
from tests.integration.test_erasure import answered
from tests.integration.test_keys_and_cli import env_for

__all__ = ["answered"]


async def test_everything_about_a_person_is_found_and_nothing_of_others(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase
) -> None:
    services, (person, _, _) = answered
    vault = services.get(Vault)
    async with db.sessions() as session:
        found = await gather(session, vault, person)
    tables = {section.table: section for section in found.sections}
    assert {"contact", "invitation", "invitation_decision", "response", "answer"} <= set(tables)
    assert found.identity["emails"] == ["erase.0@example.org"]
    comments = [row["text"] for row in tables["answer"].rows if row.get("text")]
    assert any("Comment number 0" in c for c in comments) and not any("Comment number 1" in c for c in comments)
    # Keyed hashes and ciphertext never reach the person's copy.
    for section in found.sections:
        for row in section.rows:
            assert not any(isinstance(v, bytes) for v in row.values())
            assert "text_ciphertext" not in row and "ref_digest" not in row
    # "Person 0 liked the advisor." is not a name the rules flag; a comment naming a colleague is.
    assert found.flagged == []


async def test_comments_naming_others_are_flagged(answered: tuple[Services, list[uuid.UUID]], db: TestDatabase) -> None:
    services, (person, _, _) = answered
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        found = await gather(session, vault, person)
        target = next(r for s in found.sections if s.table == "answer" for r in s.rows if r.get("text"))
        text = "Mrs Patel at the desk was rude to my neighbour, call me on 07700 900123"
        sealed = await vault.encrypt(session, person, "answer.text", target["id"], text)
        await session.execute(update(Answer).where(Answer.id == target["id"]).values(text_ciphertext=sealed))
    async with db.sessions() as session:
        flagged = (await gather(session, vault, person)).flagged
    assert flagged and flagged[0]["id"] == str(target["id"]) and "person_name" in flagged[0]["may_contain"]


async def test_the_package_is_encrypted_at_rest_and_its_release_audited(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (person, _, _) = answered
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        prepared = await prepare(session, settings, vault, person, actor=Actor.cli())
    stored = (package_dir(settings) / f"{prepared.package.id}.zip.enc").read_bytes()
    assert b"erase.0@example.org" not in stored and not stored.startswith(b"PK")
    async with unit_of_work(db.sessions) as session:
        content = await release(session, settings, vault, prepared.package.id, actor=Actor.cli())
    assert content == prepared.content
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert set(archive.namelist()) == {"report.html", "your-information.json", "your-information.xlsx"}
    report = archive.read("report.html").decode()
    assert "erase.0@example.org" in report and "Your rights" in report and "ico.org.uk" in report
    assert "&lt;b&gt;wait&lt;/b&gt;" in report  # the comment's markup is shown, never run
    document = json.loads(archive.read("your-information.json"))
    assert document["person"]["emails"] == ["erase.0@example.org"]
    assert set(document["supplementary"]) >= {"purposes", "categories", "retention", "recipients", "source", "rights"}
    workbook = load_workbook(io.BytesIO(archive.read("your-information.xlsx")))
    assert {"You", "answer", "contact", "response"} <= set(workbook.sheetnames)
    async with db.sessions() as session:
        actions = (
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("privacy.access%")))
        ).all()
        package = await session.get(AccessPackage, prepared.package.id)
    assert sorted(actions) == ["privacy.access.prepare", "privacy.access.release"]
    assert package is not None and package.releases == 1
    # Past its time the file goes and it can no longer be released.
    async with unit_of_work(db.sessions) as session:
        assert await delete_expired(session, settings, now=utcnow() + timedelta(days=31)) == 1
    assert not (package_dir(settings) / f"{prepared.package.id}.zip.enc").exists()
    with pytest.raises(NotFound):
        async with unit_of_work(db.sessions) as session:
            await release(session, settings, vault, prepared.package.id, actor=Actor.cli())


async def test_an_erased_person_has_no_package(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    services, (person, _, _) = answered
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        prepared = await prepare(session, settings, vault, person, actor=Actor.cli())
        await erase(session, settings, person, actor=Actor.cli(), holds=())
    with pytest.raises(KeyDestroyed):
        async with db.sessions() as session:
            await gather(session, vault, person)
    # The package prepared before the erasure cannot be opened any more: it was under the person's key.
    with pytest.raises(KeyDestroyed):
        async with unit_of_work(db.sessions) as session:
            await release(session, settings, vault, prepared.package.id, actor=Actor.cli())


def test_find_and_access_commands(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    env = env_for(settings)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    assert run("user", "create", "--email", "dpo@council.example", "--role", "dpo", "--password", "y" * 14)[0] == 0
    opened = run(
        "privacy",
        "requests",
        "open",
        "--kind",
        "access",
        "--name",
        "Sam",
        "--email",
        "sam@example.org",
        "--as",
        "dpo@council.example",
    )
    assert opened[0] == 0
    code, out = run("privacy", "find", "--email", "-", "--as", "dpo@council.example", stdin="nobody@example.org\n")
    assert code != 0 and "No person matches" in out
    output = tmp_path / "package.zip"
    code, out = run(
        "privacy",
        "access",
        "--email",
        "-",
        "--output",
        str(output),
        "--as",
        "dpo@council.example",
        stdin="nobody@example.org\n",
    )
    assert code != 0 and not output.exists()
    output.write_bytes(b"already here")
    code, out = run("privacy", "access", str(uuid.uuid4()), "--output", str(output), "--as", "dpo@council.example")
    assert code != 0 and "exists" in out and output.read_bytes() == b"already here"


async def test_a_portability_package_holds_what_they_provided_machine_readable(
    answered: tuple[Services, list[uuid.UUID]], db: TestDatabase, settings: Settings
) -> None:
    """Art. 20: JSON and CSV (and a workbook) of their identity and answers; not the council's own records."""
    services, (person, _, _) = answered
    vault = services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        prepared = await prepare(session, settings, vault, person, actor=Actor.cli(), portable=True)
    archive = zipfile.ZipFile(io.BytesIO(prepared.content))
    names = set(archive.namelist())
    assert {"your-data.json", "csv/you.csv", "csv/response.csv", "csv/answer.csv", "your-data.xlsx"} <= names
    assert "report.html" not in names and not any("contact" in n or "invitation" in n for n in names)
    document = json.loads(archive.read("your-data.json"))
    assert set(document["records"]) == {"response", "answer"} and document["person"]["emails"] == [
        "erase.0@example.org"
    ]
    assert any("Comment number 0" in (a.get("text") or "") for a in document["records"]["answer"])
    answers_csv = archive.read("csv/answer.csv").decode("utf-8-sig").splitlines()
    assert answers_csv[0].split(",")[0] == "id" and len(answers_csv) == 1 + len(document["records"]["answer"])
    assert "erase.0@example.org" in archive.read("csv/you.csv").decode("utf-8-sig")
    assert load_workbook(io.BytesIO(archive.read("your-data.xlsx"))).sheetnames == ["You", "answer", "response"]
    async with db.sessions() as session:
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.access.prepare"))
    assert audit is not None and audit.detail["portable"] is True
