"""Settings from the environment, and the log scrubber that keeps personal data out of logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog

from civicvoice.core.errors import ConfigurationError
from civicvoice.core.logging import configure_logging, mask_secret_paths, scrub
from civicvoice.core.settings import Settings


def test_defaults_and_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite+aiosqlite:///") and settings.port == 8000
    custom = Settings.from_env(
        {
            "CIVICVOICE_PORT": "9000",
            "CIVICVOICE_HOST": "0.0.0.0",  # noqa: S104 - a setting read back, nothing binds
            "CIVICVOICE_DATA_DIR": "/tmp/x",
            "CIVICVOICE_DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "CIVICVOICE_SMTP_HOST": "mail",
        }
    )
    assert (custom.port, custom.host, custom.smtp_host) == (9000, "0.0.0.0", "mail")  # noqa: S104
    assert custom.base_url == "http://0.0.0.0:9000"
    assert settings.ivr_secrets == {}
    ivr = Settings.from_env({"CIVICVOICE_IVR_SECRETS": json.dumps({"telephony": "k" * 40})})
    assert ivr.ivr_secrets == {"telephony": "k" * 40}
    chat = Settings.from_env(
        {
            "CIVICVOICE_CHAT_SECRETS": json.dumps({"webchat": "c" * 40}),
            "CIVICVOICE_CHAT_ALLOWED_ORIGINS": "https://Chat.example.org/, http://127.0.0.1:8080,https://chat.example.org",
            "CIVICVOICE_CHAT_TOKEN_MINUTES": "5",
        }
    )
    assert chat.chat_secrets == {"webchat": "c" * 40} and chat.chat_token_minutes == 5
    assert chat.chat_allowed_origins == ("http://127.0.0.1:8080", "https://chat.example.org")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CIVICVOICE_PORT": "eighty"}, "whole number"),
        ({"CIVICVOICE_PORT": "70000"}, "between"),
        ({"CIVICVOICE_DATABASE_URL": "mysql://x"}, "must start with"),
        ({"CIVICVOICE_SMTP_SECURITY": "ssl"}, "starttls"),
        ({"CIVICVOICE_EMBEDDED_WORKER": "maybe"}, "true or false"),
        ({"CIVICVOICE_IVR_SECRETS": "telephony=abc"}, "JSON object"),
        ({"CIVICVOICE_IVR_SECRETS": '["a"]'}, "JSON object"),
        ({"CIVICVOICE_IVR_SECRETS": '{"telephony": "short"}'}, "at least 32 characters"),
        ({"CIVICVOICE_IVR_SECRETS": '{"tele phony": "' + "k" * 40 + '"}'}, "platform names"),
        ({"CIVICVOICE_CHAT_SECRETS": '{"webchat": "short"}'}, "at least 32 characters"),
        ({"CIVICVOICE_CHAT_ALLOWED_ORIGINS": "https://chat.example.org/widget"}, "not a web origin"),
        ({"CIVICVOICE_CHAT_ALLOWED_ORIGINS": "*"}, "not a web origin"),
        ({"CIVICVOICE_CHAT_TOKEN_MINUTES": "0"}, "between 1 and 240"),
    ],
)
def test_bad_settings_say_what_to_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("mail to jo.bloggs@example.org failed", "jo.bloggs@example.org"),
        ("call 07912 345678", "07912 345678"),
        ("Bearer cvk_abc_def123", "cvk_abc_def123"),
        ("GET /secret-link/AQGiCCU4DXWLoqpT9kN7x?x=1", "AQGiCCU4DXWLoqpT9kN7x"),
    ],
)
def test_scrub_masks_personal_data_and_secrets(raw: str, leak: str) -> None:
    mask_secret_paths([re.compile(r"(/secret-link)/[^/\s?]+")])
    assert leak not in scrub(raw)


def test_scrub_keeps_the_path_before_a_registered_secret() -> None:
    mask_secret_paths([re.compile(r"(/secret-link)/[^/\s?]+")])
    assert scrub("GET /secret-link/abc123?x=1") == "GET /secret-link/[token]?x=1"


def test_scrub_keeps_ids_and_dates() -> None:
    text = "invitation 01a20825-3823-7706-b52e-fa6e8a92be20 at 2026-11-23T11:22:44"
    assert scrub(text) == text


def test_log_lines_drop_personal_keys_and_locals() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    log = structlog.get_logger("test")
    secret_local = "jo.bloggs@example.org"  # noqa: F841 - must never reach the log through a traceback
    try:
        raise ValueError("bad value for someone@example.org")
    except ValueError:
        log.exception("failed", email="jo@example.org", comment="rude staff", count=3)
    logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    dumped = json.dumps(line)
    assert line["count"] == 3 and line["email"] == "[redacted]" and line["comment"] == "[redacted]"
    assert "example.org" not in dumped and "rude staff" not in dumped
    assert "secret_local" not in dumped and line["exception"][0]["exc_type"] == "ValueError"
