"""Errors for people and for programs: a browser asking for a page gets an HTML page with the problem's status;
API clients, and anything not asking for HTML, get RFC 9457 problem details."""

from __future__ import annotations

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.http import PROBLEM_JSON
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user, sign_in

Client = AsyncTestClient[Litestar]
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html")


async def test_an_unknown_page_is_a_page_for_a_browser_and_a_problem_for_a_program(client: Client) -> None:
    page = await client.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and is_page(page)
    assert "Page not found" in page.text and "Go back to the start" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"

    program = await client.get("/no-such-page", headers={"accept": "application/json"})
    assert program.status_code == 404 and program.headers["content-type"] == PROBLEM_JSON
    assert program.json()["status"] == 404


async def test_the_api_answers_problem_details_even_to_a_browser(client: Client) -> None:
    for path in ("/api/v1/contacts", "/api/v1/no-such-thing"):
        answer = await client.post(path, json={}, headers=BROWSER)
        assert answer.status_code in (401, 404, 405) and answer.headers["content-type"] == PROBLEM_JSON
    health = await client.get("/health", headers=BROWSER)
    assert health.headers["content-type"].startswith("application/json")


async def test_staff_see_an_expired_form_and_a_bad_filter_as_pages(client: Client, db: TestDatabase) -> None:
    await make_user(db, "quality_reviewer")
    await sign_in(client, "quality_reviewer@council.gov.uk")

    expired = await client.post("/staff/sign-out", data={"csrf_token": "x" * 64}, headers=BROWSER)
    assert expired.status_code == 403 and is_page(expired)
    assert "The form has expired" in expired.text and 'href="/staff/feedback"' in expired.text

    bad_filter = await client.get("/staff/feedback?from=not-a-date", headers=BROWSER)
    assert bad_filter.status_code == 400 and is_page(bad_filter)
    assert "Bad request" in bad_filter.text and "from" in bad_filter.text  # names the filter to fix

    # The same mistakes from a script are problem details it can act on.
    assert (await client.get("/staff/feedback?from=not-a-date")).headers["content-type"] == PROBLEM_JSON
