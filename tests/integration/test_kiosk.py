"""Kiosk channel: an administrator issues a kiosk for a centre and service, the tablet is enrolled once by its
link, and each visitor's tap lands in the one response model (anonymous, on the kiosk channel, for the kiosk's
service; a comment encrypted under the month's key). Revoked or unknown kiosks, forged forms, bad input and a
stuck tablet are refused with a clear answer and write nothing."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.jobs import Job
from civicvoice.core.logging import scrub
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE, csrf_token_for
from feedback.scorecard.formulas import ServiceLevelThresholds
from feedback.scorecard.rollups import compute_month
from privacy.exceptions import KeyDestroyed
from privacy.models import DataKey
from privacy.vault import Vault
from surveys.channels.kiosk import DEVICE_COOKIE
from surveys.models import Answer, Kiosk, KioskResponse, Response, Service
from surveys.responses import read_answer_text
from tests.integration.support import TestDatabase
from tests.integration.test_authorisation_matrix import session_cookie
from tests.integration.test_keys_and_cli import env_for
from tests.integration.test_staff_login import make_user
from tests.integration.test_survey_builder_welsh import WELSH_CSAT, publish_in_welsh

Client = AsyncTestClient[Litestar]
HTML = {"accept": "text/html"}
SERVICE = "libraries"
_LINK = re.compile(r"https?://[^\s<\"]+/kiosk/enrol/(cvk_kiosk_[0-9a-f]{8}_[A-Za-z0-9_-]{43})")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def answers_per_minute() -> int:
    return 12


@pytest.fixture
def kiosk_settings(settings: Settings, answers_per_minute: int) -> Settings:
    return settings.with_changes(kiosk_answers_per_minute=answers_per_minute)


@pytest.fixture
async def kiosk_app(kiosk_settings: Settings, catalogue: None) -> Litestar:
    from civicvoice.app import create_app

    return create_app(kiosk_settings, worker=False)


@pytest.fixture
async def running(kiosk_app: Litestar) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=kiosk_app, base_url="http://testserver.local") as client:
        yield client


class Browser:
    """One person's browser (its own cookies and headers) on the app's one test client: the app runs in the
    client's event loop, so every request goes through it."""

    def __init__(self, client: Client, **headers: str) -> None:
        self.client = client
        self.cookies = httpx.Cookies()
        self.headers = headers

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.client.cookies = self.cookies
        try:
            headers = {**self.headers, **kw.pop("headers", {})}
            return await self.client.request(method, url, headers=headers, follow_redirects=False, **kw)
        finally:
            self.cookies = httpx.Cookies(self.client.cookies)
            self.client.cookies = httpx.Cookies()

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        kw.pop("follow_redirects", None)
        return await self.request("POST", url, **kw)


@pytest.fixture
async def admin(running: Client, db: TestDatabase) -> Browser:
    """A signed-in administrator's browser."""
    user = await make_user(db, "admin")
    token = await session_cookie(db, user.id)
    browser = Browser(running, **{"x-csrf-token": csrf_token_for(token)})
    browser.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    return browser


@pytest.fixture
def tablet(running: Client) -> Browser:
    return Browser(running, **HTML)


async def issue(admin: Browser, name: str = "Central Library", service: str = SERVICE, survey: str = "") -> str:
    page = await admin.post("/staff/kiosks", data={"name": name, "service": service, "survey": survey})
    assert page.status_code == 200, page.text
    found = _LINK.search(page.text)
    assert found, page.text
    return found.group(1)


