"""Throughput of answering a survey (POST /s/<token>) against a bare Litestar insert (bench/baseline_app.py), on
SQLite and PostgreSQL, as ratios measured in the same run. Target: civicvoice at 0.6 of the baseline or better.

civicvoice runs its whole submission path: token check, form parsing, answer checks, the invitation locked and
closed, free text encrypted under the person's own key, response and answers stored, scoring enqueued in the
same transaction; success is the 303 to the thank-you page. The embedded worker is off: this measures
submission, not sending or scoring.

Every request answers a different open invitation, and every invitation is for a different person (the demo
policy invites at once, and the frequency cap would refuse a second invitation to one person). Invitations are
made before each civicvoice round through civicvoice's own batch API (POST /api/v1/contacts/batch), so they are
exactly what intake makes; their survey tokens are signed here with the server's keyring, as the sender would.
Each round gets fresh invitations, sized from the rates seen so far; a round that runs out is measured again.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import random
import sys
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import harness
from contacts_throughput import prepare_civicvoice

TARGET_RATIO = 0.6
BASELINE_PATH = "/api/v1/contacts"  # baseline_app's one route: the bare one-table insert of a JSON body
FORM = "application/x-www-form-urlencoded"
THANK_YOU = frozenset({303})  # the survey page redirects to /survey/thank-you once the answers are stored

BATCH_PATH = "/api/v1/contacts/batch"
BATCH_SIZE = 250  # events per batch request (the API takes up to 1,000); several are sent at once
HEADROOM = 1.4  # invitations made per round: this many times the rate expected over warm-up + measurement
RETRIES = 3  # a civicvoice run that runs out of invitations is run again with twice as many
SIZING_RUN = {"warmup": 0.5, "duration": 2.0}  # the unmeasured civicvoice run that sizes the first round

SERVICES = ("council-tax", "benefits", "housing-repairs", "waste-and-recycling", "parking", "libraries")
CHANNELS = ("phone", "phone", "web_chat", "email")
RESOLVED = ("yes", "yes", "partly", "no")
# "What could we do better?": sentences joined to about 200 characters. No personal details, as the page asks.
IMPROVE = (
    "I waited over forty minutes on hold before anyone answered the phone.",
    "The advisor was polite but could not tell me when the repair would actually happen.",
    "I was transferred twice and had to explain the whole problem again each time.",
    "The website said one thing and the letter I was sent said something else.",
    "Nobody called me back on the day they promised, so I had to chase it myself.",
    "Please send a text message to confirm when the appointment is booked.",
    "The online form timed out and I lost everything I had typed in.",
    "It would help to have an email address that someone actually reads.",
)
PRAISE = (
    "The advisor was friendly and patient.",
    "Sorted out in one call.",
    "Quick and helpful.",
    "Clear explanation of what happens next.",
    "Nothing really.",
)


def survey_answers(rng: random.Random) -> dict[str, str]:
    """One realistic answer to the post-contact survey: both choices, a ~200-character comment, a short one."""
    sentences = rng.sample(IMPROVE, len(IMPROVE))
    improve = sentences[0]
    for sentence in sentences[1:]:
        if len(improve) >= 190:
            break
        improve = f"{improve} {sentence}"
    return {
        "satisfaction": str(rng.randint(1, 5)),
        "resolved": rng.choice(RESOLVED),
        "improve": improve[:230],
        "praise": rng.choice(PRAISE),
    }


class OutOfInvitations(RuntimeError):
    """The load generator asked for more distinct invitations than the round was given."""


@dataclass(frozen=True)
class SurveyAnswers:
    """civicvoice's requests: the answers, form-encoded, each POSTed to a different invitation's survey link."""

    base_url: str
    tokens: tuple[str, ...]

    def __call__(self, sequence: int, rng: random.Random, run_id: int) -> harness.Post:
        if sequence >= len(self.tokens):
            raise OutOfInvitations(f"request {sequence} but only {len(self.tokens)} invitations")
        return harness.Post(f"{self.base_url}/s/{self.tokens[sequence]}", urlencode(survey_answers(rng)).encode())


def baseline_body(sequence: int, rng: random.Random, run_id: int) -> bytes:
    """The baseline's request: the same answers and a token of the same length, as the JSON object it stores."""
    token = base64.urlsafe_b64encode(rng.randbytes(37)).rstrip(b"=").decode()
    return json.dumps({"token": token, **survey_answers(rng)}).encode()


# --- invitations ------------------------------------------------------------------------------------------


