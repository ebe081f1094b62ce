"""The data map: what every table holds about people, read from each model's declaration."""

from __future__ import annotations

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


def reachable(base: Any) -> dict[str, str]:
    """Tables whose rows can be found from a person, with the way they are reached (for the search and a test).

    A table is reached through its own subject column, or through a link to a table already reached; the search
    for a person follows the same paths."""
    entries = {name: entry for name, entry in data_map(base).items() if entry is not None}
    found: dict[str, str] = {}
    for name, entry in entries.items():
        if entry.subject_link:
            found[name] = f"{name}.{entry.subject_link} -> {ROOTS[entry.subject_kind]}"
    changed = True
    while changed:
        changed = False
        for name, entry in entries.items():
            if name in found:
                continue
            via = next((link for link in entry.links if link.table in found), None)
            if via is not None:
                found[name] = f"{name}.{via.column} -> {via.table}"
                changed = True
    return found


def unreachable(base: Any) -> list[str]:
    """Tables holding personal data that no person leads to, and that do not say why: a search would miss them."""
    paths = reachable(base)
    return sorted(
        name
        for name, entry in data_map(base).items()
        if entry is not None and entry.holds_personal_data and name not in paths and not entry.unlinked
    )
