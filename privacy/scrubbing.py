"""Taking a person out of rows while keeping the clear facts: one routine, driven by the data map, for the
erasure purge and for retention's anonymisation alike.

For the chosen rows of a table it nulls the encrypted columns (and those of rows linked to them, such as a
response's answers), cuts declared timestamps to the day, replaces keyed hashes of other systems' ids with random
bytes, and drops the link to the person. What is left (scores, channel, service, dates) still adds up in reports.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from privacy.datamap import data_map


def _start_of_day(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def linked_children(base: Any, name: str) -> list[tuple[str, str]]:
    """Tables (and their column) whose rows hang off rows of ``name`` through a declared link."""
    return [
        (child, link.column)
        for child, entry in data_map(base).items()
        if entry is not None
        for link in entry.links
        if link.table == name and not entry.subject_link
    ]


async def scrub_rows(session: AsyncSession, base: Any, name: str, where: ColumnElement[bool]) -> dict[str, int]:
    """Scrub the rows of ``name`` matching ``where`` (and what hangs off them); returns rows touched per table."""
    tables: dict[str, Table] = base.metadata.tables
    entries = data_map(base)
    table = tables[name]
    entry = entries[name]
    assert entry is not None
    touched: dict[str, int] = {}
    chosen = select(table.c.id).where(where)
    for child, column in linked_children(base, name):
        child_entry = entries[child]
        assert child_entry is not None
        encrypted = {c: None for c in child_entry.encrypted if c in tables[child].c}
        if encrypted:
            result = await session.execute(
                update(tables[child]).where(tables[child].c[column].in_(chosen)).values(**encrypted)
            )
            touched[child] = int(getattr(result, "rowcount", 0) or 0)
    values: dict[str, Any] = {c: None for c in entry.encrypted if c in table.c}
    link = entry.subject_link
    if link and link != "id" and table.c[link].nullable:
        values[link] = None
    coarsen = [c for c in entry.coarsen_on_erasure if c in table.c]
    scramble = [c for c in entry.scramble_on_erasure if c in table.c]
    if coarsen or scramble:
        # Times of day could single a person out (the day is all reports need), and a keyed hash of another
        # system's id would lead back to them there: each row gets its own day and its own random bytes, in the
        # same UPDATE that drops its ciphertext and its link (one new row version, not two: retention scrubs
        # millions). One statement for all the rows (executemany), not one round trip each.
        rows = (await session.execute(select(table.c.id, *(table.c[c] for c in coarsen)).where(where))).all()
        changes: list[dict[str, Any]] = []
        for row in rows:
            change: dict[str, Any] = {
                f"new_{c}": _start_of_day(v) if v else v for c, v in zip(coarsen, row[1:], strict=True)
            }
            change.update({f"new_{c}": secrets.token_bytes(32) for c in scramble})
            change["row_id"] = row[0]
            changes.append(change)
        if changes:
            statement = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({c: bindparam(f"new_{c}") for c in (*coarsen, *scramble)})
                .values(**values)
            )
            await session.execute(statement, changes)
            touched[name] = len(changes)
    elif values:
        result = await session.execute(update(table).where(where).values(**values))
        touched[name] = int(getattr(result, "rowcount", 0) or 0)
    return touched
