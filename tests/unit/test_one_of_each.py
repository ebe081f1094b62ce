"""One way to do each thing: the London time zone, the no-store header, HKDF and the secret digest each live once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("civicvoice", "surveys", "feedback", "privacy", "exports", "bench", "tests")

# (what, pattern, the one module allowed to have it)
ONE_HOME = [
    ("London time zone", re.compile(r"ZoneInfo\(\s*[\"']Europe/London"), "civicvoice/core/clock.py"),
    ("no-store header", re.compile(r"[\"']no-store[\"']\s*}"), "civicvoice/core/http.py"),
    ("HKDF derivation", re.compile(r"\bHKDF\("), "civicvoice/core/crypto.py"),
    ("SHA-256 hex digest", re.compile(r"sha256\(.*\)\.hexdigest\(\)"), "civicvoice/core/crypto.py"),
]
# Tests that check the one implementation against an independent computation of the same spec.
ORACLES = {"tests/unit/privacy/test_blind_index.py"}


def _sources() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in ORACLES and relative != "tests/unit/test_one_of_each.py":
                found.append((relative, path.read_text()))
    return found


@pytest.mark.parametrize(("what", "pattern", "home"), ONE_HOME, ids=[what for what, _, _ in ONE_HOME])
def test_each_lives_in_one_place(what: str, pattern: re.Pattern[str], home: str) -> None:
    places = [relative for relative, text in _sources() if pattern.search(text)]
    assert places == [home], f"{what}: use the one in {home}, not a copy in {places}"
