"""Requests from the public: a person asks through the request page, proves they control the email address they
gave by entering a one-time code sent to it, and the request is then recorded with that check.

Until the code is entered nothing is a request: what they typed waits, encrypted, in a `request_confirmation`
row that expires. The code is stored only as a digest bound to the row and to the random link token (which is
itself stored only as a digest), so the table alone cannot confirm anything. Codes expire, wrong guesses are
limited, and codes are rationed per email address and per client address (both kept only as keyed hashes), so
the page cannot be used to send mail to anyone at will.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Executable, ForeignKey, Index, LargeBinary, String, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import content_digest, derive_key, digest_secret
from civicvoice.core.datamap import DataMapEntry, Link
from civicvoice.core.db import Base
from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotFound
from civicvoice.core.mail import Mailer, MailNotAccepted
from civicvoice.core.settings import Settings
from privacy.blind_index import normalise_email, normalise_phone
from privacy.deadlines import WorkingCalendar, london_day
from privacy.exceptions import InvalidIdentifier
from privacy.fulfilment import link_person
from privacy.keyring import Keyring
from privacy.request_states import RequestKind
from privacy.requests import Requester, SubjectRequest, open_request, record_step
from privacy.vault import Vault

log = structlog.get_logger("civicvoice.privacy.public")

PUBLIC_ACTOR = Actor("public", "request-page")
CONFIRMATION_FIELD = "request_confirmation.requester"
CODE_LIFETIME = timedelta(minutes=30)
MAX_ATTEMPTS = 5
# Codes sent within THROTTLE_WINDOW: at most this many to one email address, and from one client address.
THROTTLE_WINDOW = timedelta(hours=1)
CODES_PER_ADDRESS = 3
CODES_PER_CLIENT = 10
# Rows are kept this long (for the throttle, and the confirmation page), then pruned by a job.
KEPT_FOR = timedelta(hours=24)
IDENTITY_CHECK = "Email control confirmed: a one-time code sent to the address given was entered"

NAME_MAX, REFERENCE_MAX, DETAILS_MAX = 200, 100, 2000


class RequestConfirmation(Base):
    """A request from the public waiting for its one-time code; pruned a day after it was started."""

    __tablename__ = "request_confirmation"
    __datamap__ = DataMapEntry(
        purpose="Confirm that a person asking through the public request page controls the email address given",
        holds=(
            "requester's name, contact details and request, until the code is entered",
            "keyed hash of the email address and of the client's IP address, to ration codes",
        ),
        category="subject rights",
        lawful_basis="legal_obligation",
        retention="24 hours",
        encrypted=("requester_ciphertext",),
        links=(Link("request_id", "subject_request"),),
        unlinked="a request not yet confirmed belongs to no one we know; it is deleted after 24 hours",
    )
    __table_args__ = (
        Index("ix_request_confirmation_email", "email_digest", "last_sent_at"),
        Index("ix_request_confirmation_client", "client_digest", "last_sent_at"),
        Index("ix_request_confirmation_created", "created_at"),
    )

    link_digest: Mapped[str] = mapped_column(String(64), unique=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    email_digest: Mapped[str] = mapped_column(String(64))
    client_digest: Mapped[str] = mapped_column(String(64))
    requester_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_sent_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    codes_sent: Mapped[int] = mapped_column(default=1)
    attempts: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    request_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("subject_request.id", ondelete="SET NULL"))


class TooManyCodes(CivicVoiceError):
    status = 429
    slug = "too-many-codes"
    title = "Too many codes requested"


class CodeNotSent(CivicVoiceError):
    """The mail server did not take the code's email: nothing was kept, and the person may try again later."""

    status = 503
    slug = "code-not-sent"
    title = "We could not send your code"


CODE_NOT_SENT = (
    "We could not send the code to your email address just now. Try again in a few minutes, or contact the council "
    "by phone or post."
)


class CodeProblem(InvalidInput):
    """A wrong, expired or used-up code; the detail tells the person what to do."""

    slug = "code-problem"
    title = "There is a problem with the code"


class LinkGone(NotFound):
    slug = "request-link-gone"
    title = "This link has expired"


@dataclass(frozen=True)
class PublicRequestForm:
    """What a person typed on the request page, as typed (checked by `check_form`)."""

    kind: str
    name: str
    email: str
    phone: str = ""
    contact_reference: str = ""
    details: str = ""


@dataclass(frozen=True)
class CheckedForm:
    kind: RequestKind
    requester: Requester
    email: str  # normalised


