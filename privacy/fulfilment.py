"""Carrying out a subject request: find the person it is about, then do what was asked (erase them, stop
surveying them for good, prepare their access package) and complete it, all in one transaction and audited.

What cannot be carried out automatically (rectification of fields only the requester can give, a complaint)
is completed by the DPO by hand with a note; the page says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import Conflict, InvalidInput
from civicvoice.core.settings import Settings
from privacy.access import prepare
from privacy.blind_index import normalise_email, normalise_phone
from privacy.deadlines import WorkingCalendar
from privacy.erasure import erase
from privacy.exceptions import InvalidIdentifier, KeyDestroyed
from privacy.holds import LegalHoldSource
from privacy.models import DataSubject
from privacy.request_states import RequestKind, RequestState
from privacy.requests import SubjectRequest, move, requester_of
from privacy.vault import IdentityClaim, Vault

# What civicvoice does itself when a request of this kind is carried out.
AUTOMATIC = frozenset({RequestKind.erasure, RequestKind.objection, RequestKind.access, RequestKind.portability})


class NotLinked(Conflict):
    slug = "request-not-linked"
    title = "The request is not linked to a person"


def _claims(email: str | None, phone: str | None) -> list[IdentityClaim]:
    claims = []
    try:
        if email:
            claims.append(IdentityClaim(email=normalise_email(email)))
        if phone:
            claims.append(IdentityClaim(phone=normalise_phone(phone)))
    except InvalidIdentifier:
        pass  # an address the requester gave that we could never have stored finds no one
    return claims


async def link_person(
    session: AsyncSession, vault: Vault, request: SubjectRequest, *, actor: Actor
) -> uuid.UUID | None:
    """Find the person the request is about from the requester's email and phone; link them when exactly one
    record matches (two different records is a conflict for the DPO to resolve by hand)."""
    requester = await requester_of(session, vault, request)
    if requester is None:
        return None
    found: set[uuid.UUID] = set()
    for claim in _claims(requester.email, requester.phone):
        found.update((await vault.find(session, claim)).values())
    if len(found) == 1:
        request.subject_id = found.pop()
        detail = {"reference": request.reference}
        record(
            session, actor, "privacy.request.link", target_kind="subject_request", target_id=request.id, detail=detail
        )
        return request.subject_id
    return None


@dataclass(frozen=True)
class Fulfilment:
    did: str
    package_id: uuid.UUID | None = None


async def fulfil(
    session: AsyncSession,
    vault: Vault,
    calendar: WorkingCalendar,
    settings: Settings,
    request: SubjectRequest,
    *,
    actor: Actor,
    holds: Iterable[LegalHoldSource],
) -> Fulfilment:
    """Do what the request asks and complete it; refused with the reason when it cannot be done."""
    kind = RequestKind(request.kind)
    state = RequestState(request.state)
    if state not in (RequestState.in_progress, RequestState.extended):
        raise InvalidInput(f"Only a request in progress can be carried out; this one is {state.label.lower()}.")
    if kind not in AUTOMATIC:
        raise InvalidInput(f"A {kind.label.lower()} request is carried out by hand: complete it with a note.")
    subject_id = request.subject_id or await link_person(session, vault, request, actor=actor)
    if subject_id is None:
        raise NotLinked(
            "No single record matches the requester's email or phone. Find the person with 'civicvoice privacy "
            "find' and check; if we hold nothing about them, complete the request saying so."
        )
    package_id = None
    if kind is RequestKind.erasure:
        await erase(session, settings, subject_id, actor=actor, holds=holds, request_id=request.id)
        did = "Erased: their data key is destroyed and their records are being purged."
    elif kind is RequestKind.objection:
        await _object(session, vault, subject_id)
        did = "They will never be surveyed again, on any channel; the objection outlives any erasure."
    else:
        try:
            prepared = await prepare(session, settings, vault, subject_id, actor=actor, request_id=request.id)
        except KeyDestroyed:
            raise Conflict("This person has been erased: there is nothing to give them.") from None
        package_id = prepared.package.id
        did = "Their package is ready to download for 30 days" + (
            f"; {len(prepared.flagged)} comment(s) may name others: review before release." if prepared.flagged else "."
        )
    await move(session, vault, calendar, request, RequestState.completed, actor=actor, reason=did)
    return Fulfilment(did, package_id)


async def _object(session: AsyncSession, vault: Vault, subject_id: uuid.UUID) -> None:
    """Art. 21: the person goes on the suppression list (every identifier we hold) and is opted out."""
    subject = await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update())
    if subject is None:
        return
    subject.opted_out_at = subject.opted_out_at or utcnow()
    try:
        identity = await vault.identity(session, subject)
    except KeyDestroyed:
        return
    for email in identity.emails:
        await vault.suppress(session, IdentityClaim(email=email), reason="objection")
    for phone in identity.phones:
        await vault.suppress(session, IdentityClaim(phone=phone), reason="objection")
