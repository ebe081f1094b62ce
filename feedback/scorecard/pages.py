"""Staff pages of the scorecard: the dashboard of a month and scope (read from rollups only), the records behind
each figure, figures entered from other systems, targets, and the service-level thresholds per channel. Every role
sees its own scope: service managers their services, quality reviewers and admins every service, agents their own
quality and satisfaction figures."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access, StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import acting_staff, form_values, service, staff_template
from civicvoice.core.services import ExtensionPoint, Extensions
from feedback.scorecard.charts import (
    STATUS_TEXT,
    Bar,
    Chart,
    LineSeries,
    Tile,
    bar_chart,
    format_change,
    format_value,
    line_chart,
    rag_tiles,
)
from feedback.scorecard.entries import (
    ENTERED_SLUGS,
    EntryInputError,
    enter_figure,
    parse_month,
    require_within,
    service_by_slug,
    set_target,
)
from feedback.scorecard.forecasting import forecast_series, outlook_series
from feedback.scorecard.formulas import Change, Trend
from feedback.scorecard.measures import MEASURES, Direction, Perspective, Unit
from feedback.scorecard.models import EnteredFigure, MeasureTarget
from feedback.scorecard.records import RecordPage, records_behind
from feedback.scorecard.rollups import month_start, previous_month
from feedback.scorecard.service import CHANNELS, FigureReport, Scope, Scorecard, ScorecardReport
from feedback.scorecard.service_levels import (
    ServiceLevelInputError,
    configured_thresholds,
    describe,
    limit_for,
    measured_against,
    parse_thresholds,
)
from privacy.vault import Vault
from surveys.models import Service, ServiceGroup

VIEWERS: Final = ("admin", "quality_reviewer", "service_manager", "agent")
MANAGERS: Final = ("admin", "service_manager")
TREND_MONTHS: Final = 13


@dataclass(frozen=True)
class ScorecardLink:
    """A link under the dashboard's heading, for its roles (all viewers when empty); ``for_month`` adds the
    dashboard's month as ``?month=YYYY-MM``."""

    label: str
    href: str
    roles: tuple[str, ...] = ()
    for_month: bool = False


# Links a higher layer adds to the dashboard (exports: the month as a workbook, the scorecard by email).
SCORECARD_LINKS: ExtensionPoint[ScorecardLink] = ExtensionPoint(
    "feedback.scorecard_links", "links shown on the scorecard dashboard"
)


# Links a higher layer adds to the figures entry page (exports: import the figures from a spreadsheet).
ENTRY_LINKS: ExtensionPoint[ScorecardLink] = ExtensionPoint(
    "feedback.scorecard_entry_links", "links shown on the page where managers enter figures"
)


async def viewer_services(session: AsyncSession, viewer: StaffUser) -> list[uuid.UUID] | None:
    """The services a viewer may see figures of (None: every service)."""
    if viewer.role != "service_manager":
        return None
    slugs = list(viewer.service_scope or [])
    return list((await session.scalars(select(Service.id).where(Service.slug.in_(slugs)))).all())


async def viewer_scope(session: AsyncSession, card: Scorecard, viewer: StaffUser, query: dict[str, str]) -> Scope:
    agent = None
    if viewer.role == "agent":
        # An agent without an agent reference sees nothing rather than everyone's figures.
        agent = viewer.agent_ref or "\x00none"
    return await card.scope(
        session,
        service=query.get("service") or None,
        group=query.get("group") or None,
        channel=query.get("channel") or None,
        agent_ref=agent,
        within=await viewer_services(session, viewer),
    )


def requested_month(query: dict[str, str]) -> date:
    text = query.get("month", "")
    return parse_month(text) if text else month_start(utcnow())


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {key: str(value)[:100] for key, value in request.query_params.items()}


@dataclass(frozen=True)
class Row:
    figure: FigureReport
    value: str
    target: str
    status: str
    change: str
    drill: str | None


