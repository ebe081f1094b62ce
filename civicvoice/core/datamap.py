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
class DataMapEntry:
    """What one table holds about people.

    ``holds`` names each personal-data item (empty and explicit when the table holds none);
    ``subject_link`` names the column pointing at ``data_subject.id`` when rows belong to a person;
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
    scheduled_jobs: tuple[str, ...] = ()

    @property
    def holds_personal_data(self) -> bool:
        return bool(self.holds)

    @classmethod
    def no_personal_data(cls, purpose: str, retention: str = "indefinite") -> DataMapEntry:
        return cls(purpose=purpose, retention=retention)


@dataclass(frozen=True)
class FileStore:
    """Personal data kept outside the database (files under the data directory), declared like a table."""

    name: str
    location: str
    entry: DataMapEntry


# Stores that are not tables; each module that writes such files registers its store when imported.
FILE_STORES: dict[str, FileStore] = {}


def declare_file_store(name: str, location: str, entry: DataMapEntry) -> FileStore:
    store = FileStore(name, location, entry)
    if FILE_STORES.get(name, store) != store:
        raise ValueError(f"file store {name!r} is declared twice")
    FILE_STORES[name] = store
    return store
