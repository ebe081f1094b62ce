"""Every route of the real app, with every role, an API key and no one: the single guard decides each one.

EXPECTED is the authorisation policy written out by hand. A route missing from it (a new route nobody made a
decision about) fails the suite, and so does a route whose behaviour differs from its row.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from civicvoice.core.auth import ROLES
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.db import unit_of_work
from civicvoice.staff.models import StaffSession
from civicvoice.staff.web import SESSION_COOKIE, csrf_token_for
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import make_user

Client = AsyncTestClient[Litestar]

ANONYMOUS = "anonymous"
API_KEY = "api:contacts:write"
PRIVACY_KEY = "api:privacy:requests"
IDENTITIES = (ANONYMOUS, API_KEY, PRIVACY_KEY, *ROLES)

PUBLIC = frozenset(IDENTITIES)
STAFF = frozenset(ROLES)
ADMIN = frozenset({"admin"})
DPO = frozenset({"dpo"})
REVIEWERS = frozenset({"quality_reviewer", "admin"})
CASE_HANDLERS = frozenset({"quality_reviewer", "admin", "service_manager"})
CONTACT_SYSTEMS = frozenset({API_KEY})
EXPORTERS = frozenset({"admin", "quality_reviewer", "dpo"})
IDENTIFIED_EXPORTERS = frozenset({"quality_reviewer", "dpo"})
PRIVACY_SYSTEMS = frozenset({PRIVACY_KEY})
NOBODY: frozenset[str] = frozenset()

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    # Litestar's automatic OPTIONS for a bare app-level handler carries no decision, so the guard refuses it.
    ("OPTIONS", "/health"): NOBODY,
    ("GET", "/privacy"): PUBLIC,
    ("GET", "/accessibility"): PUBLIC,
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("HEAD", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("POST", "/api/v1/contacts"): CONTACT_SYSTEMS,
    ("POST", "/api/v1/contacts/batch"): CONTACT_SYSTEMS,
    ("GET", "/api/v1/services"): CONTACT_SYSTEMS,
    ("POST", "/api/v1/privacy/requests"): PRIVACY_SYSTEMS,
    ("GET", "/api/v1/privacy/requests/{request_id:uuid}"): PRIVACY_SYSTEMS,
    # The public request page: anyone may ask; the secret token in the path is the capability for the rest.
    ("GET", "/your-data/request"): PUBLIC,
    ("POST", "/your-data/request"): PUBLIC,
    ("GET", "/your-data/request/confirm/{token:str}"): PUBLIC,
    ("POST", "/your-data/request/confirm/{token:str}"): PUBLIC,
    ("POST", "/your-data/request/confirm/{token:str}/resend"): PUBLIC,
    ("GET", "/your-data/request/done/{token:str}"): PUBLIC,
    ("PUT", "/api/v1/contacts/demand"): CONTACT_SYSTEMS,
    # The IVR webhook takes no key or session: only a request HMAC-signed by a configured telephony platform
    # (tests/integration/test_ivr.py), so every identity here is refused.
    ("POST", "/api/v1/ivr/calls/{call_id:str}"): NOBODY,
    # Its automatic OPTIONS answers anyone with the allowed methods and nothing else (no CORS is offered).
    ("OPTIONS", "/api/v1/ivr/calls/{call_id:str}"): PUBLIC,
    # The chat token endpoint, like the IVR webhook: only a request HMAC-signed by a configured chat platform
    # (tests/integration/test_chat.py); its automatic OPTIONS offers no CORS.
    ("POST", "/api/v1/chat/chats/{chat_id:str}/token"): NOBODY,
    ("OPTIONS", "/api/v1/chat/chats/{chat_id:str}/token"): PUBLIC,
    # The end-of-chat widget's calls: the widget token in the Authorization header is the capability (a 401 for
    # anyone without one, from the handler, not the guard); CORS for the configured origins only.
    ("GET", "/api/v1/chat/survey"): PUBLIC,
    ("POST", "/api/v1/chat/answers"): PUBLIC,
    # The widget's script and style sheet, loaded by chat platforms' pages.
    ("GET", "/chat/widget.js"): PUBLIC,
    ("GET", "/chat/widget.css"): PUBLIC,
    # Survey and unsubscribe links: the signed token in the path is the capability.
    ("GET", "/s/{token:str}"): PUBLIC,
    ("POST", "/s/{token:str}"): PUBLIC,
    # Short links (text messages, print): the code in the path is the capability; it redirects to /s/.
    ("GET", "/r/{code:str}"): PUBLIC,
    ("GET", "/u/{token:str}"): PUBLIC,
    ("POST", "/u/{token:str}"): PUBLIC,
    ("GET", "/survey/thank-you"): PUBLIC,
    ("GET", "/staff/sign-in"): PUBLIC,
    ("POST", "/staff/sign-in"): PUBLIC,
    ("GET", "/staff"): STAFF,
    ("POST", "/staff/sign-out"): STAFF,
    ("GET", "/staff/feedback"): STAFF,
    ("POST", "/staff/feedback/comments/{answer_id:uuid}/review"): REVIEWERS,
    ("GET", "/staff/feedback/classifier"): REVIEWERS,
    ("POST", "/staff/feedback/responses/{response_id:uuid}/demand"): REVIEWERS,
    ("POST", "/staff/feedback/comments/{answer_id:uuid}/demand"): REVIEWERS,
    ("POST", "/staff/feedback/comments/{answer_id:uuid}/action"): REVIEWERS,
    # Every role passes the guard; the page then asks for the separate permission (its own 403 problem type).
    ("GET", "/staff/feedback/comments/{answer_id:uuid}/original"): STAFF,
    ("POST", "/staff/feedback/comments/{answer_id:uuid}/original"): STAFF,
    ("GET", "/staff/cases"): CASE_HANDLERS,
    ("POST", "/staff/cases/new"): CASE_HANDLERS,
    ("GET", "/staff/cases/{reference:str}"): CASE_HANDLERS,
    ("POST", "/staff/cases/{reference:str}/{action:str}"): CASE_HANDLERS,
    ("GET", "/staff/actions"): REVIEWERS,
    ("POST", "/staff/actions"): REVIEWERS,
    ("GET", "/staff/actions/{reference:str}"): REVIEWERS,
    ("POST", "/staff/actions/{reference:str}"): REVIEWERS,
    ("GET", "/you-said-we-did"): PUBLIC,
    ("GET", "/staff/callbacks"): CASE_HANDLERS,
    ("POST", "/staff/callbacks/{callback_id:uuid}/contact"): CASE_HANDLERS,
    ("POST", "/staff/callbacks/{callback_id:uuid}/done"): CASE_HANDLERS,
    ("GET", "/staff/quality"): REVIEWERS,
    ("GET", "/staff/quality/contacts/{contact_id:uuid}"): REVIEWERS,
    ("POST", "/staff/quality/contacts/{contact_id:uuid}"): REVIEWERS,
    ("GET", "/staff/quality/scores"): frozenset({"agent", "service_manager", "quality_reviewer", "admin"}),
    ("GET", "/staff/scorecard"): frozenset({"agent", "service_manager", "quality_reviewer", "admin"}),
    ("GET", "/staff/scorecard/records"): frozenset({"agent", "service_manager", "quality_reviewer", "admin"}),
    ("GET", "/staff/scorecard/entries"): frozenset({"service_manager", "admin"}),
    ("POST", "/staff/scorecard/entries"): frozenset({"service_manager", "admin"}),
    ("GET", "/staff/scorecard/targets"): frozenset({"service_manager", "admin"}),
    ("POST", "/staff/scorecard/targets"): frozenset({"service_manager", "admin"}),
    ("GET", "/staff/scorecard/service-levels"): frozenset({"admin"}),
    ("POST", "/staff/scorecard/service-levels"): frozenset({"admin"}),
    ("GET", "/staff/reports/scorecard"): frozenset({"agent", "service_manager", "quality_reviewer", "admin"}),
    ("GET", "/staff/reports/subscription"): frozenset({"service_manager", "quality_reviewer", "admin"}),
    ("POST", "/staff/reports/subscription"): frozenset({"service_manager", "quality_reviewer", "admin"}),
    ("POST", "/staff/reports/subscription/stop"): frozenset({"service_manager", "quality_reviewer", "admin"}),
    # Only a key with the scorecard:write scope (the matrix's key has contacts:write alone).
    ("POST", "/api/v1/scorecard/figures"): NOBODY,
    ("GET", "/staff/surveys"): ADMIN,
    ("POST", "/staff/surveys"): ADMIN,
    ("GET", "/staff/surveys/{slug:str}"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/channels"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/campaign"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/recipients"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions"): ADMIN,
    ("GET", "/staff/surveys/{slug:str}/versions/{number:int}"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions/{number:int}"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions/{number:int}/publish"): ADMIN,
    ("GET", "/staff/surveys/{slug:str}/versions/{number:int}/preview"): ADMIN,
    ("GET", "/staff/surveys/{slug:str}/versions/{number:int}/questions/new"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions/{number:int}/questions/new"): ADMIN,
    ("GET", "/staff/surveys/{slug:str}/versions/{number:int}/questions/{question_id:str}"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions/{number:int}/questions/{question_id:str}"): ADMIN,
    ("POST", "/staff/surveys/{slug:str}/versions/{number:int}/questions/{question_id:str}/{change:str}"): ADMIN,
    # Only a key with the surveys:admin scope (tests/integration/test_survey_builder_api.py).
    ("GET", "/api/v1/surveys"): NOBODY,
    ("POST", "/api/v1/surveys"): NOBODY,
    ("GET", "/api/v1/surveys/{slug:str}"): NOBODY,
    ("PUT", "/api/v1/surveys/{slug:str}/channels"): NOBODY,
    ("PUT", "/api/v1/surveys/{slug:str}/campaign"): NOBODY,
    # ... and a campaign's list (tests/integration/test_campaigns.py).
    ("POST", "/api/v1/surveys/{slug:str}/recipients"): NOBODY,
    ("GET", "/api/v1/surveys/{slug:str}/versions/{number:int}"): NOBODY,
    ("PUT", "/api/v1/surveys/{slug:str}/versions/{number:int}"): NOBODY,
    ("POST", "/api/v1/surveys/{slug:str}/versions"): NOBODY,
    ("POST", "/api/v1/surveys/{slug:str}/versions/{number:int}/publish"): NOBODY,
    ("GET", "/staff/users"): ADMIN,
    ("GET", "/staff/users/new"): ADMIN,
    ("POST", "/staff/users/new"): ADMIN,
    ("GET", "/staff/users/{user_id:uuid}"): ADMIN,
    ("POST", "/staff/users/{user_id:uuid}/password"): ADMIN,
    ("POST", "/staff/users/{user_id:uuid}/deactivate"): ADMIN,
    ("GET", "/staff/privacy/requests"): DPO,
    ("GET", "/staff/privacy/requests/new"): DPO,
    ("POST", "/staff/privacy/requests/new"): DPO,
    ("GET", "/staff/privacy/requests/{reference:str}"): DPO,
    ("POST", "/staff/privacy/requests/{reference:str}/move"): DPO,
    ("POST", "/staff/privacy/requests/{reference:str}/fulfil"): DPO,
    ("POST", "/staff/privacy/requests/{reference:str}/acknowledge"): DPO,
    ("POST", "/staff/privacy/requests/{reference:str}/lift-restriction"): DPO,
    ("GET", "/staff/privacy/retention"): DPO,
    ("POST", "/staff/privacy/retention"): DPO,
    ("GET", "/staff/privacy/search"): DPO,
    ("POST", "/staff/privacy/search"): DPO,
    ("GET", "/staff/privacy/people/{subject_id:uuid}"): DPO,
    ("POST", "/staff/privacy/people/{subject_id:uuid}/mentions"): DPO,
    ("POST", "/staff/privacy/people/{subject_id:uuid}/holds"): DPO,
    ("GET", "/staff/privacy/staff/{staff_id:uuid}"): DPO,
    ("POST", "/staff/privacy/staff/{staff_id:uuid}/mentions"): DPO,
    ("POST", "/staff/privacy/mentions/{hit_id:uuid}"): DPO,
    ("GET", "/staff/privacy/holds"): DPO,
    ("POST", "/staff/privacy/holds/{hold_id:uuid}/release"): DPO,
    # GOV.UK Notify's callbacks: only Notify's own bearer token (CIVICVOICE_NOTIFY_CALLBACK_TOKEN), which none of
    # these identities carries (tests/integration/test_notify.py checks the token itself).
    ("POST", "/api/v1/notify/delivery-receipts"): NOBODY,
    ("POST", "/api/v1/notify/inbound-sms"): NOBODY,
    ("GET", "/staff/invitations"): REVIEWERS,
    ("GET", "/staff/invitations/{invitation_id:uuid}"): REVIEWERS,
    # Paper surveys: the print queue, print batches (they show addresses), printed letters and keying in returns.
    ("GET", "/staff/letters"): REVIEWERS,
    ("POST", "/staff/letters/batches"): REVIEWERS,
    ("GET", "/staff/letters/batches/{batch_id:uuid}/pdf"): REVIEWERS,
    ("GET", "/staff/letters/reminders"): REVIEWERS,
    ("POST", "/staff/letters/reminders"): REVIEWERS,
    ("GET", "/staff/letters/letter/{reference:str}"): REVIEWERS,
    ("GET", "/staff/letters/returns"): REVIEWERS,
    ("POST", "/staff/letters/returns/{reference:str}"): REVIEWERS,
    ("GET", "/staff/jobs"): ADMIN,
    ("POST", "/staff/jobs/{job_id:uuid}/retry"): ADMIN,
    ("GET", "/staff/exports"): EXPORTERS,
    ("POST", "/staff/exports"): EXPORTERS,
    ("GET", "/staff/exports/{export_id:uuid}"): EXPORTERS,
    ("GET", "/staff/exports/{export_id:uuid}/download"): EXPORTERS,
    ("GET", "/staff/exports/identified"): IDENTIFIED_EXPORTERS,
    ("POST", "/staff/exports/identified"): IDENTIFIED_EXPORTERS,
    ("GET", "/staff/imports/contacts"): ADMIN,
    ("POST", "/staff/imports/contacts"): ADMIN,
    ("GET", "/staff/imports/figures"): frozenset({"service_manager", "admin"}),
    ("GET", "/staff/imports/figures/template.xlsx"): frozenset({"service_manager", "admin"}),
    ("POST", "/staff/imports/figures"): frozenset({"service_manager", "admin"}),
    # The kiosk's screens: no key or session; the tablet's device cookie (set by its one-time enrolment link) is
    # the credential, checked by each handler, which answers a clear page (tests/integration/test_kiosk.py).
    ("GET", "/kiosk"): PUBLIC,
    ("POST", "/kiosk/answer"): PUBLIC,
    ("GET", "/kiosk/comment"): PUBLIC,
    ("POST", "/kiosk/comment"): PUBLIC,
    ("GET", "/kiosk/thanks"): PUBLIC,
    ("GET", "/kiosk/enrol/{key:str}"): PUBLIC,
    ("POST", "/kiosk/enrol/{key:str}"): PUBLIC,
    ("GET", "/staff/kiosks"): ADMIN,
    ("POST", "/staff/kiosks"): ADMIN,
    ("GET", "/staff/kiosks/{kiosk_id:uuid}/revoke"): ADMIN,
    ("POST", "/staff/kiosks/{kiosk_id:uuid}/revoke"): ADMIN,
    ("GET", "/staff/kiosks/{kiosk_id:uuid}/survey"): ADMIN,
    ("POST", "/staff/kiosks/{kiosk_id:uuid}/survey"): ADMIN,
}

PATH_VALUES = {
    "{token:str}": "not-a-real-token",
    "{file_path:path}": "build/civicvoice.css",
    "{path:str}": "openapi.json",
    "{user_id:uuid}": str(uuid.UUID(int=1)),
    "{reference:str}": "SR-2026-000000",
    "{answer_id:uuid}": str(uuid.UUID(int=2)),
    "{response_id:uuid}": str(uuid.UUID(int=6)),
    "{action:str}": "acknowledge",
    "{callback_id:uuid}": str(uuid.UUID(int=3)),
    "{contact_id:uuid}": str(uuid.UUID(int=4)),
    "{job_id:uuid}": str(uuid.UUID(int=5)),
    "{subject_id:uuid}": str(uuid.UUID(int=6)),
    "{staff_id:uuid}": str(uuid.UUID(int=7)),
    "{hit_id:uuid}": str(uuid.UUID(int=8)),
    "{hold_id:uuid}": str(uuid.UUID(int=9)),
    "{export_id:uuid}": str(uuid.UUID(int=10)),
    "{request_id:uuid}": str(uuid.UUID(int=11)),
    "{code:str}": "not-a-real-code",
    "{invitation_id:uuid}": str(uuid.UUID(int=12)),
    "{call_id:str}": "CALL-1",
    "{chat_id:str}": "CHAT-1",
    "{batch_id:uuid}": str(uuid.UUID(int=13)),
    "{key:str}": "not-a-real-key",
    "{kiosk_id:uuid}": str(uuid.UUID(int=14)),
    "{slug:str}": "post-contact",
    "{number:int}": "1",
    "{question_id:str}": "satisfaction",
    "{change:str}": "up",
}


def real_routes(app: Litestar) -> dict[tuple[str, str], Any]:
    routes: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        for handler in route.route_handlers:
            for method in sorted(getattr(handler, "http_methods", ()) or ()):
                routes[(method, route.path)] = handler
    return routes


def expected_for(method: str, path: str) -> frozenset[str] | None:
    if method == "OPTIONS" and (method, path) not in EXPECTED:
        # CORS preflight answers follow the decision of the route they belong to.
        decisions = {EXPECTED.get((m, p)) for (m, p) in EXPECTED if p == path and m != "OPTIONS"}
        return decisions.pop() if len(decisions) == 1 else None
    return EXPECTED.get((method, path))


def concrete(path: str) -> str:
    for pattern, value in PATH_VALUES.items():
        path = path.replace(pattern, value)
    return path


def refused_by_the_guard(response: Any) -> bool:
    """The guard's answers: a problem saying who you are not, or (for pages) a redirect to sign in."""
    if response.status_code == 303 and response.headers.get("location", "").startswith("/staff/sign-in?next="):
        return True
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.json()["type"] in {"/problems/not-authenticated", "/problems/permission-denied"}
    return False


