"""Who may call what: API keys for contact systems, the staff principal (the staff_user table, roles, service
scopes) and the one authorisation guard. Staff accounts, passwords and sign-in live in the staff package.

Every route declares its access in ``opt["access"]``; the guard refuses a route that declares nothing, so a new
route without a decision cannot be reached.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from advanced_alchemy.types import DateTimeUTC, JsonB
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Reference, SecurityScheme
from sqlalchemy import String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from civicvoice.core.audit import Actor, record
from civicvoice.core.cache import TtlCache
from civicvoice.core.clock import utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.datamap import DataMapEntry
from civicvoice.core.db import Base
from civicvoice.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from civicvoice.core.services import ExtensionPoint, Extensions

API_KEY_PREFIX = "cvk"
ROLES = ("admin", "quality_reviewer", "service_manager", "agent", "dpo")


class ApiKey(Base):
    __tablename__ = "api_key"
    __datamap__ = DataMapEntry.no_personal_data("Credentials for contact systems calling the API")

    name: Mapped[str] = mapped_column(String(100))
    # The first characters identify a key in listings; the secret is stored only as a SHA-256 digest.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JsonB)
    # The contact systems (the events' `source`) this key may report for; no other system's contacts.
    sources: Mapped[list[str]] = mapped_column(JsonB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class StaffUser(Base):
    __tablename__ = "staff_user"
    __datamap__ = DataMapEntry(
        purpose="Staff accounts for the quality, service and data-protection teams",
        holds=("staff email", "staff display name", "password hash"),
        category="staff",
        lawful_basis="contract",
        retention="account lifetime + 1 year",
        subject_kind="staff",
        subject_link="id",
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    # Service slugs a service manager sees; agent reference an agent sees contacts for.
    service_scope: Mapped[list[str]] = mapped_column(JsonB, default=list)
    agent_ref: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


def normalise_staff_email(email: str) -> str:
    value = email.strip().lower()
    if value.count("@") != 1 or value.startswith("@") or "." not in value.split("@")[1] or len(value) > 254:
        raise InvalidInput("Enter a staff email address like name@council.gov.uk.", field="email")
    return value


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


# The shape of a contact event's `source` (surveys' schema declares the same).
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_sources(sources: Iterable[str]) -> list[str]:
    """The sources a key may report, sorted and without repeats; InvalidInput for a malformed one."""
    checked = sorted({source.strip() for source in sources})
    for source in checked:
        if not SOURCE_PATTERN.match(source):
            raise InvalidInput(
                f"Source {source[:70]!r} is not a source name: 1 to 64 letters, digits, '_', '.' or '-'.",
                field="sources",
            )
    return checked


async def create_api_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[str],
    known_scopes: Iterable[str],
    actor: Actor,
    sources: Iterable[str] = (),
) -> IssuedKey:
    """A new key for the given scopes, bound to the sources (contact systems) it may report for."""
    scopes = sorted(set(scopes))
    bound = check_sources(sources)
    known = set(known_scopes)
    unknown = [s for s in scopes if s not in known]
    if not scopes:
        raise InvalidInput(f"Give at least one scope: {', '.join(sorted(known))}.", field="scopes")
    if unknown:
        raise InvalidInput(
            f"Unknown scope {unknown[0]!r}; known scopes are {', '.join(sorted(known))}.", field="scopes"
        )
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("Give the key a name of 1 to 100 characters.", field="name")
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, prefix=prefix, digest=digest_secret(secret), scopes=scopes, sources=bound, created_at=utcnow()
    )
    session.add(key)
    record(
        session,
        actor,
        "api_key.create",
        target_kind="api_key",
        target_id=key.id,
        detail={"scopes": scopes, "sources": bound},
    )
    return IssuedKey(key, secret)


async def set_api_key_sources(session: AsyncSession, *, prefix: str, sources: Iterable[str], actor: Actor) -> ApiKey:
    """Bind an existing key to the sources it may report (keys made before sources existed report none)."""
    bound = check_sources(sources)
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"No API key with prefix {prefix!r}.", field="prefix")
    key.sources = bound
    record(session, actor, "api_key.set_sources", target_kind="api_key", target_id=key.id, detail={"sources": bound})
    _principals.clear()
    return key


async def revoke_api_key(session: AsyncSession, *, prefix: str, actor: Actor) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"No API key with prefix {prefix!r}.", field="prefix")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        record(session, actor, "api_key.revoke", target_kind="api_key", target_id=key.id)
    _principals.clear()
    return key


# --- the authorisation layer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """A route's access decision: public, an API scope, or staff roles."""

    kind: str
    scope: str | None = None
    roles: tuple[str, ...] = ()

    @classmethod
    def public(cls) -> Access:
        return cls("public")

    @classmethod
    def api(cls, scope: str) -> Access:
        return cls("api", scope=scope)

    @classmethod
    def webhook(cls, name: str) -> Access:
        """A provider calling back (delivery receipts, replies): checked by the `WebhookCheck` named ``name``."""
        return cls("webhook", scope=name)

    @classmethod
    def staff(cls, *roles: str) -> Access:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        return cls("staff", roles=roles or ROLES)

    def opt(self) -> dict[str, Any]:
        return {"access": self}


class SourceNotAllowed(PermissionDenied):
    slug = "source-not-allowed"
    title = "Source not allowed for this key"


@dataclass(frozen=True)
class ApiPrincipal:
    key_id: Any
    prefix: str
    scopes: tuple[str, ...]
    sources: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor("api_key", str(self.key_id))

    def may_report(self, source: str) -> bool:
        return source in self.sources

    def require_source(self, source: str) -> None:
        """SourceNotAllowed unless this key may report for ``source``: one contact system never reports, or
        learns the stored decisions, of another's contacts."""
        if not self.may_report(source):
            raise SourceNotAllowed(source_refusal(self, source), field="source")


