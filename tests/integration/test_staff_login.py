"""Staff sign-in: session cookie, sign-out, CSRF, throttling with back-off, audit, and account administration."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.db import unit_of_work
from civicvoice.core.settings import Settings
from civicvoice.staff.accounts import create_staff_user
from civicvoice.staff.models import LoginThrottle, StaffSession
from civicvoice.staff.web import SESSION_COOKIE
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def make_user(db: TestDatabase, role: str, email: str | None = None, **kw: Any) -> StaffUser:
    async with unit_of_work(db.sessions) as session:
        return await create_staff_user(
            session,
            email=email or f"{role}@council.gov.uk",
            display_name=f"Test {role}",
            password=PASSWORD,
            role=role,
            actor=Actor.cli(),
            **kw,
        )


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def attempt(
    client: Client | httpx.AsyncClient, email: str, password: str = PASSWORD, next_path: str | None = None
) -> Any:
    form_page = await client.get("/staff/sign-in")
    data = {"email": email, "password": password, "csrf_token": csrf_from(form_page.text)}
    if next_path:
        data["next"] = next_path
    return await client.post("/staff/sign-in", data=data, follow_redirects=False)


async def sign_in(client: Client | httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Signs in and returns the CSRF token of the new session (read from a staff page)."""
    done = await attempt(client, email, password)
    assert done.status_code == 303, done.text
    page = await client.get("/staff/feedback")
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def audit_actions(db: TestDatabase) -> list[str]:
    events = sorted(await db.all(AuditEvent), key=lambda e: e.occurred_at)
    return [e.action for e in events if e.action.startswith("staff")]


