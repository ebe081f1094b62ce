"""The administrator's jobs page: dead jobs (or any state) with their scrubbed last error, and a retry button."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from civicvoice.core.auth import Access
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import NO_STORE
from civicvoice.core.jobs import DEAD, STATES, list_jobs, retry_job
from civicvoice.staff.accounts import staff_actor
from civicvoice.staff.web import current_user, staff_context


class JobPages(Controller):
    path = "/staff/jobs"
    include_in_schema = False
    opt = Access.staff("admin").opt()

    @get("/")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        shown: Annotated[str | None, QueryParameter(name="state", required=False)] = None,
    ) -> Template:
        return await self._page(request, shown or DEAD, done=request.query_params.get("done"))

    async def _page(
        self, request: Request[Any, Any, Any], state: str, *, done: str | None = None, error: str | None = None
    ) -> Template:
        chosen = state if state in STATES else DEAD
        async with request.app.state.sessions() as session:
            jobs = await list_jobs(session, state=chosen, limit=200)
        return Template(
            template_name="staff/jobs.html.j2",
            context=staff_context(request, jobs=jobs, state=chosen, states=STATES, done=done, error=error),
            status_code=400 if error or state not in STATES else 200,
            headers=NO_STORE,
        )

    @post("/{job_id:uuid}/retry", status_code=303)
    async def retry(self, request: Request[Any, Any, Any], job_id: FromPath[uuid.UUID]) -> Template | Redirect:
        try:
            async with unit_of_work(request.app.state.sessions) as session:
                await retry_job(session, request.app.state.jobs, job_id, actor=staff_actor(current_user(request)))
        except CivicVoiceError as exc:
            return await self._page(request, DEAD, error=exc.detail)
        return Redirect("/staff/jobs?done=retried", status_code=303)


JOB_PAGES = [JobPages]