async def enrol(tablet: Browser, key: str) -> None:
    confirm = await tablet.get(f"/kiosk/enrol/{key}")
    assert confirm.status_code == 200, confirm.text
    done = await tablet.post(f"/kiosk/enrol/{key}", follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/kiosk"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


async def start(tablet: Browser) -> str:
    page = await tablet.get("/kiosk")
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found
    return found.group(1)


async def tap(tablet: Browser, rating: str | None, csrf: str | None, lang: str | None = None) -> Any:
    data = {k: v for k, v in {"rating": rating, "csrf_token": csrf, "lang": lang}.items() if v is not None}
    return await tablet.post("/kiosk/answer", data=data, follow_redirects=False)


async def stored(db: TestDatabase) -> tuple[int, int]:
    return await db.count(Response), await db.count(Answer)


async def test_an_issued_kiosk_is_enrolled_once_and_its_answers_count_for_face_to_face(
    admin: Browser, tablet: Browser, db: TestDatabase, kiosk_app: Litestar
) -> None:
    key = await issue(admin)
    [kiosk] = await db.all(Kiosk)
    # Only digests are kept, and the issue is audited without the key.
    assert key not in repr(kiosk.__dict__) and kiosk.enrol_digest and kiosk.device_digest is None
    audit = await db.all(AuditEvent)
    issued = [e for e in audit if e.action == "kiosk.issue"]
    assert len(issued) == 1 and issued[0].actor_kind == "staff" and key not in str(issued[0].detail)

    await enrol(tablet, key)
    # The link is used up: a copy of it (a stolen link) cannot enrol another browser.
    thief = Browser(tablet.client, **HTML)
    again = await thief.post(f"/kiosk/enrol/{key}")
    assert again.status_code == 404 and "cannot be used" in again.text
    assert DEVICE_COOKIE not in again.headers.get("set-cookie", "")
    assert (await thief.get("/kiosk")).status_code == 403

    csrf = await start(tablet)
    answered = await tap(tablet, "2", csrf)
    assert answered.status_code == 303, answered.text
    comment_url = answered.headers["location"]
    assert comment_url.startswith("/kiosk/comment?answer=")
    form = await tablet.get(comment_url)
    assert form.status_code == 200 and "What could we do better?" in form.text
    token = re.search(r'name="answer" value="([^"]+)"', form.text)
    assert token
    comment = "The queue at the front desk was far too long."
    sent = await tablet.post(
        "/kiosk/comment",
        data={"csrf_token": csrf, "answer": token.group(1), "comment": comment},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/kiosk/thanks"
    thanks = await tablet.get("/kiosk/thanks")
    assert thanks.status_code == 200 and "Thank you for your feedback" in thanks.text
    assert 'http-equiv="refresh" content="30;url=/kiosk"' in thanks.text

    [response] = await db.all(Response)
    [answer_rating, answer_text] = sorted(await db.all(Answer), key=lambda a: a.text_ciphertext is not None)
    libraries = next(s for s in await db.all(Service) if s.slug == SERVICE)
    assert (response.channel, response.anonymous, response.satisfaction) == ("kiosk", True, 2)
    assert response.service_id == libraries.id
    assert (response.subject_id, response.invitation_id, response.contact_id, response.agent_ref) == (None,) * 4
    assert answer_rating.number == 2 and answer_text.question_key == "improve"
    assert answer_text.text_ciphertext is not None and comment.encode() not in answer_text.text_ciphertext
    vault = kiosk_app.state.services.get(Vault)
    async with db.sessions() as session:
        assert await read_answer_text(session, vault, response, answer_text) == comment
    # Scoring the comment was queued with the answer (ids only).
    jobs = await db.all(Job)
    assert [j.payload for j in jobs if j.name == "feedback.score_response"] == [{"response_id": str(response.id)}]

    # The admin sees the kiosk in use, its last use and its answers.
    [kiosk] = await db.all(Kiosk)
    assert kiosk.responses == 1 and kiosk.last_used_at is not None and kiosk.enrol_digest is None
    [taken] = await db.all(KioskResponse)  # the centre that took it
    assert (taken.kiosk_id, taken.response_id) == (kiosk.id, response.id)
    listing = await admin.get("/staff/kiosks")
    assert listing.status_code == 200
    assert "Central Library" in listing.text and "In use" in listing.text and kiosk.prefix in listing.text

    # The scorecard counts the answer on face to face, for the kiosk's service.
    async with db.sessions() as session:
        month = utcnow().astimezone(LONDON).date().replace(day=1)
        rows = await compute_month(session, month, libraries.id, thresholds=ServiceLevelThresholds())
    assert rows[("face_to_face", "")]["rated"] == 1 and rows[("face_to_face", "")]["satisfied"] == 0

    # A log line never carries a key: in the enrolment path or anywhere else.
    for line in (f"GET http://testserver.local/kiosk/enrol/{key}", f"device {key}"):
        assert key not in scrub(line)

    # Without the month's key the comment cannot be read by anyone.
    async with db.sessions() as session, session.begin():
        await session.execute(update(DataKey).where(DataKey.period.is_not(None)).values(wrapped=None))
    async with db.sessions() as session:
        with pytest.raises(KeyDestroyed):
            await read_answer_text(session, vault, response, answer_text)


async def test_skipping_the_comment_keeps_the_tap_and_a_second_comment_is_refused(
    admin: Browser, tablet: Browser, db: TestDatabase
) -> None:
    await enrol(tablet, await issue(admin))
    csrf = await start(tablet)
    answered = await tap(tablet, "5", csrf)
    token = answered.headers["location"].split("answer=")[1]
    skipped = await tablet.post(
        "/kiosk/comment", data={"csrf_token": csrf, "answer": token, "skip": "1"}, follow_redirects=False
    )
    assert skipped.status_code == 303 and await stored(db) == (1, 1)
    first = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": token, "comment": "Lovely staff"})
    assert first.status_code == 303 and await stored(db) == (1, 2)
    second = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": token, "comment": "Again"})
    assert second.status_code == 409 and "already been added" in second.text
    assert await stored(db) == (1, 2)

    # Once the next visitor has tapped, the previous answer's comment form (the Back button) is closed.
    previous = (await tap(tablet, "4", csrf)).headers["location"].split("answer=")[1]
    await tap(tablet, "2", csrf)
    back = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": previous, "comment": "Not mine"})
    assert back.status_code == 409 and "no longer available" in back.text
    assert (await tablet.get(f"/kiosk/comment?answer={previous}")).status_code == 409
    assert await stored(db) == (3, 4)


async def test_a_revoked_or_unknown_kiosk_gets_a_clear_page_and_writes_nothing(
    admin: Browser, tablet: Browser, db: TestDatabase, kiosk_app: Litestar
) -> None:
    await enrol(tablet, await issue(admin))
    csrf = await start(tablet)
    answered = await tap(tablet, "4", csrf)
    token = answered.headers["location"].split("answer=")[1]
    [kiosk] = await db.all(Kiosk)

    listing = await admin.get("/staff/kiosks")
    assert f'href="/staff/kiosks/{kiosk.id}/revoke"' in listing.text
    audited = await db.count(AuditEvent)
    confirm = await admin.get(f"/staff/kiosks/{kiosk.id}/revoke")
    assert confirm.status_code == 200 and "Revoke this kiosk?" in confirm.text and "Central Library" in confirm.text
    assert await db.count(AuditEvent) == audited and (await db.all(Kiosk))[0].revoked_at is None  # only asked
    assert (await admin.get(f"/staff/kiosks/{uuid.UUID(int=1)}/revoke")).status_code == 404
    revoked = await admin.post(f"/staff/kiosks/{kiosk.id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    assert [e.action for e in await db.all(AuditEvent) if e.action.startswith("kiosk.")] == [
        "kiosk.issue",
        "kiosk.enrol",
        "kiosk.revoke",
    ]
    before = await stored(db)
    page = await tablet.get("/kiosk")
    assert page.status_code == 403 and "This kiosk has been switched off" in page.text
    assert (await tap(tablet, "5", csrf)).status_code == 403
    late = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": token, "comment": "Too late"})
    assert late.status_code == 403 and "switched off" in late.text
    assert (await tablet.get("/kiosk/thanks")).status_code == 403
    assert await stored(db) == before
    listing = await admin.get("/staff/kiosks")
    assert "Revoked" in listing.text

    stranger = Browser(tablet.client, **HTML)
    nothing = await stranger.get("/kiosk", headers=HTML)
    assert nothing.status_code == 403 and "This tablet is not set up as a kiosk" in nothing.text
    stranger.cookies.set(DEVICE_COOKIE, "cvk_kiosk_0123abcd_" + "x" * 43, domain="testserver.local")
    assert (await stranger.post("/kiosk/answer", data={"rating": "5"}, headers=HTML)).status_code == 403
    stranger.cookies.set(DEVICE_COOKIE, "not-a-key", domain="testserver.local")
    # Not a browser: problem details.
    problem = await stranger.post("/kiosk/answer", data={"rating": "5"}, headers={"accept": "application/json"})
    assert problem.status_code == 403
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["type"] == "/problems/kiosk-not-enrolled"
    assert await stored(db) == before


async def test_bad_input_gets_a_clear_4xx_and_stores_nothing(admin: Browser, tablet: Browser, db: TestDatabase) -> None:
    # Issuing: a name and a real, surveyed service are needed.
    for form, message in [
        ({"name": " ", "service": SERVICE}, "Give the centre&#39;s name"),
        ({"name": "x" * 101, "service": SERVICE}, "1 to 100 characters"),
        ({"name": "Hub", "service": "no-such-service"}, "Choose one of the council"),
        ({"name": "Hub", "service": "adult-safeguarding"}, "never surveyed"),
    ]:
        refused = await admin.post("/staff/kiosks", data=form)
        assert refused.status_code == 422 and message in refused.text, refused.text
    assert await db.count(Kiosk) == 0

    # Enrolment links: malformed, unknown, expired.
    malformed = await tablet.get("/kiosk/enrol/cvk_kiosk_short")
    assert malformed.status_code == 400 and "not complete" in malformed.text
    assert (await tablet.post("/kiosk/enrol/" + "cvk_kiosk_0123abcd_" + "y" * 43)).status_code == 404
    key = await issue(admin)
    async with db.sessions() as session, session.begin():
        await session.execute(update(Kiosk).values(enrol_expires_at=utcnow()))
    expired = await tablet.post(f"/kiosk/enrol/{key}", follow_redirects=False)
    assert expired.status_code == 404 and "expired" in expired.text
    async with db.sessions() as session, session.begin():
        await session.execute(update(Kiosk).values(enrol_expires_at=utcnow().replace(year=2100)))
    await enrol(tablet, key)

    csrf = await start(tablet)
    for rating, status in [(None, 400), ("", 400), ("0", 400), ("6", 400), ("five", 400), ("5" * 300, 400)]:
        refused = await tap(tablet, rating, csrf)
        assert refused.status_code == status, (rating, refused.text)
        assert "There is a problem with your answer" in refused.text
    # A form not served to this tablet (cross-site, or a stale page from another enrolment).
    assert (await tap(tablet, "5", None)).status_code == 403
    assert (await tap(tablet, "5", "0" * 64)).status_code == 403
    assert await stored(db) == (0, 0)

    answered = await tap(tablet, "1", csrf)
    token = answered.headers["location"].split("answer=")[1]
    too_long = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": token, "comment": "a" * 1201})
    assert too_long.status_code == 400 and "1,200 characters or fewer" in too_long.text
    assert 'class="govuk-error-summary"' in too_long.text
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in (forged, "nonsense", ""):
        refused = await tablet.post("/kiosk/comment", data={"csrf_token": csrf, "answer": bad, "comment": "Hi"})
        assert refused.status_code == 403 and "expired" in refused.text
    assert await stored(db) == (1, 1)  # the tap only
    [kiosk] = await db.all(Kiosk)
    assert kiosk.responses == 1


@pytest.mark.parametrize("answers_per_minute", [3])
async def test_a_stuck_tablet_is_rate_limited(admin: Browser, tablet: Browser, db: TestDatabase) -> None:
    await enrol(tablet, await issue(admin))
    csrf = await start(tablet)
    statuses = [(await tap(tablet, "3", csrf)).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    busy = await tap(tablet, "3", csrf)
    assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
    assert "taking a short break" in busy.text
    assert await db.count(Response) == 3
    [kiosk] = await db.all(Kiosk)
    assert kiosk.responses == 3


async def test_the_cli_issues_lists_and_revokes_kiosks(settings: Settings, db: TestDatabase, catalogue: None) -> None:
    env = env_for(settings, CIVICVOICE_BASE_URL="https://feedback.council.example")
    runner = CliRunner()

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)

    issued = await run("kiosk", "issue", "--name", "Town Hall", "--service", SERVICE)
    assert issued.exit_code == 0, issued.output
    assert re.search(r"https://feedback\.council\.example/kiosk/enrol/cvk_kiosk_[0-9a-f]{8}_\S{43}\n", issued.output)
    [kiosk] = await db.all(Kiosk)
    listed = await run("kiosk", "list")
    assert (
        f"{kiosk.prefix}  Town Hall  [Libraries]  asks Post-contact survey (default); "
        "waiting to be set up, never used, 0 answers" in listed.output
    )
    assert "cvk_kiosk_" not in listed.output

    unknown = await run("kiosk", "issue", "--name", "Hub", "--service", "nope")
    assert unknown.exit_code == 1 and "Choose one of the council's services." in unknown.output
    bad = await run("kiosk", "revoke", "XYZ")
    assert bad.exit_code == 1 and "8 characters" in bad.output
    missing = await run("kiosk", "revoke", "0000aaaa")
    assert missing.exit_code == 1 and "no such kiosk" in missing.output

    revoked = await run("kiosk", "revoke", kiosk.prefix)
    assert revoked.exit_code == 0 and f"Revoked kiosk {kiosk.prefix} (Town Hall)." in revoked.output
    assert "revoked" in (await run("kiosk", "list")).output
    async with db.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.occurred_at))).all()
    assert list(actions) == ["kiosk.issue", "kiosk.revoke"]


