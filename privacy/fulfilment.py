"""Carrying out a subject request: find the person it is about, then do what was asked (erase them, stop
surveying them for good, prepare their access or portability package, correct their details) and complete it,
all in one transaction and audited.

A restriction request restricts the person's processing as soon as it is linked to them, and the restriction
stands while the request is open: carrying it out only makes sure it is in place (it is lifted when the
request is completed, refused or withdrawn, or by the DPO). A complaint is handled by hand: acknowledged, then
completed with its outcome.
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
from privacy.rectification import Correction, rectify
from privacy.request_states import RequestKind, RequestState
from privacy.requests import SubjectRequest, move, record_step, requester_of
from privacy.restriction import restrict
from privacy.vault import IdentityClaim, Vault

# What civicvoice does itself when a request of this kind is carried out.
AUTOMATIC = frozenset(
    {
        RequestKind.erasure,
        RequestKind.objection,
        RequestKind.access,
        RequestKind.portability,
        RequestKind.rectification,
        RequestKind.restriction,
    }
)


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
        await restrict_while_open(session, vault, request, actor=actor)
        return request.subject_id
    return None


async def restrict_while_open(session: AsyncSession, vault: Vault, request: SubjectRequest, *, actor: Actor) -> bool:
    """An open restriction request linked to its person restricts their processing at once (Art. 18 applies
    while the request is considered); returns whether a restriction now stands for it."""
    if request.kind != RequestKind.restriction or request.subject_id is None or RequestState(request.state).closed:
        return False
    await restrict(session, request.subject_id, actor=actor, request_id=request.id)
    await record_step(session, vault, request, actor=actor, action="restricted")
    return True


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
    correction: Correction | None = None,
) -> Fulfilment:
    """Do what the request asks and complete it; refused with the reason when it cannot be done.

    A rectification needs the ``correction`` the DPO checked; a restriction is put in place and stays open
    (completing the request lifts it)."""
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
    if kind is RequestKind.restriction:
        await restrict_while_open(session, vault, request, actor=actor)
        return Fulfilment(
            "Processing is restricted: no invitations, no exports. Complete the request (or lift the restriction) "
            "when it ends, and tell them before it is lifted."
        )
    if kind is RequestKind.rectification:
        if correction is None or correction.is_empty:
            raise InvalidInput("Give the corrected name, email address or phone number.", field="name")
        try:
            changed = await rectify(session, vault, subject_id, correction, actor=actor, request_id=request.id)
        except KeyDestroyed:
            raise Conflict("This person has been erased: there is nothing to correct.") from None
        did = f"Corrected: {', '.join(changed)}." if changed else "Nothing needed correcting: the record was right."
        await record_step(session, vault, request, actor=actor, action="rectified", detail={"fields": changed})
        await move(session, vault, calendar, request, RequestState.completed, actor=actor, reason=did)
        return Fulfilment(did)
    if kind is RequestKind.erasure:
        await erase(session, settings, subject_id, actor=actor, holds=holds, request_id=request.id)
        did = "Erased: their data key is destroyed and their records are being purged."
    elif kind is RequestKind.objection:
        await _object(session, vault, subject_id)
        did = "They will never be surveyed again, on any channel; the objection outlives any erasure."
    else:
        portable = kind is RequestKind.portability
        try:
            prepared = await prepare(
                session, settings, vault, subject_id, actor=actor, request_id=request.id, portable=portable
            )
        except KeyDestroyed:
            raise Conflict("This person has been erased: there is nothing to give them.") from None
        package_id = prepared.package.id
        what = "Their machine-readable package (JSON and CSV)" if portable else "Their package"
        did = f"{what} is ready to download for 30 days" + (
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