def check_form(form: PublicRequestForm) -> tuple[CheckedForm | None, list[tuple[str, str]]]:
    """Every problem with the form at once (field, message), as the GOV.UK error summary shows them."""
    errors: list[tuple[str, str]] = []
    kind = None
    try:
        kind = RequestKind(form.kind)
    except ValueError:
        errors.append(("kind", "Select what you want to ask for"))
    name = " ".join(form.name.split())
    if not name:
        errors.append(("name", "Enter your full name"))
    elif len(name) > NAME_MAX:
        errors.append(("name", f"Your name must be {NAME_MAX} characters or fewer"))
    email = ""
    if not form.email.strip():
        errors.append(("email", "Enter your email address, so we can send you a code"))
    else:
        try:
            email = normalise_email(form.email)
        except InvalidIdentifier as exc:
            errors.append(("email", exc.detail))
    phone = None
    if form.phone.strip():
        try:
            phone = normalise_phone(form.phone)
        except InvalidIdentifier as exc:
            errors.append(("phone", exc.detail))
    reference = form.contact_reference.strip()
    if len(reference) > REFERENCE_MAX:
        errors.append(("contact_reference", f"The reference must be {REFERENCE_MAX} characters or fewer"))
    details = form.details.strip()
    if len(details) > DETAILS_MAX:
        errors.append(("details", f"What you tell us must be {DETAILS_MAX} characters or fewer"))
    elif kind is RequestKind.rectification and not details:
        errors.append(("details", "Tell us what is wrong and what it should say"))
    elif kind is RequestKind.complaint and not details:
        errors.append(("details", "Tell us what your complaint is about"))
    if errors or kind is None:
        return None, errors
    requester = Requester(name=name, email=email, phone=phone, details=details, contact_reference=reference or None)
    return CheckedForm(kind, requester, email), []