class Invitations:
    """Open invitations made through the running civicvoice's batch API, one person each; tokens signed here.

    A round takes tokens from the front; the ones its load generator never reached go back for the next round.
    """

    def __init__(self, server: harness.Server, api_key: str, env: dict[str, str], parallel: int) -> None:
        from civicvoice.core.settings import Settings
        from privacy.keys import load_keyring
        from surveys.tokens import TokenSigner

        self._settings = Settings.from_env(env)
        # The server's own keyring (CIVICVOICE_KEYS), loaded the way the app loads it.
        self._signer = TokenSigner(load_keyring(self._settings).token)
        self._server = server
        self._api_key = api_key
        self.parallel = parallel
        self._people = 0
        self._unused: list[str] = []
        self.made = 0
        self.seconds = 0.0

    def stock(self, count: int) -> float:
        """Make ``count`` invitations for later rounds now; returns the rate intake made them at (per second)."""
        started = time.perf_counter()
        self._unused.extend(self._make(count))
        return count / (time.perf_counter() - started)

    def take(self, count: int) -> tuple[str, ...]:
        """Tokens of ``count`` open invitations, made now if there are not enough left over."""
        if len(self._unused) < count:
            self._unused.extend(self._make(count - len(self._unused)))
        taken, self._unused = tuple(self._unused[:count]), self._unused[count:]
        return taken

    def give_back(self, tokens: tuple[str, ...], used: int) -> None:
        """Return the tokens after the first ``used``, which the load generator never sent."""
        self._unused[:0] = tokens[used:]

    def answered(self) -> int:
        """How many invitations have been answered: the responses stored so far."""
        return self.stored()[0]

    def stored(self) -> tuple[int, int, int]:
        """Responses, answers with encrypted text, and scoring jobs stored so far."""
        import asyncio

        from sqlalchemy import func, select

        from civicvoice.core.db import create_engine
        from civicvoice.core.jobs import Job
        from feedback.scoring import SCORE_RESPONSE_JOB
        from surveys.models import Answer, Response

        async def count() -> tuple[int, int, int]:
            engine = create_engine(self._settings, pooled=False)
            try:
                async with engine.connect() as connection:
                    responses = await connection.scalar(select(func.count()).select_from(Response))
                    texts = await connection.scalar(
                        select(func.count()).select_from(Answer).where(Answer.text_ciphertext.is_not(None))
                    )
                    jobs = await connection.scalar(
                        select(func.count()).select_from(Job).where(Job.name == SCORE_RESPONSE_JOB)
                    )
                    return int(responses or 0), int(texts or 0), int(jobs or 0)
            finally:
                await engine.dispose()

        return asyncio.run(count())

    def _make(self, count: int) -> list[str]:
        """``count`` new invitations, each for a person never seen before; returns their survey tokens."""
        from concurrent.futures import ThreadPoolExecutor

        import httpx

        started = time.perf_counter()
        events = [self._event() for _ in range(count)]
        chunks = [events[i : i + BATCH_SIZE] for i in range(0, count, BATCH_SIZE)]
        headers = {"authorization": f"Bearer {self._api_key}"}
        with (
            httpx.Client(base_url=self._server.base_url, headers=headers, timeout=300, trust_env=False) as client,
            ThreadPoolExecutor(self.parallel) as pool,
        ):
            answers = list(pool.map(lambda chunk: self._report(client, chunk), chunks))
        tokens = [token for answer in answers for token in answer]
        self.made += len(tokens)
        self.seconds += time.perf_counter() - started
        return tokens

    def _report(self, client: Any, events: list[dict[str, object]]) -> list[str]:
        from surveys.tokens import Purpose

        answer = client.post(BATCH_PATH, json={"events": events})
        if answer.status_code != 200:
            raise harness.HarnessError(f"batch intake answered {answer.status_code}: {answer.text[:500]}")
        tokens = []
        for item in answer.json()["results"]:
            decision = item.get("decision") or {}
            if item["status"] != "accepted" or not decision.get("invite"):
                raise harness.HarnessError(f"batch intake did not invite a new person: {item}")
            # Signed as the sender signs the link in the email: the invitation's id, until it expires.
            expires_at = datetime.fromisoformat(decision["expires_at"])
            tokens.append(self._signer.sign(uuid.UUID(item["invitation_id"]), Purpose.survey, expires_at))
        return tokens

    def _event(self) -> dict[str, object]:
        self._people += 1
        serial, rng = self._people, random.Random(self._people)  # noqa: S311 - test data, not secrets
        return {
            "source": "telephony",
            "external_id": f"survey-bench-{serial}",
            "channel": rng.choice(CHANNELS),
            "service": rng.choice(SERVICES),
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "customer": {
                "email": f"resident.{serial}@example.org",
                "phone": f"079{serial:08d}",  # 07900 000000 to 07989 999999 are valid UK mobiles
                "name": "Survey Respondent",
            },
        }


def invitations_for(rate: float, plan: harness.LoadPlan) -> int:
    """Enough invitations for one run of ``plan`` at ``rate`` requests per second, and headroom for a faster one."""
    return math.ceil(rate * (plan.warmup + plan.duration) * HEADROOM) + 4 * plan.concurrency


