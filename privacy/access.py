"""Subject access: everything held about a person, found through the data map, and the package they receive.

`gather` walks every table the data map says holds customer data, from the person through their subject column
and the declared links (an answer through its response), and decrypts their free text with their own key, so a
new table cannot be missed. `build_package` makes the zip: a readable report (HTML), the same as JSON, a workbook,
and the supplementary information the ICO lists. Comments that may name someone else are flagged for the DPO to
redact before release. The package is kept encrypted under the person's own key for a limited time (an erasure
destroys it with everything else), and each release is audited.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC
from jinja2 import Environment, select_autoescape
from openpyxl import Workbook  # type: ignore[import-untyped]
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.datamap import DataMapEntry, FileStore, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import NotFound
from civicvoice.core.settings import Settings
from exports.cells import safe_cell
from exports.spreadsheet import Column, write_csv
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject
from privacy.redaction import DEFAULT_RULES, find_identifiers
from privacy.search import HIDDEN, collect, jsonable
from privacy.vault import Vault

PACKAGE_FIELD = "access.package"
# Data portability (Art. 20) covers what the person provided: who they said they are and their survey answers
# (contacts, invitations and decisions are the council's own records of them, which access covers).
PROVIDED_BY_PERSON = frozenset({"response", "answer"})
PACKAGE_LIFETIME = timedelta(days=30)
# Ciphertext columns under the person's own key, and the field each was encrypted as.
PERSON_FIELDS: dict[tuple[str, str], str] = {
    ("data_subject", "identity_ciphertext"): "subject.identity",
    ("answer", "text_ciphertext"): "answer.text",
    # The organisation an administrator gave for a person on a campaign's list (`surveys.campaigns`).
    ("campaign_recipient", "organisation_ciphertext"): "campaign_recipient.organisation",
}
# Free text people typed: it may name someone else, which the DPO must redact before release.
FREE_TEXT = frozenset({("answer", "text_ciphertext")})
# Columns that mean nothing to the person (keyed hashes, key material, internal markers).
# Tables whose rows are the machinery of protecting the data, described rather than listed.
DESCRIBED = {
    "subject_index": "Keyed hashes of your email address, phone number and contact-system references, so we can "
    "find your record without storing them in clear.",
    "subject_name_index": "A keyed hash of your name, so we can find your record when you ask us about it.",
    "data_key": "The encryption key that protects your information. Destroying it erases your information.",
}
RECIPIENTS = (
    "Council staff who handle customer feedback, complaints and data-protection requests, each seeing only what "
    "their role needs.",
    "The council's email provider, and GOV.UK Notify (Government Digital Service) for text messages and email, "
    "which deliver survey invitations on the council's behalf.",
)
RIGHTS = (
    "You can ask us to correct information that is wrong (rectification), to erase it, to restrict how we use "
    "it, or object to being surveyed, and you can ask for your information in a machine-readable form.",
    "You can complain to the council's data protection officer, and to the Information Commissioner's Office "
    "(ico.org.uk, 0303 123 1113).",
)
SOURCE = (
    "From the council's contact systems (telephone, web chat, email, forms and our offices) when you contacted "
    "us, and from you when you answered a survey or made a request."
)

PACKAGE_STORE = FileStore(
    name="subject access packages",
    purpose="Hold a prepared access package until the requester downloads it",
    location="$CIVICVOICE_DATA_DIR/access/",
    holds=("everything held about one person",),
    category="subject rights",
    lawful_basis="legal_obligation",
    retention="30 days after preparation; encrypted under the person's key",
)


class AccessPackage(Base):
    """A prepared package: its file is encrypted under the person's key; releases are counted and audited."""

    __tablename__ = "access_package"
    __datamap__ = DataMapEntry(
        purpose="Track access packages prepared for people and their release",
        holds=("link to customer",),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="30 days for the file; the record with the request",
        subject_link="subject_id",
        links=(Link("created_by", "staff_user"),),
    )

    subject_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("data_subject.id", ondelete="SET NULL"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(GUID)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    releases: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(80))


