"""Contact quality evaluation: a stable sample per agent and service, weighted scores on hand-computed marks,
one evaluation per reviewer per contact, calibration spread, and scores seen only within each role's scope."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from civicvoice.core.errors import InvalidInput
from feedback.quality import DEFAULT_FORM, Evaluation, in_sample, weighted_score
from surveys.models import Contact
from tests.integration.support import TestDatabase
from tests.integration.test_staff_login import csrf_from, make_user, sign_in

Client = AsyncTestClient[Litestar]


def test_the_weighted_score_by_hand() -> None:
    # Weights 1, 3, 3, 2, 2 (11); marks 4, 3, 2, 4, 0 -> (4 + 9 + 6 + 8 + 0) / (11 * 4) = 27 / 44 = 61.4%.
    marks = dict(zip([c.key for c in DEFAULT_FORM], [4, 3, 2, 4, 0], strict=True))
    assert weighted_score(marks) == 61.4
    assert weighted_score(dict.fromkeys(marks, 4)) == 100.0
    with pytest.raises(InvalidInput, match="Mark every criterion"):
        weighted_score({"greeting": 4})
    with pytest.raises(InvalidInput, match="0 to 4"):
        weighted_score({**marks, "courtesy": 5})


def test_the_sample_is_stable_and_near_its_rate() -> None:
    ids = [uuid.UUID(int=n * 7919 + 13) for n in range(4000)]
    drawn = [i for i in ids if in_sample(i, 0.05)]
    assert drawn == [i for i in ids if in_sample(i, 0.05)]
    assert 0.035 < len(drawn) / len(ids) < 0.065
    assert all(in_sample(i, 1.0) for i in ids[:10])


async def test_reviewers_evaluate_and_roles_see_their_scores(
    client: Client, db: TestDatabase, auth: dict[str, str]
) -> None:
    event = {
        "source": "crm",
        "external_id": "q-1",
        "channel": "phone",
        "service": "council-tax",
        "agent_id": "A1",
        "occurred_at": "2026-11-30T10:00:00Z",
        "customer": {"email": "q1@example.org"},
    }
    assert (await client.post("/api/v1/contacts", json=event, headers=auth)).status_code == 202
    async with db.sessions() as session:
        contact = await session.scalar(select(Contact))
    assert contact is not None
    await make_user(db, "quality_reviewer")
    await make_user(db, "quality_reviewer", email="second@council.gov.uk")
    await make_user(db, "agent", agent_ref="A1")
    await make_user(db, "agent", email="other@council.gov.uk", agent_ref="B2")
    marks = dict(zip([c.key for c in DEFAULT_FORM], ["4", "3", "2", "4", "0"], strict=True))
    for reviewer, expected in (("quality_reviewer@council.gov.uk", 303), ("second@council.gov.uk", 303)):
        client.cookies.clear()
        await sign_in(client, reviewer)
        form = await client.get(f"/staff/quality/contacts/{contact.id}")
        assert form.status_code == 200 and "No survey answer" in form.text
        if reviewer.startswith("second"):
            marks["accuracy"] = "4"
        saved = await client.post(
            f"/staff/quality/contacts/{contact.id}",
            data={"csrf_token": csrf_from(form.text), **marks},
            follow_redirects=False,
        )
        assert saved.status_code == expected
    again = await client.post(
        f"/staff/quality/contacts/{contact.id}", data={"csrf_token": csrf_from(form.text), **marks}
    )
    assert again.status_code == 409 and "already evaluated" in again.text
    missing = await client.post(f"/staff/quality/contacts/{contact.id}", data={"csrf_token": csrf_from(form.text)})
    assert missing.status_code in (409, 422)
    scores = sorted(e.score for e in await db.all(Evaluation))
    assert scores == [61.4, 68.2]  # the second reviewer gave accuracy 4: (4 + 12 + 6 + 8 + 0) / 44
    page = await client.get("/staff/quality/scores")
    assert "Calibration" in page.text and "6.8" in page.text
    client.cookies.clear()
    await sign_in(client, "agent@council.gov.uk")
    own = await client.get("/staff/quality/scores")
    assert own.status_code == 200 and "A1" in own.text and "64.8" in own.text and "Calibration" not in own.text
    client.cookies.clear()
    await sign_in(client, "other@council.gov.uk")
    assert "No evaluations yet" in (await client.get("/staff/quality/scores")).text
    assert (await client.get("/staff/quality")).status_code == 403