def source_refusal(principal: ApiPrincipal, source: str) -> str:
    allowed = ", ".join(principal.sources) if principal.sources else "none"
    return (
        f"This API key may not report contacts of source {source[:64]!r} (its sources: {allowed}). "
        "Use the key issued for that contact system, or bind this one with 'civicvoice apikey sources'."
    )


# The OpenAPI description of how API routes authenticate (`security=API_KEY_SECURITY` on a controller; the app
# declares the scheme once in its OpenAPI components).
API_KEY_SCHEME = "apiKey"
API_KEY_SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    API_KEY_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        description="An API key from 'civicvoice apikey create', sent as 'Authorization: Bearer cvk_...'.",
    )
}
API_KEY_SECURITY: list[dict[str, list[str]]] = [{API_KEY_SCHEME: []}]
# Providers' callbacks (GOV.UK Notify) authenticate with the bearer token the council gave the provider.
PROVIDER_CALLBACK_SCHEME = "providerCallback"
API_KEY_SECURITY_SCHEMES[PROVIDER_CALLBACK_SCHEME] = SecurityScheme(
    type="http",
    scheme="bearer",
    description=(
        "The callback token the council set in the provider's own settings, sent as 'Authorization: Bearer ...' "
        "(GOV.UK Notify: CIVICVOICE_NOTIFY_CALLBACK_TOKEN)."
    ),
)
PROVIDER_TOKEN_SECURITY: list[dict[str, list[str]]] = [{PROVIDER_CALLBACK_SCHEME: []}]


@dataclass(frozen=True)
class WebhookCheck:
    """How the callbacks of one provider are authenticated (a bearer token, an HMAC signature): ``check`` raises
    NotAuthenticated or PermissionDenied for anything else, before the handler runs."""

    name: str
    check: Callable[[ASGIConnection[Any, Any, Any, Any]], Awaitable[None]]


WEBHOOK_CHECKS: ExtensionPoint[WebhookCheck] = ExtensionPoint(
    "core.webhook_checks", "authenticates a provider's callbacks (Access.webhook(name))"
)


def bearer_matches(connection: ASGIConnection[Any, Any, Any, Any], expected: str | None, *, provider: str) -> None:
    """Refuse unless the request carries ``Authorization: Bearer <expected>`` (compared in constant time)."""
    header = connection.headers.get("authorization") or ""
    if not expected:
        raise NotAuthenticated(f"{provider} callbacks are not configured here.")
    if not header.startswith("Bearer ") or not header[len("Bearer ") :].strip():
        raise NotAuthenticated(f"Send the {provider} callback token as 'Authorization: Bearer <token>'.")
    if not secrets.compare_digest(header[len("Bearer ") :].strip().encode(), expected.encode()):
        raise PermissionDenied(f"The {provider} callback token is not valid.")


_LAST_USED_GRANULARITY = timedelta(minutes=5)
# A key checked in the last few seconds is not looked up again: revocation takes effect within this time
# in every process (at once in the process that revoked it).
API_KEY_CACHE_SECONDS = 5.0
_principals: TtlCache[ApiPrincipal] = TtlCache(API_KEY_CACHE_SECONDS)


async def authenticate_api_key(sessions: async_sessionmaker[AsyncSession], authorization: str | None) -> ApiPrincipal:
    if not authorization or not authorization.startswith("Bearer "):
        raise NotAuthenticated("Send an API key as 'Authorization: Bearer <key>'.")
    secret = authorization[len("Bearer ") :].strip()
    if not secret.startswith(f"{API_KEY_PREFIX}_") or len(secret) > 200:
        raise NotAuthenticated("The API key is not valid.")
    digest = digest_secret(secret)
    cached = _principals.get(digest)
    if cached is not None:
        return cached
    async with sessions() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.digest == digest))
        if key is None or key.revoked_at is not None:
            raise NotAuthenticated("The API key is not valid or has been revoked.")
        principal = ApiPrincipal(key.id, key.prefix, tuple(key.scopes), tuple(key.sources or ()))
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > _LAST_USED_GRANULARITY:
            await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
            await session.commit()
        return _principals.put(digest, principal)


# The staff package checks staff sessions, roles and CSRF tokens; the kernel's guard hands staff routes to it.
StaffGuard = Callable[[ASGIConnection[Any, Any, Any, Any], Access], Awaitable[None]]
STAFF_GUARD: ExtensionPoint[StaffGuard] = ExtensionPoint("core.staff_guard", "checks a staff route's session and role")


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The single authorisation guard, registered on the app: every route passes through it."""
    access = handler.opt.get("access")
    if not isinstance(access, Access):
        # A route without a decision is a programming error; refuse rather than guess.
        raise PermissionDenied("This route has no access decision.")
    if access.kind == "public":
        return
    if access.kind == "api":
        sessions = connection.app.state.sessions
        principal = await authenticate_api_key(sessions, connection.headers.get("authorization"))
        if access.scope not in principal.scopes:
            raise PermissionDenied(f"This API key lacks the {access.scope!r} scope.")
        connection.state.api_principal = principal
        return
    if access.kind == "webhook":
        checks = [c for c in connection.app.state.extensions.items(WEBHOOK_CHECKS) if c.name == access.scope]
        if not checks:
            raise NotAuthenticated("This callback is not configured.")
        await checks[0].check(connection)
        return
    if access.kind == "staff":
        extensions: Extensions = connection.app.state.extensions
        guards = extensions.items(STAFF_GUARD)
        if not guards:
            raise NotAuthenticated("Sign in to continue.")
        await guards[0](connection, access)
        return
    raise PermissionDenied("This route has no access decision.")
