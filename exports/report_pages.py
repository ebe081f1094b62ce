"""Staff pages of reports: the scorecard of a month as a workbook, downloaded from the scorecard dashboard by
anyone who may see the dashboard, with the figures they may see there (recorded and audited like any export);
and the scorecard by email, which a member of staff subscribes to, changes or stops here."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Response, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template
from exports.models import ReportDelivery, ReportDeliveryMode, ReportDeliveryState, ReportFrequency
from exports.reports import REPORT_ROLES, subscribe, subscription_of, unsubscribe
from exports.scorecard_workbook import (
    MEDIA_TYPE,
    SCORECARD_DOWNLOAD,
    gather,
    record_scorecard_export,
    workbook_bytes,
)
from feedback.scorecard.pages import VIEWERS, requested_month, viewer_services
from feedback.scorecard.service import Scorecard


def agent_of(viewer: StaffUser) -> str | None:
    """An agent sees their own figures only (as on the dashboard); without a reference, none at all."""
    return (viewer.agent_ref or "\x00none") if viewer.role == "agent" else None


class ScorecardDownload(Controller):
    path = SCORECARD_DOWNLOAD
    include_in_schema = False
    opt = Access.staff(*VIEWERS).opt()

    @get("/")
    async def download(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[bytes]:
        viewer: StaffUser = request.state.staff_user
        month = requested_month({"month": str(request.query_params.get("month", ""))[:20]})
        book = await gather(
            db_session,
            service(request, Scorecard),
            month,
            within=await viewer_services(db_session, viewer),
            agent_ref=agent_of(viewer),
            created_by=viewer.display_name,
            created_at=utcnow(),
        )
        content = await asyncio.to_thread(workbook_bytes, book)
        record_scorecard_export(db_session, acting_staff(request), book, how="staff download")
        return Response(
            content,
            media_type=MEDIA_TYPE,
            headers={"content-disposition": f'attachment; filename="{book.file_name}"', **NO_STORE},
        )


SUBSCRIPTION_PAGE: Final = "/staff/reports/subscription"
FREQUENCIES: Final = {
    ReportFrequency.monthly.value: ("Monthly", "On the 1st, the scorecard of the month just ended."),
    ReportFrequency.weekly.value: ("Weekly", "Each Monday, the scorecard of the month so far."),
}
MODES: Final = {
    ReportDeliveryMode.attachment.value: ("The spreadsheet attached", "The workbook comes with the email."),
    ReportDeliveryMode.link.value: ("A link to the spreadsheet", "You sign in to download it."),
}
STATES: Final = {
    ReportDeliveryState.queued.value: "Being sent",
    ReportDeliveryState.sent.value: "Sent",
    ReportDeliveryState.skipped.value: "Not sent: your account could not see the scorecard then",
    ReportDeliveryState.failed.value: "Not sent: the mail server refused it",
}
SAVED: Final = {
    "subscribed": "You will receive the scorecard by email.",
    "changed": "Your choice is saved.",
    "stopped": "You will no longer receive the scorecard by email.",
}


class ReportSubscriptionPages(Controller):
    path = SUBSCRIPTION_PAGE
    include_in_schema = False
    opt = Access.staff(*REPORT_ROLES).opt()

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        *,
        values: dict[str, str] | None = None,
        errors: list[dict[str, str]] | None = None,
        status_code: int = 200,
    ) -> Template:
        viewer: StaffUser = request.state.staff_user
        found = await subscription_of(session, viewer)
        deliveries = []
        if found is not None:
            deliveries = list(
                (
                    await session.scalars(
                        select(ReportDelivery)
                        .where(ReportDelivery.subscription_id == found.id)
                        .order_by(ReportDelivery.created_at.desc())
                        .limit(12)
                    )
                ).all()
            )
        current = {"frequency": found.frequency, "delivery": found.delivery} if found else {}
        return staff_template(
            request,
            "exports/report_subscription.html.j2",
            status_code=status_code,
            subscription=found,
            values=values if values is not None else current,
            errors=errors or [],
            deliveries=deliveries,
            frequencies=FREQUENCIES,
            modes=MODES,
            states=STATES,
            local=lambda moment: moment.astimezone(LONDON),
            saved=SAVED.get(str(request.query_params.get("saved", ""))),
        )

    @get("/")
    async def form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._page(request, db_session)

    @post("/", status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        values = await form_values(request, limit=20)
        viewer: StaffUser = request.state.staff_user
        had = await subscription_of(db_session, viewer)
        try:
            await subscribe(
                db_session,
                viewer,
                frequency=values.get("frequency", ""),
                delivery=values.get("delivery", ""),
                actor=acting_staff(request),
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            errors = [{"field": exc.field or "frequency", "message": exc.detail}]
            return await self._page(request, db_session, values=values, errors=errors, status_code=exc.status)
        return Redirect(f"{self.path}?saved={'changed' if had else 'subscribed'}", status_code=303)

    @post("/stop", status_code=303)
    async def stop(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Redirect:
        await unsubscribe(db_session, request.state.staff_user, actor=acting_staff(request))
        return Redirect(f"{self.path}?saved=stopped", status_code=303)


PAGES = [ScorecardDownload, ReportSubscriptionPages]
