"""Schemathesis attacks every operation of the app's own OpenAPI schema, authenticated with a test key.

The app runs in this process under uvicorn (a real ASGI server, so the lifespan builds its services) on a
fresh database. Each operation gets EXAMPLES schema-valid requests and EXAMPLES schema-violating ones, with
the eight checks issue 9 names. (These are Schemathesis' fuzzing phase through `as_strategy`; its coverage
phase, which tries the wrong type for every field, runs only under its pytest plugin, whose fixture-built
schemas do not combine with this suite's per-backend fixtures: test_api_schema.py and test_contacts_api.py
pin those cases, such as 0 for a boolean, by hand.) Most valid contact events are given a source the key is
bound to and a service the council runs, so the fuzzing reaches intake (and its duplicates) rather than stopping
at those checks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from civicvoice.app import create_app
from civicvoice.core.settings import Settings
from tests.conftest import BACKENDS
from tests.integration.browser import LiveServer
from tests.integration.support import TEST_SOURCES, TestDatabase

EXAMPLES = 100  # per operation and mode: some 4,000 requests, about 100 s of one test worker
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    response_headers_conformance,
    ignored_auth,
    use_after_free,
]


async def _prepare(settings: Settings) -> str:
    database = TestDatabase(settings)
    try:
        await database.load_catalogue()
        return await database.api_key(["contacts:write", "privacy:requests"])
    finally:
        await database.close()


def _reachable(case: schemathesis.Case, source: str | None, service: str | None) -> schemathesis.Case:
    """A valid case reporting for one of the key's sources about a service the council runs (None: the
    generated value stays)."""
    body: Any = case.body
    if not isinstance(body, dict):
        return case
    events = body.get("events") if isinstance(body.get("events"), list) else [body]
    for event in events:
        if isinstance(event, dict):
            if source is not None and "source" in event:
                event["source"] = source
            if service is not None and "service" in event:
                event["service"] = service
    return case


# The fuzzing checks what the API answers, which is the same code on either database: it runs once, on
# PostgreSQL when the suite has it (the production database), else on SQLite.
@pytest.mark.parametrize("backend", BACKENDS[-1:])
def test_every_api_operation_survives_fuzzing(settings: Settings) -> None:
    key = asyncio.run(_prepare(settings))
    headers = {"Authorization": f"Bearer {key}"}
    with LiveServer(create_app(settings.with_changes(log_level="ERROR"), worker=False)) as server:
        listed = httpx.get(f"{server.url}/api/v1/services", headers=headers).json()["services"]
        services = [service["slug"] for service in listed]
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {
            "/api/v1/contacts",
            "/api/v1/contacts/batch",
            "/api/v1/services",
            "/api/v1/privacy/requests",
            "/api/v1/privacy/requests/{request_id}",
        }
        for operation in operations:
            # An operation without a body or parameters (GET /health) has nothing to
            # violate: Hypothesis would report its negative cases unsatisfiable.
            negatable = bool(operation.body) or any(True for _ in operation.iter_parameters())
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if negatable else (GenerationMode.POSITIVE,)
            for mode in modes:
                cases = operation.as_strategy(generation_mode=mode)
                if mode is GenerationMode.POSITIVE:
                    cases = st.builds(
                        _reachable, cases, st.sampled_from([*TEST_SOURCES, None]), st.sampled_from([*services, None])
                    )

                @given(case=cases)
                @hypothesis_settings(
                    max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
                )
                def fuzz(case: schemathesis.Case) -> None:
                    case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

                fuzz()
