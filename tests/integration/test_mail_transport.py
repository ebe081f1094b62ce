"""SMTP delivery keeps a few connections open between messages, against a real aiosmtpd server: one connection
carries many messages, concurrent deliveries use their own, and a connection that was closed, left idle, refused a
message or outlived its limits is never used again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from civicvoice.core.mail import KEPT_CONNECTIONS, Mailer, MailNotAccepted, SmtpTransport
from civicvoice.core.settings import Settings
from tests.integration.smtp import free_port

REFUSED = "refused@example.org"


class CountingSink:
    """Keeps each accepted message with the connection (client port) it came on; refuses one recipient."""

    def __init__(self) -> None:
        self.accepted: list[tuple[int, str]] = []
        self.quits = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == REFUSED:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.append((session.peer[1], envelope.rcpt_tos[0]))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    @property
    def connections(self) -> int:
        return len({port for port, _ in self.accepted})


def start(sink: CountingSink, **server_kwargs: Any) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **server_kwargs)
    controller.start()
    return controller


@pytest.fixture
def sink() -> Iterator[tuple[CountingSink, Controller]]:
    counting = CountingSink()
    controller = start(counting)
    yield counting, controller
    controller.stop()


def mailer_for(controller: Controller, tmp_path: Path, *, keep: int = KEPT_CONNECTIONS) -> Mailer:
    """A long-running process's mailer (keeping connections), or with ``keep=0`` a command's."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    settings = settings.with_changes(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none")
    return Mailer(settings, keep_connections=keep)


def message(mailer: Mailer, to: str) -> EmailMessage:
    return mailer.message(to=to, subject="How did we do?", text="Tell us: http://127.0.0.1/s/token")


def transport_of(mailer: Mailer) -> SmtpTransport:
    assert isinstance(mailer.transport, SmtpTransport)
    return mailer.transport


async def test_messages_sent_one_after_another_share_one_connection(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    for n in range(5):
        await mailer.send(message(mailer, f"person.{n}@example.org"))
    assert [to for _, to in counting.accepted] == [f"person.{n}@example.org" for n in range(5)]
    assert counting.connections == 1
    await mailer.aclose()
    assert counting.quits == 1  # closed politely when the service stops
    assert transport_of(mailer)._idle == []


async def test_a_mailer_that_keeps_no_connections_closes_each_one_after_its_message(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    """A command or a script: nothing is left open for anyone to close."""
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path, keep=0)
    for n in range(3):
        await mailer.send(message(mailer, f"person.{n}@example.org"))
    assert counting.connections == 3 and counting.quits == 3
    assert transport_of(mailer)._idle == []


async def test_concurrent_deliveries_each_use_a_connection_of_their_own(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    await asyncio.gather(*(mailer.send(message(mailer, f"person.{n}@example.org")) for n in range(4)))
    assert sorted(to for _, to in counting.accepted) == [f"person.{n}@example.org" for n in range(4)]
    assert counting.connections == 4
    # All four were kept; the next four reuse them rather than opening more.
    await asyncio.gather(*(mailer.send(message(mailer, f"again.{n}@example.org")) for n in range(4)))
    assert counting.connections == 4
    await mailer.aclose()


async def test_a_connection_the_server_closed_is_not_used_again(tmp_path: Path) -> None:
    counting = CountingSink()
    controller = start(counting, timeout=0.2)  # the server drops a connection idle for 0.2 s
    try:
        mailer = mailer_for(controller, tmp_path)
        await mailer.send(message(mailer, "first@example.org"))
        await asyncio.sleep(0.6)
        await mailer.send(message(mailer, "second@example.org"))
        assert [to for _, to in counting.accepted] == ["first@example.org", "second@example.org"]
        assert counting.connections == 2
        await mailer.aclose()
    finally:
        controller.stop()


async def test_a_connection_idle_longer_than_allowed_is_closed_not_reused(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    transport_of(mailer).IDLE_FOR = 0.05
    await mailer.send(message(mailer, "first@example.org"))
    await asyncio.sleep(0.1)
    await mailer.send(message(mailer, "second@example.org"))
    assert counting.connections == 2
    assert counting.quits == 1  # the stale one was closed with QUIT
    await mailer.aclose()


async def test_a_connection_is_retired_after_its_message_limit(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    transport_of(mailer).AT_MOST_MESSAGES = 2
    for n in range(5):
        await mailer.send(message(mailer, f"person.{n}@example.org"))
    assert counting.connections == 3  # 2 + 2 + 1
    await mailer.aclose()


async def test_a_refused_message_raises_and_the_next_one_is_delivered(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    await mailer.send(message(mailer, "first@example.org"))
    with pytest.raises(MailNotAccepted) as refused:
        await mailer.send(message(mailer, REFUSED))
    assert REFUSED not in str(refused.value)  # the server's words may quote the address: not kept
    await mailer.send(message(mailer, "third@example.org"))
    assert [to for _, to in counting.accepted] == ["first@example.org", "third@example.org"]
    assert counting.connections == 2  # the connection that refused was dropped
    assert transport_of(mailer)._idle and len(transport_of(mailer)._idle) == 1
    await mailer.aclose()


async def test_no_server_listening_is_a_clear_failure(tmp_path: Path) -> None:
    counting = CountingSink()
    controller = start(counting)
    controller.stop()  # the port is free again: nothing answers there
    mailer = mailer_for(controller, tmp_path)
    with pytest.raises(MailNotAccepted, match="SMTP delivery failed"):
        await mailer.send(message(mailer, "first@example.org"))
    assert transport_of(mailer)._idle == []


def test_a_connection_opened_on_another_event_loop_is_closed_by_it_and_not_used_on_this_one(
    sink: tuple[CountingSink, Controller], tmp_path: Path
) -> None:
    """As when the web app's lifespan runs on one loop and a test's worker sends on another."""
    counting, controller = sink
    mailer = mailer_for(controller, tmp_path)
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(mailer.send(message(mailer, "first@example.org")), other).result(10)

        async def on_this_loop() -> None:
            await mailer.send(message(mailer, "second@example.org"))
            assert [to for _, to in counting.accepted] == ["first@example.org", "second@example.org"]
            assert counting.connections == 2
            assert len(transport_of(mailer)._idle) == 1  # the second; the first was handed to its loop to close
            await mailer.aclose()

        asyncio.run(on_this_loop())
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.1), other).result(10)  # its loop closes the first
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()
    assert transport_of(mailer)._idle == []
