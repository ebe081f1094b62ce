"""The surveys feature as the app factory sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civicvoice.core.features import Feature
from surveys.channels.email import EmailChannel
from surveys.controllers import API_SCOPES, ROUTES
from surveys.intake import ContactIntake
from surveys.intake_batch import BatchingIntake
from surveys.jobs import JOBS
from surveys.pages import PAGES
from surveys.responses import GroupedResponses, ResponseRecorder
from surveys.sending import InvitationSender
from surveys.tokens import TokenSigner


def _services(built: Mapping[str, Any]) -> Mapping[str, Any]:
    settings = built["settings"]
    vault = built["vault"]
    signer = TokenSigner(built["keyring"].token)
    # The kernel's mailer when the app built one (every feature sends through the same transport).
    channels = {"email": built.get("email_channel") or EmailChannel(settings, mailer=built.get("mailer"))}
    # Higher layers add their checks and subscribers to these shared lists after this feature is built.
    recorder = ResponseRecorder(vault, built["response_subscribers"])
    intake = ContactIntake(vault, open_complaint_checks=built["open_complaint_checks"])
    return {
        "contact_intake": intake,
        # Single contacts go through the group-commit writer; batches and fallbacks use the per-event intake.
        "contact_writer": BatchingIntake(intake, built["sessions"]),
        "response_recorder": recorder,
        # Survey answers go through the group-commit writer; a failed batch falls back to the recorder.
        "response_writer": GroupedResponses(recorder, built["sessions"]),
        "token_signer": signer,
        "channels": channels,
        "invitation_sender": InvitationSender(
            vault, signer, channels, base_url=settings.base_url, council_name=settings.council_name
        ),
    }


FEATURE = Feature(name="surveys", routes=[*ROUTES, *PAGES], jobs=JOBS, api_scopes=API_SCOPES, build_services=_services)