async def test_every_route_has_a_decision(app: Litestar) -> None:
    undecided = [key for key in real_routes(app) if expected_for(*key) is None]
    assert undecided == [], f"routes without an authorisation decision in EXPECTED: {undecided}"
    gone = [key for key in EXPECTED if key not in real_routes(app)]
    assert gone == [], f"EXPECTED lists routes the app no longer has: {gone}"


async def session_cookie(db: TestDatabase, user_id: uuid.UUID) -> str:
    token = secrets.token_urlsafe(32)
    async with unit_of_work(db.sessions) as session:
        now = utcnow()
        session.add(
            StaffSession(
                user_id=user_id,
                token_digest=digest_secret(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
    return token


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_each_identity_reaches_exactly_its_routes(
    client: Client, app: Litestar, db: TestDatabase, auth: dict[str, str], identity: str
) -> None:
    user = await make_user(db, identity, service_scope=["parking"], agent_ref="A1") if identity in ROLES else None
    privacy_auth = {"Authorization": f"Bearer {await db.api_key(['privacy:requests'])}"}
    wrong: list[str] = []
    for (method, path), _handler in sorted(real_routes(app).items()):
        allowed = expected_for(method, path)
        assert allowed is not None
        headers: dict[str, str] = {}
        client.cookies.clear()
        if identity == API_KEY:
            headers.update(auth)
        elif identity == PRIVACY_KEY:
            headers.update(privacy_auth)
        elif user is not None:
            # A fresh session per request: signing out or a deactivation must not spoil the next row.
            token = await session_cookie(db, user.id)
            client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
            headers["x-csrf-token"] = csrf_token_for(token)
        response = await client.request(method, concrete(path), headers=headers, follow_redirects=False)
        assert response.status_code < 500, f"{method} {path} as {identity}: {response.status_code}"
        reached = not refused_by_the_guard(response)
        if reached != (identity in allowed):
            wrong.append(f"{method} {path}: {'reached' if reached else 'refused'} ({response.status_code})")
    client.cookies.clear()
    assert wrong == [], f"as {identity}:\n" + "\n".join(wrong)
