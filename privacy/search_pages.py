"""The DPO's search pages: find a person (customer or staff member) by email, phone, reference or name; see
everything held about them through the data map; hold or release their records; scan comments by other people
for mentions of them and review what the scan flags. Only the dpo role reaches them.

The identifier is posted, never put in a URL (addresses end up in access logs and browser history): the answer
to the search redirects to the person's page by their id. Opening a person's page is audited.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import record
from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.errors import CivicVoiceError, NotFound
from civicvoice.core.http import acting_staff, form_values, service, staff_template
from civicvoice.core.services import Extensions
from privacy.access import gather
from privacy.exceptions import KeyDestroyed
from privacy.holds import HOLD_KINDS, LEGAL_HOLDS, DpoHold, LegalHoldSource, add_hold, all_holds, holds_of, release_hold
from privacy.mentions import OUTCOMES, MentionScan, hits_of, review_hit, scans_for, start_scan
from privacy.models import DataSubject
from privacy.requests import find_request
from privacy.search import (
    QUERY_FIELDS,
    Query,
    find_staff,
    find_subjects,
    gather_staff,
    jsonable,
    shown,
    subject_summary,
)
from privacy.vault import Vault

DPO = Access.staff("dpo")
# A subject request's reference (SR-2026-0A1B2C), carried from its page to the person's so a scan belongs to it.
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,20}")
ROWS_SHOWN = 50
FIELD_LABELS = {
    "email": "Email address",
    "phone": "Phone number",
    "ref": "Reference in a contact system (SOURCE:ID)",
    "name": "Full name",
    "staff": "Staff member's email address",
}


def _errors(exc: CivicVoiceError, default_field: str) -> list[dict[str, str]]:
    return [
        {
            "field": exc.field if exc.field in ("value", "field", "kind", "reason", "outcome") else default_field,
            "message": exc.detail,
        }
    ]


def _sources(request: Request[Any, Any, Any]) -> tuple[LegalHoldSource, ...]:
    extensions: Extensions = request.app.state.extensions
    return extensions.items(LEGAL_HOLDS)


async def _scans(session: AsyncSession, vault: Vault, scans: list[MentionScan]) -> list[dict[str, Any]]:
    return [{"scan": scan, "hits": await hits_of(session, vault, scan.id)} for scan in scans]


class PrivacySearchPages(Controller):
    path = "/staff/privacy"
    include_in_schema = False
    opt = DPO.opt()

    @get("/search")
    async def search_form(self, request: Request[Any, Any, Any]) -> Template:
        return self._form(request, {}, [])

    def _form(
        self,
        request: Request[Any, Any, Any],
        values: dict[str, str],
        errors: list[dict[str, str]],
        *,
        candidates: list[dict[str, Any]] | None = None,
        status_code: int = 200,
    ) -> Template:
        return staff_template(
            request,
            "privacy/search.html.j2",
            status_code=status_code,
            fields=[(f, FIELD_LABELS[f]) for f in QUERY_FIELDS],
            values=values,
            errors=errors,
            candidates=candidates,
        )

    @post("/search", status_code=303)
    async def search(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request)
        values = {"field": form.get("field", ""), "value": form.get("value", "")[:300]}
        try:
            query = Query.parse(values["field"], values["value"])
        except CivicVoiceError as exc:
            return self._form(request, values, _errors(exc, "value"), status_code=422)
        suffix = f"?request={form['request']}" if _REFERENCE.fullmatch(form.get("request", "")) else ""
        if query.field == "staff":
            user = await find_staff(db_session, query)
            if user is None:
                return self._form(request, values, [{"field": "value", "message": "No staff account has that email."}])
            return Redirect(f"/staff/privacy/staff/{user.id}", status_code=303)
        vault = service(request, Vault)
        people = await find_subjects(db_session, vault, query)
        if not people:
            message = "No one matches that (or they were erased)."
            return self._form(request, values, [{"field": "value", "message": message}])
        if len(people) == 1:
            return Redirect(f"/staff/privacy/people/{people[0]}{suffix}", status_code=303)
        record(db_session, acting_staff(request), "privacy.find", detail={"candidates": len(people)})
        candidates = [await subject_summary(db_session, vault, p) for p in people]
        return self._form(request, values, [], candidates=candidates)

    # --- a customer ----------------------------------------------------------------------------------------

    @get("/people/{subject_id:uuid}")
    async def person(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        subject_id: FromPath[uuid.UUID],
    ) -> Template:
        return await self._person_page(request, db_session, subject_id, [])

    async def _person_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        subject_id: uuid.UUID,
        errors: list[dict[str, str]],
        status_code: int = 200,
    ) -> Template:
        vault = service(request, Vault)
        person = await session.get(DataSubject, subject_id)
        if person is None:
            raise NotFound("No person with that id.", field="id")
        found = None
        if person.erased_at is None:
            try:
                found = await gather(session, vault, subject_id)
            except KeyDestroyed:
                found = None
        record(session, acting_staff(request), "privacy.find", target_kind="data_subject", target_id=subject_id)
        reference = request.query_params.get("request", "")
        return staff_template(
            request,
            "privacy/person.html.j2",
            status_code=status_code,
            person=person,
            found=found,
            sections=[
                (s.table, s.entry, [jsonable(r) for r in s.rows[:ROWS_SHOWN]], len(s.rows))
                for s in (found.sections if found else [])
            ],
            holds=await holds_of(session, subject_id, _sources(request)),
            hold_kinds=HOLD_KINDS,
            scans=await _scans(session, vault, await scans_for(session, subject_id=subject_id)),
            outcomes=OUTCOMES,
            request_reference=reference if _REFERENCE.fullmatch(reference) else "",
            back=f"/staff/privacy/people/{subject_id}",
            errors=errors,
        )

    @post("/people/{subject_id:uuid}/mentions", status_code=303)
    async def scan_person(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        subject_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        target = subject_id
        form = await form_values(request)
        request_id = None
        if form.get("request", "").strip():
            request_id = (await find_request(db_session, form["request"].strip())).id
        try:
            await start_scan(db_session, actor=acting_staff(request), subject_id=target, request_id=request_id)
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._person_page(request, db_session, target, _errors(exc, "mentions"), 409)
        return Redirect(f"/staff/privacy/people/{target}", status_code=303)

    @post("/people/{subject_id:uuid}/holds", status_code=303)
    async def hold_person(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        subject_id: FromPath[uuid.UUID],
    ) -> Template | Redirect:
        target = subject_id
        form = await form_values(request)
        try:
            await add_hold(
                db_session,
                target,
                kind=form.get("kind", ""),
                reason=form.get("reason", ""),
                actor=acting_staff(request),
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            status = exc.status if 400 <= exc.status < 500 else 422
            return await self._person_page(request, db_session, target, _errors(exc, "reason"), status)
        return Redirect(f"/staff/privacy/people/{target}", status_code=303)

    # --- a staff member ------------------------------------------------------------------------------------

    @get("/staff/{staff_id:uuid}")
    async def staff_member(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], staff_id: FromPath[uuid.UUID]
    ) -> Template:
        return await self._staff_page(request, db_session, staff_id, [])

    async def _staff_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        staff_id: uuid.UUID,
        errors: list[dict[str, str]],
        status_code: int = 200,
    ) -> Template:
        user = await session.get(StaffUser, staff_id)
        if user is None:
            raise NotFound("No staff member with that id.", field="id")
        found = await gather_staff(session, user, cap=ROWS_SHOWN)
        record(session, acting_staff(request), "privacy.find", target_kind="staff_user", target_id=staff_id)
        return staff_template(
            request,
            "privacy/staff_member.html.j2",
            status_code=status_code,
            staff=found,
            sections=[(s.table, s.entry, [jsonable(shown(r)) for r in s.rows], s.total) for s in found.sections],
            scans=await _scans(session, service(request, Vault), await scans_for(session, staff_user_id=staff_id)),
            outcomes=OUTCOMES,
            back=f"/staff/privacy/staff/{staff_id}",
            errors=errors,
        )

    @post("/staff/{staff_id:uuid}/mentions", status_code=303)
    async def scan_staff(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], staff_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await start_scan(db_session, actor=acting_staff(request), staff_user_id=staff_id)
        return Redirect(f"/staff/privacy/staff/{staff_id}", status_code=303)

    # --- reviewing flagged comments -------------------------------------------------------------------------

    @post("/mentions/{hit_id:uuid}", status_code=303)
    async def review(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], hit_id: FromPath[uuid.UUID]
    ) -> Redirect:
        form = await form_values(request)
        hit = await review_hit(db_session, hit_id, form.get("outcome", ""), actor=acting_staff(request))
        scan = await db_session.get(MentionScan, hit.scan_id)
        assert scan is not None
        if scan.subject_id is not None:
            page = f"/staff/privacy/people/{scan.subject_id}"
        elif scan.staff_user_id is not None:
            page = f"/staff/privacy/staff/{scan.staff_user_id}"
        else:  # the person was erased since: nothing left to show
            page = "/staff/privacy/search"
        return Redirect(f"{page}#scan-{scan.id}", status_code=303)

    # --- legal holds ----------------------------------------------------------------------------------------

    @get("/holds")
    async def holds(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return staff_template(
            request, "privacy/holds.html.j2", holds=await all_holds(db_session, _sources(request)), kinds=HOLD_KINDS
        )

    @post("/holds/{hold_id:uuid}/release", status_code=303)
    async def release(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], hold_id: FromPath[uuid.UUID]
    ) -> Template | Redirect:
        key = hold_id
        form = await form_values(request)
        hold = await db_session.get(DpoHold, key)
        if hold is None:
            raise NotFound("No legal hold with that id.", field="hold")
        subject_id = hold.subject_id
        try:
            await release_hold(
                db_session, service(request, Vault), key, reason=form.get("reason", ""), actor=acting_staff(request)
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            status = exc.status if 400 <= exc.status < 500 else 422
            return await self._person_page(request, db_session, subject_id, _errors(exc, "reason"), status)
        return Redirect(f"/staff/privacy/people/{subject_id}", status_code=303)


PAGES = [PrivacySearchPages]
