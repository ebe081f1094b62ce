"""The DPO's search pages in a real browser, as plain forms: keyboard-only search by name, a person's page with
a hold placed and a mention scan run, the holds list and a staff member's page, each with zero axe-core WCAG
A/AA violations (also in their error states)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from playwright.async_api import Browser, Page

from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from privacy.vault import IdentityClaim, Vault
from tests.integration.browser import (
    axe_violations,
    browser_context,
    describe_violations,
    needs_chromium,
    on_one_database,
)
from tests.integration.live_site import LiveSite, heading, serve_site
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import PASSWORD, csrf_from, make_user

# isort: split
# The module-loop fixtures (see live_site.py): pytest finds them by their names in this module.
from tests.integration.live_site import fixture_api_key, fixture_browser, fixture_catalogue, fixture_db  # noqa: F401

pytestmark = [needs_chromium, on_one_database, pytest.mark.asyncio(loop_scope="module")]

DPO_EMAIL = "dpo@council.gov.uk"


@dataclass
class Site(LiveSite):
    cookies: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def cookie(self, email: str) -> dict[str, Any]:
        if email not in self.cookies:
            async with httpx.AsyncClient(base_url=self.url) as client:
                form = await client.get("/staff/sign-in")
                done = await client.post(
                    "/staff/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form.text)}
                )
                assert done.status_code == 303, done.text
                token = client.cookies.get(SESSION_COOKIE)
            assert token
            self.cookies[email] = {"name": SESSION_COOKIE, "value": token, "url": self.url, "httpOnly": True}
        return self.cookies[email]


@pytest.fixture
def site(settings: Settings, db: TestDatabase, catalogue: None, auth: dict[str, str]) -> Iterator[Site]:
    with serve_site(Site, settings, db, auth) as served:
        yield served


@asynccontextmanager
async def dpo_page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    # axe-core is injected as a script, which the app's Content-Security-Policy rightly forbids: bypassed here.
    async with browser_context(browser, bypass_csp=True) as context:
        await context.add_cookies([cast(Any, await site.cookie(DPO_EMAIL))])
        yield await context.new_page()


async def no_violations(page: Page, name: str) -> None:
    violations = await axe_violations(page)
    assert violations == [], f"axe found WCAG problems on the {name} page:\n{describe_violations(violations)}"


async def test_the_dpo_search_journey_is_accessible(site: Site, browser: Browser, db: TestDatabase) -> None:
    await make_user(db, "dpo", email=DPO_EMAIL)
    agent = await make_user(db, "agent", email="agent@council.gov.uk", agent_ref="A7")
    vault = site.app.state.services.get(Vault)
    async with unit_of_work(db.sessions) as session:
        people = [
            (await vault.resolve(session, IdentityClaim(email=f"lee{n}@example.org", name="Sam Lee"))).subject_id
            for n in range(2)
        ]
    async with dpo_page(browser, site) as page:
        await page.goto(f"{site.url}/staff/privacy/search")
        assert await heading(page) == "Find a person"
        await no_violations(page, "search")
        # Keyboard only: the radios, the text field, Enter.
        await page.get_by_label("Full name").check()
        await page.get_by_label("What to search for").focus()
        await page.keyboard.type("sam  LEE")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "2 people match" in await page.content()
        await no_violations(page, "search results")
        await page.get_by_label("What to search for").fill("not-an-email")
        await page.get_by_label("Email address", exact=True).check()
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert "There is a problem" in await page.content()
        await no_violations(page, "search error")

        await page.goto(f"{site.url}/staff/privacy/people/{people[0]}")
        assert await heading(page) == "Sam Lee"
        await page.get_by_label("Reason", exact=True).fill("Claim K12")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Place hold").click()
        assert "Claim K12" in await page.content()
        async with page.expect_navigation():
            await page.get_by_role("button", name="Scan comments for mentions").click()
        await site.run_jobs()
        await page.reload()
        assert "Scan finished" in await page.content()
        await no_violations(page, "person")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Release hold").click()
        assert "Give the reason the hold can be released" in await page.content()
        await no_violations(page, "person error")

        await page.goto(f"{site.url}/staff/privacy/holds")
        assert "Claim K12" in await page.content()
        await no_violations(page, "legal holds")
        await page.goto(f"{site.url}/staff/privacy/staff/{agent.id}")
        assert await heading(page) == "Test agent"
        await no_violations(page, "staff member")
    assert isinstance(people[1], uuid.UUID)