def _change(figure: FigureReport) -> Change | None:
    if figure.change is None or figure.trend is None:
        return None
    return Change(figure.change, Trend(figure.trend))


def _shown(figure: FigureReport) -> str:
    if figure.by_category is None:
        return format_value(figure.value, figure.unit)
    # Channel use is a share per channel; channel shift a change per channel, in percentage points.
    unit = figure.unit if figure.unit is Unit.percentage_points else Unit.percent
    parts = [f"{name.replace('_', ' ')} {format_value(share, unit)}" for name, share in figure.by_category.items()]
    return "; ".join(parts) or "No data"


def _target(figure: FigureReport) -> str:
    if figure.target is None:
        return "Not set"
    better = "or more" if figure.target.direction is Direction.higher_is_better else "or less"
    return f"{format_value(figure.target.value, figure.unit)} ({better})"


def _rows(report: ScorecardReport, link: str) -> dict[Perspective, list[Row]]:
    grouped: dict[Perspective, list[Row]] = {}
    for figure in report.figures:
        grouped.setdefault(figure.perspective, []).append(
            Row(
                figure,
                _shown(figure),
                _target(figure),
                STATUS_TEXT[figure.status],
                format_change(_change(figure), figure.unit),
                f"{link}&measure={figure.slug}",
            )
        )
    return grouped


def _charts(
    report: ScorecardReport,
    history: dict[date, Any],
    forecasts: dict[date, tuple[int, float, float]],
    outlook: dict[date, tuple[float, float, float]],
) -> list[Chart]:
    charts: list[Chart] = []
    for perspective in Perspective:
        tiles = [
            Tile(f.name, f.value, f.unit, f.status, f.target.value if f.target else None, _change(f))
            for f in report.figures
            if f.perspective is perspective and f.by_category is None and f.slug != "channel-shift"
        ]
        if tiles:
            charts.append(
                rag_tiles(
                    f"tiles-{perspective.value}",
                    f"{perspective.label}: status against target",
                    f"Each {perspective.label.lower()} measure for {report.scope.label}, {report.month:%B %Y}, "
                    "with its status, target and change on the previous month.",
                    tiles,
                )
            )
    months = sorted(history)
    labels = [f"{m:%b %Y}" for m in months]
    if report.scope.measures is None:
        use = report.figure("channel-use")
        if use.by_category:
            charts.append(
                bar_chart(
                    "channel-use",
                    "Use of each access channel",
                    f"Share of contacts on each channel, {report.month:%B %Y}.",
                    [Bar(name.replace("_", " "), share) for name, share in sorted(use.by_category.items())],
                    Unit.percent,
                )
            )
        contacts = [float(history[m].contacts.transfers.total) for m in months]
        frozen = [forecasts.get(m) for m in months]
        charts.append(
            line_chart(
                "demand",
                "Contacts and the forecast frozen before each month",
                "Contacts that arrived each month, and the demand forecast frozen before the month with its 95% "
                "interval (the sum of the intervals of each service and channel).",
                labels,
                [
                    LineSeries("Contacts", contacts),
                    LineSeries(
                        "Frozen forecast",
                        [float(f[0]) if f else None for f in frozen],
                        low=[f[1] if f else None for f in frozen],
                        high=[f[2] if f else None for f in frozen],
                        dashed=True,
                    ),
                ],
                Unit.number,
            )
        )
        if outlook:
            coming = sorted(outlook)
            charts.append(
                line_chart(
                    "outlook",
                    "Demand forecast for the coming months",
                    f"Contacts forecast for {report.scope.label} from {coming[0]:%B %Y} (its contacts still arriving) "
                    f"to {coming[-1]:%B %Y}, with the 95% interval (the sum of the intervals of each service and "
                    "channel); remade once a day from the monthly rollups. Weeks are not forecast: rollups are kept "
                    "by month.",
                    [f"{m:%b %Y}" for m in coming],
                    [
                        LineSeries(
                            "Forecast",
                            [outlook[m][0] for m in coming],
                            low=[outlook[m][1] for m in coming],
                            high=[outlook[m][2] for m in coming],
                            dashed=True,
                        )
                    ],
                    Unit.number,
                )
            )
    satisfaction = [history[m].surveys.satisfaction for m in months]
    charts.append(
        line_chart(
            "satisfaction",
            "Customer satisfaction by month",
            "Share of answers satisfied or very satisfied each month, with its 95% Wilson interval.",
            labels,
            [
                LineSeries(
                    "Satisfied",
                    [p.value if p else None for p in satisfaction],
                    low=[p.low if p else None for p in satisfaction],
                    high=[p.high if p else None for p in satisfaction],
                )
            ],
            Unit.percent,
        )
    )
    return charts


