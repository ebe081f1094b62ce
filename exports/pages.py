"""Staff pages for exports and imports.

Exports: choose a dataset, a format and the filters the staff screens use; pseudonymised by default. The
identified form (comments as written) is a separate page for the roles allowed it and needs a reason. A small
export is sent at once; a large one is built in the background, its page showing progress (it refreshes itself,
no JavaScript needed) and then a download link, for the member of staff who asked, until the file expires.

Imports: an administrator uploads contact events as XLSX or CSV; a service manager (their services) or an
administrator uploads monthly scorecard figures. Each page reports every rejected row.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Response, Stream, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.audit import record
from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.clock import LONDON
from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotFound
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template
from civicvoice.core.settings import Settings
from exports.datasets import DATASETS, ExportFilter
from exports.figure_imports import import_figures, template_workbook
from exports.imports import MAX_FILE_BYTES, import_contacts
from exports.models import ExportRun, ExportState
from exports.runs import (
    DIRECT_ROWS,
    FILE_LIFETIME,
    filters_of,
    find_own_export,
    open_export,
    recent_exports,
    start_export,
    stream_export,
)
from feedback.inbox import visible_services
from feedback.scorecard.entries import ENTERED_SLUGS
from feedback.scorecard.measures import MEASURES
from feedback.scorecard.pages import MANAGERS, viewer_services
from privacy.vault import Vault
from surveys.intake import ContactIntake
from surveys.models import Service
from surveys.rules import ContactChannel, InvitationChannel

# Who may export (they see every service on the staff screens), and who may export comments as written.
EXPORT_ROLES = ("admin", "quality_reviewer", "dpo")
IDENTIFIED_ROLES = ("quality_reviewer", "dpo")
IMPORT_ROLES = ("admin",)
# Who may import scorecard figures: whoever may enter them by hand.
FIGURE_IMPORT_ROLES = MANAGERS

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHANNEL_LABELS = {
    InvitationChannel.email.value: "Email",
    InvitationChannel.sms.value: "Text message",
    InvitationChannel.ivr.value: "Phone keypad survey",
    InvitationChannel.chat.value: "Web chat survey",
    InvitationChannel.kiosk.value: "Kiosk",
    InvitationChannel.paper.value: "Paper",
    InvitationChannel.web_link.value: "Web link",
    ContactChannel.phone.value: "Phone (contacts)",
    ContactChannel.web_chat.value: "Web chat (contacts)",
    ContactChannel.web_form.value: "Web form (contacts)",
    ContactChannel.face_to_face.value: "Face to face (contacts)",
    ContactChannel.post.value: "Post (contacts)",
    ContactChannel.social.value: "Social media (contacts)",
}
STATES = {
    ExportState.streamed: "Downloaded",
    ExportState.queued: "Waiting to start",
    ExportState.running: "Being prepared",
    ExportState.ready: "Ready to download",
    ExportState.failed: "Failed",
    ExportState.expired: "File deleted",
}


def _local(moment: datetime) -> datetime:
    return moment.astimezone(LONDON)


def _errors(exc: CivicVoiceError) -> list[dict[str, str]]:
    return [{"field": exc.field or "dataset", "message": exc.detail}]


def _day(raw: str, name: str, label: str) -> date | None:
    if not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"Enter the {label} date as YYYY-MM-DD, for example 2026-11-30.", field=name) from None


def filters_from(form: dict[str, str]) -> ExportFilter:
    channel = form.get("channel", "").strip() or None
    if channel is not None and channel not in CHANNEL_LABELS:
        raise InvalidInput("Choose a channel from the list.", field="channel")
    service_slug = form.get("service", "").strip()[:64] or None
    found = ExportFilter(
        _day(form.get("from", ""), "from", "from"), _day(form.get("to", ""), "to", "to"), service_slug, channel
    )
    if found.date_from and found.date_to and found.date_to < found.date_from:
        raise InvalidInput("The 'to' date is before the 'from' date.", field="to")
    return found


def _download_headers(run: ExportRun) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{run.download_name}"', **NO_STORE}


async def _form_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    *,
    identified: bool,
    values: dict[str, str] | None = None,
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Template:
    viewer: StaffUser = request.state.staff_user
    datasets = [d for d in DATASETS.values() if d.identifiable or not identified]
    return staff_template(
        request,
        "exports/export_form.html.j2",
        status_code=status_code,
        identified=identified,
        datasets=datasets,
        services=await visible_services(session, viewer),
        channels=CHANNEL_LABELS,
        values=values or {"dataset": datasets[0].name, "format": "xlsx"},
        errors=errors or [],
        may_identify=viewer.role in IDENTIFIED_ROLES,
        recent=await recent_exports(session, acting_staff(request)),
        direct_rows=DIRECT_ROWS,
        states=STATES,
        local=_local,
        lifetime_hours=int(FILE_LIFETIME.total_seconds() // 3600),
    )


async def _start(
    request: Request[Any, Any, Any], session: AsyncSession, *, identified: bool
) -> Template | Redirect | Stream:
    form = await form_values(request)
    try:
        filters = filters_from(form)
        started = await start_export(
            session,
            service(request, Vault),
            form.get("dataset", ""),
            filters,
            kind=form.get("format", ""),
            actor=acting_staff(request),
            identified=identified,
            reason=form.get("reason") if identified else None,
        )
    except CivicVoiceError as exc:
        await session.rollback()
        return await _form_page(
            request, session, identified=identified, values=form, errors=_errors(exc), status_code=422
        )
    if started.background:
        return Redirect(f"/staff/exports/{started.run.id}", status_code=303)
    sessions: async_sessionmaker[AsyncSession] = service(request, async_sessionmaker)
    run = started.run
    return Stream(
        stream_export(sessions, service(request, Vault), run.id),
        media_type=MEDIA_TYPES[run.format],
        headers=_download_headers(run),
    )


class ExportPages(Controller):
    path = "/staff/exports"
    include_in_schema = False
    opt = Access.staff(*EXPORT_ROLES).opt()

    @get("/")
    async def export_form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await _form_page(request, db_session, identified=False)

    @post("/", status_code=200)
    async def run_export(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect | Stream:
        return await _start(request, db_session, identified=False)

    @get("/{export_id:uuid}")
    async def export_page(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], export_id: FromPath[uuid.UUID]
    ) -> Template:
        run = await find_own_export(db_session, export_id, acting_staff(request))
        if run.dataset not in DATASETS:
            # A scorecard workbook is recorded here too, but it is downloaded from the scorecard at once.
            raise NotFound("This export has no page: download the scorecard again from the scorecard page.")
        working = run.state in (ExportState.queued, ExportState.running)
        percent = None
        if working and run.expected_rows:
            percent = min(99, int(100 * run.rows / run.expected_rows))
        return staff_template(
            request,
            "exports/export.html.j2",
            run=run,
            dataset=DATASETS[run.dataset],
            working=working,
            percent=percent,
            filters=filters_of(run).describe(),
            states=STATES,
            local=_local,
        )

    @get("/{export_id:uuid}/download")
    async def download(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], export_id: FromPath[uuid.UUID]
    ) -> Stream:
        actor = acting_staff(request)
        run = await find_own_export(db_session, export_id, actor)
        chunks = open_export(service(request, Vault), service(request, Settings), run)
        record(db_session, actor, "exports.download", target_kind="export", target_id=run.id)
        return Stream(chunks, media_type=MEDIA_TYPES[run.format], headers=_download_headers(run))


class IdentifiedExportPages(Controller):
    """Comments as written: a separate permission, and a reason that is kept encrypted in the audit log."""

    path = "/staff/exports/identified"
    include_in_schema = False
    opt = Access.staff(*IDENTIFIED_ROLES).opt()

    @get("/")
    async def identified_form(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        return await _form_page(request, db_session, identified=True)

    @post("/", status_code=200)
    async def run_identified(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect | Stream:
        return await _start(request, db_session, identified=True)


class ContactImportPages(Controller):
    path = "/staff/imports/contacts"
    include_in_schema = False
    opt = Access.staff(*IMPORT_ROLES).opt()

    @get("/")
    async def import_form(self, request: Request[Any, Any, Any]) -> Template:
        return staff_template(
            request, "exports/import_form.html.j2", values={}, errors=[], max_mb=MAX_FILE_BYTES // (1024 * 1024)
        )

    @post("/", status_code=200, request_max_body_size=MAX_FILE_BYTES + 64 * 1024)
    async def import_file(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        form = await request.form()
        source = str(form.get("source", "")).strip()[:64] if isinstance(form.get("source"), str) else ""
        upload = form.get("file")
        values = {"source": source}
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("Choose an XLSX or CSV file to import.", field="file")
            content = await upload.read()
            report = await import_contacts(
                db_session, service(request, ContactIntake), content, source=source, actor=acting_staff(request)
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return staff_template(
                request,
                "exports/import_form.html.j2",
                status_code=exc.status if 400 <= exc.status < 500 else 422,
                values=values,
                errors=[{"field": exc.field or "file", "message": exc.detail}],
                max_mb=MAX_FILE_BYTES // (1024 * 1024),
            )
        return staff_template(request, "exports/import_report.html.j2", report=report, source=source)


async def _figure_services(session: AsyncSession, viewer: StaffUser) -> list[tuple[str, str]]:
    """(code, name) of the services a viewer may import figures for."""
    within = await viewer_services(session, viewer)
    query = select(Service.slug, Service.name).order_by(Service.name)
    if within is not None:
        query = query.where(Service.id.in_(within))
    return [(slug, name) for slug, name in (await session.execute(query)).tuples().all()]


async def _figure_form(
    request: Request[Any, Any, Any], session: AsyncSession, errors: list[dict[str, str]], status_code: int = 200
) -> Template:
    return staff_template(
        request,
        "exports/figure_import_form.html.j2",
        status_code=status_code,
        errors=errors,
        services=await _figure_services(session, request.state.staff_user),
        measures=[MEASURES[slug] for slug in ENTERED_SLUGS],
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
    )


class FigureImportPages(Controller):
    """Monthly figures of the measures other systems hold, from a spreadsheet (see exports.figure_imports)."""

    path = "/staff/imports/figures"
    include_in_schema = False
    opt = Access.staff(*FIGURE_IMPORT_ROLES).opt()

    @get("/")
    async def figure_form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await _figure_form(request, db_session, [])

    @get("/template.xlsx")
    async def figure_template(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        viewer: StaffUser = request.state.staff_user
        content = template_workbook(await _figure_services(db_session, viewer), created_by=viewer.display_name)
        return Response(
            content,
            media_type=MEDIA_TYPES["xlsx"],
            headers={**NO_STORE, "content-disposition": 'attachment; filename="scorecard-figures.xlsx"'},
        )

    @post("/", status_code=200, request_max_body_size=MAX_FILE_BYTES + 64 * 1024)
    async def import_figures_file(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template:
        form = await request.form()
        upload = form.get("file")
        try:
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("Choose an XLSX or CSV file to import.", field="file")
            content = await upload.read()
            report = await import_figures(
                db_session, content, importer=request.state.staff_user, actor=acting_staff(request)
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await _figure_form(
                request,
                db_session,
                [{"field": exc.field or "file", "message": exc.detail}],
                exc.status if 400 <= exc.status < 500 else 422,
            )
        return staff_template(request, "exports/figure_import_report.html.j2", report=report)


PAGES = [ExportPages, IdentifiedExportPages, ContactImportPages, FigureImportPages]