def masked_email(email: str) -> str:
    """The address as the code page shows it: enough to recognise, not to harvest ("j***@example.org")."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _code_digest(row_id: uuid.UUID, link: str, code: str) -> str:
    return content_digest(f"civicvoice request code v1|{row_id}|{link}|{code}")


@dataclass(frozen=True)
class Started:
    link: str  # the secret in the code page's address
    confirmation: RequestConfirmation


@dataclass(frozen=True)
class Confirmed:
    request: SubjectRequest
    new: bool  # False: the code was entered before and this is the same request


class PublicRequests:
    """The public request page's service: start (send a code), send another, confirm."""

    def __init__(self, vault: Vault, keyring: Keyring, mailer: Mailer, settings: Settings) -> None:
        self.vault = vault
        self.mailer = mailer
        self.settings = settings
        self._throttle_key = derive_key(keyring.token, b"civicvoice public request throttle")

    def _keyed(self, kind: str, value: str) -> str:
        return hmac.new(self._throttle_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    async def _ration(self, session: AsyncSession, email_digest: str, client_digest: str, now: datetime) -> None:
        since = now - THROTTLE_WINDOW
        total = func.coalesce(func.sum(RequestConfirmation.codes_sent), 0)
        by_address = await session.scalar(
            select(total).where(
                RequestConfirmation.email_digest == email_digest, RequestConfirmation.last_sent_at > since
            )
        )
        by_client = await session.scalar(
            select(total).where(
                RequestConfirmation.client_digest == client_digest, RequestConfirmation.last_sent_at > since
            )
        )
        if (by_address or 0) >= CODES_PER_ADDRESS or (by_client or 0) >= CODES_PER_CLIENT:
            raise TooManyCodes(
                "We have sent as many codes as we can for now. Wait an hour and try again, or contact the council "
                "by phone or post."
            )

    async def _send_code(self, email: str, code: str, confirmation_id: uuid.UUID) -> None:
        council = self.settings.council_name
        message = self.mailer.message(
            to=email,
            subject=f"Your code for your data protection request to {council}",
            text=(
                f"Your code is {code}\n\n"
                f"Enter it on the page where you made your request to {council}. The code works for "
                f"{int(CODE_LIFETIME.total_seconds() // 60)} minutes.\n\n"
                "If you did not ask for this code, you can ignore this email: nothing happens without the code.\n"
            ),
        )
        message["Message-ID"] = f"<request-code.{confirmation_id}.{secrets.token_hex(4)}@{self.mailer.domain}>"
        await self.mailer.send(message)

    async def start(self, session: AsyncSession, checked: CheckedForm, *, client: str) -> Started:
        """Keep what they typed (encrypted) and send a code to their address; TooManyCodes when rationed."""
        now = utcnow()
        email_digest, client_digest = self._keyed("email", checked.email), self._keyed("client", client)
        await self._ration(session, email_digest, client_digest, now)
        link, code = secrets.token_urlsafe(32), _new_code()
        confirmation = RequestConfirmation(
            link_digest=digest_secret(link),
            kind=checked.kind.value,
            email_digest=email_digest,
            client_digest=client_digest,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
            last_sent_at=now,
            codes_sent=1,
            attempts=0,
        )
        confirmation.code_digest = _code_digest(confirmation.id, link, code)
        confirmation.requester_ciphertext = await self.vault.encrypt_for_period(
            session, _period(now), CONFIRMATION_FIELD, confirmation.id, checked.requester.to_json()
        )
        session.add(confirmation)
        record(
            session,
            PUBLIC_ACTOR,
            "privacy.request.code_sent",
            target_kind="request_confirmation",
            target_id=confirmation.id,
            detail={"kind": checked.kind.value},
        )
        # Not sent: what they typed is not kept, and the code does not count against their ration.
        undo = delete(RequestConfirmation).where(RequestConfirmation.id == confirmation.id)
        await self._commit_then_send(session, checked.email, code, confirmation, undo=undo, field="email")
        return Started(link, confirmation)

    async def find(self, session: AsyncSession, link: str, *, lock: bool = False) -> RequestConfirmation:
        stmt = select(RequestConfirmation).where(RequestConfirmation.link_digest == digest_secret(link))
        found = await session.scalar(stmt.with_for_update() if lock else stmt)
        if found is None:
            raise LinkGone("This link has expired or is not right. Start your request again.")
        return found

    async def email_of(self, session: AsyncSession, confirmation: RequestConfirmation) -> str | None:
        requester = await self._requester(session, confirmation)
        return requester.email if requester else None

    async def _requester(self, session: AsyncSession, confirmation: RequestConfirmation) -> Requester | None:
        if confirmation.requester_ciphertext is None:
            return None
        text = await self.vault.decrypt_for_period(
            session,
            _period(confirmation.created_at),
            CONFIRMATION_FIELD,
            confirmation.id,
            confirmation.requester_ciphertext,
        )
        return Requester.from_json(text)

    async def resend(self, session: AsyncSession, link: str, *, client: str) -> RequestConfirmation:
        """A new code for the same request (the old one stops working); rationed like the first."""
        confirmation = await self.find(session, link, lock=True)
        if confirmation.confirmed_at is not None:
            raise CodeProblem("You have already confirmed this request.", field="code")
        requester = await self._requester(session, confirmation)
        if requester is None or requester.email is None:
            raise LinkGone("This link has expired or is not right. Start your request again.")
        now = utcnow()
        await self._ration(session, confirmation.email_digest, self._keyed("client", client), now)
        code = _new_code()
        confirmation.code_digest = _code_digest(confirmation.id, link, code)
        confirmation.codes_sent += 1
        confirmation.attempts = 0
        confirmation.last_sent_at = now
        confirmation.expires_at = now + CODE_LIFETIME
        record(
            session,
            PUBLIC_ACTOR,
            "privacy.request.code_sent",
            target_kind="request_confirmation",
            target_id=confirmation.id,
            detail={"kind": confirmation.kind, "again": True},
        )
        # Not sent: the new code does not count against their ration (the old one was replaced, so they ask again
        # once the mail server is back).
        undo = (
            update(RequestConfirmation)
            .where(RequestConfirmation.id == confirmation.id)
            .values(codes_sent=RequestConfirmation.codes_sent - 1)
        )
        await self._commit_then_send(session, requester.email, code, confirmation, undo=undo, field="code")
        return confirmation

    async def _commit_then_send(
        self,
        session: AsyncSession,
        email: str,
        code: str,
        confirmation: RequestConfirmation,
        *,
        undo: Executable,
        field: str,
    ) -> None:
        """Commit, then email the code, so no transaction (on SQLite, the writer lock) waits on the mail server. If
        the server does not take it, ``undo`` runs and the failure is audited in a transaction of its own, and
        CodeNotSent (naming ``field``) is raised."""
        await session.commit()
        try:
            await self._send_code(email, code, confirmation.id)
        except MailNotAccepted:
            await session.execute(undo)
            record(
                session,
                PUBLIC_ACTOR,
                "privacy.request.code_not_sent",
                target_kind="request_confirmation",
                target_id=confirmation.id,
                detail={"kind": confirmation.kind},
            )
            await session.commit()
            raise CodeNotSent(CODE_NOT_SENT, field=field) from None

    async def confirm(
        self, session: AsyncSession, calendar: WorkingCalendar, link: str, code: str
    ) -> Confirmed | CodeProblem:
        """The code entered: the request is recorded (with the identity check), or the problem is returned so the
        caller can store the counted attempt and still say what went wrong."""
        confirmation = await self.find(session, link, lock=True)
        if confirmation.request_id is not None:
            request = await session.get(SubjectRequest, confirmation.request_id)
            if request is not None:
                return Confirmed(request, new=False)
        now = utcnow()
        entered = "".join(code.split())
        if confirmation.attempts >= MAX_ATTEMPTS:
            return CodeProblem(
                "You have entered the wrong code too many times. Select 'Send me a new code'.", field="code"
            )
        if confirmation.expires_at <= now:
            return CodeProblem("This code has expired. Select 'Send me a new code'.", field="code")
        if not entered:
            return CodeProblem("Enter the 6-digit code from the email", field="code")
        if not (entered.isdigit() and len(entered) == 6):
            return CodeProblem("The code must be 6 digits, like 123456", field="code")
        confirmation.attempts += 1
        if not hmac.compare_digest(_code_digest(confirmation.id, link, entered), confirmation.code_digest):
            left = MAX_ATTEMPTS - confirmation.attempts
            if left <= 0:
                record(
                    session,
                    PUBLIC_ACTOR,
                    "privacy.request.code_locked",
                    target_kind="request_confirmation",
                    target_id=confirmation.id,
                )
                return CodeProblem(
                    "You have entered the wrong code too many times. Select 'Send me a new code'.", field="code"
                )
            return CodeProblem(
                f"The code is not right. Check the email and try again ({left} "
                f"{'try' if left == 1 else 'tries'} left).",
                field="code",
            )
        requester = await self._requester(session, confirmation)
        if requester is None:
            raise LinkGone("This link has expired or is not right. Start your request again.")
        kind = RequestKind(confirmation.kind)
        request = await open_request(
            session,
            self.vault,
            calendar,
            kind=kind,
            requester=requester,
            channel="public",
            actor=PUBLIC_ACTOR,
            identity_required=False,
            received_at=confirmation.created_at,
            identity_checked=IDENTITY_CHECK,
        )
        await session.flush()
        confirmation.confirmed_at = now
        confirmation.request_id = request.id
        confirmation.requester_ciphertext = None  # the request holds it now
        await link_person(session, self.vault, request, actor=PUBLIC_ACTOR)
        sent = await self._send_receipt(request, requester)
        if sent and kind is RequestKind.complaint:
            request.acknowledged_on = london_day(now)
            await record_step(
                session, self.vault, request, actor=PUBLIC_ACTOR, action="acknowledged", note="By email, on receipt"
            )
        return Confirmed(request, new=True)

    async def _send_receipt(self, request: SubjectRequest, requester: Requester) -> bool:
        """Tell them their reference and the date we answer by; a mail failure does not undo the request (the
        page shows the same), so it is logged, not raised."""
        council = self.settings.council_name
        kind = RequestKind(request.kind)
        lines = [
            f"Dear {requester.name},",
            "",
            f"We have received your request: {kind.label.lower()}.",
            f"Your reference is {request.reference}. Quote it if you contact us about this request.",
        ]
        if request.due_on is not None:
            lines.append(f"We will respond by {request.due_on:%-d %B %Y}.")
        if kind is RequestKind.complaint:
            lines.append("This email acknowledges your complaint. We will tell you the outcome.")
        lines += ["", council]
        message = self.mailer.message(
            to=requester.email or "",
            subject=f"Your data protection request to {council}: {request.reference}",
            text="\n".join(lines) + "\n",
        )
        message["Message-ID"] = f"<request-receipt.{request.id}@{self.mailer.domain}>"
        try:
            await self.mailer.send(message)
        except CivicVoiceError:
            log.warning("request_receipt_not_sent", request_id=str(request.id))
            return False
        return True


def _period(moment: datetime) -> str:
    # The same yearly key as the requests themselves (retention destroys it with them).
    return f"R-{london_day(moment).year}"


async def prune_confirmations(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete what the public page kept more than a day ago (confirmed or not); returns how many rows."""
    cutoff = (now or utcnow()) - KEPT_FOR
    result = await session.execute(delete(RequestConfirmation).where(RequestConfirmation.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
