"""The surveys feature as the app factory sees it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.auth import WEBHOOK_CHECKS
from civicvoice.core.extensions import SECRET_PATHS, STAFF_NAV, StaffNavItem
from civicvoice.core.features import Feature
from civicvoice.core.mail import MAIL_FILES, Mailer
from civicvoice.core.ratelimit import DatabaseRateLimiter, Rate, RateLimiter, RedisRateLimiter
from civicvoice.core.services import Extensions, Services, contribute
from civicvoice.core.settings import Settings
from privacy.keyring import Keyring
from privacy.vault import Vault
from surveys.builder_pages import BUILDER_ROLES
from surveys.builder_pages import PAGES as BUILDER_PAGES
from surveys.campaigns import Campaigns
from surveys.channels import Channels
from surveys.channels.chat import ChatSurveys
from surveys.channels.email import EmailChannel
from surveys.channels.ivr import IvrSurveys
from surveys.channels.kiosk import ENROL_PATHS, Kiosks
from surveys.channels.notify import NotifyClients, notify_channels
from surveys.chat_api import ROUTES as CHAT_ROUTES
from surveys.controllers import API_SCOPES, ROUTES
from surveys.extensions import OPEN_COMPLAINT_CHECKS, RESPONSE_SUBSCRIBERS
from surveys.intake import ContactIntake
from surveys.invitation_pages import INVITATION_ROLES, InvitationPages
from surveys.ivr_api import ROUTES as IVR_ROUTES
from surveys.jobs import JOBS
from surveys.kiosk_cli import kiosk_group
from surveys.kiosk_pages import KIOSK_PAGES, KIOSK_ROLES
from surveys.letter_pages import LETTER_ROLES, LetterPages
from surveys.letters import LetterPrinting
from surveys.notify_callbacks import NOTIFY_CHECK, NotifyCallbacks
from surveys.pages import PAGES
from surveys.responses import GroupedResponses, ResponseRecorder
from surveys.rules import InvitationChannel
from surveys.sending import InvitationSender
from surveys.survey_api import API_SCOPES as DESIGN_SCOPES
from surveys.survey_api import ROUTES as DESIGN_ROUTES
from surveys.tokens import LINK_PATHS, TokenSigner


def _services(services: Services, extensions: Extensions) -> None:
    settings = services.get(Settings)
    vault = services.get(Vault)
    sessions: async_sessionmaker[AsyncSession] = services.get(async_sessionmaker)
    signer = services.provide(TokenSigner(services.get(Keyring).token))
    channels = services.find(Channels) or services.provide(_channels(services, settings, sessions))
    recorder = services.provide(ResponseRecorder(vault, extensions.items(RESPONSE_SUBSCRIBERS)))
    services.provide(IvrSurveys(vault, recorder))
    services.provide(
        ChatSurveys(
            vault,
            recorder,
            signer,
            base_url=settings.base_url,
            token_lifetime=timedelta(minutes=settings.chat_token_minutes),
            privacy_notice_url=settings.privacy_notice_url,
        )
    )
    services.provide(Kiosks(recorder, answers_per_minute=settings.kiosk_answers_per_minute))
    # One writer for one contact and many: concurrent single contacts are grouped into one transaction. Only the
    # channels this deployment can send on are offered to the invitation rules.
    services.provide(
        ContactIntake(
            vault,
            sessions,
            open_complaint_checks=extensions.items(OPEN_COMPLAINT_CHECKS),
            sendable=sendable_channels(channels, settings),
        )
    )
    services.provide(Campaigns(vault, sendable=sendable_channels(channels, settings)))
    # Survey answers go through the group-commit writer; a failed batch falls back to the recorder.
    services.provide(GroupedResponses(recorder, sessions))
    services.provide(
        InvitationSender(vault, signer, channels, base_url=settings.base_url, council_name=settings.council_name)
    )
    services.provide(
        LetterPrinting(
            vault,
            signer,
            recorder,
            base_url=settings.base_url,
            council_name=settings.council_name,
            privacy_url=settings.privacy_notice_url,
            reminder_days=settings.letter_reminder_days,
            bilingual=settings.letter_language == "bilingual",
        )
    )


def sendable_channels(channels: Channels, settings: Settings) -> frozenset[str]:
    """The invitation channels this deployment can reach people on. IVR and chat are not sent (the platform asks
    on the call or in the chat window), so they count once a platform is configured; a web link is handed back to
    the contact system that reported the contact, so it always can."""
    not_sent = {
        # Paper is printed by staff from the print queue (`surveys.letters`), so it can always be sent.
        InvitationChannel.paper: True,
        InvitationChannel.ivr: bool(settings.ivr_secrets),
        InvitationChannel.chat: bool(settings.chat_secrets),
        InvitationChannel.web_link: True,
    }
    return frozenset(channels) | {channel.value for channel, configured in not_sent.items() if configured}


def notify_limiter(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> RateLimiter:
    """The one limiter every worker shares for GOV.UK Notify: on Redis with the SAQ backend, else the database."""
    rate = Rate(limit=settings.notify_rate_per_minute, period=60.0, burst=min(10, settings.notify_rate_per_minute))
    if settings.job_backend == "saq":
        return RedisRateLimiter(settings.redis_url, rate, prefix=f"{settings.saq_queue}:ratelimit:")
    return DatabaseRateLimiter(sessions, rate)


def _channels(services: Services, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Channels:
    # Email goes through GOV.UK Notify when an email template is configured, else through the kernel's mailer
    # (every feature sends mail through the same transport); SMS only through Notify.
    channels = Channels({"email": EmailChannel(settings, mailer=services.find(Mailer))})
    if settings.notify_api_key:
        limiter = services.provide(notify_limiter(settings, sessions), as_type=RateLimiter)
        clients = services.provide(NotifyClients(settings.notify_api_key, settings.notify_base_url))
        channels.update(notify_channels(settings, limiter, lambda key, url: clients))
    return channels


FEATURE = Feature(
    name="surveys",
    routes=[
        *ROUTES,
        *IVR_ROUTES,
        *CHAT_ROUTES,
        *DESIGN_ROUTES,
        *PAGES,
        *BUILDER_PAGES,
        NotifyCallbacks,
        InvitationPages,
        LetterPages,
        *KIOSK_PAGES,
    ],
    jobs=JOBS,
    cli=[kiosk_group],  # civicvoice kiosk issue / list / revoke
    api_scopes={**API_SCOPES, **DESIGN_SCOPES},
    templates=[Path(__file__).parent / "templates"],
    models=["surveys.models", "surveys.letter_models"],
    # Invitations are what the file mail backend writes on a machine without a mail server.
    file_stores=[MAIL_FILES],
    extensions=[
        *(contribute(SECRET_PATHS, pattern) for pattern in (*LINK_PATHS, *ENROL_PATHS)),
        contribute(WEBHOOK_CHECKS, NOTIFY_CHECK),
        contribute(STAFF_NAV, StaffNavItem("Invitations", "/staff/invitations", roles=INVITATION_ROLES, position=60)),
        contribute(STAFF_NAV, StaffNavItem("Paper surveys", "/staff/letters", roles=LETTER_ROLES, position=61)),
        contribute(STAFF_NAV, StaffNavItem("Kiosks", "/staff/kiosks", roles=KIOSK_ROLES, position=92)),
        contribute(STAFF_NAV, StaffNavItem("Surveys", "/staff/surveys", roles=BUILDER_ROLES, position=80)),
    ],
    build_services=_services,
)
