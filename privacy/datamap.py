"""The data map: what every table holds about people, read from each model's declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from civicvoice.core.datamap import DataMapEntry


def data_map(base: Any) -> dict[str, DataMapEntry | None]:
    """Every table of ``base``'s metadata with its declaration (None where a table declares nothing)."""
    by_table: dict[str, DataMapEntry | None] = {name: None for name in base.metadata.tables}
    for mapper in base.registry.mappers:
        table = mapper.local_table
        if isinstance(table, Table) and table.name in by_table:
            entry = mapper.class_.__dict__.get("__datamap__")
            by_table[table.name] = entry if isinstance(entry, DataMapEntry) else None
    return by_table


def undeclared(base: Any) -> list[str]:
    return sorted(name for name, entry in data_map(base).items() if entry is None)


def subject_tables(base: Any) -> dict[str, DataMapEntry]:
    """Tables whose rows belong to a person: what subject access and erasure walk through."""
    return {name: e for name, e in data_map(base).items() if e is not None and e.subject_link}


ROOTS = {"customer": "data_subject", "staff": "staff_user"}


@dataclass(frozen=True)
class Step:
    """One way to rows of ``table``: its ``column`` equals ``source_column`` of rows already found in ``source``
    (for the first steps, the person's own row in the root table)."""

    table: str
    column: str
    source: str
    source_column: str = "id"

    def describe(self) -> str:
        target = self.source if self.source_column == "id" else f"{self.source}.{self.source_column}"
        return f"{self.table}.{self.column} -> {target}"


def search_steps(base: Any, kind: str) -> list[Step]:
    """How the search for one person of ``kind`` ("customer" or "staff") reaches every table that holds their data,
    in an order where each step's source is found before it. The search, the access package and the data-map
    test all use these steps, so a table the test passes is a table the search reads.

    1. Tables of this kind with a subject column, from the person's row.
    2. Any table with a declared link straight to the person's root table (the other person in an identity
       conflict; the contacts naming a staff member as agent; the cases a staff member owns).
    3. Tables of this kind linked to a table already reached (an answer through its response), repeated."""
    root = ROOTS[kind]
    entries = {name: entry for name, entry in data_map(base).items() if entry is not None}
    steps: list[Step] = []
    own: set[str] = set()
    for name, entry in sorted(entries.items()):
        if entry.subject_link and entry.subject_kind == kind:
            steps.append(Step(name, entry.subject_link, root))
            own.add(name)
    for name, entry in sorted(entries.items()):
        for link in entry.links:
            if link.table == root:
                steps.append(Step(name, link.column, root, link.to))
    changed = True
    while changed:
        changed = False
        for name, entry in sorted(entries.items()):
            if entry.subject_kind != kind or entry.subject_link:
                continue
            for link in entry.links:
                step = Step(name, link.column, link.table, link.to)
                if link.table in own and link.table != root and step not in steps:
                    steps.append(step)
                    own.add(name)
                    changed = True
    return steps


def reachable(base: Any) -> dict[str, str]:
    """Tables whose rows the search finds from a person, with the first way they are reached (for a test)."""
    found: dict[str, str] = {}
    for kind in ROOTS:
        for step in search_steps(base, kind):
            found.setdefault(step.table, step.describe())
    return found


def unreachable(base: Any) -> list[str]:
    """Tables holding personal data that no person leads to, and that do not say why: a search would miss them."""
    paths = reachable(base)
    return sorted(
        name
        for name, entry in data_map(base).items()
        if entry is not None and entry.holds_personal_data and name not in paths and not entry.unlinked
    )