# ---------------------------------------------------------------------------------------------------------------
# Languages: a visitor may switch to another language the survey offers; the next one starts in English


_ANSWER_TOKEN = re.compile(r'name="answer" value="([^"]+)"')


async def test_a_visitor_switches_to_welsh_and_the_kiosk_starts_again_in_english(
    admin: Browser, tablet: Browser, db: TestDatabase, running: Client, kiosk_app: Litestar
) -> None:
    await enrol(tablet, await issue(admin))
    # In English only, the survey offers no switch, whatever is asked for.
    english_only = await tablet.get("/kiosk?lang=cy")
    assert '<html lang="en"' in english_only.text and "Cymraeg" not in english_only.text

    await publish_in_welsh(running, kiosk_app, db)
    first = await tablet.get("/kiosk")
    assert '<html lang="en"' in first.text and "Overall, how satisfied" in first.text
    assert 'href="/kiosk?lang=cy" hreflang="cy" lang="cy"' in first.text
    assert 'href="/kiosk" hreflang="en" lang="en" aria-current="page"' in first.text
    assert "data-kiosk-resets" not in first.text  # the first screen in English waits for the next visitor

    welsh = await tablet.get("/kiosk?lang=cy")
    assert welsh.status_code == 200 and '<html lang="cy"' in welsh.text
    assert WELSH_CSAT in welsh.text and "Tapiwch un ateb am eich ymweliad â Central Library heddiw." in welsh.text
    assert 'hreflang="cy" lang="cy" aria-current="page"' in welsh.text and ">English</a>" in welsh.text
    assert '<input type="hidden" name="lang" value="cy">' in welsh.text
    # Left in Welsh, the first screen returns to home, which is in English, after the idle time.
    assert 'data-kiosk-home="/kiosk" data-kiosk-resets' in welsh.text
    assert "Ydych chi dal yma?" in welsh.text
    # A language the survey does not offer shows English.
    assert '<html lang="en"' in (await tablet.get("/kiosk?lang=fr")).text

    csrf = _CSRF.search(welsh.text)
    assert csrf
    answered = await tap(tablet, "2", csrf.group(1), lang="cy")
    assert answered.status_code == 303 and answered.headers["location"].endswith("&lang=cy")
    form = await tablet.get(answered.headers["location"])
    assert form.status_code == 200 and '<html lang="cy"' in form.text
    assert "[cy] What could we do better?" in form.text and "(dewisol)" in form.text
    assert "Diolch, mae eich ateb wedi'i gadw." in form.text and "Anfon sylw" in form.text and "Hepgor" in form.text
    assert "Gallwch nodi hyd at 1,200 nod" in form.text
    token = _ANSWER_TOKEN.search(form.text)
    assert token
    fields = {"csrf_token": csrf.group(1), "answer": token.group(1), "lang": "cy"}

    # A comment too long is told in Welsh, kept in the box, and nothing more is stored.
    too_long = await tablet.post("/kiosk/comment", data={**fields, "comment": "x" * 1201})
    assert too_long.status_code == 400 and '<html lang="cy"' in too_long.text
    assert "Mae problem wedi codi" in too_long.text and "Gwall:" in too_long.text
    assert "Rhaid i [cy] What could we do better fod yn 1,200 nod neu lai" in too_long.text
    assert await db.count(Answer) == 1

    sent = await tablet.post("/kiosk/comment", data={**fields, "comment": "Roedd y ciw yn rhy hir."})
    assert sent.status_code == 303 and sent.headers["location"] == "/kiosk/thanks?lang=cy"
    thanks = await tablet.get(sent.headers["location"])
    assert '<html lang="cy"' in thanks.text and "Diolch am eich adborth" in thanks.text
    assert "Dechrau eto" in thanks.text and 'href="/kiosk" class="govuk-button' in thanks.text
    # Without JavaScript, too, the thank-you screen returns to home: in English.
    assert 'content="30;url=/kiosk"' in thanks.text

    again = await tablet.get("/kiosk")
    assert '<html lang="en"' in again.text and "Overall, how satisfied" in again.text
    [response] = await db.all(Response)
    assert (response.channel, response.anonymous, response.satisfaction) == ("kiosk", True, 2)
    assert {a.question_key for a in await db.all(Answer)} == {"satisfaction", "improve"}