@dataclass
class Section:
    """The rows of one table about the person, with what the data map says of that table."""

    table: str
    entry: DataMapEntry
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PersonRecord:
    subject_id: uuid.UUID
    identity: dict[str, Any]
    sections: list[Section]
    flagged: list[dict[str, Any]]  # free text that may name someone else: the DPO reviews before release

    def as_json(self) -> dict[str, Any]:
        return {
            "person": {"id": str(self.subject_id), **self.identity},
            "records": {s.table: [jsonable(r) for r in s.rows] for s in self.sections if s.rows},
            "flagged_for_review": self.flagged,
        }


async def gather(session: AsyncSession, vault: Vault, subject_id: uuid.UUID, *, base: Any = Base) -> PersonRecord:
    """Everything held about one person, their free text decrypted with their key: every table the data map's
    customer search steps reach (`privacy.search.collect`), so what the data-map test checks is what is read."""
    person = await session.get(DataSubject, subject_id)
    if person is None:
        raise NotFound("No person with that id.", field="subject_id")
    if person.erased_at is not None:
        raise KeyDestroyed("This person's data has been erased; nothing is held to give them.")
    identity = await vault.identity(session, person)
    found = await collect(session, "customer", subject_id, base=base)
    sections = {name: Section(name, f.entry, f.rows) for name, f in found.items()}
    flagged: list[dict[str, Any]] = []
    for section in sections.values():
        for row in section.rows:
            for (table_name, column), field_id in PERSON_FIELDS.items():
                if table_name == section.table and row.get(column) is not None:
                    text = await vault.decrypt(session, subject_id, field_id, row["id"], row[column])
                    row[column.removesuffix("_ciphertext")] = text
                    others = {hit.kind for hit in find_identifiers(text, DEFAULT_RULES)}
                    if others and (table_name, column) in FREE_TEXT:
                        flagged.append({"table": section.table, "id": str(row["id"]), "may_contain": sorted(others)})
            for column in list(row):
                if column in HIDDEN or column.endswith("_ciphertext") or isinstance(row[column], bytes):
                    del row[column]
    shown = [s for name, s in sorted(sections.items()) if name not in ("data_subject",) and name not in DESCRIBED]
    who = {
        "name": identity.name,
        "emails": list(identity.emails),
        "phones": list(identity.phones),
        "addresses": [address.replace("\n", ", ") for address in identity.addresses],
        "references": [ref.replace("\x1f", ": ") for ref in identity.external_ids],
        "first_seen": person.created_at.isoformat(),
        "opted_out": person.opted_out_at.isoformat() if person.opted_out_at else None,
    }
    return PersonRecord(subject_id, who, shown, flagged)


# --- the package -----------------------------------------------------------------------------------------

