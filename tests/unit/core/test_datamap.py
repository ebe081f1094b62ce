"""Every table declares what personal data it holds; privacy work is driven from these declarations."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civicvoice.core.datamap import DataMapEntry
from civicvoice.models import Base
from privacy.datamap import data_map, subject_tables, undeclared


def test_no_table_is_undeclared() -> None:
    assert undeclared(Base) == []


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_declarations_are_complete(table: str) -> None:
    entry = data_map(Base)[table]
    assert entry is not None and entry.purpose
    if entry.holds_personal_data:
        assert entry.lawful_basis != "none", f"{table} holds personal data without a lawful basis"
        assert entry.category != "none" and entry.retention
    columns = Base.metadata.tables[table].columns
    if "subject_id" in columns:
        assert entry.subject_link == "subject_id", f"{table} links to a person but does not say so"
    if entry.subject_link:
        assert entry.subject_link in columns
    for column in entry.encrypted:
        assert column in columns


def test_a_new_table_without_a_declaration_is_reported() -> None:
    class Other(DeclarativeBase):
        pass

    class Declared(Other):
        __tablename__ = "declared"
        __datamap__ = DataMapEntry.no_personal_data("test")
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    class Forgotten(Other):
        __tablename__ = "forgotten"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert undeclared(Other) == ["forgotten"]


def test_people_tables_are_known() -> None:
    assert {"data_subject", "contact", "invitation", "subject_index"} <= set(subject_tables(Base))


def test_every_cron_is_declared_in_the_data_map() -> None:
    """Retention promises ("30 days after done", "7 days") are kept by cron jobs that exist, and every cron
    that changes or deletes stored data says which table or file store it acts on."""
    from civicvoice.app import features, job_registry
    from civicvoice.core.datamap import FILE_STORES

    registry = job_registry(features())
    entries = [e for e in data_map(Base).values() if e is not None] + [s.entry for s in FILE_STORES.values()]
    declared = {job for entry in entries for job in entry.scheduled_jobs}
    assert declared <= set(registry.crons), f"declared jobs that do not exist: {declared - set(registry.crons)}"
    assert set(registry.crons) <= declared, f"crons no data-map entry declares: {set(registry.crons) - declared}"
    assert {"jobs.prune", "mail.prune_files", "invitations.expire"} <= declared
    assert data_map(Base)["job"].scheduled_jobs == ("jobs.prune",)  # type: ignore[union-attr]


def test_file_backend_mail_is_a_declared_file_store() -> None:
    from civicvoice.core.mail import MAIL_FILES

    entry = MAIL_FILES.entry
    assert entry.holds_personal_data and entry.lawful_basis != "none" and entry.retention == "7 days"
    assert "mail.prune_files" in entry.scheduled_jobs
