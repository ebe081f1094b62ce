"""Pages of the service itself: the home page, the privacy notice and the accessibility statement."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from civicvoice.core.auth import Access


class InformationPages(Controller):
    path = "/"
    include_in_schema = False
    opt = Access.public().opt()

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        sign_in = "/staff/sign-in" if any(r.path == "/staff/sign-in" for r in request.app.routes) else None
        return Template(
            template_name="pages/home.html.j2",
            context={"page_title": "Customer feedback", "staff_sign_in_url": sign_in},
        )

    @get("/privacy")
    async def privacy_notice(self) -> Template:
        return Template(template_name="pages/privacy.html.j2", context={"page_title": "Privacy notice"})

    @get("/accessibility")
    async def accessibility_statement(self) -> Template:
        return Template(template_name="pages/accessibility.html.j2", context={"page_title": "Accessibility statement"})
