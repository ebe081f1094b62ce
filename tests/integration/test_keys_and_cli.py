"""Keys at start-up and the operator's command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicvoice.app import build_services, features
from civicvoice.cli import cli
from civicvoice.core.audit import AuditEvent
from civicvoice.core.auth import ApiKey, StaffUser
from civicvoice.core.settings import Settings
from civicvoice.staff.passwords import verify_password
from privacy.exceptions import KeyProblem
from privacy.keyring import Keyring
from privacy.models import KeyCheck
from tests.integration.support import TestDatabase

VENV_BIN = Path(sys.executable).parent


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICVOICE_")}
    env.update(
        CIVICVOICE_DATABASE_URL=settings.database_url,
        CIVICVOICE_DATA_DIR=str(settings.data_dir),
        CIVICVOICE_KEY_FILE=str(settings.key_file),
        CIVICVOICE_LOG_LEVEL="WARNING",
    )
    if settings.keys_json:
        env["CIVICVOICE_KEYS"] = settings.keys_json
    env.update(extra)
    return env


def invoke(settings: Settings, *args: str, **extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env_for(settings, **extra), catch_exceptions=False)
    return result.exit_code, result.output


async def test_first_start_records_key_check_values(settings: Settings, db: TestDatabase, catalogue: None) -> None:
    await build_services(settings, db.sessions, features())
    purposes = {row.purpose for row in await db.all(KeyCheck)}
    assert {"kek:1", "index:1", "suppression:1", "token"} <= purposes


async def test_wrong_key_refuses_to_start(settings: Settings, db: TestDatabase, catalogue: None) -> None:
    await build_services(settings, db.sessions, features())
    wrong = settings.with_changes(keys_json=Keyring.generate().to_json())
    with pytest.raises(KeyProblem) as problem:
        await build_services(wrong, db.sessions, features())
    assert "do not match" in problem.value.detail
    assert "\n" not in problem.value.detail


async def test_missing_key_refuses_to_start(settings: Settings, db: TestDatabase) -> None:
    missing = settings.with_changes(keys_json=None)
    with pytest.raises(KeyProblem) as problem:
        await build_services(missing, db.sessions, features())
    assert "keys init" in problem.value.detail


def test_run_refuses_with_one_line_and_no_traceback(settings: Settings, tmp_path: Path) -> None:
    env = env_for(settings)
    assert (
        subprocess.run([VENV_BIN / "civicvoice", "migrate"], env=env, capture_output=True, check=False).returncode == 0
    )
    # Record the right keys, then start with other keys.
    assert (
        subprocess.run(
            [VENV_BIN / "civicvoice", "keys", "status"], env=env, capture_output=True, check=False
        ).returncode
        == 0
    )
    first = subprocess.run(
        [VENV_BIN / "civicvoice", "worker", "--once"], env=env, capture_output=True, text=True, check=False
    )
    assert first.returncode == 0, first.stderr
    env["CIVICVOICE_KEYS"] = Keyring.generate().to_json()
    result = subprocess.run(
        [VENV_BIN / "civicvoice", "run", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert "do not match" in lines[0]


def test_keys_init_never_overwrites_existing_data(settings: Settings, tmp_path: Path) -> None:
    local = settings.with_changes(keys_json=None, key_file=tmp_path / "k" / "keys.json")
    code, out = invoke(local, "keys", "init")
    assert code == 0 and "Created key file" in out
    assert (local.key_file.stat().st_mode & 0o777) == 0o600
    code, out = invoke(local, "keys", "init")
    assert code == 0 and "already configured" in out
    # The key file is lost: init must refuse rather than make a new key over existing data.
    local.key_file.unlink()
    code, out = invoke(local, "keys", "init")
    assert code != 0 and "never creates a new key" in out


def test_api_key_commands(settings: Settings) -> None:
    code, out = invoke(
        settings, "apikey", "create", "--name", "Telephony", "--scope", "contacts:write", "--source", "telephony"
    )
    assert code == 0, out
    assert "sources telephony" in out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("cvk_")
    code, out = invoke(settings, "apikey", "list")
    assert "Telephony" in out and "active" in out and secret not in out and "sources: telephony" in out
    prefix = secret.split("_")[1]
    code, out = invoke(settings, "apikey", "sources", prefix, "--source", "telephony", "--source", "ivr")
    assert code == 0 and "now reports for: ivr, telephony" in out, out
    code, out = invoke(settings, "apikey", "revoke", prefix)
    assert code == 0 and "Revoked" in out
    code, out = invoke(settings, "apikey", "list")
    assert "revoked" in out
    code, out = invoke(settings, "apikey", "create", "--name", "x", "--scope", "everything", "--source", "crm")
    assert code != 0 and "Unknown scope" in out
    # A key reports for named contact systems only: none given, or a malformed one, is refused.
    code, out = invoke(settings, "apikey", "create", "--name", "x", "--scope", "contacts:write")
    assert code != 0 and "--source" in out
    code, out = invoke(
        settings, "apikey", "create", "--name", "x", "--scope", "contacts:write", "--source", "crm system!"
    )
    assert code != 0 and "is not a source name" in out
    code, out = invoke(settings, "apikey", "sources", "nope", "--source", "crm")
    assert code != 0 and "No API key" in out
    code, out = invoke(settings, "apikey", "revoke", "nope")
    assert code != 0 and "No API key" in out


async def test_api_key_is_stored_as_a_digest_and_audited(settings: Settings, db: TestDatabase) -> None:
    code, out = await asyncio.to_thread(
        invoke, settings, "apikey", "create", "--name", "CRM", "--scope", "contacts:write", "--source", "crm"
    )
    assert code == 0
    secret = out.strip().splitlines()[-1]
    [key] = await db.all(ApiKey)
    assert secret not in repr(vars(key)) and key.digest != secret and len(key.digest) == 64
    assert key.sources == ["crm"]
    assert [e.action for e in await db.all(AuditEvent)] == ["api_key.create"]


async def test_user_create(settings: Settings, db: TestDatabase) -> None:
    code, out = await asyncio.to_thread(
        invoke, settings, "user", "create", "--email", "DPO@Council.gov.uk", "--role", "dpo", "--name", "Dee"
    )
    assert code == 0, out
    password = out.strip().splitlines()[-1].split(": ", 1)[1]
    [user] = await db.all(StaffUser)
    assert user.email == "dpo@council.gov.uk" and user.role == "dpo"
    assert user.password_hash.startswith("$argon2") and verify_password(user.password_hash, password)
    code, out = await asyncio.to_thread(
        invoke, settings, "user", "create", "--email", "dpo@council.gov.uk", "--role", "dpo"
    )
    assert code != 0 and "already exists" in out
    code, out = await asyncio.to_thread(
        invoke, settings, "user", "create", "--email", "x@council.gov.uk", "--role", "admin", "--password", "short"
    )
    assert code != 0 and "12 characters" in out
    assert [e.action for e in await db.all(AuditEvent)] == ["staff_user.create"]


def test_demo_loads_once(settings: Settings) -> None:
    code, out = invoke(settings, "demo", "--history-size", "8")
    assert code == 0 and "Admin sign-in" in out and "cvk_" in out
    assert "Demo history loaded:" in out and "over 13 months" in out
    code, out = invoke(settings, "demo")
    assert code == 0 and "already loaded" in out


def test_demo_history_size_must_be_a_positive_number(settings: Settings) -> None:
    code, out = invoke(settings, "demo", "--history-size", "0")
    assert code != 0 and "history-size" in out and "Traceback" not in out


def test_bad_settings_are_one_line(settings: Settings) -> None:
    code, out = invoke(settings, "apikey", "list", CIVICVOICE_DATABASE_URL="mysql://nope")
    assert code != 0 and "CIVICVOICE_DATABASE_URL" in out and "Traceback" not in out