async def test_a_refusal_is_told_in_the_language_the_visitor_chose(
    admin: Browser, tablet: Browser, db: TestDatabase, running: Client, kiosk_app: Litestar
) -> None:
    await enrol(tablet, await issue(admin))
    await publish_in_welsh(running, kiosk_app, db)
    csrf = _CSRF.search((await tablet.get("/kiosk?lang=cy")).text)
    assert csrf
    before = await stored(db)

    # A form from another screen, told in Welsh: title, what went wrong and what to do, then a way back.
    expired = await tap(tablet, "4", "not-this-kiosks-token", lang="cy")
    text = html.unescape(expired.text)
    assert expired.status_code == 403 and '<html lang="cy"' in text
    assert "<title>Mae'r sgrin hon wedi dod i ben" in text
    assert "Ni ddaeth y sgrin hon o'r ciosg hwn, neu mae wedi dyddio." in text
    assert "Dechreuwch eto o'r sgrin gyntaf. Ni chafodd dim ei gadw o'r sgrin hon." in text
    assert "Dechrau eto" in text and "This screen has expired" not in text
    # A tap that is not one of the answers.
    wrong = await tap(tablet, "9", csrf.group(1), lang="cy")
    assert wrong.status_code == 400 and "Nid yw hwnnw'n un o'r atebion a ddangosir." in html.unescape(wrong.text)
    assert await stored(db) == before

    # Switched off while a Welsh visitor was answering: the next screen says so in Welsh.
    [kiosk] = await db.all(Kiosk)
    assert (await admin.post(f"/staff/kiosks/{kiosk.id}/revoke", follow_redirects=False)).status_code == 303
    off = html.unescape((await tap(tablet, "4", csrf.group(1), lang="cy")).text)
    assert "Mae'r ciosg hwn wedi'i ddiffodd" in off and "Mae gweinyddwr wedi diffodd y ciosg hwn." in off
    assert "Mae'r ciosg hwn wedi'i ddiffodd" in html.unescape((await tablet.get("/kiosk/thanks?lang=cy")).text)
    # English unless asked, and a language civicvoice has no catalogue for is told in English too.
    for address in ("/kiosk", "/kiosk?lang=fr"):
        page = await tablet.get(address)
        assert '<html lang="en"' in page.text and "This kiosk has been switched off" in page.text
    assert await stored(db) == before


