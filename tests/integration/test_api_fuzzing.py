"""Schemathesis attacks every operation of the app's own OpenAPI schema, authenticated with a test key.

The app runs in this process under uvicorn (a real ASGI server, so the lifespan builds its services) on a
fresh database; the checks are the five the issue names.
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from civicvoice.app import create_app
from civicvoice.core.settings import Settings
from tests.integration.browser import LiveServer
from tests.integration.support import TestDatabase

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


async def _prepare(settings: Settings) -> str:
    database = TestDatabase(settings)
    try:
        await database.load_catalogue()
        return await database.api_key(["contacts:write"])
    finally:
        await database.close()


def test_every_api_operation_survives_fuzzing(settings: Settings) -> None:
    key = asyncio.run(_prepare(settings))
    headers = {"Authorization": f"Bearer {key}"}
    with LiveServer(create_app(settings.with_changes(log_level="ERROR"), worker=False)) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/api/v1/contacts", "/api/v1/contacts/batch"}
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

            fuzz()
