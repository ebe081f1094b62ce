"""Staff pages of the paper channel: the print queue (download a batch of letters as one PDF, which marks them
sent), the reminders due (printed the same way, once per letter), a printed letter as print-ready HTML, and
keying in a returned form against its reference."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor
from civicvoice.core.auth import Access
from civicvoice.core.clock import LONDON
from civicvoice.core.errors import CivicVoiceError, InvalidInput
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template
from surveys.channels.paper import LETTER_CSP, letter_html
from surveys.letter_references import ReferenceProblem, printed, read_reference
from surveys.letters import BATCH_LIMIT, AlreadyKeyed, LetterPrinting, PrintedBatch, ReturnForm
from surveys.responses import InvalidAnswers

LETTER_ROLES = ("quality_reviewer", "admin")
PDF = "application/pdf"


def _errors(exc: CivicVoiceError) -> list[dict[str, str]]:
    if isinstance(exc, InvalidAnswers):
        return [{"key": problem.key, "message": problem.message} for problem in exc.checked.problems]
    return [{"key": exc.field or "reference", "message": exc.detail}]


def _pdf(content: bytes, filename: str) -> Response[bytes]:
    return Response(
        content, media_type=PDF, headers={"content-disposition": f'attachment; filename="{filename}"', **NO_STORE}
    )


class LetterPages(Controller):
    path = "/staff/letters"
    include_in_schema = False
    opt = Access.staff(*LETTER_ROLES).opt()

    async def _queue_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        errors: list[dict[str, str]] | None = None,
        limit: str = "100",
        status_code: int = 200,
    ) -> Template:
        printing = service(request, LetterPrinting)
        return staff_template(
            request,
            "letters/queue.html.j2",
            status_code=status_code,
            lines=await printing.queue(session),
            reminders=sum(line.due for line in await printing.reminders_due(session)),
            batches=await printing.batches(session),
            errors=errors or [],
            limit=limit,
            batch_limit=BATCH_LIMIT,
            london=LONDON,
        )

    @get("/")
    async def print_queue(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._queue_page(request, db_session)

    @post("/batches", status_code=200)
    async def print_batch(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes] | Template:
        """Print the letters that are due: one PDF to download; they are marked sent in the same transaction."""
        return await self._print_due(
            request,
            db_session,
            noun="letters",
            run=lambda printing, actor, limit: printing.print_batch(db_session, actor=actor, limit=limit),
            page=self._queue_page,
            none_printed="None of the {count} letters due could be printed: their people opted out, were erased or "
            "restricted, or the survey closed.",
        )

    async def _print_due(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        *,
        noun: str,
        run: Callable[[LetterPrinting, Actor, int], Awaitable[PrintedBatch]],
        page: Callable[..., Awaitable[Template]],
        none_printed: str,
    ) -> Response[bytes] | Template:
        """Print up to the posted number of what is due (letters or reminders) as one PDF to download; a bad number
        or a refusal shows the page again with the problem, and a batch of which nothing could be printed says why
        (the states it changed at print time are saved)."""
        form = await form_values(request)
        raw = form.get("limit", "").strip()
        try:
            if not raw.isdigit() or len(raw) > 4:
                raise InvalidInput(
                    f"Enter how many {noun} to print, a whole number from 1 to {BATCH_LIMIT}.", field="limit"
                )
            batch = await run(service(request, LetterPrinting), acting_staff(request), int(raw))
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await page(request, db_session, errors=_errors(exc), limit=raw[:4], status_code=exc.status)
        if not batch.letters:
            message = none_printed.format(count=batch.not_printed)
            return await page(request, db_session, errors=[{"key": "limit", "message": message}], limit=raw)
        stamp = batch.printed_at.astimezone(LONDON).strftime("%Y%m%d-%H%M")
        return _pdf(batch.pdf, f"{noun}-{stamp}-{batch.letters}.pdf")

    # --- reminder letters ----------------------------------------------------------------------------------

    async def _reminders_page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        errors: list[dict[str, str]] | None = None,
        limit: str = "100",
        status_code: int = 200,
    ) -> Template:
        printing = service(request, LetterPrinting)
        return staff_template(
            request,
            "letters/reminders.html.j2",
            status_code=status_code,
            lines=await printing.reminders_due(session),
            reminder_days=printing.reminder_after.days,
            errors=errors or [],
            limit=limit,
            batch_limit=BATCH_LIMIT,
            london=LONDON,
        )

    @get("/reminders")
    async def reminders(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        """Reminders due: letters printed a while ago and not answered, each due one reminder letter."""
        return await self._reminders_page(request, db_session)

    @post("/reminders", status_code=200)
    async def print_reminders(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes] | Template:
        """Print the reminders that are due: one PDF to download; each is recorded on its invitation's timeline."""
        return await self._print_due(
            request,
            db_session,
            noun="reminders",
            run=lambda printing, actor, limit: printing.print_reminders(db_session, actor=actor, limit=limit),
            page=self._reminders_page,
            none_printed="None of the {count} reminders due could be printed: their people opted out, were erased "
            "or restricted. Their reminders are called off.",
        )

    @get("/batches/{batch_id:uuid}/pdf")
    async def reprint_batch(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], batch_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        batch, pdf = await service(request, LetterPrinting).reprint(db_session, batch_id, actor=acting_staff(request))
        stamp = batch.printed_at.astimezone(LONDON).strftime("%Y%m%d-%H%M")
        return _pdf(pdf, f"{'reminders' if batch.reminders else 'letters'}-{stamp}-reprint.pdf")

    @get("/letter/{reference:str}")
    async def letter(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Response[str]:
        """One printed letter as a print-ready HTML page, to print again from the browser."""
        found = await service(request, LetterPrinting).letter(db_session, reference, actor=acting_staff(request))
        return Response(
            letter_html(found),
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": LETTER_CSP, **NO_STORE},
        )

    # --- paper returns -----------------------------------------------------------------------------------

    async def _return_page(
        self,
        request: Request[Any, Any, Any],
        *,
        found: ReturnForm | None = None,
        reference: str = "",
        values: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        done: str = "",
        status_code: int = 200,
    ) -> Template:
        return staff_template(
            request,
            "letters/return.html.j2",
            status_code=status_code,
            found=found,
            reference=reference,
            printed_reference=printed(found.reference) if found else "",
            values=values or {},
            errors=errors or [],
            done=done,
            london=LONDON,
        )

    @get("/returns")
    async def find_return(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        reference: Annotated[str | None, QueryParameter(name="reference")] = None,
        done: Annotated[str | None, QueryParameter(name="done")] = None,
    ) -> Template:
        """Key in a returned form: the reference first (a GET: finding changes nothing), then its answers."""
        if reference is None:
            return await self._return_page(request, done=_confirmed(done))
        try:
            found = await service(request, LetterPrinting).return_form(db_session, reference[:40])
        except CivicVoiceError as exc:
            return await self._return_page(
                request, reference=reference[:40], errors=_errors(exc), status_code=exc.status
            )
        return await self._return_page(request, found=found, reference=found.reference)

    @post("/returns/{reference:str}", status_code=303)
    async def key_in_return(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], reference: FromPath[str]
    ) -> Template | Redirect:
        printing = service(request, LetterPrinting)
        form = await form_values(request, limit=4000)
        answers = {key: value for key, value in form.items() if key != "csrf_token"}
        try:
            try:
                await printing.key_in(db_session, reference, answers, actor=acting_staff(request))
            except IntegrityError:
                # Two people keyed the same form at the same moment (SQLite takes no row lock): one is kept.
                raise AlreadyKeyed("These answers were recorded a moment ago: put this copy aside.") from None
        except CivicVoiceError as exc:
            await db_session.rollback()
            try:
                found = await printing.return_form(db_session, reference)
            except CivicVoiceError:
                found = None  # the reference itself is the problem: back to the reference form
            return await self._return_page(
                request,
                found=found,
                reference=reference[:40],
                values=answers,
                errors=_errors(exc),
                status_code=exc.status if exc.status != 400 else 422,
            )
        return Redirect(f"/staff/letters/returns?done={read_reference(reference)}", status_code=303)


def _confirmed(done: str | None) -> str:
    """The reference just keyed in, as printed, for the confirmation banner (nothing for anything else)."""
    try:
        return printed(read_reference(done[:40])) if done else ""
    except ReferenceProblem:
        return ""