# ---------------------------------------------------------------------------------------------------------------
# The survey each kiosk asks

SURVEYS_API = "/api/v1/surveys"


def tap_survey(title: str) -> dict[str, Any]:
    """A survey a kiosk can ask: one choice question and a comment for those who pick "no"."""
    return {
        "title": {"en": title},
        "kind": "campaign",
        "questions": [
            {
                "id": "found",
                "kind": "single_choice",
                "text": {"en": "Did you find the book you came for?"},
                "choices": [{"value": "yes", "label": {"en": "Yes, I did"}}, {"value": "no", "label": {"en": "No"}}],
            },
            {
                "id": "missing",
                "kind": "free_text",
                "text": {"en": "Which book were you looking for?"},
                "max_length": 300,
                "show_if": {"question": "found", "any_of": ["no"]},
            },
        ],
    }


async def make_survey(
    client: Client, db: TestDatabase, slug: str, *, channels: list[str], publish: bool = True
) -> None:
    admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    body = {"slug": slug, "name": f"Survey {slug}", "kind": "campaign", "channels": channels}
    created = await client.post(SURVEYS_API, json={**body, "definition": tap_survey(f"Survey {slug}")}, headers=admin)
    assert created.status_code == 201, created.text
    if publish:
        published = await client.post(f"{SURVEYS_API}/{slug}/versions/1/publish", headers=admin)
        assert published.status_code == 200, published.text


