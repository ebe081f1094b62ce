"""What classifying comments costs per survey response, against the response benchmark without it (measured in the
same run): bench/response_throughput.py runs first, exactly as on its own, then the comments of the same kind of
answers it submitted are classified here, as the scoring job classifies them (each read against its question).

Submission does not classify (scoring is a job enqueued in the same transaction), so the figure is what
classification would take from response throughput were it done inline: server CPU per submitted response, set
against that plus the CPU to classify the response's comments. Ratio 1.0 would be free; the lower, the costlier.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import harness
import response_throughput

RESPONSES = 2_000  # classified per repeat
REPEATS = 5


def classification_ms_per_response() -> tuple[float, int]:
    """Median CPU milliseconds to classify one response's comments, and the comments per response."""
    from feedback.classification import classify
    from feedback.sentiment import QuestionKind

    rng = random.Random(11)  # noqa: S311 - test data
    answers = [response_throughput.survey_answers(rng) for _ in range(RESPONSES)]
    comments = [(answer[key], QuestionKind(key)) for answer in answers for key in ("improve", "praise")]
    timings = []
    for _ in range(REPEATS):
        started = time.process_time()
        for text, question in comments:
            classify(text, question=question)
        timings.append((time.process_time() - started) * 1000 / RESPONSES)
    return statistics.median(timings), len(comments) // RESPONSES


def measure_backend(
    backend: str, civicvoice_url: str, baseline_url: str, workdir: Path, args: argparse.Namespace
) -> None:
    results = response_throughput.measure_backend(backend, civicvoice_url, baseline_url, workdir, args)
    per_request = [r.server_cpu_ms_per_request for r in results["civicvoice"]]
    if any(value is None for value in per_request):
        raise harness.HarnessError("server CPU per request was not measured")
    response_ms = statistics.median(value for value in per_request if value is not None)
    classify_ms, comments = classification_ms_per_response()
    ratio = response_ms / (response_ms + classify_ms)
    print(
        f"classification cost {backend}: {classify_ms:.2f} ms CPU to classify a response's {comments} comments, "
        f"{response_ms:.2f} ms server CPU to submit it; {classify_ms / response_ms:.0%} of a response, "
        f"ratio {ratio:.2f} (throughput with classification inline against without)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    return harness.run_benchmark(
        "classification cost",
        "Classification cost per response against the response benchmark without it.",
        measure_backend,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
