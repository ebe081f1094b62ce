"""Every table declares what personal data it holds; privacy work is driven from these declarations."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.models import Base
from privacy.datamap import ROOTS, data_map, reachable, search_steps, subject_tables, undeclared, unreachable


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


def test_every_table_holding_personal_data_is_reachable_from_a_person() -> None:
    assert unreachable(Base) == []
    paths = reachable(Base)
    assert paths["answer"] == "answer.response_id -> response"
    assert paths["staff_session"].endswith("-> staff_user")


def test_the_search_follows_every_declared_link() -> None:
    """The steps the search takes (the same function the search runs) include the links that have no subject
    column of their own: an answer through its response, the second person of an identity conflict, a staff
    member's contacts as agent and the cases they own."""
    customer = {(s.table, s.column, s.source, s.source_column) for s in search_steps(Base, "customer")}
    staff = {(s.table, s.column, s.source, s.source_column) for s in search_steps(Base, "staff")}
    assert ("answer", "response_id", "response", "id") in customer
    assert ("subject_conflict", "chosen_subject_id", "data_subject", "id") in customer
    assert ("subject_conflict", "other_subject_id", "data_subject", "id") in customer
    assert ("contact", "agent_ref", "staff_user", "agent_ref") in staff
    assert ("contact_evaluation", "agent_ref", "staff_user", "agent_ref") in staff
    assert ("complaint_case", "owner_id", "staff_user", "id") in staff
    assert ("audit_event", "actor_id", "staff_user", "id") in staff
    # Customers' rows hanging off a staff member's contacts are not the staff member's data.
    assert not any(table in ("answer", "response") for table, *_ in staff)
    for steps in (search_steps(Base, "customer"), search_steps(Base, "staff")):
        reached = {"data_subject", "staff_user"}
        for step in steps:
            assert step.source in reached, f"{step.describe()} runs before {step.source} is found"
            reached.add(step.table)


# Columns that hold a person's id or a staff member's reference without a foreign key saying so.
_STAFF_REFERENCE = re.compile(r"(^|_)(owner_id|actor_id|reviewer_id|agent_ref)$|_by$")


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_every_column_pointing_at_a_person_is_followed(table: str) -> None:
    """A column that points at a person (a foreign key to data_subject or staff_user, or a staff id or agent
    reference kept as text) must be the table's subject column or a declared link to that person, or the search
    would miss the rows it marks. Fails for any new such column left undeclared."""
    entry = data_map(Base)[table]
    assert entry is not None
    if table in ROOTS.values():
        return  # the person's own row
    followed = {entry.subject_link} | {link.column for link in entry.links if link.table in ROOTS.values()}
    followed |= {column for column, why in entry.copies if why.strip()}  # a copy, found through its original
    for column in Base.metadata.tables[table].columns:
        points_at_person = any(fk.column.table.name in ROOTS.values() for fk in column.foreign_keys)
        if points_at_person or _STAFF_REFERENCE.search(column.name):
            assert column.name in followed, f"{table}.{column.name} points at a person but the data map ignores it"


def test_a_column_pointing_at_a_person_but_undeclared_fails_the_check() -> None:
    class Other(DeclarativeBase):
        pass

    class Person(Other):
        __tablename__ = "data_subject"
        __datamap__ = DataMapEntry(
            "people", holds=("name",), category="identity", lawful_basis="public_task", subject_link="id"
        )
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    class Letter(Other):
        __tablename__ = "letter"
        __datamap__ = DataMapEntry(
            "letters", holds=("text",), category="feedback", lawful_basis="public_task", subject_link="sender_id"
        )
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        sender_id: Mapped[int] = mapped_column(ForeignKey("data_subject.id"))
        recipient_id: Mapped[int] = mapped_column(ForeignKey("data_subject.id"))

    steps = {(s.table, s.column) for s in search_steps(Other, "customer")}
    assert ("letter", "sender_id") in steps and ("letter", "recipient_id") not in steps
    Letter.__datamap__ = DataMapEntry(
        "letters",
        holds=("text",),
        category="feedback",
        lawful_basis="public_task",
        subject_link="sender_id",
        links=(Link("recipient_id", "data_subject"),),
    )
    steps = {(s.table, s.column) for s in search_steps(Other, "customer")}
    assert ("letter", "recipient_id") in steps  # the recipient finds the letter too


def test_links_are_real_columns_pointing_at_known_tables() -> None:
    for name, entry in data_map(Base).items():
        assert entry is not None
        for link in entry.links:
            assert link.column in Base.metadata.tables[name].columns, f"{name}.{link.column}"
            assert link.table in Base.metadata.tables, f"{name} links to unknown table {link.table}"


def test_an_unlinked_table_holding_personal_data_fails() -> None:
    class Other(DeclarativeBase):
        pass

    class Person(Other):
        __tablename__ = "data_subject"
        __datamap__ = DataMapEntry(
            "people", holds=("name",), category="identity", lawful_basis="public_task", subject_link="id"
        )
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    class Note(Other):
        __tablename__ = "note"
        __datamap__ = DataMapEntry("notes", holds=("free text",), category="feedback", lawful_basis="public_task")
        id: Mapped[int] = mapped_column(Integer, primary_key=True)

    assert unreachable(Other) == ["note"]


def test_every_cron_is_declared_in_the_data_map() -> None:
    """Retention promises ("30 days after done", "7 days") are kept by cron jobs that exist, and every cron
    that changes or deletes stored data says which table or file store it acts on."""
    from civicvoice.app import features, job_registry

    feature_list = features()
    registry = job_registry(feature_list)
    stores = [store for feature in feature_list for store in feature.file_stores]
    declared = {job for entry in data_map(Base).values() if entry is not None for job in entry.scheduled_jobs}
    declared |= {job for store in stores for job in store.scheduled_jobs}
    assert declared <= set(registry.crons), f"declared jobs that do not exist: {declared - set(registry.crons)}"
    # privacy.retention is driven by every entry's retention_rule, so it needs no naming here.
    assert {"jobs.prune", "mail.prune_files", "invitations.expire", "staff.prune"} <= declared
    assert data_map(Base)["job"].scheduled_jobs == ("jobs.prune",)  # type: ignore[union-attr]


def test_file_backend_mail_is_a_declared_file_store() -> None:
    from civicvoice.app import features
    from civicvoice.core.mail import MAIL_FILES

    assert MAIL_FILES in [store for feature in features() for store in feature.file_stores]
    assert MAIL_FILES.holds and MAIL_FILES.lawful_basis != "none" and MAIL_FILES.retention == "7 days"
    assert "mail.prune_files" in MAIL_FILES.scheduled_jobs
