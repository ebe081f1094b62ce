"""The one settings object: read once from the environment (CIVICVOICE_*), immutable afterwards."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from civicvoice.core.errors import ConfigurationError

SmtpSecurity = Literal["none", "starttls", "tls"]
NOTIFY_BASE_URL = "https://api.notifications.service.gov.uk"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _bool(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")


def _int(raw: str, name: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, not {value}.")
    return value


def _float(raw: str, name: str, *, low: float, high: float, above: bool = False, hint: str = "") -> float:
    """A number within [low, high] (or (low, high] when ``above``); ``hint`` says what a value means."""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}.") from None
    if not (low < value if above else low <= value) or not value <= high:
        bounds = f"above {low:g} and at most {high:g}" if above else f"between {low:g} and {high:g}"
        raise ConfigurationError(f"{name} must be {bounds}{f' ({hint})' if hint else ''}, not {raw}.")
    return value


MIN_SHARED_SECRET = 32  # characters: a shared HMAC secret shorter than this is refused at start


def _platform_secrets(raw: str, name: str) -> dict[str, str]:
    """A JSON object of platform name -> shared secret; names as contact sources, secrets long enough."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a JSON object of platform name to secret.") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{name} must be a JSON object of platform name to secret.")
    for platform, secret in value.items():
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", platform):
            raise ConfigurationError(f"{name}: platform names are letters, digits, '.', '-' or '_' (at most 64).")
        if not isinstance(secret, str) or len(secret) < MIN_SHARED_SECRET:
            raise ConfigurationError(
                f"{name}: the secret for {platform} must be at least {MIN_SHARED_SECRET} characters."
            )
    return dict(value)


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def _origins(raw: str, name: str) -> tuple[str, ...]:
    """Web origins as browsers send them (scheme://host[:port], no path), lower-cased, without repeats."""
    origins = sorted({part.strip().lower().rstrip("/") for part in raw.split(",") if part.strip()})
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ConfigurationError(
                f"{name}: {origin[:80]!r} is not a web origin; give scheme://host[:port] such as https://chat.example.org."
            )
    return tuple(origins)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = ""
    # Keys live outside the data directory, so a copy of the data is not a copy of the keys.
    key_file: Path = Path(".keys/civicvoice-keys.json")
    keys_json: str | None = None
    base_url: str = ""
    council_name: str = "Example City Council"
    privacy_notice_url: str = "/privacy"
    accessibility_statement_url: str = "/accessibility"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "feedback@example.gov.uk"
    # embedded: the worker inside the web process claims from the outbox; saq: due outbox rows are relayed to
    # SAQ on Redis and `civicvoice worker` processes (on any number of machines) run them.
    job_backend: Literal["embedded", "saq"] = "embedded"
    redis_url: str = "redis://127.0.0.1:6379/0"
    saq_queue: str = "civicvoice"
    saq_concurrency: int = 4
    # Overrides every job's own lease (seconds); the heartbeat renews a lease at a third of its length.
    job_lease_seconds: float | None = None
    embedded_worker: bool = True
    # A long-running process moves what it built at start out of the garbage collector's reach (`settle_heap`).
    freeze_heap: bool = True
    worker_poll_seconds: float = 1.0
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 2 * 1024 * 1024
    secure_cookies: bool = False
    # Retired key-encryption keys are destroyed this long after their last use: the backup retention period.
    key_backup_window_days: int = 35
    # The share of its time a retention run works: after each batch it pauses so that its batches take at most
    # this share (0.25: a pause three times as long as the batch), leaving the database and the CPU to the service;
    # 1: no pause. A day's expiries take seconds either way; a backlog of millions of rows takes an hour or so.
    retention_duty: float = 0.25
    # Whose bank holidays count for deadlines: england-and-wales, scotland or northern-ireland.
    bank_holiday_region: str = "england-and-wales"
    # The quality workspace: the share of each agent's contacts per service drawn for evaluation; working days
    # to acknowledge a complaint and to answer it at stage 1 and stage 2 (the Complaint Handling Code's
    # defaults); working hours to call back a very dissatisfied respondent or one who asked.
    evaluation_sample_rate: float = 0.05
    case_acknowledge_days: int = 5
    case_stage1_days: int = 10
    case_stage2_days: int = 20
    callback_hours: int = 16
    # The council's own quality form as JSON ([{"key", "label", "weight"}, ...]); unset: the default form.
    quality_form_json: str | None = None
    # GOV.UK Notify (surveys/channels/notify.py): email and SMS invitations, delivery receipts and SMS replies.
    notify_api_key: str | None = None
    notify_base_url: str = NOTIFY_BASE_URL
    notify_sms_template_id: str | None = None
    notify_email_template_id: str | None = None
    # The bearer token Notify sends with its callbacks (set the same one in Notify's API integration page).
    notify_callback_token: str | None = None
    # "link": the SMS carries a short survey link; "question": it asks the CSAT question, answered by reply.
    notify_sms_mode: Literal["link", "question"] = "link"
    # Notify allows 3,000 messages a minute per service; every worker shares one limiter under this ceiling.
    notify_rate_per_minute: int = 3000
    # Telephony platforms allowed to call the IVR survey webhook: platform name (the `source` it reports its calls
    # under as contacts) -> the shared secret its requests are HMAC-SHA256 signed with (CIVICVOICE_IVR_SECRETS).
    ivr_secrets: Mapping[str, str] = field(default_factory=dict)
    # Web chat platforms allowed to ask for end-of-chat widget tokens, signed like the IVR webhook
    # (CIVICVOICE_CHAT_SECRETS); the web origins whose pages may embed the widget (CIVICVOICE_CHAT_ALLOWED_ORIGINS,
    # comma-separated, e.g. https://chat.example.gov.uk); how long a widget token lasts.
    chat_secrets: Mapping[str, str] = field(default_factory=dict)
    chat_allowed_origins: tuple[str, ...] = ()
    chat_token_minutes: int = 15
    # Face-to-face kiosks (surveys/channels/kiosk.py): a screen left alone this long starts again for the next
    # person; each tablet may send at most this many answers a minute (a stuck or abused tablet is refused).
    kiosk_idle_seconds: int = 30
    kiosk_answers_per_minute: int = 12
    # Paper surveys (surveys/letters.py): days after a letter is printed that an unanswered one is due its one
    # reminder letter; and the language letters are printed in: "preferred" (the language the contact event gave,
    # when the survey has it, else English) or "bilingual" (Welsh first, then English, when the survey has Welsh).
    letter_reminder_days: int = 14
    letter_language: Literal["preferred", "bilingual"] = "preferred"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///{(self.data_dir / 'civicvoice.db').as_posix()}"
            )
        if not self.base_url:
            object.__setattr__(self, "base_url", f"http://{self.host}:{self.port}")
        url = self.database_url
        if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
            raise ConfigurationError(
                "CIVICVOICE_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://."
            )

    @property
    def serves_https(self) -> bool:
        """Whether people reach the site over https (the base URL says so, whatever a proxy forwards to us):
        cookies are then Secure with the __Host- prefix, and HSTS is sent."""
        return self.base_url.lower().startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"CIVICVOICE_{name}")
            return value if value not in (None, "") else None

        kwargs: dict[str, Any] = {}
        if (v := get("HOST")) is not None:
            kwargs["host"] = v
        if (v := get("PORT")) is not None:
            kwargs["port"] = _int(v, "CIVICVOICE_PORT", low=1, high=65535)
        if (v := get("DATA_DIR")) is not None:
            kwargs["data_dir"] = Path(v)
        if (v := get("DATABASE_URL")) is not None:
            kwargs["database_url"] = v
        if (v := get("KEY_FILE")) is not None:
            kwargs["key_file"] = Path(v)
        if (v := get("KEYS")) is not None:
            kwargs["keys_json"] = v
        if (v := get("BASE_URL")) is not None:
            kwargs["base_url"] = v.rstrip("/")
        if (v := get("COUNCIL_NAME")) is not None:
            kwargs["council_name"] = v
        if (v := get("PRIVACY_NOTICE_URL")) is not None:
            kwargs["privacy_notice_url"] = v
        if (v := get("ACCESSIBILITY_STATEMENT_URL")) is not None:
            kwargs["accessibility_statement_url"] = v
        if (v := get("SMTP_HOST")) is not None:
            kwargs["smtp_host"] = v
        if (v := get("SMTP_PORT")) is not None:
            kwargs["smtp_port"] = _int(v, "CIVICVOICE_SMTP_PORT", low=1, high=65535)
        if (v := get("SMTP_SECURITY")) is not None:
            if v not in ("none", "starttls", "tls"):
                raise ConfigurationError("CIVICVOICE_SMTP_SECURITY must be none, starttls or tls.")
            kwargs["smtp_security"] = v
        if (v := get("SMTP_USERNAME")) is not None:
            kwargs["smtp_username"] = v
        if (v := get("SMTP_PASSWORD")) is not None:
            kwargs["smtp_password"] = v
        if (v := get("MAIL_FROM")) is not None:
            kwargs["mail_from"] = v
        if (v := get("EMBEDDED_WORKER")) is not None:
            kwargs["embedded_worker"] = _bool(v, "CIVICVOICE_EMBEDDED_WORKER")
        if (v := get("FREEZE_HEAP")) is not None:
            kwargs["freeze_heap"] = _bool(v, "CIVICVOICE_FREEZE_HEAP")
        if (v := get("WORKER_POLL_SECONDS")) is not None:
            try:
                kwargs["worker_poll_seconds"] = max(0.05, float(v))
            except ValueError:
                raise ConfigurationError("CIVICVOICE_WORKER_POLL_SECONDS must be a number.") from None
        if (v := get("JOB_BACKEND")) is not None:
            if v not in ("embedded", "saq"):
                raise ConfigurationError("CIVICVOICE_JOB_BACKEND must be embedded or saq.")
            kwargs["job_backend"] = v
        if (v := get("REDIS_URL")) is not None:
            if not v.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigurationError("CIVICVOICE_REDIS_URL must start with redis://, rediss:// or unix://.")
            kwargs["redis_url"] = v
        if (v := get("SAQ_QUEUE")) is not None:
            if not re.fullmatch(r"[A-Za-z0-9_\-]{1,60}", v):
                raise ConfigurationError("CIVICVOICE_SAQ_QUEUE must be letters, digits, - or _ (at most 60).")
            kwargs["saq_queue"] = v
        if (v := get("SAQ_CONCURRENCY")) is not None:
            kwargs["saq_concurrency"] = _int(v, "CIVICVOICE_SAQ_CONCURRENCY", low=1, high=100)
        if (v := get("JOB_LEASE_SECONDS")) is not None:
            kwargs["job_lease_seconds"] = _float(v, "CIVICVOICE_JOB_LEASE_SECONDS", low=0.3, high=86400, hint="seconds")
        if (v := get("LOG_LEVEL")) is not None:
            kwargs["log_level"] = v.upper()
        if (v := get("LOG_JSON")) is not None:
            kwargs["log_json"] = _bool(v, "CIVICVOICE_LOG_JSON")
        if (v := get("MAX_BODY_BYTES")) is not None:
            kwargs["max_body_bytes"] = _int(v, "CIVICVOICE_MAX_BODY_BYTES", low=1024, high=64 * 1024 * 1024)
        if (v := get("SECURE_COOKIES")) is not None:
            kwargs["secure_cookies"] = _bool(v, "CIVICVOICE_SECURE_COOKIES")
        if (v := get("BANK_HOLIDAY_REGION")) is not None:
            kwargs["bank_holiday_region"] = v
        if (v := get("KEY_BACKUP_WINDOW_DAYS")) is not None:
            kwargs["key_backup_window_days"] = _int(v, "CIVICVOICE_KEY_BACKUP_WINDOW_DAYS", low=0, high=3650)
        if (v := get("RETENTION_DUTY")) is not None:
            kwargs["retention_duty"] = _float(
                v, "CIVICVOICE_RETENTION_DUTY", low=0.05, high=1, hint="0.25: it works a quarter of the time"
            )
        if (v := get("EVALUATION_SAMPLE_RATE")) is not None:
            kwargs["evaluation_sample_rate"] = _float(
                v, "CIVICVOICE_EVALUATION_SAMPLE_RATE", low=0, high=1, above=True, hint="0.05: 5%"
            )
        for name in ("CASE_ACKNOWLEDGE_DAYS", "CASE_STAGE1_DAYS", "CASE_STAGE2_DAYS"):
            if (v := get(name)) is not None:
                kwargs[name.lower()] = _int(v, f"CIVICVOICE_{name}", low=1, high=120)
        if (v := get("QUALITY_FORM")) is not None:
            kwargs["quality_form_json"] = v
        if (v := get("CALLBACK_HOURS")) is not None:
            kwargs["callback_hours"] = _int(v, "CIVICVOICE_CALLBACK_HOURS", low=1, high=400)
        kwargs.update(_notify_from_env(get))
        if (v := get("IVR_SECRETS")) is not None:
            kwargs["ivr_secrets"] = _platform_secrets(v, "CIVICVOICE_IVR_SECRETS")
        if (v := get("CHAT_SECRETS")) is not None:
            kwargs["chat_secrets"] = _platform_secrets(v, "CIVICVOICE_CHAT_SECRETS")
        if (v := get("CHAT_ALLOWED_ORIGINS")) is not None:
            kwargs["chat_allowed_origins"] = _origins(v, "CIVICVOICE_CHAT_ALLOWED_ORIGINS")
        if (v := get("CHAT_TOKEN_MINUTES")) is not None:
            kwargs["chat_token_minutes"] = _int(v, "CIVICVOICE_CHAT_TOKEN_MINUTES", low=1, high=240)
        if (v := get("LETTER_REMINDER_DAYS")) is not None:
            kwargs["letter_reminder_days"] = _int(v, "CIVICVOICE_LETTER_REMINDER_DAYS", low=1, high=365)
        if (v := get("LETTER_LANGUAGE")) is not None:
            if v not in ("preferred", "bilingual"):
                raise ConfigurationError("CIVICVOICE_LETTER_LANGUAGE must be preferred or bilingual.")
            kwargs["letter_language"] = v
        return cls(**kwargs)

    @property
    def notify_configured(self) -> bool:
        """Whether GOV.UK Notify can send: an API key and at least one template."""
        return bool(self.notify_api_key and (self.notify_sms_template_id or self.notify_email_template_id))


