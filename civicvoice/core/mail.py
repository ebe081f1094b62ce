"""Mail transport for every feature: SMTP (aiosmtplib), or .eml files under the data directory where no mail
server is configured. Features compose their own messages (surveys its invitations, privacy its request codes).

File-backend messages hold a recipient address and working links: they are declared in the data map as a file
store and deleted after seven days by the `mail.prune_files` cron.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import aiosmtplib
import structlog

from civicvoice.core.datamap import FileStore
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.settings import Settings

log = structlog.get_logger("civicvoice.mail")

PRUNE_MAIL_FILES_JOB = "mail.prune_files"
MAIL_FILES_KEPT_FOR = timedelta(days=7)

MAIL_FILES = FileStore(
    name="mail_files",
    purpose="Outgoing mail written to files on a machine without a mail server (first runs, demos)",
    location="<data dir>/mail/*.eml",
    holds=("recipient email address", "message text with working survey and unsubscribe links"),
    category="contact details",
    lawful_basis="public_task",
    retention="7 days",
    scheduled_jobs=(PRUNE_MAIL_FILES_JOB,),
)


class MailNotAccepted(CivicVoiceError):
    """The mail server refused the message or could not be reached; the caller may try again later."""

    status = 503
    slug = "mail-not-accepted"
    title = "Mail not accepted"


class MailTransport(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    loop: asyncio.AbstractEventLoop  # the event loop it was opened on, the only one that may use it
    opened_at: float
    last_used: float
    sent: int = 0


class SmtpTransport:
    """Delivers over SMTP. A long-running process (the web app, `civicvoice worker`) keeps up to ``keep``
    connections open between messages, as mail servers expect of a bulk sender: a message on a kept connection
    costs MAIL, RCPT and DATA, not a new TCP (and TLS) handshake, EHLO and login. A kept connection is used again
    only while it is still open, recently used and young; one that failed is closed; concurrent deliveries never
    share one. Whoever asks for ``keep`` closes them with `aclose` when it stops; with ``keep=0`` (the default: a
    command, a script) each message has a connection of its own, closed once it is sent."""

    IDLE_FOR = 10.0  # seconds unused, after which a kept connection is closed, not used again
    AT_MOST_FOR = 300.0  # seconds since it opened
    AT_MOST_MESSAGES = 100  # messages sent on it

    def __init__(self, settings: Settings, *, keep: int = 0) -> None:
        self.settings = settings
        self.keep = keep  # connections kept open at most
        self._idle: list[_Connection] = []
        self._local_hostname: str | None = None

    async def deliver(self, message: EmailMessage) -> None:
        try:
            connection = await self._take()
            try:
                await connection.client.send_message(message)
            except BaseException:
                connection.client.close()  # whatever state it is in, it is not used again
                raise
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The server's words can quote the recipient; keep only what kind of failure it was.
            raise MailNotAccepted(f"SMTP delivery failed: {type(exc).__name__}") from None
        connection.sent += 1
        connection.last_used = time.monotonic()
        if len(self._idle) < self.keep and self._reusable(connection, connection.last_used):
            self._idle.append(connection)
        else:
            await self._close(connection)

    async def aclose(self) -> None:
        """Close the kept connections (the service is stopping)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await self._close(connection)

    def _reusable(self, connection: _Connection, now: float) -> bool:
        return (
            connection.loop is asyncio.get_running_loop()
            and connection.client.is_connected
            and now - connection.last_used < self.IDLE_FOR
            and now - connection.opened_at < self.AT_MOST_FOR
            and connection.sent < self.AT_MOST_MESSAGES
        )

    async def _take(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if self._reusable(connection, now):
                return connection
            await self._close(connection)
        s = self.settings
        if self._local_hostname is None:  # looked up once, not on every connection as aiosmtplib would
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            local_hostname=self._local_hostname,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=30,
        )
        await client.connect()
        opened = time.monotonic()
        return _Connection(client, asyncio.get_running_loop(), opened, opened)

    @staticmethod
    async def _close(connection: _Connection) -> None:
        """QUIT when the connection is still open; a connection that is not is just dropped. One opened on another
        event loop (a command or test that ran its own) is closed by that loop, or dropped with it."""
        client = connection.client
        if connection.loop is not asyncio.get_running_loop():
            if not connection.loop.is_closed():
                connection.loop.call_soon_threadsafe(client.close)
        elif client.is_connected:
            try:
                await asyncio.wait_for(client.quit(), timeout=5)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


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
        log.info("mail_written_to_file", path=path.name)


KEPT_CONNECTIONS = 8  # SMTP connections a long-running process keeps open (its job workers send at once)


def mail_transport(settings: Settings, *, keep: int = 0) -> MailTransport:
    """SMTP when a server is configured (keeping up to ``keep`` connections open), files under the data directory
    otherwise."""
    return SmtpTransport(settings, keep=keep) if settings.smtp_host else FileTransport(settings.mail_dir)


class Mailer:
    """What a feature sends through: fills the envelope headers it did not set, then hands the message over."""

    def __init__(
        self, settings: Settings, transport: MailTransport | None = None, *, keep_connections: int = 0
    ) -> None:
        self.settings = settings
        self.transport = transport or mail_transport(settings, keep=keep_connections)
        self.domain = settings.mail_from.rsplit("@", 1)[-1] or "civicvoice.invalid"

    def message(self, *, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = subject
        email["From"] = f"{self.settings.council_name} <{self.settings.mail_from}>"
        email["To"] = to
        email.set_content(text)
        if html is not None:
            email.add_alternative(html, subtype="html")
        return email

    async def send(self, message: EmailMessage) -> str:
        """Deliver; returns the Message-ID (kept if the caller derived one, e.g. from a row id)."""
        if message["Date"] is None:
            message["Date"] = formatdate(localtime=False, usegmt=True)
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid(domain=self.domain)
        if message["Auto-Submitted"] is None:
            message["Auto-Submitted"] = "auto-generated"
        await self.transport.deliver(message)
        return str(message["Message-ID"])

    async def aclose(self) -> None:
        """Close what the transport keeps open (SMTP connections kept between messages)."""
        closer = getattr(self.transport, "aclose", None)
        if closer is not None:
            await closer()


def delete_old_mail_files(directory: Path, now: datetime, kept_for: timedelta = MAIL_FILES_KEPT_FOR) -> int:
    """Delete file-backend messages (and any half-written ones) older than ``kept_for``; returns how many."""
    if not directory.is_dir():
        return 0
    cutoff = now.timestamp() - kept_for.total_seconds()
    deleted = 0
    for path in directory.iterdir():
        if path.suffix not in (".eml", ".tmp") or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:  # another worker pruned it first
            continue
    return deleted