async def test_sign_in_sets_a_secure_session_cookie_and_sign_out_ends_it(client: Client, db: TestDatabase) -> None:
    user = await make_user(db, "quality_reviewer")
    anonymous = await client.get("/staff/feedback", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/staff/sign-in?next=/staff/feedback"

    done = await attempt(client, " Quality_Reviewer@council.gov.uk ", next_path="/staff/feedback?page=1")
    assert done.status_code == 303 and done.headers["location"] == "/staff/feedback?page=1"
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes and "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP in this test; see the next test for HTTPS
    [row] = await db.all(StaffSession)
    assert row.user_id == user.id and row.token_digest not in cookie  # only a digest is stored

    page = await client.get("/staff/feedback")
    assert page.status_code == 200 and "Signed in as Test quality_reviewer" in page.text
    out = await client.post("/staff/sign-out", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/sign-in"
    assert await db.count(StaffSession) == 0
    assert (await client.get("/staff/feedback", follow_redirects=False)).status_code == 303
    assert await audit_actions(db) == ["staff_user.create", "staff.sign_in", "staff.sign_out"]


async def test_cookie_is_secure_when_configured(settings: Settings, catalogue: None, db: TestDatabase) -> None:
    from civicvoice.app import create_app

    # An http base URL with the setting on: Secure, under the plain names (no HSTS: the site is not https).
    async with AsyncTestClient(
        app=create_app(settings.with_changes(secure_cookies=True), worker=False), base_url="http://testserver.local"
    ) as client:
        form = await client.get("/staff/sign-in")
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("cv_sign_in_csrf=") and "secure" in cookie.lower()
        assert "strict-transport-security" not in form.headers


@pytest.mark.parametrize("forwarded", ["http", "https"])
async def test_an_https_base_url_gives_host_prefixed_secure_cookies_and_hsts_whatever_the_proxy_forwards(
    settings: Settings, catalogue: None, db: TestDatabase, forwarded: str
) -> None:
    from civicvoice.app import create_app

    await make_user(db, "dpo")
    app = create_app(settings.with_changes(base_url="https://feedback.example.gov.uk"), worker=False)
    # A TLS-terminating proxy may hand the app plain http (or say https): the base URL decides either way.
    async with AsyncTestClient(app=app, base_url=f"{forwarded}://testserver.local") as client:
        form = await client.get("/staff/sign-in")
        [csrf_cookie] = form.headers.get_list("set-cookie")
        assert csrf_cookie.startswith("__Host-cv_sign_in_csrf=") and "secure" in csrf_cookie.lower()
        assert "domain=" not in csrf_cookie.lower() and "path=/" in csrf_cookie.lower()
        assert form.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        # httpx keeps Secure cookies for https only; send them by hand so the plain-http case runs the same way.
        client.cookies.clear()
        headers = {"cookie": csrf_cookie.split(";")[0]}
        done = await client.post(
            "/staff/sign-in",
            data={"email": "dpo@council.gov.uk", "password": PASSWORD, "csrf_token": csrf_from(form.text)},
            headers=headers,
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
        cookies = done.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith(f"__Host-{SESSION_COOKIE}="))
        assert "secure" in session_cookie.lower() and "httponly" in session_cookie.lower()
        # The sign-in form's cookie is deleted Secure too, or a browser would ignore the deletion.
        [dropped] = [c for c in cookies if c.startswith("__Host-cv_sign_in_csrf=")]
        assert "max-age=0" in dropped.lower() and "secure" in dropped.lower()
        assert done.headers["strict-transport-security"].startswith("max-age=")

        # The staff pages read the prefixed cookie; the unprefixed name means nothing on an https site.
        token = session_cookie.split(";")[0].split("=", 1)[1]
        page = await client.get("/staff/feedback", headers={"cookie": f"__Host-{SESSION_COOKIE}={token}"})
        assert page.status_code == 200
        plain = await client.get(
            "/staff/feedback", headers={"cookie": f"{SESSION_COOKIE}={token}"}, follow_redirects=False
        )
        assert plain.status_code == 303
        out = await client.post(
            "/staff/sign-out",
            data={"csrf_token": csrf_from(page.text)},
            headers={"cookie": f"__Host-{SESSION_COOKIE}={token}"},
            follow_redirects=False,
        )
        assert out.status_code == 303
        [ended] = out.headers.get_list("set-cookie")
        assert ended.startswith(f"__Host-{SESSION_COOKIE}=") and "max-age=0" in ended.lower()
        assert "secure" in ended.lower()


async def test_an_http_base_url_sends_no_hsts_and_no_secure_cookie_even_if_the_request_was_https(
    settings: Settings, catalogue: None, db: TestDatabase
) -> None:
    from civicvoice.app import create_app

    async with AsyncTestClient(app=create_app(settings, worker=False), base_url="https://testserver.local") as client:
        form = await client.get("/staff/sign-in")
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("cv_sign_in_csrf=") and "secure" not in cookie.lower()
        assert "strict-transport-security" not in form.headers


async def test_wrong_password_is_refused_and_audited_without_the_email_or_password(
    client: Client, db: TestDatabase
) -> None:
    user = await make_user(db, "admin")
    wrong = await attempt(client, "admin@council.gov.uk", "not the password at all")
    assert wrong.status_code == 401 and "Enter a correct email address and password" in wrong.text
    assert "govuk-error-summary" in wrong.text
    unknown = await attempt(client, "nobody-here@council.gov.uk", "guessing-a-password")
    assert unknown.status_code == 401
    events = [e for e in await db.all(AuditEvent) if e.action == "staff.sign_in.failed"]
    assert len(events) == 2
    assert {e.target_id for e in events} == {str(user.id), None}
    async with db.sessions() as session:
        dump = repr((await session.execute(text("SELECT * FROM audit_event"))).all())
        dump += repr((await session.execute(text("SELECT * FROM login_throttle"))).all())
    for secret in ("not the password", "guessing-a-password", "nobody-here", "admin@council"):
        assert secret not in dump
    assert await db.count(StaffSession) == 0


async def test_deactivated_user_cannot_sign_in(client: Client, db: TestDatabase) -> None:
    await make_user(db, "agent", agent_ref="A1")
    async with db.sessions() as session, session.begin():
        await session.execute(text("UPDATE staff_user SET active = false"))
    assert (await attempt(client, "agent@council.gov.uk")).status_code == 401


async def test_forms_need_their_csrf_token(client: Client, db: TestDatabase) -> None:
    await make_user(db, "admin")
    # Sign-in without the form's token (a cross-site login) is refused.
    forged = await client.post(
        "/staff/sign-in", data={"email": "admin@council.gov.uk", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403 and await db.count(StaffSession) == 0
    token = await sign_in(client, "admin@council.gov.uk")
    for data in ({}, {"csrf_token": "x" * 64}):
        refused = await client.post("/staff/sign-out", data=data)
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/csrf"
    assert await db.count(StaffSession) == 1
    # The header works as well as the form field (for HTMX).
    done = await client.post("/staff/sign-out", headers={"x-csrf-token": token}, follow_redirects=False)
    assert done.status_code == 303 and await db.count(StaffSession) == 0


async def test_repeated_failures_slow_the_account_down_with_back_off_not_a_lockout(
    client: Client, db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(db, "dpo")
    start = utcnow()
    monkeypatch.setattr("civicvoice.staff.accounts.utcnow", lambda: start)
    for _ in range(5):
        assert (await attempt(client, "dpo@council.gov.uk", "wrong password guess")).status_code == 401
    sixth = await attempt(client, "dpo@council.gov.uk", "wrong password guess")
    assert sixth.status_code == 401  # counted, and now the account must wait a second
    blocked = await attempt(client, "dpo@council.gov.uk")  # even the right password waits
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "Too many failed sign-in attempts" in blocked.text
    assert await db.count(StaffSession) == 0
    assert "staff.sign_in.throttled" in await audit_actions(db)

    # The wait doubles with each further failure...
    later = start + timedelta(seconds=2)
    monkeypatch.setattr("civicvoice.staff.accounts.utcnow", lambda: later)
    assert (await attempt(client, "dpo@council.gov.uk", "wrong password guess")).status_code == 401
    [account] = [t for t in await db.all(LoginThrottle) if t.blocked_until is not None]
    assert account.failures == 7
    assert account.blocked_until is not None and account.blocked_until - later == timedelta(seconds=2)
    # ...and when it is over the real user gets in, which clears the account's counter.
    monkeypatch.setattr("civicvoice.staff.accounts.utcnow", lambda: later + timedelta(seconds=3))
    assert (await attempt(client, "dpo@council.gov.uk")).status_code == 303
    assert [t.failures for t in await db.all(LoginThrottle)] == [7]  # only the address counter is left


async def test_many_failures_from_one_address_slow_that_address(
    client: Client, db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_user(db, "admin")
    # One moment for every attempt: the first wait (a second) must not run out on a slow machine mid-test.
    now = utcnow()
    monkeypatch.setattr("civicvoice.staff.accounts.utcnow", lambda: now)
    for n in range(21):
        assert (await attempt(client, f"guess{n}@council.gov.uk", "wrong password guess")).status_code == 401
    assert (await attempt(client, "admin@council.gov.uk")).status_code == 429


async def test_admin_creates_resets_and_deactivates_users_in_the_ui(client: Client, db: TestDatabase) -> None:
    await make_user(db, "admin")
    token = await sign_in(client, "admin@council.gov.uk")
    form = await client.get("/staff/users/new")
    assert form.status_code == 200
    bad = await client.post(
        "/staff/users/new", data={"csrf_token": token, "email": "x", "role": "agent", "password": "short"}
    )
    assert bad.status_code == 400 and "govuk-error-summary" in bad.text
    created = await client.post(
        "/staff/users/new",
        data={
            "csrf_token": token,
            "email": "manager@council.gov.uk",
            "display_name": "Manager",
            "role": "service_manager",
            "service_scope": "waste-and-recycling, parking",
            "password": "a long enough password",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    [manager] = [u for u in await db.all(StaffUser) if u.email == "manager@council.gov.uk"]
    assert manager.service_scope == ["parking", "waste-and-recycling"] and manager.role == "service_manager"
    assert "manager@council.gov.uk" in (await client.get("/staff/users")).text

    # The manager signs in elsewhere; a password reset ends that session. Two cookie jars on the one test
    # client stand for two browsers (the app's connections belong to the client's event loop).
    admin_jar = httpx.Cookies(client.cookies)
    client.cookies = httpx.Cookies()
    await sign_in(client, "manager@council.gov.uk", "a long enough password")
    manager_jar = httpx.Cookies(client.cookies)
    assert (await client.get("/staff/users")).status_code == 403  # not an admin
    client.cookies = admin_jar
    reset = await client.post(
        f"/staff/users/{manager.id}/password",
        data={"csrf_token": token, "password": "another long password"},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    client.cookies = manager_jar
    assert (await client.get("/staff/feedback", follow_redirects=False)).status_code == 303
    client.cookies = httpx.Cookies()
    await sign_in(client, "manager@council.gov.uk", "another long password")
    manager_jar = httpx.Cookies(client.cookies)
    client.cookies = admin_jar
    off = await client.post(f"/staff/users/{manager.id}/deactivate", data={"csrf_token": token}, follow_redirects=False)
    assert off.status_code == 303
    client.cookies = manager_jar
    assert (await client.get("/staff/feedback", follow_redirects=False)).status_code == 303
    client.cookies = admin_jar
    assert (await attempt(client, "manager@council.gov.uk", "another long password")).status_code == 401
    actions = await audit_actions(db)
    for action in ("staff_user.create", "staff_user.reset_password", "staff_user.deactivate"):
        assert action in actions
    creator = [
        e for e in await db.all(AuditEvent) if e.action == "staff_user.create" and e.target_id == str(manager.id)
    ]
    assert creator[0].actor_kind == "staff"


def test_cli_resets_passwords_and_deactivates_users(settings: Settings) -> None:
    from tests.integration.test_keys_and_cli import env_for

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env_for(settings), catch_exceptions=False)
        return result.exit_code, result.output

    code, out = invoke("user", "create", "--email", "ops@council.gov.uk", "--role", "dpo", "--password", PASSWORD)
    assert code == 0, out
    code, out = invoke("user", "reset-password", "--email", "ops@council.gov.uk")
    assert code == 0 and "New password (shown once):" in out
    code, out = invoke("user", "reset-password", "--email", "ops@council.gov.uk", "--password", "short")
    assert code != 0 and "at least 12 characters" in out
    code, out = invoke("user", "deactivate", "--email", "ops@council.gov.uk")
    assert code == 0 and "Deactivated ops@council.gov.uk" in out
    code, out = invoke("user", "deactivate", "--email", "nobody@council.gov.uk")
    assert code != 0 and "no staff user" in out


async def test_ended_sessions_and_old_throttle_counters_are_deleted_on_schedule(
    client: Client, db: TestDatabase
) -> None:
    from civicvoice.core.jobs import Worker
    from civicvoice.staff.jobs import PRUNE_JOB

    user = await make_user(db, "dpo")
    now = utcnow()
    async with unit_of_work(db.sessions) as session:
        for name, created, seen, expires in (
            ("live", now - timedelta(minutes=30), now - timedelta(minutes=5), now + timedelta(hours=11)),
            ("expired", now - timedelta(hours=13), now - timedelta(minutes=5), now - timedelta(hours=1)),
            ("idle", now - timedelta(hours=3), now - timedelta(hours=2), now + timedelta(hours=9)),
        ):
            session.add(
                StaffSession(
                    user_id=user.id,
                    token_digest=name.ljust(64, "0"),
                    created_at=created,
                    last_seen_at=seen,
                    expires_at=expires,
                )
            )
        for name, last, blocked in (
            ("recent", now - timedelta(hours=2), None),
            ("old", now - timedelta(hours=30), None),
            ("old-but-blocked", now - timedelta(hours=30), now + timedelta(minutes=5)),
        ):
            session.add(
                LoginThrottle(key_digest=name.ljust(64, "0"), failures=6, last_failure_at=last, blocked_until=blocked)
            )

    app = client.app
    assert PRUNE_JOB in app.state.jobs.crons
    worker = Worker(app.state.jobs, db.sessions, app.state.services)
    await worker.schedule_crons()
    assert await worker.run_due() >= 1

    assert [s.token_digest.rstrip("0") for s in await db.all(StaffSession)] == ["live"]
    kept = sorted(t.key_digest.rstrip("0") for t in await db.all(LoginThrottle))
    assert kept == ["old-but-blocked", "recent"]
