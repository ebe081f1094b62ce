"""The migrations build the schema the models describe: every table, column, index and constraint a model declares
is made by a migration, and nothing the migrations make is missing from the models (on SQLite and PostgreSQL;
column types aside)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

import civicvoice.app  # noqa: F401  (imports every feature, so every model is in the metadata)
from civicvoice.core.db import Base
from tests.integration.support import TestDatabase


async def test_the_migrated_schema_has_no_difference_from_the_models(db: TestDatabase) -> None:
    def differences(connection: Connection) -> list[Any]:
        # Column types are not compared: reflection reads the dialects' own types (a GUID comes back as NUMERIC(16)
        # on SQLite, UUID on PostgreSQL), which would report every id column.
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == [], "a model and the migrations disagree (write a migration): " + repr(found)
