"""The record of processing activities (UK GDPR Art. 30), generated from the data map so it cannot drift from
the code: one row per table or file store that holds personal data, in the columns of the ICO's template, plus
the processors civicvoice sends data through. Written as XLSX (through the streaming writer and its one escaping
function) and as HTML."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from civicvoice.core.datamap import DataMapEntry, FileStore
from exports.spreadsheet import AboutExport, Column, write_xlsx
from privacy.datamap import data_map

CONTROLLER = "The council (one civicvoice deployment serves one council)"
SECURITY = (
    "Personal data encrypted under a key per person (AES-256-GCM, keys wrapped by rotated key-encryption keys); "
    "blind indexes instead of identifiers in clear; role-based staff access with audited identified views; "
    "tamper-evident audit log; TLS in transit."
)
LOCATION = "The council's civicvoice database (PostgreSQL) and data directory, in the UK"


@dataclass(frozen=True)
class Processor:
    """Someone who handles personal data on the council's behalf."""

    name: str
    does: str
    receives: str
    location: str


PROCESSORS: tuple[Processor, ...] = (
    Processor(
        "The council's email provider (SMTP)",
        "Delivers survey invitations and request codes by email",
        "email address, survey link",
        "As contracted by the council",
    ),
    Processor(
        "GOV.UK Notify (Government Digital Service)",
        "Delivers survey invitations and questions by text message and email",
        "mobile number or email address, survey link or question",
        "UK",
    ),
)

COLUMNS = (
    Column("Record", 28),
    Column("Business function", 24),
    Column("Purpose of processing", 48),
    Column("Categories of individuals", 22),
    Column("Categories of personal data", 40),
    Column("Categories of recipients", 40),
    Column("Article 6 lawful basis", 28),
    Column("Article 9 condition", 40),
    Column("Retention schedule", 28),
    Column("Location of personal data", 32),
    Column("Security measures", 48),
    Column("Encrypted columns", 24),
)

BASIS = {
    "public_task": "Art. 6(1)(e) public task",
    "legal_obligation": "Art. 6(1)(c) legal obligation",
    "legitimate_interests": "Art. 6(1)(f) legitimate interests",
    "contract": "Art. 6(1)(b) contract",
    "none": "",
}


def _recipients(entry_kind: str) -> str:
    if entry_kind == "staff":
        return "Administrators; the data protection officer for accountability"
    return "Council staff by role (quality, service managers, agents for their own contacts, the DPO)"


def rows(base: Any, file_stores: Iterable[FileStore] = ()) -> list[tuple[str, ...]]:
    """One row per table and file store that holds personal data, in the template's columns."""
    found: list[tuple[str, ...]] = []
    for name, entry in sorted(data_map(base).items()):
        if entry is None or not entry.holds_personal_data:
            continue
        found.append(_row(name, entry))
    for store in file_stores:
        if store.holds:
            found.append(
                (
                    store.name,
                    "Customer feedback and data protection",
                    store.purpose,
                    "Customers",
                    ", ".join(store.holds),
                    _recipients("customer"),
                    BASIS.get(store.lawful_basis, store.lawful_basis),
                    "",
                    store.retention,
                    store.location,
                    SECURITY,
                    "",
                )
            )
    return found


def _row(name: str, entry: DataMapEntry) -> tuple[str, ...]:
    people = "Council staff" if entry.subject_kind == "staff" else "Customers (residents, businesses, visitors)"
    return (
        name,
        "Staff accounts and security" if entry.subject_kind == "staff" else "Customer feedback and data protection",
        entry.purpose,
        people,
        f"{entry.category}: {', '.join(entry.holds)}",
        _recipients(entry.subject_kind),
        BASIS.get(entry.lawful_basis, entry.lawful_basis),
        entry.article9,
        entry.retention,
        LOCATION,
        SECURITY,
        ", ".join(entry.encrypted),
    )


def processor_rows() -> list[tuple[str, ...]]:
    return [(p.name, p.does, p.receives, p.location) for p in PROCESSORS]


def write_ropa_xlsx(path: Path, base: Any, file_stores: Sequence[FileStore], *, created_by: str, now: datetime) -> int:
    about = AboutExport(
        title="Record of processing activities (UK GDPR Article 30)",
        created_by=created_by,
        created_at=now,
        notes=(
            f"Controller: {CONTROLLER}",
            *(f"Processor: {p.name} ({p.does}; receives {p.receives}; {p.location})" for p in PROCESSORS),
        ),
    )
    return write_xlsx(path, COLUMNS, rows(base, file_stores), about, sheet_title="Processing activities")


_HTML = Environment(autoescape=select_autoescape(default=True, default_for_string=True)).from_string(
    """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Record of processing activities</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}
th,td{border:1px solid #b1b4b6;padding:.3rem .5rem;text-align:left;vertical-align:top}</style></head><body>
<h1>Record of processing activities</h1>
<p>UK GDPR Article 30. Controller: {{ controller }}. Generated {{ now }} from civicvoice's data map.</p>
<table><caption>Processing activities</caption><thead><tr>
{% for c in columns %}<th scope="col">{{ c.header }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
<h2>Processors</h2><table><thead><tr><th scope="col">Processor</th><th scope="col">What they do</th>
<th scope="col">What they receive</th><th scope="col">Where</th></tr></thead><tbody>
{% for row in processors %}<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table></body></html>"""
)


def ropa_html(base: Any, file_stores: Sequence[FileStore], *, now: datetime) -> str:
    return _HTML.render(
        controller=CONTROLLER,
        now=now.strftime("%-d %B %Y"),
        columns=COLUMNS,
        rows=rows(base, file_stores),
        processors=processor_rows(),
    )
