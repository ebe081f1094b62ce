"""Support for page tests in a real browser: Debian's Chromium driven by Playwright, axe-core accessibility
checks, and a live uvicorn server for a Litestar app. No browser is downloaded: /usr/bin/chromium is used."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from jinja2 import Environment
from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import BACKENDS

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SCRIPT = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# The only reason a page test may skip: there is no browser on this machine (`make browser` installs it).
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium")
# What a page test checks (markup, keyboard, axe-core, scripts) does not depend on the database, so page tests run
# on one: PostgreSQL when the suite has it (the production database), else SQLite. The other tests run on both.
on_one_database = pytest.mark.parametrize("backend", BACKENDS[-1:])

TEMPLATE_DIRECTORIES = [REPO / "civicvoice" / "templates", REPO / "surveys" / "templates"]
STATIC_DIRECTORY = REPO / "civicvoice" / "static"

TEST_GLOBALS: dict[str, Any] = {
    "council_name": "Borsetshire County Council",
    "privacy_notice_url": "/privacy",
    "accessibility_statement_url": "/accessibility",
    "lang": "en",
}


def install_i18n(environment: Environment) -> None:
    """English-only translations with new-style gettext, as the app installs them."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def template_config(globals_: Mapping[str, Any] | None = None) -> TemplateConfig[JinjaTemplateEngine]:
    """The app's own template configuration, for a council named as the page tests expect."""
    from civicvoice.app import template_config as app_template_config
    from civicvoice.core.settings import Settings

    values = {**TEST_GLOBALS, **(globals_ or {})}
    return app_template_config(
        Settings(
            council_name=values["council_name"],
            privacy_notice_url=values["privacy_notice_url"],
            accessibility_statement_url=values["accessibility_statement_url"],
        )
    )


# ---------------------------------------------------------------------------------------------- the browser


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the length of the block; use it from a module-scoped fixture."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def browser_context(browser: Browser, **options: Any) -> AsyncIterator[BrowserContext]:
    """A fresh, isolated browser context, always closed. Pass bypass_csp=True to inject axe-core."""
    context = await browser.new_context(**options)
    try:
        yield context
    finally:
        await context.close()


@asynccontextmanager
async def open_page(browser: Browser, url: str, **options: Any) -> AsyncIterator[Page]:
    """A page already at `url` in its own context."""
    async with browser_context(browser, **options) as context:
        page = await context.new_page()
        await page.goto(url)
        yield page


# ------------------------------------------------------------------------------------------------ axe-core


async def axe_violations(page: Page, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """Runs axe-core on the page (its context needs bypass_csp=True) and returns the WCAG violations found."""
    if not AXE_SCRIPT.exists():
        raise FileNotFoundError(f"{AXE_SCRIPT} is missing: run `bash frontend/build.sh` first")
    await page.add_script_tag(path=str(AXE_SCRIPT))
    violations: list[dict[str, Any]] = await page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {
                runOnly: { type: "tag", values: tags },
                resultTypes: ["violations"],
            });
            return results.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, summary: n.failureSummary })),
            }));
        }""",
        tags or WCAG_TAGS,
    )
    return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """A readable assertion message: each rule, why it failed, and the elements that failed it."""
    lines: list[str] = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            if node.get("summary"):
                lines.extend(f"        {line}" for line in str(node["summary"]).splitlines())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- live server


class LiveServer:
    """Runs an ASGI app under uvicorn in a background thread on a free 127.0.0.1 port.

    `with LiveServer(app) as server:` (or start()/stop()) waits until the app has started and answers.
    """

    def __init__(self, app: Litestar, *, startup_timeout: float = 20.0) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        # Bound here and handed to uvicorn, so no other process can take the port in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            http="h11",
            ws="none",
            lifespan="on",
            log_level="warning",
            access_log=False,  # access logs would carry survey and unsubscribe tokens
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
        )
        self._thread.start()
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._close_socket()
                raise RuntimeError("the live server stopped during start-up; see the log above")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the live server did not start within {self.startup_timeout} s")
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", self.port), timeout=self.startup_timeout):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                self._server.force_exit = True  # type: ignore[union-attr]
                self._thread.join(timeout=5)
        self._close_socket()
        self._server = None
        self._thread = None

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def live_server(app: Litestar) -> Iterator[LiveServer]:
    """For fixtures: `with live_server(app) as server: yield server`."""
    with LiveServer(app) as server:
        yield server


__all__ = [
    "AXE_SCRIPT",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "WCAG_TAGS",
    "LiveServer",
    "axe_violations",
    "browser_context",
    "chromium",
    "describe_violations",
    "install_i18n",
    "live_server",
    "needs_chromium",
    "open_page",
    "template_config",
]