def _notify_from_env(get: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if v := get("NOTIFY_API_KEY"):
        # Notify's keys end in the service id and the secret, two UUIDs (36 characters each).
        if len(v) < 74 or not (_UUID.match(v[-73:-37]) and _UUID.match(v[-36:])):
            raise ConfigurationError(
                "CIVICVOICE_NOTIFY_API_KEY must be a GOV.UK Notify API key (name-serviceid-secret, as Notify shows it)."
            )
        kwargs["notify_api_key"] = v
    if v := get("NOTIFY_BASE_URL"):
        if not v.startswith(("https://", "http://")):
            raise ConfigurationError(
                "CIVICVOICE_NOTIFY_BASE_URL must start with https:// (or http:// for a local one)."
            )
        kwargs["notify_base_url"] = v.rstrip("/")
    for name in ("SMS_TEMPLATE_ID", "EMAIL_TEMPLATE_ID"):
        if v := get(f"NOTIFY_{name}"):
            if not _UUID.match(v.lower()):
                raise ConfigurationError(f"CIVICVOICE_NOTIFY_{name} must be a template id (a UUID) from Notify.")
            kwargs[f"notify_{name.lower()}"] = v.lower()
    if v := get("NOTIFY_CALLBACK_TOKEN"):
        if len(v) < 10:
            raise ConfigurationError("CIVICVOICE_NOTIFY_CALLBACK_TOKEN must be at least 10 characters (Notify's rule).")
        kwargs["notify_callback_token"] = v
    if v := get("NOTIFY_SMS_MODE"):
        if v not in ("link", "question"):
            raise ConfigurationError("CIVICVOICE_NOTIFY_SMS_MODE must be link or question.")
        kwargs["notify_sms_mode"] = v
    if v := get("NOTIFY_RATE_PER_MINUTE"):
        kwargs["notify_rate_per_minute"] = _int(v, "CIVICVOICE_NOTIFY_RATE_PER_MINUTE", low=1, high=1_000_000)
    if v := get("KIOSK_IDLE_SECONDS"):
        kwargs["kiosk_idle_seconds"] = _int(v, "CIVICVOICE_KIOSK_IDLE_SECONDS", low=1, high=3600)
    if v := get("KIOSK_ANSWERS_PER_MINUTE"):
        kwargs["kiosk_answers_per_minute"] = _int(v, "CIVICVOICE_KIOSK_ANSWERS_PER_MINUTE", low=1, high=600)
    return kwargs