async def test_each_kiosk_asks_the_survey_chosen_for_it(
    admin: Browser, tablet: Browser, db: TestDatabase, running: Client
) -> None:
    await make_survey(running, db, "library-visit", channels=["kiosk"])
    await make_survey(running, db, "by-email", channels=["email"])
    await make_survey(running, db, "unpublished", channels=["kiosk"], publish=False)
    listing = await admin.get("/staff/kiosks")
    # Only the surveys a kiosk may ask are offered.
    assert '<option value="library-visit">Survey library-visit</option>' in listing.text
    assert "by-email" not in listing.text and "unpublished" not in listing.text

    # Refusals: the error summary says why, the form keeps what was chosen, and no kiosk is issued.
    for survey, reason in [
        ("by-email", "Survey by-email may not be asked on the kiosk."),
        ("unpublished", "Survey unpublished has no published version."),
        ("no-such-survey", "Choose one of the council&#39;s surveys."),
    ]:
        refused = await admin.post("/staff/kiosks", data={"name": "Hub", "service": SERVICE, "survey": survey})
        assert refused.status_code == 422, refused.text
        assert 'class="govuk-error-summary"' in refused.text and '<a href="#survey">' in refused.text
        assert reason in refused.text and 'id="survey-error"' in refused.text
        assert f'<option value="{survey}" selected>' in refused.text
    assert await db.count(Kiosk) == 0

    await enrol(tablet, await issue(admin, survey="library-visit"))
    [kiosk] = await db.all(Kiosk)
    listed = await admin.get("/staff/kiosks")
    assert '<td class="govuk-table__cell">Survey library-visit</td>' in listed.text

    first = await tablet.get("/kiosk")
    assert "Did you find the book you came for?" in first.text and ">Yes, I did</button>" in first.text
    csrf = _CSRF.search(first.text)
    assert csrf
    # A "yes" takes no comment; a "no" is asked which book.
    found = await tap(tablet, "yes", csrf.group(1))
    assert found.status_code == 303 and found.headers["location"] == "/kiosk/thanks"
    assert (await tap(tablet, "5", csrf.group(1))).status_code == 400  # not one of this survey's answers
    missing = await tap(tablet, "no", csrf.group(1))
    assert missing.headers["location"].startswith("/kiosk/comment?answer=")
    form = await tablet.get(missing.headers["location"])
    assert "Which book were you looking for?" in form.text
    token = _ANSWER_TOKEN.search(form.text)
    assert token
    sent = await tablet.post(
        "/kiosk/comment", data={"csrf_token": csrf.group(1), "answer": token.group(1), "comment": "A field guide"}
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/kiosk/thanks", sent.text
    responses = await db.all(Response)
    assert len(responses) == 2 and {r.channel for r in responses} == {"kiosk"}
    assert all(r.satisfaction is None and r.service_id is not None for r in responses)
    assert sorted((a.question_key, a.choice) for a in await db.all(Answer)) == [
        ("found", "no"),
        ("found", "yes"),
        ("missing", None),
    ]

    # Changing it later: refused for a survey the kiosk may not ask, then back to the post-contact survey.
    change = f"/staff/kiosks/{kiosk.id}/survey"
    page = await admin.get(change)
    assert page.status_code == 200 and '<option value="library-visit" selected>' in page.text
    refused = await admin.post(change, data={"survey": "by-email"})
    assert refused.status_code == 422 and "may not be asked on the kiosk" in refused.text
    assert (await db.all(Kiosk))[0].survey_id == kiosk.survey_id
    changed = await admin.post(change, data={"survey": ""})
    assert changed.status_code == 303 and changed.headers["location"] == "/staff/kiosks"
    assert (await db.all(Kiosk))[0].survey_id is None
    assert "Overall, how satisfied" in (await tablet.get("/kiosk")).text
    audit = [e for e in await db.all(AuditEvent) if e.action == "kiosk.survey"]
    assert len(audit) == 1 and audit[0].detail["survey"] is None

    # A survey that stops allowing the kiosk stops the kiosk asking it, with a clear page.
    assert (await admin.post(change, data={"survey": "library-visit"})).status_code == 303
    surveys_admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    taken_off = await running.put(
        f"{SURVEYS_API}/library-visit/channels", json={"channels": ["email"]}, headers=surveys_admin
    )
    assert taken_off.status_code == 200, taken_off.text
    stopped = await tablet.get("/kiosk")
    assert stopped.status_code == 503 and "may no longer be asked on the kiosk" in stopped.text


async def test_the_cli_chooses_and_changes_a_kiosks_survey(
    settings: Settings, db: TestDatabase, running: Client
) -> None:
    await make_survey(running, db, "library-visit", channels=["kiosk"])
    await make_survey(running, db, "by-email", channels=["email"])
    env = env_for(settings, CIVICVOICE_BASE_URL="https://feedback.council.example")
    runner = CliRunner()

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)

    refused = await run("kiosk", "issue", "--name", "Hub", "--service", SERVICE, "--survey", "by-email")
    assert refused.exit_code == 1 and "Survey by-email may not be asked on the kiosk." in refused.output
    assert await db.count(Kiosk) == 0
    issued = await run("kiosk", "issue", "--name", "Hub", "--service", SERVICE, "--survey", "library-visit")
    assert issued.exit_code == 0, issued.output
    assert "asking: Survey library-visit." in issued.output
    [kiosk] = await db.all(Kiosk)
    assert f"{kiosk.prefix}  Hub  [Libraries]  asks Survey library-visit;" in (await run("kiosk", "list")).output

    not_allowed = await run("kiosk", "survey", kiosk.prefix, "by-email")
    assert not_allowed.exit_code == 1 and "may not be asked on the kiosk" in not_allowed.output
    back = await run("kiosk", "survey", kiosk.prefix)
    assert back.exit_code == 0 and "now asks: Post-contact survey (default)." in back.output
    assert (await db.all(Kiosk))[0].survey_id is None
    again = await run("kiosk", "survey", kiosk.prefix, "library-visit")
    assert again.exit_code == 0 and "now asks: Survey library-visit." in again.output
    await run("kiosk", "revoke", kiosk.prefix)
    revoked = await run("kiosk", "survey", kiosk.prefix, "library-visit")
    assert revoked.exit_code == 1 and "has been revoked" in revoked.output