class ScorecardPages(Controller):
    path = "/staff/scorecard"
    include_in_schema = False
    opt = Access.staff(*VIEWERS).opt()

    @get("/")
    async def dashboard(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        card = service(request, Scorecard)
        query = _query(request)
        month = requested_month(query)
        scope = await viewer_scope(db_session, card, request.state.staff_user, query)
        report = await card.report(db_session, month, scope)
        months = [month]
        while len(months) < TREND_MONTHS:
            months.insert(0, previous_month(months[0]))
        history = await card.history(db_session, months, scope)
        forecasts = await forecast_series(db_session, months, scope.rows)
        outlook = await outlook_series(db_session, scope.rows)
        link = "/staff/scorecard/records?" + _link_query(month, scope)
        viewer = request.state.staff_user
        within = await viewer_services(db_session, viewer)
        services = (
            (
                await db_session.execute(
                    select(Service.slug, Service.name).where(Service.id.in_(within))
                    if within is not None
                    else select(Service.slug, Service.name)
                )
            )
            .tuples()
            .all()
        )
        groups = (
            (await db_session.execute(select(ServiceGroup.slug, ServiceGroup.name))).tuples().all()
            if within is None
            else []
        )
        return staff_template(
            request,
            "feedback/scorecard.html.j2",
            report=report,
            rows=_rows(report, link),
            charts=_charts(report, history, forecasts, outlook),
            perspectives=list(Perspective),
            month_value=f"{month:%Y-%m}",
            services=sorted(services, key=lambda s: s[1]),
            groups=sorted(groups, key=lambda g: g[1]),
            channels=CHANNELS if viewer.role != "agent" else (),
            is_agent=viewer.role == "agent",
            may_enter=viewer.role in MANAGERS,
            may_configure=viewer.role == "admin",
            query=query,
            links=_links(request, viewer, month),
        )

    @get("/records")
    async def records(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        card = service(request, Scorecard)
        query = _query(request)
        month = requested_month(query)
        scope = await viewer_scope(db_session, card, request.state.staff_user, query)
        slug = query.get("measure", "")
        if slug not in MEASURES or (scope.measures is not None and slug not in scope.measures):
            raise EntryInputError("Choose a measure from the scorecard.", field="measure")
        page_number = int(query["page"]) if query.get("page", "").isdigit() else 1
        page: RecordPage = await records_behind(
            db_session, service(request, Vault), slug, month, scope, page=max(1, page_number)
        )
        basis = describe(await measured_against(db_session, month, scope.rows)) if slug == "service-level" else None
        return staff_template(
            request,
            "feedback/scorecard_records.html.j2",
            basis=basis,
            measure=MEASURES[slug],
            month=month,
            scope=scope,
            page=page,
            back="/staff/scorecard?" + _link_query(month, scope),
            here="/staff/scorecard/records?" + _link_query(month, scope) + f"&measure={slug}",
        )


def _links(
    request: Request[Any, Any, Any],
    viewer: StaffUser,
    month: date,
    point: ExtensionPoint[ScorecardLink] = SCORECARD_LINKS,
) -> list[tuple[str, str]]:
    extensions: Extensions = request.app.state.extensions
    return [
        (item.label, f"{item.href}?month={month:%Y-%m}" if item.for_month else item.href)
        for item in extensions.items(point)
        if not item.roles or viewer.role in item.roles
    ]


def _link_query(month: date, scope: Scope) -> str:
    parts = [f"month={month:%Y-%m}"]
    for name in ("service", "group", "channel"):
        value = getattr(scope, name)
        if value:
            parts.append(f"{name}={value}")
    return "&".join(parts)


async def _services_within(session: AsyncSession, within: list[uuid.UUID] | None) -> list[tuple[uuid.UUID, str, str]]:
    """(id, slug, name) of the services a viewer may manage: those ``within``, or all when None."""
    query = select(Service.id, Service.slug, Service.name)
    if within is not None:
        query = query.where(Service.id.in_(within))
    return list((await session.execute(query)).tuples().all())


class ScorecardEntries(Controller):
    """Figures from other systems, entered by a service manager (their services) or an admin."""

    path = "/staff/scorecard/entries"
    include_in_schema = False
    opt = Access.staff(*MANAGERS).opt()

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        month: date,
        errors: list[dict[str, str]],
        values: dict[str, str],
        status_code: int = 200,
    ) -> Template:
        within = await viewer_services(session, request.state.staff_user)
        services = await _services_within(session, within)
        query = select(EnteredFigure).where(EnteredFigure.month == month)
        if within is not None:
            query = query.where(EnteredFigure.service_id.in_(within))
        entries = (await session.scalars(query.order_by(EnteredFigure.measure, EnteredFigure.team))).all()
        names = {s[0]: s[2] for s in services}
        return staff_template(
            request,
            "feedback/scorecard_entries.html.j2",
            status_code=status_code,
            links=_links(request, request.state.staff_user, month, ENTRY_LINKS),
            month_value=f"{month:%Y-%m}",
            services=sorted(services, key=lambda s: s[2]),
            names=names,
            measures=[MEASURES[slug] for slug in ENTERED_SLUGS],
            entries=[
                (e, format_value(e.value, MEASURES[e.measure].unit) if e.measure in MEASURES else e.value)
                for e in entries
            ],
            errors=errors,
            values=values,
        )

    @get("/")
    async def form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._page(request, db_session, requested_month(_query(request)), [], {})

    @post("/", status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        values = await form_values(request, limit=200)
        viewer = request.state.staff_user
        month = month_start(utcnow())
        try:
            month = parse_month(values.get("month", ""))
            found = await service_by_slug(db_session, values.get("service", ""))
            require_within(found, await viewer_services(db_session, viewer))
            try:
                number = float(values.get("value", "").replace(",", "").strip())
            except ValueError:
                raise EntryInputError("Give the figure as a number, for example 92.5.", field="value") from None
            await enter_figure(
                db_session,
                month=month,
                service_id=found.id,
                team=values.get("team", ""),
                slug=values.get("measure", ""),
                value=number,
                source="staff UI",
                entered_by=str(viewer.id),
                actor=acting_staff(request),
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._page(
                request, db_session, month, [{"field": exc.field or "value", "message": exc.detail}], values, exc.status
            )
        return Redirect(f"/staff/scorecard/entries?month={month:%Y-%m}", status_code=303)


class ScorecardTargets(Controller):
    """Targets and the better direction per measure: admins for the council or a service, service managers for
    their own services."""

    path = "/staff/scorecard/targets"
    include_in_schema = False
    opt = Access.staff(*MANAGERS).opt()

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        errors: list[dict[str, str]],
        values: dict[str, str],
        status_code: int = 200,
    ) -> Template:
        within = await viewer_services(session, request.state.staff_user)
        services = await _services_within(session, within)
        query = select(MeasureTarget)
        if within is not None:
            query = query.where(MeasureTarget.service_id.in_(within))
        targets = (await session.scalars(query.order_by(MeasureTarget.measure))).all()
        names = {s[0]: s[2] for s in services}
        return staff_template(
            request,
            "feedback/scorecard_targets.html.j2",
            status_code=status_code,
            services=sorted(services, key=lambda s: s[2]),
            council_wide=within is None,
            names=names,
            measures=[m for m in MEASURES.values() if m.slug not in ("channel-use", "channel-shift")],
            targets=[
                (t, MEASURES[t.measure], format_value(t.value, MEASURES[t.measure].unit))
                for t in targets
                if t.measure in MEASURES
            ],
            errors=errors,
            values=values,
        )

    @get("/")
    async def form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._page(request, db_session, [], {})

    @post("/", status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        values = await form_values(request, limit=200)
        try:
            within = await viewer_services(db_session, request.state.staff_user)
            service_id: uuid.UUID | None = None
            if values.get("service"):
                service_id = (await service_by_slug(db_session, values["service"])).id
            if within is not None and service_id not in within:
                raise EntryInputError("Set targets for one of your own services.", field="service")
            slug = values.get("measure", "")
            if slug not in MEASURES:
                raise EntryInputError("Choose a measure.", field="measure")
            direction_text = values.get("direction") or MEASURES[slug].direction.value
            if direction_text not in {d.value for d in Direction}:
                raise EntryInputError("Choose whether higher or lower is better.", field="direction")
            try:
                number = float(values.get("value", "").strip())
            except ValueError:
                raise EntryInputError("Give the target as a number, for example 80.", field="value") from None
            try:
                band = float(values["tolerance"]) if values.get("tolerance", "").strip() else None
            except ValueError:
                raise EntryInputError(
                    "Give the amber band as a number, or leave it empty.", field="tolerance"
                ) from None
            await set_target(
                db_session,
                slug=slug,
                service_id=service_id,
                value=number,
                direction=Direction(direction_text),
                tolerance=band,
                actor=acting_staff(request),
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            return await self._page(
                request, db_session, [{"field": exc.field or "value", "message": exc.detail}], values, exc.status
            )
        return Redirect("/staff/scorecard/targets", status_code=303)


class ScorecardServiceLevels(Controller):
    """The service-level threshold of each channel (admins only): a change is audited and the months inside
    retention are rebuilt with it in the background."""

    path = "/staff/scorecard/service-levels"
    include_in_schema = False
    opt = Access.staff("admin").opt()

    async def _page(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        errors: list[dict[str, str]],
        values: dict[str, str],
        status_code: int = 200,
        saved: bool = False,
    ) -> Template:
        current = (await configured_thresholds(session)).seconds
        return staff_template(
            request,
            "feedback/scorecard_service_levels.html.j2",
            status_code=status_code,
            channels=[
                (
                    channel,
                    channel.replace("_", " ").capitalize(),
                    values.get(channel, str(current[channel])),
                    limit_for(channel),
                )
                for channel in CHANNELS
                if channel in current
            ],
            errors=errors,
            saved=saved,
        )

    @get("/")
    async def form(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._page(request, db_session, [], {}, saved=request.query_params.get("saved") == "1")

    @post("/", status_code=303)
    async def save(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        values = await form_values(request, limit=200)
        submitted = {channel: values.get(channel, "") for channel in CHANNELS}
        errors: list[dict[str, str]] = []
        changes: dict[str, int] = {}
        for channel, text in submitted.items():
            try:
                changes.update(parse_thresholds({channel: text}))
            except ServiceLevelInputError as exc:
                errors.append({"field": exc.field or channel, "message": exc.detail})
        if errors:
            return await self._page(request, db_session, errors, submitted, status_code=422)
        await service(request, Scorecard).set_thresholds(db_session, changes, actor=acting_staff(request))
        return Redirect("/staff/scorecard/service-levels?saved=1", status_code=303)


ROUTES = [ScorecardPages, ScorecardEntries, ScorecardTargets, ScorecardServiceLevels]
