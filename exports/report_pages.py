"""Staff pages of reports: the scorecard of a month as a workbook, downloaded from the scorecard dashboard by
anyone who may see the dashboard, with the figures they may see there; recorded and audited like any export."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.http import NO_STORE, acting_staff, service
from exports.scorecard_workbook import (
    MEDIA_TYPE,
    ScorecardBook,
    gather,
    record_scorecard_export,
    write_scorecard_workbook,
)
from feedback.scorecard.pages import VIEWERS, requested_month, viewer_services
from feedback.scorecard.service import Scorecard

SCORECARD_DOWNLOAD = "/staff/reports/scorecard"


def agent_of(viewer: StaffUser) -> str | None:
    """An agent sees their own figures only (as on the dashboard); without a reference, none at all."""
    return (viewer.agent_ref or "\x00none") if viewer.role == "agent" else None


def workbook_bytes(book: ScorecardBook) -> bytes:
    with tempfile.TemporaryFile(prefix="civicvoice-scorecard-") as spool:
        write_scorecard_workbook(spool, book)
        spool.seek(0)
        return spool.read()


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


PAGES = [ScorecardDownload]
