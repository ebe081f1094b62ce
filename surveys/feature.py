"""The surveys feature as the app factory sees it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.extensions import SECRET_PATHS
from civicvoice.core.features import Feature
from civicvoice.core.mail import MAIL_FILES, Mailer
from civicvoice.core.services import Extensions, Services, contribute
from civicvoice.core.settings import Settings
from privacy.keyring import Keyring
from privacy.vault import Vault
from surveys.channels import Channels
from surveys.channels.email import EmailChannel
from surveys.channels.ivr import IvrSurveys
from surveys.controllers import API_SCOPES, ROUTES
from surveys.extensions import OPEN_COMPLAINT_CHECKS, RESPONSE_SUBSCRIBERS
from surveys.intake import ContactIntake
from surveys.ivr_api import ROUTES as IVR_ROUTES
from surveys.jobs import JOBS
from surveys.pages import PAGES
from surveys.responses import GroupedResponses, ResponseRecorder
from surveys.sending import InvitationSender
from surveys.tokens import LINK_PATHS, TokenSigner

INTAKE_WRITERS_POSTGRESQL = 3  # concurrent intake batches per process on PostgreSQL


def _services(services: Services, extensions: Extensions) -> None:
    settings = services.get(Settings)
    vault = services.get(Vault)
    sessions: async_sessionmaker[AsyncSession] = services.get(async_sessionmaker)
    signer = services.provide(TokenSigner(services.get(Keyring).token))
    # Invitations go out through the kernel's mailer (every feature sends mail through the same transport).
    mailer = services.find(Mailer)
    channels = services.find(Channels) or services.provide(Channels({"email": EmailChannel(settings, mailer=mailer)}))
    recorder = services.provide(ResponseRecorder(vault, extensions.items(RESPONSE_SUBSCRIBERS)))
    services.provide(IvrSurveys(vault, recorder))
    # One writer for one contact and many: concurrent single contacts are grouped into one transaction. SQLite has
    # one writer whatever we do; PostgreSQL overlaps a few batches' round trips (their row locks keep the cap).
    services.provide(
        ContactIntake(
            vault,
            sessions,
            open_complaint_checks=extensions.items(OPEN_COMPLAINT_CHECKS),
            writers=1 if settings.is_sqlite else INTAKE_WRITERS_POSTGRESQL,
        )
    )
    # Survey answers go through the group-commit writer; a failed batch falls back to the recorder.
    services.provide(GroupedResponses(recorder, sessions))
    services.provide(
        InvitationSender(vault, signer, channels, base_url=settings.base_url, council_name=settings.council_name)
    )


FEATURE = Feature(
    name="surveys",
    routes=[*ROUTES, *IVR_ROUTES, *PAGES],
    jobs=JOBS,
    api_scopes=API_SCOPES,
    templates=[Path(__file__).parent / "templates"],
    models=["surveys.models"],
    # Invitations are what the file mail backend writes on a machine without a mail server.
    file_stores=[MAIL_FILES],
    extensions=[contribute(SECRET_PATHS, pattern) for pattern in LINK_PATHS],
    build_services=_services,
)