# --- one backend --------------------------------------------------------------------------------------------


def measure_civicvoice(
    plan: harness.LoadPlan, invitations: Invitations, expected_rate: float, label: str
) -> harness.LoadResult:
    """One civicvoice run on open invitations; run again, with twice as many, if they ran out."""
    for attempt in range(RETRIES + 1):
        tokens = invitations.take(invitations_for(expected_rate, plan))
        answered = invitations.answered()
        try:
            result = harness.run_load(replace(plan, make_body=SurveyAnswers(plan.url, tokens)))
        except harness.HarnessError as exc:
            # The load process reports the exception by name; any other failure is not ours to retry.
            if OutOfInvitations.__name__ not in str(exc) or attempt == RETRIES:
                raise
            print(f"  {label}: {len(tokens)} invitations ran out; running {plan.name} again", flush=True)
            expected_rate *= 2
            continue
        if not result.errors:
            # Every request it sent was answered with a 303, so it used exactly the first tokens, in order.
            invitations.give_back(tokens, invitations.answered() - answered)
        return result
    raise AssertionError("unreachable")


def measure_backend(
    backend: str, civicvoice_url: str, baseline_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, list[harness.LoadResult]]:
    """Run both servers on one backend and print the rounds, any failures and the ratio; returns the rounds
    (bench/classification_cost.py sets its figure against them)."""
    label = f"response submission throughput {backend}"
    cv_dir, base_dir = harness.data_dir(workdir, backend, "civicvoice"), harness.data_dir(workdir, backend, "baseline")
    env, api_key = prepare_civicvoice(civicvoice_url, cv_dir)
    civicvoice = harness.Server("civicvoice", "civicvoice.app:create_app", env)
    baseline = harness.Server(
        "baseline",
        "baseline_app:create_baseline_app_from_env",
        {"BENCH_BASELINE_DATABASE_URL": baseline_url, "BENCH_BASELINE_DATA_DIR": str(base_dir)},
    )
    with harness.running(civicvoice, baseline):
        # SQLite has one writer: more batches at once would only wait for its lock.
        invitations = Invitations(civicvoice, api_key, env, parallel=2 if backend == "sqlite" else 4)
        plans = [
            harness.LoadPlan(
                name=server.name,
                url=url,
                make_body=make_body,
                content_type=content_type,
                ok_statuses=ok,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.seconds,
                server_pid=server.pid,
            )
            for server, url, make_body, content_type, ok in (
                (civicvoice, civicvoice.base_url, SurveyAnswers(civicvoice.base_url, ()), FORM, THANK_YOU),
                (baseline, baseline.base_url + BASELINE_PATH, baseline_body, "application/json", harness.SUCCESS),
            )
        ]
        # A short run, not measured, warms civicvoice up and tells how many invitations a round needs. Intake's
        # own rate is the first guess; a run that outpaces its invitations is run again with twice as many.
        expected_rate = invitations.stock(BATCH_SIZE * invitations.parallel)
        sizing = measure_civicvoice(replace(plans[0], **SIZING_RUN), invitations, expected_rate, label)
        expected_rate = sizing.requests_per_second
        # Alternating rounds as harness.alternate runs them, with invitations made before each civicvoice round.
        results: dict[str, list[harness.LoadResult]] = {plan.name: [] for plan in plans}
        run_ids = itertools.count(1)
        for _ in range(args.rounds):
            for plan in plans:
                run = replace(plan, run_id=next(run_ids))
                if run.name == "civicvoice":
                    results[run.name].append(measure_civicvoice(run, invitations, expected_rate, label))
                    # From then on, the fastest civicvoice round so far is the guess.
                    expected_rate = max(r.requests_per_second for r in results[run.name])
                else:
                    results[run.name].append(harness.run_load(run))
    print(
        f"  {label}: {invitations.made} invitations made through the batch API in {invitations.seconds:.1f} s "
        "(before the rounds they serve, not measured)",
        flush=True,
    )
    # Every 303 was a response really stored: both comments encrypted, scoring enqueued in the same transaction.
    responses, texts, jobs = invitations.stored()
    print(f"  {label}: {responses} responses stored, {texts} comments encrypted, {jobs} scoring jobs", flush=True)
    if texts != 2 * responses or jobs != responses:
        raise harness.HarnessError(f"{label}: stored work does not match the responses")
    harness.print_rounds(label, results)
    harness.print_errors(f"{label} sizing run", {"civicvoice": [sizing]})
    harness.print_errors(label, results)
    harness.print_ratio(label, "civicvoice", "baseline", results, TARGET_RATIO)
    return results


def main(argv: list[str] | None = None) -> int:
    return harness.run_benchmark(
        "response submission throughput",
        "Survey response throughput against a bare Litestar app.",
        measure_backend,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
