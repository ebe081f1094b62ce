"""Every table declares what personal data it holds; privacy drives access, erasure, retention and the ROPA from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LawfulBasis = Literal[
    "public_task",  # Art. 6(1)(e): a council measuring and improving its services
    "legal_obligation",  # Art. 6(1)(c): complaints handling, subject request records, audit
    "legitimate_interests",  # Art. 6(1)(f): security of the service itself
    "contract",  # staff accounts
    "none",  # the table holds no personal data
]


@dataclass(frozen=True)
class Link:
    """A column of this table that points at a row of another table: the data map's search follows it, so a
    row with no subject column of its own (an answer) is still found from its person (through its response)."""

    column: str
    table: str
    # The column of ``table`` it matches: the row id, or another key such as a staff member's agent reference.
    to: str = "id"


RetentionAction = Literal["anonymise", "delete", "shred"]


@dataclass(frozen=True)
class RetentionRule:
    """How long a table's rows are kept, in machine-readable form; privacy's retention job enforces it.

    ``retention_class`` names the period (the DPO sets its months; defaults in privacy.retention); ``counts_from``
    is the column the period runs from; ``action`` says what happens after it: anonymise (the clear facts stay
    for the reports, the person and their words go), delete, or shred (a person's key and indexes are destroyed).
    """

    retention_class: str
    counts_from: str
    action: RetentionAction


@dataclass(frozen=True)
class DataMapEntry:
    """What one table holds about people.

    ``holds`` names each personal-data item (empty and explicit when the table holds none);
    ``subject_link`` names the column pointing at ``data_subject.id`` (or at ``staff_user.id`` for staff data)
    when rows belong to a person; ``links`` are further columns pointing at other tables' rows. A table holding
    personal data must be reachable from a person through these, or say in ``unlinked`` why it is not.
    ``scheduled_jobs`` names the cron jobs that keep the table to its retention (or move its rows on, as
    expiry does), so a promise such as "30 days after done" is backed by a job that exists.
    """

    purpose: str
    holds: tuple[str, ...] = ()
    category: str = "none"
    lawful_basis: LawfulBasis = "none"
    retention: str = "indefinite"
    subject_link: str | None = None
    encrypted: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    # Whose personal data: customers (data_subject) or staff (staff_user), who are data subjects too.
    subject_kind: Literal["customer", "staff"] = "customer"
    # Why a table holding personal data is deliberately not linked to a person (e.g. keyed hashes kept to honour
    # an objection after erasure); an empty string means it must be linked.
    unlinked: str = ""
    # Columns that copy a reference to a person kept elsewhere (for an index), with why the search does not follow
    # them: (column, why). The copy is found through the original; following it would pull in others' rows.
    copies: tuple[tuple[str, str], ...] = ()
    # Timestamps cut to the day when the person is erased (the time of day could single them out).
    coarsen_on_erasure: tuple[str, ...] = ()
    # Keyed hashes of other systems' ids, replaced by random bytes on erasure (they would lead back to the person).
    scramble_on_erasure: tuple[str, ...] = ()
    retention_rule: RetentionRule | None = None
    # The Art. 9 condition, where what people write may reveal health or other special-category data.
    article9: str = ""
    scheduled_jobs: tuple[str, ...] = ()

    @property
    def holds_personal_data(self) -> bool:
        return bool(self.holds)

    @classmethod
    def no_personal_data(cls, purpose: str, retention: str = "indefinite") -> DataMapEntry:
        return cls(purpose=purpose, retention=retention)


@dataclass(frozen=True)
class FileStore:
    """A store outside the database that holds personal data (mail files, access packages, exports).

    Declared by the feature that writes it, beside its tables, so the record of processing and retention see it.
    """

    name: str
    purpose: str
    location: str
    holds: tuple[str, ...]
    category: str
    lawful_basis: LawfulBasis
    retention: str
    # The cron jobs that keep the store to its retention (see DataMapEntry.scheduled_jobs).
    scheduled_jobs: tuple[str, ...] = ()
