"""Lookups by keyed hash stay index lookups on the hash whatever the planner knows: on a database whose tables
were never analysed (new, fast-growing, or on a server with autovacuum off) PostgreSQL once used the blind indexes
for the field and key version alone and filtered the digests, reading every entry of a field for each batch, and
intake slowed as the tables grew. The plans are read from each database's own EXPLAIN."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from privacy.vault import _FIND_BY_NAME, _LOOKUP
from surveys.intake import _STORED
from tests.integration.support import TestDatabase

DIGESTS = [os.urandom(32) for _ in range(12)]
LOOKUPS = {
    "blind indexes and suppression list": (
        _LOOKUP,
        {
            "fields": ["email", "phone"],
            "index_versions": [1],
            "index_digests": DIGESTS,
            "kinds": ["email", "phone"],
            "suppression_versions": [1],
            "suppression_digests": DIGESTS,
        },
        ("subject_index", "suppression_entry"),
    ),
    "name index": (_FIND_BY_NAME, {"versions": [1], "digests": DIGESTS}, ("subject_name_index",)),
    "stored contacts by reference": (_STORED, {"versions": [1], "digests": DIGESTS}, ("contact",)),
}


async def explain(connection: AsyncConnection, statement: Any, values: dict[str, Any]) -> list[str]:
    # The expanding IN lists are rendered into the statement, as the driver would receive them.
    compiled = statement.params(values).compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    given = compiled.construct_params()
    arguments = tuple(given[name] for name in compiled.positiontup or ())
    prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    rows = (await connection.exec_driver_sql(prefix + str(compiled), arguments)).all()
    return [str(row[-1]) for row in rows]


@pytest.mark.parametrize("lookup", LOOKUPS)
async def test_a_lookup_by_digest_searches_the_index_by_digest(db: TestDatabase, lookup: str) -> None:
    statement, values, tables = LOOKUPS[lookup]
    async with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            # The test tables are small (or empty, or analysed by other tests), where reading the whole table is the
            # right plan; this asks which index conditions PostgreSQL uses when it uses an index, as it does on a
            # council's tables.
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = await explain(connection, statement, values)
    text = "\n".join(plan)
    if db.engine.dialect.name == "sqlite":
        for name in tables:
            searches = [line for line in plan if line.startswith(f"SEARCH {name} ") and "INDEX" in line]
            assert searches, text
            assert all("digest=?" in line for line in searches), text
    else:
        # Every digest comparison is an index condition, never a filter over rows the index gave for other columns.
        digest_lines = [line.strip() for line in plan if "digest = ANY" in line]
        assert len(digest_lines) == len(tables), text
        assert all(line.startswith("Index Cond:") for line in digest_lines), text
        assert not any("Seq Scan" in line for line in plan), text
