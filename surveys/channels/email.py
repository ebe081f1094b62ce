"""Email invitations: a plain-text and an HTML part, RFC 8058 one-click unsubscribe, sent through the kernel's
mail transport (SMTP, or .eml files where no mail server is configured)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from civicvoice.core.mail import Mailer, MailNotAccepted, MailTransport
from civicvoice.core.settings import Settings
from surveys.channels import ChannelError, Delivery, InboundReply, OutgoingInvitation, StatusReport


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("surveys", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


class EmailChannel:
    name = "email"

    def __init__(
        self, settings: Settings, transport: MailTransport | None = None, *, mailer: Mailer | None = None
    ) -> None:
        self.settings = settings
        self.mailer = mailer or Mailer(settings, transport)
        self.domain = self.mailer.domain
        self._templates = _templates()

    def reference_for(self, message: OutgoingInvitation) -> str:
        # Derived from the invitation id: a resend after a crash carries the same Message-ID.
        kind = "reminder" if message.reminder else "invitation"
        return f"<{kind}.{message.invitation_id}@{self.domain}>"

    def build(self, message: OutgoingInvitation) -> EmailMessage:
        context: dict[str, Any] = {
            "council_name": message.council_name,
            "service_name": message.service_name,
            "survey_url": message.survey_url,
            "unsubscribe_url": message.unsubscribe_url,
            "expires_on": message.expires_on,
            "reminder": message.reminder,
        }
        subject = f"How did we do? Your recent contact with {message.council_name}"
        email = self.mailer.message(
            to=message.recipient,
            subject=f"Reminder: {subject}" if message.reminder else subject,
            text=self._templates.get_template("invitation.txt.j2").render(context),
            html=self._templates.get_template("invitation.html.j2").render(context),
        )
        email["Message-ID"] = self.reference_for(message)
        # RFC 8058: mail clients offer one-click unsubscribe, a POST that needs no cookie or CSRF token.
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return email

    async def send(self, message: OutgoingInvitation) -> Delivery:
        email = self.build(message)
        try:
            reference = await self.mailer.send(email)
        except MailNotAccepted as exc:
            raise ChannelError(exc.detail) from None
        return Delivery(reference=reference)

    def parse_inbound(self, payload: Mapping[str, Any]) -> InboundReply:  # email replies are not read
        raise NotImplementedError("email has no inbound path")

    def status_callback(self, payload: Mapping[str, Any]) -> StatusReport:  # SMTP gives no delivery receipts
        raise NotImplementedError("email has no status callbacks")