_REPORT = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Your information held by {{ council }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.5}
table{border-collapse:collapse;margin-bottom:2rem}th,td{border:1px solid #b1b4b6;padding:.3rem .6rem;text-align:left}
.review{background:#fff7bf;padding:1rem}</style></head><body>
<h1>Your information held by {{ council }}</h1>
<p>Prepared on {{ prepared }} in answer to your subject access request under Article 15 of the UK GDPR.</p>
{% if flagged %}<div class="review"><h2>For the data protection officer: review before release</h2>
<p>{{ flagged|length }} comment(s) may name or identify other people. Redact what is about others before sending.</p>
<ul>{% for f in flagged %}<li>{{ f.table }} {{ f.id }}: may contain {{ f.may_contain|join(", ") }}</li>{% endfor %}</ul>
</div>{% endif %}
<h2>Who you are to us</h2>
<table><tbody>
<tr><th scope="row">Name</th><td>{{ person.name or "Not recorded" }}</td></tr>
<tr><th scope="row">Email addresses</th><td>{{ person.emails|join(", ") or "None" }}</td></tr>
<tr><th scope="row">Phone numbers</th><td>{{ person.phones|join(", ") or "None" }}</td></tr>
<tr><th scope="row">Postal addresses</th><td>{{ person.addresses|join("; ") or "None" }}</td></tr>
<tr><th scope="row">References in our contact systems</th><td>{{ person.references|join(", ") or "None" }}</td></tr>
<tr><th scope="row">Opted out of surveys</th><td>{{ person.opted_out or "No" }}</td></tr>
</tbody></table>
{% for section in sections %}
<h2>{{ section.entry.purpose }}</h2>
<p>Held as: {{ section.entry.holds|join(", ") }}. Lawful basis: {{ bases[section.entry.lawful_basis] }}.
Kept for: {{ section.entry.retention }}.</p>
{% if section.rows %}<table><thead><tr>
{% for c in section.rows[0] %}<th scope="col">{{ c|replace("_", " ") }}</th>{% endfor %}</tr></thead><tbody>
{% for row in section.rows %}<tr>
{% for v in row.values() %}<td>{{ v if v is not none else "" }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% else %}<p>Nothing.</p>{% endif %}
{% endfor %}
<h2>How we protect it</h2><ul>{% for text in described %}<li>{{ text }}</li>{% endfor %}</ul>
<h2>Where it came from</h2><p>{{ source }}</p>
<h2>Who it is shared with</h2><ul>{% for r in recipients %}<li>{{ r }}</li>{% endfor %}</ul>
<h2>Your rights</h2>{% for r in rights %}<p>{{ r }}</p>{% endfor %}
</body></html>"""
)

LAWFUL_BASES = {
    "public_task": "performing a public task (UK GDPR Article 6(1)(e))",
    "legal_obligation": "a legal obligation (Article 6(1)(c))",
    "legitimate_interests": "legitimate interests (Article 6(1)(f))",
    "contract": "a contract (Article 6(1)(b))",
    "none": "not applicable",
}


def _workbook(record_: PersonRecord) -> bytes:
    """A small workbook, a sheet per kind of record; every cell through the one escaping function."""
    book = Workbook()
    people = book.active
    assert people is not None
    people.title = "You"
    for key, value in record_.identity.items():
        people.append(
            [safe_cell(key.replace("_", " ")), safe_cell(", ".join(value) if isinstance(value, list) else value)]
        )
    for section in record_.sections:
        if not section.rows:
            continue
        sheet = book.create_sheet(section.table[:31])
        columns = list(section.rows[0])
        sheet.append([safe_cell(c.replace("_", " ")) for c in columns])
        sheet.freeze_panes = "A2"
        for row in section.rows:
            sheet.append([safe_cell(_cell(row.get(c))) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(LONDON).replace(tzinfo=None)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def build_zip(record_: PersonRecord, *, council: str, prepared: datetime) -> bytes:
    report = _REPORT.render(
        council=council,
        prepared=prepared.astimezone(LONDON).strftime("%-d %B %Y"),
        person=record_.identity,
        sections=record_.sections,
        flagged=record_.flagged,
        bases=LAWFUL_BASES,
        described=list(DESCRIBED.values()),
        source=SOURCE,
        recipients=RECIPIENTS,
        rights=RIGHTS,
    )
    document = {
        **record_.as_json(),
        "supplementary": {
            "purposes": {s.table: s.entry.purpose for s in record_.sections},
            "categories": {s.table: s.entry.category for s in record_.sections},
            "lawful_bases": {s.table: LAWFUL_BASES[s.entry.lawful_basis] for s in record_.sections},
            "retention": {s.table: s.entry.retention for s in record_.sections},
            "recipients": list(RECIPIENTS),
            "source": SOURCE,
            "rights": list(RIGHTS),
        },
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.html", report)
        archive.writestr("your-information.json", json.dumps(document, indent=2, ensure_ascii=False))
        archive.writestr("your-information.xlsx", _workbook(record_))
    return out.getvalue()


def portable_record(record_: PersonRecord) -> PersonRecord:
    """The part of a person's record they provided, for data portability."""
    return PersonRecord(
        record_.subject_id,
        record_.identity,
        [s for s in record_.sections if s.table in PROVIDED_BY_PERSON],
        [f for f in record_.flagged if f["table"] in PROVIDED_BY_PERSON],
    )


def _csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    write_csv(out, [Column(c) for c in columns], rows)
    return out.getvalue()


def build_portable_zip(record_: PersonRecord, *, council: str, prepared: datetime) -> bytes:
    """Data portability (Art. 20): what they provided, machine-readable: one JSON document, a CSV per kind of
    record (UTF-8) and the same as a workbook, with a short note on the format. No report: it is for a machine."""
    provided = portable_record(record_)
    document = {
        "format": "civicvoice portable data, version 1",
        "controller": council,
        "prepared_at": prepared.isoformat(),
        **provided.as_json(),
    }
    you = [[key, ", ".join(v) if isinstance(v, list) else v] for key, v in provided.identity.items()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            f"Your information from {council}, as you provided it, in machine-readable form (UK GDPR Article 20).\n"
            "your-data.json holds all of it; the csv folder holds the same, one file per kind of record (UTF-8, "
            "comma-separated, first row the column names); your-data.xlsx holds the same as a workbook.\n"
            "Flagged comments may name other people: the council reviews them before sending.\n",
        )
        archive.writestr("your-data.json", json.dumps(document, indent=2, ensure_ascii=False))
        archive.writestr("csv/you.csv", _csv(["field", "value"], you))
        for section in provided.sections:
            if section.rows:
                columns = list(section.rows[0])
                archive.writestr(
                    f"csv/{section.table}.csv",
                    _csv(columns, [[_cell(row.get(c)) for c in columns] for row in section.rows]),
                )
        archive.writestr("your-data.xlsx", _workbook(provided))
    return out.getvalue()


def package_dir(settings: Settings) -> Path:
    return settings.data_dir / "access"


@dataclass(frozen=True)
class Prepared:
    package: AccessPackage
    content: bytes
    flagged: list[dict[str, Any]]


async def prepare(
    session: AsyncSession,
    settings: Settings,
    vault: Vault,
    subject_id: uuid.UUID,
    *,
    actor: Actor,
    request_id: uuid.UUID | None = None,
    portable: bool = False,
) -> Prepared:
    """Gather, build and keep the package encrypted under the person's key until it expires; ``portable`` makes
    the data-portability package (what they provided, machine-readable) instead of the access package."""
    now = utcnow()
    # The person's row is share-locked until the package is stored: an erasure or a retention run, which updates
    # that row before it unlinks the person's rows, then waits for this package and unlinks it too; if it came
    # first, this waits for it and finds the person erased. (SQLite's writers are serialised already.)
    await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update(read=True))
    found = await gather(session, vault, subject_id)
    if portable:
        found = portable_record(found)
        content = build_portable_zip(found, council=settings.council_name, prepared=now)
    else:
        content = build_zip(found, council=settings.council_name, prepared=now)
    package = AccessPackage(
        subject_id=subject_id,
        request_id=request_id,
        created_at=now,
        expires_at=now + PACKAGE_LIFETIME,
        created_by=actor.id,
        flagged=len(found.flagged),
        releases=0,
    )
    package.file_name = f"{package.id}.zip.enc"
    folder = package_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    sealed = await vault.encrypt(session, subject_id, PACKAGE_FIELD, package.id, content)
    (folder / package.file_name).write_bytes(sealed)
    session.add(package)
    record(
        session,
        actor,
        "privacy.access.prepare",
        target_kind="data_subject",
        target_id=subject_id,
        detail={"package": str(package.id), "flagged": len(found.flagged), "portable": portable},
    )
    return Prepared(package, content, found.flagged)


async def release(
    session: AsyncSession, settings: Settings, vault: Vault, package_id: uuid.UUID, *, actor: Actor
) -> bytes:
    """The package's content for sending, while it has not expired; every release is audited."""
    package = await session.get(AccessPackage, package_id, with_for_update=True)
    if package is None or package.subject_id is None or package.file_name is None:
        raise NotFound("No such access package.", field="package")
    if package.expires_at <= utcnow():
        raise NotFound("This access package has expired; prepare a new one.", field="package")
    sealed = (package_dir(settings) / package.file_name).read_bytes()
    content = await vault.decrypt_bytes(session, package.subject_id, PACKAGE_FIELD, package.id, sealed)
    package.releases += 1
    record(session, actor, "privacy.access.release", target_kind="access_package", target_id=package.id)
    return content


async def delete_expired(session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> int:
    now = now or utcnow()
    expired: Iterable[AccessPackage] = (
        await session.scalars(
            select(AccessPackage).where(AccessPackage.expires_at <= now, AccessPackage.file_name.is_not(None))
        )
    ).all()
    count = 0
    for package in expired:
        assert package.file_name is not None
        (package_dir(settings) / package.file_name).unlink(missing_ok=True)
        package.file_name = None
        count += 1
    return count
