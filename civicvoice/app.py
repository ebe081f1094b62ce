"""The composition root: builds the Litestar app from the kernel and the feature packages."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.template.config import TemplateConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice import __version__
from civicvoice.core.auth import API_KEY_SECURITY_SCHEMES, Access, authorize
from civicvoice.core.db import create_engine, session_factory, sqlalchemy_config, unit_of_work
from civicvoice.core.extensions import FILE_STORES, SECRET_PATHS
from civicvoice.core.features import Feature
from civicvoice.core.http import (
    EXCEPTION_HANDLERS,
    AccessLogMiddleware,
    ClosedStructSchemaPlugin,
    DrainUnreadBody,
    add_security_headers,
)
from civicvoice.core.jobs import JobRegistry, job_runner
from civicvoice.core.logging import configure_logging, mask_secret_paths
from civicvoice.core.mail import KEPT_CONNECTIONS, Mailer
from civicvoice.core.services import Extensions, Services
from civicvoice.core.settings import Settings
from civicvoice.core.translations import catalogues, install_translations
from civicvoice.pages import InformationPages
from privacy.keys import check_keys, load_keyring


def features() -> list[Feature]:
    """Feature packages in layer order (lower first), then the staff package above them; each declares all it
    brings (routes, jobs, templates, CLI, exception handlers, models, data-map entries, extensions, services)."""
    from civicvoice.staff.feature import FEATURE as staff
    from exports.feature import FEATURE as exports
    from feedback.feature import FEATURE as feedback
    from privacy.feature import FEATURE as privacy
    from surveys.feature import FEATURE as surveys

    return [privacy, surveys, feedback, exports, staff]


def extensions(feature_list: Sequence[Feature]) -> Extensions:
    found = Extensions([item for feature in feature_list for item in feature.extensions])
    for feature in feature_list:
        for store in feature.file_stores:
            found.add(FILE_STORES, store)
    return found


@get("/health", opt=Access.public().opt(), tags=["Service"], summary="Liveness and database reachability")
async def health(state: State) -> Response[dict[str, str]]:
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return Response({"status": "unavailable", "database": "unreachable"}, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"status": "ok", "database": "ok", "version": __version__}, status_code=HTTP_200_OK)


def job_registry(feature_list: Sequence[Feature]) -> JobRegistry:
    from civicvoice.core.upkeep import KERNEL_JOBS  # pruning of jobs and file-backend mail

    registry = JobRegistry()
    registry.merge(KERNEL_JOBS)
    for feature in feature_list:
        registry.merge(feature.jobs)
    return registry


def api_scopes(feature_list: Sequence[Feature] | None = None) -> dict[str, str]:
    scopes: dict[str, str] = {}
    for feature in feature_list or features():
        scopes.update(feature.api_scopes)
    return scopes


async def build_services(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    feature_list: Sequence[Feature],
    *,
    long_running: bool = False,
) -> Services:
    """Load and check the keys, then let each feature add its services. Raises KeyProblem on a bad key.

    ``long_running``: a service process (the web app, `civicvoice worker`) that keeps connections open between
    uses (SMTP) and closes them with `close_services` when it stops."""
    keyring = load_keyring(settings)
    async with unit_of_work(sessions) as session:
        await check_keys(session, keyring, record_new=True)
    services = Services()
    services.provide(settings)
    # The kernel's mail transport, for every feature
    services.provide(Mailer(settings, keep_connections=KEPT_CONNECTIONS if long_running else 0))
    services.provide(keyring)
    services.provide(sessions, as_type=async_sessionmaker)
    contributions = services.provide(extensions(feature_list))
    for feature in feature_list:
        if feature.build_services is not None:
            feature.build_services(services, contributions)
    return services


def start_process_tasks(feature_list: Sequence[Feature], services: Services) -> list[asyncio.Task[None]]:
    """The tasks every service process runs beside its work (web and `civicvoice worker` alike)."""
    return [asyncio.create_task(task(services)) for feature in feature_list for task in feature.process_tasks]


async def stop_tasks(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def close_services(services: Services) -> None:
    """Let each service that holds something open (group-commit writers, SMTP connections, pools) close it."""
    for service in services:
        closer = getattr(service, "aclose", None)
        if closer is not None:
            await closer()


PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def template_config(
    settings: Settings, feature_list: Sequence[Feature] | None = None
) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja for the respondent and staff pages: autoescaped, translation-ready, council details as globals."""

    def configure(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.add_extension("jinja2.ext.i18n")
        # English first; the page's `lang` picks a gettext catalogue (Welsh on the respondent pages).
        install_translations(env, catalogues())
        env.globals.update(
            council_name=settings.council_name,
            privacy_notice_url=settings.privacy_notice_url,
            accessibility_statement_url=settings.accessibility_statement_url,
            lang="en",
        )

    return TemplateConfig(
        directory=[
            PACKAGE_ROOT / "civicvoice" / "templates",
            *(folder for feature in feature_list or features() for folder in feature.templates),
        ],
        engine=JinjaTemplateEngine,
        engine_callback=configure,
    )


def settle_heap(settings: Settings) -> None:
    """Once a long-running process has started (routes, models, templates, word lists, services), what it built
    lives as long as the process: collect the garbage of starting, then freeze the rest (`gc.freeze`), so the
    collector's full passes scan only what requests and jobs make. Without it, a 1,000-event contact batch spent
    about a quarter of its CPU in collections passing over the application itself (server CPU per batch 540 ms,
    frozen 325 to 400 ms). Off in tests, which start many apps in one process."""
    if settings.freeze_heap:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None, *, worker: bool | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, json=settings.log_json)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    feature_list = features()
    registry = job_registry(feature_list)
    contributions = extensions(feature_list)
    mask_secret_paths(contributions.items(SECRET_PATHS))
    run_worker = settings.embedded_worker if worker is None else worker

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.services = services = await build_services(settings, sessions, feature_list, long_running=True)
        background = start_process_tasks(feature_list, services)
        settle_heap(settings)
        task = None
        if run_worker:
            # The embedded worker, or the relay to SAQ when CIVICVOICE_JOB_BACKEND=saq
            app.state.worker = job_runner(settings, registry, sessions, services)
            task = asyncio.create_task(app.state.worker.run_forever())
        try:
            yield
        finally:
            if task is not None:
                app.state.worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=10)
            await stop_tasks(background)
            await close_services(services)
            await engine.dispose()

    static = create_static_files_router(
        path="/static",
        directories=[PACKAGE_ROOT / "civicvoice" / "static"],
        opt=Access.public().opt(),
        include_in_schema=False,
    )
    route_handlers: list[Any] = [health, static, InformationPages]
    exception_handlers: dict[Any, Any] = dict(EXCEPTION_HANDLERS)
    for feature in feature_list:
        route_handlers.extend(feature.routes)
        exception_handlers.update(feature.exception_handlers)

    app = Litestar(
        route_handlers=route_handlers,
        plugins=[SQLAlchemyPlugin(config=sqlalchemy_config(settings, engine)), ClosedStructSchemaPlugin()],
        guards=[authorize],
        exception_handlers=exception_handlers,
        middleware=[AccessLogMiddleware, DrainUnreadBody],
        before_send=[add_security_headers],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "sessions": sessions,
                "services": Services(),
                "jobs": registry,
                "extensions": contributions,
            }
        ),
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(settings, feature_list),
        openapi_config=OpenAPIConfig(
            title="civicvoice",
            version=__version__,
            description="Contact events in, survey invitations out. Errors are RFC 9457 problem details.",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            components=Components(security_schemes=API_KEY_SECURITY_SCHEMES),
        ),
        logging_config=None,
        debug=False,
    )
    # The OpenAPI routes come from Litestar itself; the schema is public, like the API it documents.
    for route in app.routes:
        if route.path.startswith("/schema"):
            for handler in getattr(route, "route_handlers", ()):
                handler.opt.setdefault("access", Access.public())
    return app
