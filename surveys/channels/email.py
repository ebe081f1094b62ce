"""Email invitations: a plain-text and an HTML part, RFC 8058 one-click unsubscribe, sent over SMTP.

Where no SMTP server is configured, the file backend writes each message under the data directory instead,
so a first run on a fresh machine still shows the whole loop.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
import structlog
from jinja2 import Environment, PackageLoader, select_autoescape

from civicvoice.core.settings import Settings
from surveys.channels import ChannelError, Delivery, OutgoingInvitation

log = structlog.get_logger("civicvoice.mail")


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("surveys", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


class MailTransport(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def deliver(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=30,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The server's words can quote the recipient; keep only what kind of failure it was.
            raise ChannelError(f"SMTP delivery failed: {type(exc).__name__}") from None


class FileTransport:
    """Writes each message as an .eml file; for machines without a mail server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def deliver(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        ref = str(message["Message-ID"]).strip("<>").split("@")[0]
        path = self.directory / f"{ref}.eml"
        # Written whole then renamed, so a reader never sees half a message; mode 0600, it holds an address.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, path)
        log.info("mail_written_to_file", path=str(path))


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings, transport: MailTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport or (
            SmtpTransport(settings) if settings.smtp_host else FileTransport(settings.mail_dir)
        )
        self.domain = settings.mail_from.rsplit("@", 1)[-1] or "civicvoice.invalid"
        self._templates = _templates()

    def reference_for(self, message: OutgoingInvitation) -> str:
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
        email = EmailMessage()
        subject = f"How did we do? Your recent contact with {message.council_name}"
        email["Subject"] = f"Reminder: {subject}" if message.reminder else subject
        email["From"] = f"{message.council_name} <{self.settings.mail_from}>"
        email["To"] = message.recipient
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = self.reference_for(message)
        # RFC 8058: mail clients offer one-click unsubscribe, a POST that needs no cookie or CSRF token.
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(self._templates.get_template("invitation.txt.j2").render(context))
        email.add_alternative(self._templates.get_template("invitation.html.j2").render(context), subtype="html")
        return email

    async def send(self, message: OutgoingInvitation) -> Delivery:
        email = self.build(message)
        await self.transport.deliver(email)
        return Delivery(reference=str(email["Message-ID"]))

    async def parse_inbound(self, payload: Any) -> Any:  # email replies are not read by civicvoice
        raise NotImplementedError("email has no inbound path")

    async def status_callback(self, payload: Any) -> Any:  # SMTP gives no delivery receipts
        raise NotImplementedError("email has no status callbacks")
