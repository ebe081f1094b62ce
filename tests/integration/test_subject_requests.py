"""Subject requests through their life: the clock starts, stops and is extended by the ICO rules, every move is
history and audit, illegal moves are refused, and the requester's details are stored only encrypted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from civicvoice.cli import cli
from civicvoice.core.audit import Actor, AuditEvent
from civicvoice.core.db import unit_of_work
from civicvoice.core.errors import InvalidInput
from civicvoice.core.settings import Settings
from privacy.deadlines import ExtensionRefused, WorkingCalendar
from privacy.keyring import Keyring
from privacy.request_states import IllegalTransition, RefusalNeedsReason, RequestKind, RequestState
from privacy.requests import (
    Requester,
    acknowledge,
    acknowledgement_due,
    find_request,
    history,
    move,
    open_request,
    queue,
    requester_of,
)
from privacy.vault import Vault
from tests.integration.support import TestDatabase
from tests.integration.test_keys_and_cli import env_for

CALENDAR = WorkingCalendar.of()
JO = Requester(name="Jo Bloggs", email="jo@example.org", details="Please send me everything you hold about me.")
DPO = Actor("staff", "dpo-1")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


async def test_a_request_runs_its_course_with_its_clock(db: TestDatabase, keyring: Keyring) -> None:
    vault = Vault(keyring)
    async with unit_of_work(db.sessions) as session:
        request = await open_request(
            session,
            vault,
            CALENDAR,
            kind=RequestKind.access,
            requester=JO,
            channel="staff",
            actor=DPO,
            identity_required=True,
            received_at=at(date(2026, 1, 31)),
        )
        reference = request.reference
        # Identity not yet proved: the clock has not started.
        assert request.state == RequestState.identity_pending and request.due_on is None
        await move(
            session,
            vault,
            CALENDAR,
            request,
            RequestState.in_progress,
            actor=DPO,
            on=date(2026, 1, 31),
            identity_method="matched council tax account",
        )
        # 31 January 2026 -> 28 February is a Saturday -> Monday 2 March.
        assert request.due_on == date(2026, 3, 2)
        # Waiting 5 days for clarification adds exactly 5 days.
        await move(session, vault, CALENDAR, request, RequestState.on_hold, actor=DPO, on=date(2026, 2, 10))
        assert request.due_on is None
        await move(session, vault, CALENDAR, request, RequestState.in_progress, actor=DPO, on=date(2026, 2, 15))
        assert request.due_on == date(2026, 3, 5)
        # Extended by two months within the first month, with a reason.
        await move(
            session,
            vault,
            CALENDAR,
            request,
            RequestState.extended,
            actor=DPO,
            reason="Records across five services",
            on=date(2026, 2, 20),
            months=2,
        )
        assert request.state == RequestState.extended and request.due_on == date(2026, 5, 5)
        await move(session, vault, CALENDAR, request, RequestState.completed, actor=DPO, reason="Package sent")
        assert request.closed_at is not None
    async with db.sessions() as session:
        stored = await find_request(session, reference.lower())
        steps = [(e.from_state, e.to_state) for e in await history(session, stored)]
        assert steps == [
            (None, "identity_pending"),
            ("identity_pending", "in_progress"),
            ("in_progress", "on_hold"),
            ("on_hold", "in_progress"),
            ("in_progress", "extended"),
            ("extended", "completed"),
        ]
        audited = (await session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(stored.id)))).all()
        assert audited.count("privacy.request.move") == 5 and "privacy.request.open" in audited
        # What the requester said and who they are: only as ciphertext, readable with the key.
        assert stored.requester_ciphertext is not None and b"jo@example.org" not in stored.requester_ciphertext
        assert await requester_of(session, vault, stored) == JO


async def test_illegal_moves_and_late_extensions_are_refused(db: TestDatabase, keyring: Keyring) -> None:
    vault = Vault(keyring)
    async with unit_of_work(db.sessions) as session:
        request = await open_request(
            session,
            vault,
            CALENDAR,
            kind=RequestKind.erasure,
            requester=JO,
            channel="staff",
            actor=DPO,
            identity_required=False,
            received_at=at(date(2025, 1, 31)),
        )
        assert request.due_on == date(2025, 2, 28)
        with pytest.raises(IllegalTransition, match="cannot become identity pending"):
            await move(session, vault, CALENDAR, request, RequestState.identity_pending, actor=DPO)
        with pytest.raises(ExtensionRefused, match="first month"):
            await move(
                session, vault, CALENDAR, request, RequestState.extended, actor=DPO, reason="late", on=date(2025, 3, 3)
            )
        await move(session, vault, CALENDAR, request, RequestState.refused, actor=DPO, reason="Art. 17(3)(e)")
        with pytest.raises(IllegalTransition, match="closed request"):
            await move(session, vault, CALENDAR, request, RequestState.in_progress, actor=DPO)


async def test_bad_requests_say_what_to_fix(db: TestDatabase, keyring: Keyring) -> None:
    vault = Vault(keyring)
    async with unit_of_work(db.sessions) as session:
        with pytest.raises(InvalidInput, match="way to reach"):
            await open_request(
                session,
                vault,
                CALENDAR,
                kind=RequestKind.access,
                requester=Requester(name="No Contact"),
                channel="staff",
                actor=DPO,
                identity_required=False,
            )
        with pytest.raises(InvalidInput, match="future"):
            await open_request(
                session,
                vault,
                CALENDAR,
                kind=RequestKind.access,
                requester=JO,
                channel="staff",
                actor=DPO,
                identity_required=False,
                received_at=at(date(2099, 1, 1)),
            )


async def test_the_queue_shows_days_left_and_overdue_first(db: TestDatabase, keyring: Keyring) -> None:
    vault = Vault(keyring)
    async with unit_of_work(db.sessions) as session:
        for received in (date(2026, 11, 20), date(2026, 9, 1), date(2026, 10, 27)):
            await open_request(
                session,
                vault,
                CALENDAR,
                kind=RequestKind.access,
                requester=JO,
                channel="staff",
                actor=DPO,
                identity_required=False,
                received_at=at(received),
            )
        items = await queue(session, CALENDAR, today=date(2026, 11, 27))
    assert [i.received_on for i in items] == [date(2026, 9, 1), date(2026, 10, 27), date(2026, 11, 20)]
    assert items[0].overdue and items[0].label.startswith("Overdue by")
    assert items[1].label == "Due today" and not items[1].overdue
    assert items[2].label == "24 days left"  # 20 December 2026 is a Sunday: due Monday 21st


def test_the_requests_commands(settings: Settings) -> None:
    runner = CliRunner()
    env = env_for(settings)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    assert run("user", "create", "--email", "dpo@council.example", "--role", "dpo", "--password", "x" * 14)[0] == 0
    code, out = run(
        "privacy",
        "requests",
        "open",
        "--kind",
        "access",
        "--name",
        "Jo Bloggs",
        "--email",
        "-",
        "--as",
        "dpo@council.example",
        "--json",
        stdin="jo@example.org\n",
    )
    assert code == 0, out
    opened = json.loads(out)
    assert opened["state"] == "in_progress" and opened["due_on"]
    code, out = run("privacy", "requests", "list", "--json")
    assert code == 0 and json.loads(out)["requests"][0]["reference"] == opened["reference"]
    code, out = run(
        "privacy", "requests", "move", opened["reference"], "--to", "completed", "--as", "dpo@council.example"
    )
    assert code == 0 and "completed" in out
    code, out = run(
        "privacy", "requests", "move", opened["reference"], "--to", "in_progress", "--as", "dpo@council.example"
    )
    assert code != 0 and "closed request cannot be changed" in out
    code, out = run("privacy", "requests", "move", "SR-0000-NOPE", "--to", "completed", "--as", "dpo@council.example")
    assert code != 0 and "No subject request" in out


async def test_a_complaint_is_acknowledged_within_30_days_and_closed_with_its_outcome(
    db: TestDatabase, keyring: Keyring
) -> None:
    vault = Vault(keyring)
    async with unit_of_work(db.sessions) as session:
        complaint = await open_request(
            session,
            vault,
            CALENDAR,
            kind=RequestKind.complaint,
            requester=Requester(name="Jo", email="jo@example.org", details="You sent my letter to a neighbour"),
            channel="staff",
            actor=DPO,
            identity_required=False,
            received_at=at(date(2026, 11, 2)),
        )
        reference = complaint.reference
        assert acknowledgement_due(complaint) == date(2026, 12, 1)  # day 1 is the day of receipt
        [item] = await queue(session, CALENDAR, today=date(2026, 11, 20))
        assert item.acknowledge_by == date(2026, 12, 1) and item.label.startswith("Acknowledge by 1 December 2026")
        [late] = await queue(session, CALENDAR, today=date(2026, 12, 3))
        assert late.overdue and late.label == "Not acknowledged: overdue by 2 days"
    # No outcome, no completion.
    async with db.sessions() as session:
        found = await find_request(session, reference, lock=True)
        with pytest.raises(RefusalNeedsReason, match="outcome"):
            await move(session, vault, CALENDAR, found, RequestState.completed, actor=DPO)
        await session.rollback()
    async with unit_of_work(db.sessions) as session:
        found = await find_request(session, reference, lock=True)
        await acknowledge(session, vault, found, actor=DPO, note="Letter sent")
        with pytest.raises(InvalidInput, match="acknowledged on"):
            await acknowledge(session, vault, found, actor=DPO)
        [item] = await queue(session, CALENDAR, today=date(2026, 12, 3))
        assert item.acknowledge_by is None and "Acknowledge" not in item.label
        await move(session, vault, CALENDAR, found, RequestState.completed, actor=DPO, reason="Upheld; staff retrained")
    async with db.sessions() as session:
        found = await find_request(session, reference)
        steps = await history(session, found)
        actions = [e.action for e in (await session.scalars(select(AuditEvent))).all()]
    assert found.state == "completed" and found.acknowledged_on is not None
    assert [s.action for s in steps] == [None, "acknowledged", None]
    assert "privacy.request.acknowledged" in actions


def test_the_acknowledge_fulfil_and_restrictions_commands(settings: Settings) -> None:
    runner = CliRunner()
    env = env_for(settings)

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    assert run("user", "create", "--email", "dpo@council.example", "--role", "dpo", "--password", "x" * 14)[0] == 0
    as_dpo = ("--as", "dpo@council.example")

    def opened(kind: str, email: str) -> str:
        code, out = run(
            "privacy", "requests", "open", "--kind", kind, "--name", "Jo", "--email", email, *as_dpo, "--json"
        )
        assert code == 0, out
        return str(json.loads(out)["reference"])

    complaint = opened("complaint", "jo@example.org")
    code, out = run("privacy", "requests", "acknowledge", complaint, *as_dpo)
    assert code == 0 and "acknowledged on" in out
    code, out = run("privacy", "requests", "acknowledge", opened("access", "jo@example.org"), *as_dpo)
    assert code != 0 and "Only a data-protection complaint" in out
    # A restriction request for nobody we hold cannot restrict anyone; the DPO restricts by hand and lifts.
    code, out = run("privacy", "restrictions", "list", "--json")
    assert code == 0 and json.loads(out) == {"restrictions": []}
    code, out = run("privacy", "restrictions", "add", "--email", "-", *as_dpo, stdin="nobody@example.org\n")
    assert code != 0 and "No person matches" in out
    code, out = run("privacy", "requests", "fulfil", opened("rectification", "jo@example.org"), *as_dpo)
    assert code != 0
