"""The published schema says what the API enforces: strict types, the email and phone shapes, the services a
contact may name (GET /api/v1/services) and how to authenticate."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from civicvoice.core.db import unit_of_work
from surveys.models import Contact, Service
from tests.integration.support import TestDatabase
from tests.integration.test_contacts_api import URL, event

Client = AsyncTestClient[Litestar]


async def test_a_batch_with_an_event_of_the_wrong_type_is_refused_whole(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    events = [event("ok-1"), event("wrong-1", customer={"email": "a@example.org", "do_not_survey": 0})]
    response = await client.post(f"{URL}/batch", json={"events": events}, headers=auth)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["field"] == "events[1].customer.do_not_survey" and "bool" in problem["detail"]
    assert await db.count(Contact) == 0
    # The same event with a real boolean goes in.
    events[1]["customer"]["do_not_survey"] = False
    assert (await client.post(f"{URL}/batch", json={"events": events}, headers=auth)).json()["accepted"] == 2


async def test_services_lists_the_active_services_a_contact_may_name(
    client: Client, auth: dict[str, str], db: TestDatabase
) -> None:
    async with unit_of_work(db.sessions) as session:
        await session.execute(update(Service).where(Service.slug == "parking").values(active=False))
    response = await client.get("/api/v1/services", headers=auth)
    assert response.status_code == 200
    services = response.json()["services"]
    slugs = [s["slug"] for s in services]
    assert "council-tax" in slugs and "parking" not in slugs and slugs == sorted(slugs)
    assert any(s["survey_excluded"] for s in services)
    # Every listed service is accepted; the one left out is the documented 422.
    assert (await client.post(URL, json=event("listed", service=slugs[0]), headers=auth)).status_code == 202
    refused = await client.post(URL, json=event("inactive", service="parking"), headers=auth)
    assert refused.status_code == 422 and refused.json()["field"] == "service"
    assert (await client.get("/api/v1/services")).status_code == 401


async def test_schema_declares_formats_patterns_and_the_api_key(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    customer = schema["components"]["schemas"]["Customer"]["properties"]
    assert customer["email"]["format"] == "email"
    email, phone = re.compile(customer["email"]["pattern"]), re.compile(customer["phone"]["pattern"])
    assert email.search("jo.bloggs@example.org.uk") and not email.search("jo bloggs@example")
    assert phone.search("+44 20 7946 0958") and not phone.search("call me")
    contact = schema["paths"]["/api/v1/contacts"]["post"]
    assert contact["security"] == [{"apiKey": []}]
    assert {"400", "401", "403", "413", "422"} <= set(contact["responses"])
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiKey"]["description"],
    }
    service = schema["components"]["schemas"]["ContactEvent"]["properties"]["service"]
    assert "/api/v1/services" in service["description"]


async def test_schema_documents_the_subject_request_api(client: Client) -> None:
    requests_url = "/api/v1/privacy/requests"
    schema = (await client.get("/schema/openapi.json")).json()
    post = schema["paths"][requests_url]["post"]
    assert post["security"] == [{"apiKey": []}] and {"201", "400", "401", "403", "422"} <= set(post["responses"])
    assert "404" in schema["paths"][requests_url + "/{request_id}"]["get"]["responses"]
    requester = schema["components"]["schemas"]["RequesterIn"]
    assert requester["properties"]["email"]["format"] == "email" and requester["additionalProperties"] is False
    assert schema["components"]["schemas"]["SubjectRequestIn"]["properties"]["kind"]["allOf"] == [
        {"$ref": "#/components/schemas/RequestKind"}
    ]
    kinds = set(schema["components"]["schemas"]["RequestKind"]["enum"])
    assert kinds == {"access", "erasure", "rectification", "restriction", "objection", "portability", "complaint"}
