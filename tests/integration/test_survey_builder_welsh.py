"""The respondent's page follows the version's languages: a visible English / Cymraeg switch, the browser's
preference, the question text from the definition and the fixed text from the Welsh gettext catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.intake import ContactIntake
from surveys.models import Answer, Invitation
from surveys.tokens import Purpose, TokenSigner
from tests.integration.support import TestDatabase

Client = AsyncTestClient[Litestar]
WELSH_TITLE = "Dywedwch wrthym am eich cyswllt diweddar"
WELSH_CSAT = "Yn gyffredinol, pa mor fodlon oeddech chi gyda gwasanaeth y cyngor?"


def with_welsh(value: Any) -> Any:
    """Every text of the standard survey with a Welsh wording beside its English."""
    if isinstance(value, dict) and set(value) == {"en"}:
        english = value["en"]
        welsh = {
            "Tell us about your recent contact": WELSH_TITLE,
            "Overall, how satisfied were you with the service you received?": WELSH_CSAT,
        }.get(english, f"[cy] {english}")
        return {"en": english, "cy": welsh}
    if isinstance(value, dict):
        return {key: with_welsh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_welsh(item) for item in value]
    return value


async def publish_in_welsh(client: Client, app: Litestar, db: TestDatabase) -> None:
    """Publish a new version of the post-contact survey offered in English and Welsh."""
    admin = {"Authorization": f"Bearer {await db.api_key(['surveys:admin'])}"}
    definition = with_welsh(msgspec.json.decode(msgspec.json.encode(POST_CONTACT_SURVEY)))
    definition["languages"] = ["en", "cy"]
    resolved = next(q for q in definition["questions"] if q["id"] == "resolved")
    resolved["choices"] = [
        {"value": value, "label": {"en": english, "cy": welsh}}
        for value, english, welsh in [
            ("yes", "Yes", "Ydy"),
            ("partly", "Partly", "Yn rhannol"),
            ("no", "No", "Nac ydy"),
        ]
    ]
    draft = (await client.post("/api/v1/surveys/post-contact/versions", headers=admin)).json()
    url = f"/api/v1/surveys/post-contact/versions/{draft['number']}"
    assert (await client.put(url, json=definition, headers=admin)).status_code == 200
    published = await client.post(f"{url}/publish", headers=admin)
    assert published.status_code == 200, published.text
    # Intake reads the published version through a cache of a few seconds (every process sees it within them).
    app.state.services.get(ContactIntake).reference.clear()


async def invite(client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase, external_id: str) -> str:
    contact = {
        "source": "crm",
        "external_id": external_id,
        "channel": "phone",
        "service": "libraries",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "customer": {"email": f"{external_id}@example.org", "name": "Resident Person"},
    }
    accepted = (await client.post("/api/v1/contacts", json=contact, headers=auth)).json()
    invitation = next(i for i in await db.all(Invitation) if str(i.id) == accepted["invitation_id"])
    signer: TokenSigner = app.state.services.get(TokenSigner)
    return "/s/" + signer.sign(invitation.id, Purpose.survey, invitation.expires_at)


async def test_the_page_follows_the_respondents_language(
    client: Client, app: Litestar, auth: dict[str, str], db: TestDatabase
) -> None:
    english_only = await invite(client, app, auth, db, "en-1")
    await publish_in_welsh(client, app, db)
    bilingual = await invite(client, app, auth, db, "cy-1")

    # A version in English only offers no switch, whatever is asked.
    page = await client.get(f"{english_only}?lang=cy")
    assert page.status_code == 200 and '<html lang="en"' in page.text
    assert "Cymraeg" not in page.text and "Send feedback" in page.text

    english = await client.get(bilingual)
    assert '<html lang="en"' in english.text and "Tell us about your recent contact" in english.text
    assert f'href="{bilingual}?lang=cy" hreflang="cy" lang="cy">Cymraeg</a>' in english.text

    for welsh in (
        await client.get(f"{bilingual}?lang=cy"),
        await client.get(bilingual, headers={"accept-language": "fr;q=0.9, cy-GB, en;q=0.5"}),
    ):
        assert welsh.status_code == 200
        assert '<html lang="cy"' in welsh.text and WELSH_TITLE in welsh.text and WELSH_CSAT in welsh.text
        assert "Anfon adborth" in welsh.text and "Hysbysiad preifatrwydd" in welsh.text  # from the catalogue
        assert "Gallwch nodi hyd at 1,200 nod" in welsh.text
        assert f'href="{bilingual}?lang=en" hreflang="en" lang="en">English</a>' in welsh.text
        assert '<input type="hidden" name="lang" value="cy">' in welsh.text
    preferred_english = await client.get(bilingual, headers={"accept-language": "en-GB,cy;q=0.8"})
    assert '<html lang="en"' in preferred_english.text

    # Problems are told in Welsh, and the page stays Welsh.
    wrong = await client.post(bilingual, data={"lang": "cy", "improve": "Dim"}, follow_redirects=False)
    assert wrong.status_code == 400
    assert "Mae problem wedi codi" in wrong.text and "Gwall:" in wrong.text
    assert "[cy] Select how satisfied you were with the service" in wrong.text
    assert '<html lang="cy"' in wrong.text and ">Dim</textarea>" in wrong.text

    done = await client.post(
        bilingual, data={"lang": "cy", "satisfaction": "5", "resolved": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/survey/thank-you?lang=cy"
    thanks = await client.get(done.headers["location"])
    assert '<html lang="cy"' in thanks.text and "Diolch am eich adborth" in thanks.text
    assert {a.question_key for a in await db.all(Answer)} == {"satisfaction", "resolved"}  # "lang" is no answer
