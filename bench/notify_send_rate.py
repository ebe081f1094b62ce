"""GOV.UK Notify send rate against the shared limiter's own ceiling (3,000 a minute): target at least 0.9.

Invitations to people who gave only a mobile number are decided through the real intake (phone only, so SMS),
then sent by several workers at once through the real channel stack (the job outbox, the invitation sender,
notifications-python-client on its thread pool, the one shared rate limiter) to the Notify stand-in of the
tests on 127.0.0.1, which checks every JWT and refuses with 429 anything over 3,000 in any 60 seconds. The rate
is the messages the stand-in accepted per second, from the first to the last, against the ceiling of the same
run's limiter (Rate(3000, 60 s): 50 a second). It runs with the database limiter (SQLite, and PostgreSQL when
reachable) and with the Redis limiter when Redis answers (db 7).

CIVICVOICE_BENCH_SCALE (default 1.0) scales the number of messages: 1.0 sends 3,000 (a minute at the ceiling);
0.1 sends 300. At small scales the limiter's initial burst (10 messages) weighs more, so the steady rate (after
the burst) is printed too.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from contacts_throughput import prepare_civicvoice  # noqa: E402

from tests.integration.notify_standin import NotifyStandIn  # noqa: E402

TARGET = 0.9
WORKERS = int(os.environ.get("CIVICVOICE_BENCH_NOTIFY_WORKERS", "8"))
CEILING_PER_MINUTE = 3000
# The same pipeline with a limit it never reaches: what this machine can send at all, measured in the same run.
UNLIMITED_PER_MINUTE = 1_000_000


async def measure_channel(env: dict[str, str], standin: NotifyStandIn, messages: int, extra: dict[str, str]) -> float:
    """The SMS channel alone (limiter, client, stand-in), 8 sends at a time: messages a second."""
    import uuid

    from civicvoice.app import build_services, close_services, features
    from civicvoice.core.db import create_engine, session_factory
    from civicvoice.core.settings import Settings
    from surveys.channels import Channels, OutgoingInvitation

    settings = Settings.from_env(
        {
            **env,
            **extra,
            "CIVICVOICE_NOTIFY_API_KEY": standin.api_key,
            "CIVICVOICE_NOTIFY_BASE_URL": standin.url,
            "CIVICVOICE_NOTIFY_SMS_TEMPLATE_ID": standin.sms_template_id,
            "CIVICVOICE_NOTIFY_RATE_PER_MINUTE": str(CEILING_PER_MINUTE),
        }
    )
    engine = create_engine(settings)
    services = await build_services(settings, session_factory(engine), features())
    channel = services.get(Channels)["sms"]
    queue = list(range(messages))
    try:

        async def sender() -> None:
            while queue:
                queue.pop()
                message = OutgoingInvitation(
                    invitation_id=uuid.uuid4(),
                    recipient="+447911123456",
                    survey_url="http://127.0.0.1/s/x",
                    unsubscribe_url="http://127.0.0.1/u/x",
                    council_name="Example City Council",
                    service_name="Bins",
                    expires_on="8 December 2026",
                    short_url="http://127.0.0.1/r/x",
                )
                await channel.send(message)

        before = len(standin.messages)
        await asyncio.gather(*(sender() for _ in range(8)))
        times = sorted(m.at for m in standin.messages[before:])
        return (len(times) - 1) / (times[-1] - times[0])
    finally:
        await close_services(services)
        await engine.dispose()


async def measure(
    label: str, env: dict[str, str], standin: NotifyStandIn, messages: int, extra: dict[str, str], per_minute: int
) -> tuple[float, float]:
    """Send ``messages`` invitations with the limiter at ``per_minute``; (messages a second, limiter ceiling)."""
    from civicvoice.app import build_services, close_services, features, job_registry, settle_heap
    from civicvoice.core.db import create_engine, session_factory, unit_of_work
    from civicvoice.core.jobs import Worker
    from civicvoice.core.ratelimit import RateLimiter
    from civicvoice.core.settings import Settings
    from surveys.intake import ContactIntake
    from surveys.rules import ContactChannel
    from surveys.schemas import ContactEvent, Customer

    settings = Settings.from_env(
        {
            **env,
            **extra,
            "CIVICVOICE_NOTIFY_API_KEY": standin.api_key,
            "CIVICVOICE_NOTIFY_BASE_URL": standin.url,
            "CIVICVOICE_NOTIFY_SMS_TEMPLATE_ID": standin.sms_template_id,
            "CIVICVOICE_NOTIFY_RATE_PER_MINUTE": str(per_minute),
        }
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)
    feature_list = features()
    services = await build_services(settings, sessions, feature_list)
    settle_heap(settings)  # as `civicvoice worker` does once started
    registry = job_registry(feature_list)
    intake = services.get(ContactIntake)
    run = f"{int(time.time())}-{label}"
    prefix = "+447912" if per_minute == UNLIMITED_PER_MINUTE else "+447400"  # other people each time (the cap)
    occurred = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for start in range(0, messages, 500):
            events = [
                ContactEvent(
                    source="telephony",
                    external_id=f"notify-{run}-{i}",
                    channel=ContactChannel.phone,
                    service="waste-and-recycling",
                    occurred_at=occurred,
                    customer=Customer(phone=f"{prefix}{i % 1_000_000:06d}"),
                )
                for i in range(start, min(messages, start + 500))
            ]
            async with unit_of_work(sessions) as session:
                outcomes = await intake.report_many(session, events)
            assert all(getattr(o, "accepted", None) and o.accepted.decision.invite for o in outcomes), outcomes[:1]
        before = len(standin.messages)
        workers = [Worker(registry, sessions, services, name=f"bench-{k}") for k in range(WORKERS)]
        started = time.monotonic()
        await asyncio.gather(*(w.run_due() for w in workers))
        elapsed = time.monotonic() - started
        sent = standin.messages[before:]
        limiter = services.get(RateLimiter)  # type: ignore[type-abstract]
        ceiling = limiter.rate.limit / limiter.rate.period
        times = sorted(m.at for m in sent)
        span = times[-1] - times[0]
        rate = (len(times) - 1) / span
        burst = limiter.rate.burst
        steady = (len(times) - burst - 1) / (times[-1] - times[burst]) if len(times) > burst + 2 else rate
        refused = [r for r in standin.refused if r[0] == 429]
        print(
            f"{label}: {len(sent)} of {messages} SMS accepted in {span:.1f} s (workers done in {elapsed:.1f} s); "
            f"{rate:.2f}/s against the limiter's ceiling {ceiling:.2f}/s: ratio {rate / ceiling:.3f}; "
            f"after the burst {steady:.2f}/s: ratio {steady / ceiling:.3f}; most in any 60 s: "
            f"{standin.max_in_any_window(60.0)}; 429s from the stand-in: {len(refused)}"
        )
        assert len(sent) == messages, "every invitation should have been sent"
        return min(rate, steady), ceiling
    finally:
        await close_services(services)
        await engine.dispose()


def main() -> int:
    scale = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1.0"))
    messages = max(30, int(CEILING_PER_MINUTE * scale))
    print(f"Notify send rate: {messages} messages, {WORKERS} workers, scale {scale}")
    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        setups: list[tuple[str, str, dict[str, str]]] = [
            ("sqlite, database limiter", f"sqlite+aiosqlite:///{workdir}/notify.db", {}),
        ]
        pg_database = None
        if harness.postgres_reachable():
            pg_database = harness.postgres_database("civicvoice_bench_notify")
            setups.append(("postgresql, database limiter", pg_database.__enter__(), {}))
        if redis_answers():
            saq = {"CIVICVOICE_JOB_BACKEND": "saq", "CIVICVOICE_REDIS_URL": "redis://127.0.0.1:6379/7"}
            setups.append(("sqlite, redis limiter", f"sqlite+aiosqlite:///{workdir}/notify-redis.db", saq))
        try:
            for label, url, extra in setups:
                data_dir = Path(workdir) / label.replace(", ", "-").replace(" ", "_")
                data_dir.mkdir()
                env, _ = prepare_civicvoice(url, data_dir)
                env["CIVICVOICE_LOG_LEVEL"] = "ERROR"
                standin = NotifyStandIn(limit=CEILING_PER_MINUTE, period=60.0).start()
                try:
                    channel_rate = asyncio.run(measure_channel(env, standin, messages, extra))
                    standin.messages.clear()
                    standin.accepted_at.clear()
                    capacity, _ = asyncio.run(
                        measure(f"{label}, no limit", env, standin, messages, extra, UNLIMITED_PER_MINUTE)
                    )
                    standin.messages.clear()
                    standin.accepted_at.clear()
                    rate, ceiling = asyncio.run(measure(label, env, standin, messages, extra, CEILING_PER_MINUTE))
                finally:
                    standin.stop()
                ratios[label] = channel_rate / ceiling
                print(
                    f"{label}: the SMS channel (shared limiter, client, stand-in) sends {channel_rate:.2f}/s: "
                    f"{channel_rate / ceiling:.3f} of the limiter's ceiling. The whole pipeline (outbox jobs, "
                    f"invitation sender) sends {rate:.2f}/s ({rate / ceiling:.3f} of the ceiling); with no limit "
                    f"it sends {capacity:.2f}/s on this machine in the same run, so the limiter keeps "
                    f"{rate / min(capacity, ceiling):.3f} of what the pipeline could reach under the ceiling."
                )
        finally:
            if pg_database is not None:
                pg_database.__exit__(None, None, None)
    worst = min(ratios.values())
    print(f"notify send rate / limiter ceiling: {worst:.3f} (worst of {len(ratios)}; target >= {TARGET})")
    return 0 if worst >= TARGET else 1


def redis_answers() -> bool:
    try:
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/7", socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
