"""Structured logs (structlog, JSON) that never carry personal data, request bodies, tokens or local variables."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

# Keys whose values are never logged, whatever code asks.
_DENY_KEYS = frozenset(
    {
        "email",
        "phone",
        "name",
        "comment",
        "comments",
        "body",
        "password",
        "token",
        "authorization",
        "cookie",
        "identity",
        "answer",
        "answers",
        "text",
        "address",
        "postcode",
        "secret",
        "key",
    }
)
# Values that look like personal data or secrets are masked even under an innocent key.
_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w\-])\+?\d[\d ()\-]{8,}\d(?![\w\-])")
_SAFE_KEYS = frozenset({"timestamp", "level", "logger", "route", "method", "status", "ms", "worker"})
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_API_KEY = re.compile(r"cvk_[A-Za-z0-9_\-]+")
# Paths whose last segment is a secret (survey and unsubscribe links): features declare them (SECRET_PATHS), the
# app registers them here at start-up. Group 1 (the path before the secret) is kept.
_secret_paths: list[re.Pattern[str]] = []


def mask_secret_paths(patterns: Iterable[re.Pattern[str]]) -> None:
    """Mask these paths' secrets in every log line from now on (called by the app factory with each feature's)."""
    for pattern in patterns:
        if pattern.pattern not in {known.pattern for known in _secret_paths}:
            _secret_paths.append(pattern)


def scrub(value: str) -> str:
    value = _EMAIL.sub("[email]", value)
    value = _API_KEY.sub("[api-key]", value)
    value = _BEARER.sub(r"\1[redacted]", value)
    for pattern in _secret_paths:
        value = pattern.sub(r"\1/[token]", value)
    # Ten or more digits is a phone, card or account number; dates and durations have fewer.
    return _PHONE.sub(lambda m: "[number]" if sum(c.isdigit() for c in m.group()) >= 10 else m.group(), value)


def _redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _DENY_KEYS:
            event_dict[key] = "[redacted]"
            continue
        value = event_dict[key]
        if isinstance(value, str) and key not in _SAFE_KEYS:
            event_dict[key] = scrub(value)
    return event_dict


def _scrub_exception(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Exception messages can quote input; keep their type and frames, mask the text.
    for frame_set in event_dict.get("exception", []) or []:
        if isinstance(frame_set, dict) and isinstance(frame_set.get("exc_value"), str):
            frame_set["exc_value"] = scrub(frame_set["exc_value"])[:300]
    return event_dict


def processors(*, json: bool) -> list[Any]:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
        # Tracebacks as data, without local variables (they would carry whatever the frame held).
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
        _scrub_exception,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    return [*shared, renderer]


def configure_logging(level: str = "INFO", *, json: bool = True, stream: Any = None) -> None:
    stream = stream or sys.stderr
    chain = processors(json=json)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *chain[:-1],
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, chain[-1]],
        foreign_pre_chain=chain[:-1],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's own access log prints raw paths (survey tokens); civicvoice logs route templates instead.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("aiosqlite", "asyncio", "sqlalchemy.engine", "aiosmtplib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
