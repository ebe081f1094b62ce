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
