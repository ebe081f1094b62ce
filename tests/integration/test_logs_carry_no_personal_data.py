"""The whole loop, with every log line captured: no name, email, phone, comment, password or token appears."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from civicvoice.app import create_app
from civicvoice.core.settings import Settings
from civicvoice.staff.web import SESSION_COOKIE
from tests.integration.smtp import SmtpServer
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import PASSWORD, attempt, make_user, sign_in
from tests.integration.test_survey_loop import contact, links, worker_for

COMMENT = "My neighbour Alice Smith shouted at the advisor about the missed bin collection"
PHONE = "+44 20 7946 0958"


async def test_whole_loop_logs_no_personal_data(
    settings: Settings,
    catalogue: None,
    db: TestDatabase,
    smtp: SmtpServer,
    auth: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    app = create_app(
        settings.with_changes(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none", log_level="DEBUG"),
        worker=False,
    )
    await make_user(db, "quality_reviewer", email="reviewer.person@council.gov.uk")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        event = contact("log-1", email="private.person@example.org", phone=PHONE)
        event["customer"]["name"] = "Private Person"
        assert (await client.post("/api/v1/contacts", json=event, headers=auth)).status_code == 202
        bad = dict(event, occurred_at="not a date")
        assert (await client.post("/api/v1/contacts", json=bad, headers=auth)).status_code == 400
        await worker_for(app, db).run_due()
        survey_path, unsubscribe_path = links(smtp.messages[0])
        await client.get(survey_path)
        done = await client.post(
            survey_path, data={"satisfaction": "1", "resolved": "no", "improve": COMMENT}, follow_redirects=False
        )
        assert done.status_code == 303
        await worker_for(app, db).run_due()
        await client.get(unsubscribe_path)
        await client.post(
            unsubscribe_path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        await attempt(client, "reviewer.person@council.gov.uk", "a wrong password here")
        await sign_in(client, "reviewer.person@council.gov.uk")
        page = await client.get("/staff/feedback")
        assert "missed bin collection" in page.text
        session_token = client.cookies.get(SESSION_COOKIE)
    out, err = capfd.readouterr()
    logs = out + err
    assert '"event": "request"' in logs  # the capture did see the app's log
    secrets = {
        "customer name": "Private Person",
        "customer email": "private.person@example.org",
        "phone": "7946 0958",
        "phone digits": "2079460958",
        "comment": "missed bin collection",
        "name in comment": "Alice Smith",
        "survey token": survey_path.rsplit("/", 1)[1],
        "unsubscribe token": unsubscribe_path.rsplit("/", 1)[1],
        "API key": auth["Authorization"].split()[1],
        "staff email": "reviewer.person@council.gov.uk",
        "password": PASSWORD,
        "wrong password": "a wrong password here",
        "session cookie": session_token or "<no session>",
    }
    leaked = {what: value for what, value in secrets.items() if value in logs}
    assert leaked == {}, f"personal data or secrets in the logs: {sorted(leaked)}"
