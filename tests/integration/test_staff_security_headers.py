"""Security headers on every route of the real app, for every answer: CSP without inline script (or none at all),
frame-ancestors none, no-referrer; HSTS when the site's base URL is https (whatever scheme a request has)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.app import create_app
from civicvoice.core.settings import Settings
from tests.integration.support import TestDatabase
from tests.integration.test_authorisation_matrix import concrete, real_routes


def assert_secure(response: object, where: str, *, tls: bool) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    csp = headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    # Scripts from this site only; a response that runs no script at all (the chat widget's files) may forbid
    # everything instead.
    if directives.get("default-src") != "default-src 'none'" or "script-src" in directives:
        assert directives.get("script-src") == "script-src 'self'", where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert ("strict-transport-security" in headers) is tls, where


async def test_every_route_answers_with_security_headers(
    settings: Settings, catalogue: None, db: TestDatabase, auth: dict[str, str]
) -> None:
    for base, tls in (("http://testserver.local", False), ("https://testserver.local", True)):
        app: Litestar = create_app(settings.with_changes(base_url=base), worker=False)
        # Requests arrive as plain http, as from a TLS-terminating proxy.
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            for method, path in sorted(real_routes(app)):
                for headers in ({}, auth):
                    response = await client.request(method, concrete(path), headers=headers, follow_redirects=False)
                    assert_secure(response, f"{method} {path} -> {response.status_code}", tls=tls)


async def test_unrouted_answers_carry_security_headers_too(client: AsyncTestClient[Litestar]) -> None:
    assert_secure(await client.get("/no/such/page"), "404", tls=False)
