"""HTTP API for systems that hold scorecard measures (workforce, ICT monitoring, service-request systems): post a
month's figure for a service and team. Staff figures are team totals; there is no field for a person."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import API_KEY_SECURITY, Access
from civicvoice.core.http import problem_responses
from feedback.scorecard.entries import ENTERED_SLUGS, enter_figure, parse_month, service_by_slug, shown_value
from surveys.controllers import api_principal, strictly
from surveys.schemas import Slug, Source

SCORECARD_WRITE: Final = "scorecard:write"
API_SCOPES: Final = {SCORECARD_WRITE: "Post monthly figures of scorecard measures other systems hold"}

_END = r"(?![\s\S])"
Month = Annotated[str, Meta(pattern=rf"^[0-9]{{4}}-[0-9]{{2}}{_END}", description="The month, YYYY-MM.")]
Team = Annotated[
    str,
    Meta(
        max_length=100,
        pattern=rf"^[A-Za-z0-9 .&'()/_\-]*{_END}",
        description="The team the figure is for ('' for the whole service).",
    ),
]
MeasureSlug = Annotated[
    str,
    Meta(
        max_length=64,
        pattern=rf"^({'|'.join(ENTERED_SLUGS)}){_END}",
        description="One of the measures entered from other systems.",
    ),
]


class FigureIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A month's figure: percentages as 0-100, hours, days or a whole count as the measure says."""

    source: Source
    month: Month
    service: Slug
    measure: MeasureSlug
    value: Annotated[float, Meta(ge=0, le=1_000_000)]
    team: Team = ""


class FigureOut(msgspec.Struct):
    id: str
    month: str
    service: str
    team: str
    measure: str
    value: float
    source: str


class ScorecardFigureController(Controller):
    path = "/api/v1/scorecard/figures"
    tags = ["Scorecard"]  # noqa: RUF012 - Litestar's own attribute
    security = API_KEY_SECURITY
    opt = Access.api(SCORECARD_WRITE).opt()

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 401, 403, 404, 413, 422),
        summary="Post a month's figure of a scorecard measure",
        description=(
            "Stores (or corrects) a month's figure for a service and team, from the system named in `source`; the "
            "API key must be bound to that source (403 otherwise). Staff figures such as sickness days are team "
            "totals, never a person's. An unknown service is a 404; a percentage over 100 or a fractional count "
            "a 422."
        ),
    )
    async def post_figure(
        self,
        request: Request,  # type: ignore[type-arg]
        data: JSONBody[FigureIn],
        db_session: NamedDependency[AsyncSession],
    ) -> FigureOut:
        figure = await strictly(request, FigureIn)
        principal = api_principal(request)
        principal.require_source(figure.source)
        month: date = parse_month(figure.month)
        found = await service_by_slug(db_session, figure.service)
        row = await enter_figure(
            db_session,
            month=month,
            service_id=found.id,
            team=figure.team,
            slug=figure.measure,
            value=figure.value,
            source=figure.source,
            entered_by=f"api_key:{principal.prefix}",
            actor=principal.actor,
        )
        return FigureOut(
            str(row.id),
            f"{month:%Y-%m}",
            found.slug,
            row.team,
            row.measure,
            shown_value(row.measure, row.value),
            row.source,
        )


ROUTES = [ScorecardFigureController]
