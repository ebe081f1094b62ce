"""A body over CIVICVOICE_MAX_BODY_BYTES gets its 413 problem even from a client that sends the whole body
before it reads (Python's urllib), against the real app under uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import uvicorn

from civicvoice.app import create_app
from civicvoice.core.settings import Settings
from tests.integration.browser import LiveServer
from tests.integration.support import TestDatabase

LIMIT = 64 * 1024
# Loopback only: never through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def _key(settings: Settings) -> str:
    database = TestDatabase(settings)
    try:
        await database.load_catalogue()
        return await database.api_key(["contacts:write"])
    finally:
        await database.close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - loopback
    try:
        with _LOCAL.open(request, timeout=30) as response:
            return response.status, response.headers["content-type"], json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["content-type"], json.loads(refused.read())


@pytest.mark.parametrize("protocol", ["h11", "httptools"])
@pytest.mark.parametrize("size", [5 * 1024 * 1024, LIMIT + 1])
def test_urllib_sending_a_whole_body_over_the_limit_reads_the_413_problem(
    settings: Settings, size: int, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live server speaks h11; `civicvoice run` uses uvicorn's default, httptools when installed.
    real_config = uvicorn.Config
    monkeypatch.setattr(
        "tests.integration.browser.uvicorn.Config", lambda app, **kw: real_config(app, **{**kw, "http": protocol})
    )
    key = asyncio.run(_key(settings))
    app = create_app(settings.with_changes(max_body_bytes=LIMIT, log_level="ERROR"), worker=False)
    with LiveServer(app) as server:
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        # One JSON document, so nothing but its size is wrong with it.
        body = json.dumps({"events": [], "padding": "x" * size}).encode()
        for _ in range(2):  # and the server goes on serving afterwards
            status, content_type, problem = _post(f"{server.url}/api/v1/contacts/batch", body, headers)
            assert status == 413
            assert content_type == "application/problem+json"
            assert problem["status"] == 413 and problem["title"] == "Request too large"
        # Without a key the early answer is a 401, delivered the same way.
        status, _, problem = _post(f"{server.url}/api/v1/contacts", body, {"content-type": "application/json"})
        assert status == 401 and problem["status"] == 401
        status, _, _ = _post(f"{server.url}/api/v1/contacts", b"{}", headers)
        assert status == 400
