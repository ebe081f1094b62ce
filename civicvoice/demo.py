"""Demo data for a first run: the service catalogue, a published survey, an admin and an API key. Loaded once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.auth import create_api_key
from civicvoice.core.clock import utcnow
from civicvoice.staff.accounts import create_staff_user
from surveys.catalogue import POST_CONTACT_CHANNELS, POST_CONTACT_SURVEY, SERVICE_CATALOGUE
from surveys.controllers import CONTACTS_WRITE
from surveys.models import InvitationPolicyRecord, Service, ServiceGroup, Survey
from surveys.rules import InvitationPolicy
from surveys.versions import add_draft, publish

DEMO_ADMIN_EMAIL = "admin@example.gov.uk"
# The contact systems the demo key reports for (the README's example uses crm).
DEMO_SOURCES = ("crm", "telephony", "webchat")


@dataclass(frozen=True)
class DemoLogin:
    admin_email: str
    admin_password: str
    api_key: str


async def load_catalogue(session: AsyncSession) -> None:
    for position, (group_slug, group_name, services) in enumerate(SERVICE_CATALOGUE):
        group = ServiceGroup(slug=group_slug, name=group_name, position=position)
        session.add(group)
        for slug, name, excluded in services:
            session.add(
                Service(
                    group_id=group.id,
                    slug=slug,
                    name=name,
                    survey_excluded=excluded is not None,
                    exclusion_reason=excluded,
                    active=True,
                )
            )
    survey = Survey(
        slug="post-contact",
        name="Post-contact satisfaction",
        is_post_contact_default=True,
        channels=list(POST_CONTACT_CHANNELS),
    )
    session.add(survey)
    await publish(session, (await add_draft(session, survey.id, POST_CONTACT_SURVEY)).id)


async def load_demo(session: AsyncSession) -> DemoLogin | None:
    """Load the demo once; returns the one-time credentials, or None if the demo is already there."""
    if await session.scalar(select(func.count()).select_from(ServiceGroup)):
        return None
    await load_catalogue(session)
    # The demo invites every new contact at once, so a first run shows the whole loop.
    session.add(InvitationPolicyRecord(name="default", settings=InvitationPolicy.demo().to_dict(), updated_at=utcnow()))
    password = secrets.token_urlsafe(12)
    await create_staff_user(
        session,
        email=DEMO_ADMIN_EMAIL,
        display_name="Demo administrator",
        password=password,
        role="admin",
        actor=Actor.cli(),
    )
    issued = await create_api_key(
        session,
        name="Demo contact system",
        scopes=[CONTACTS_WRITE],
        known_scopes=[CONTACTS_WRITE],
        actor=Actor.cli(),
        sources=DEMO_SOURCES,
    )
    return DemoLogin(DEMO_ADMIN_EMAIL, password, issued.secret)
