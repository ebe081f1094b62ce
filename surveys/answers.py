"""Checking a survey answer against the version answered: pure, no I/O. Messages follow GOV.UK style."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    key: str
    message: str


@dataclass
class CheckedAnswers:
    numbers: dict[str, int] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def clean_text(raw: str) -> str:
    """Line breaks count once ("\\r\\n" is one); control characters other than line breaks and tabs go."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    return text.strip()


def _required_message(question: Mapping[str, Any]) -> str:
    if question["key"] == "satisfaction":
        return "Select how satisfied you were with the service"
    if question["key"] == "resolved":
        return "Select whether your issue was resolved"
    return f"Answer the question: {question['text']}"


def check_answers(definition: Mapping[str, Any], form: Mapping[str, str]) -> CheckedAnswers:
    checked = CheckedAnswers()
    for question in definition["questions"]:
        key = question["key"]
        raw = form.get(key, "")
        kind = question["kind"]
        if kind in ("scale", "choice"):
            allowed = {str(option["value"]): option["value"] for option in question["options"]}
            value = raw.strip()
            if not value:
                if question.get("required"):
                    checked.problems.append(FieldProblem(key, _required_message(question)))
                continue
            if value not in allowed:
                checked.problems.append(FieldProblem(key, _required_message(question)))
                continue
            if kind == "scale":
                checked.numbers[key] = int(allowed[value])
            else:
                checked.choices[key] = str(allowed[value])
        elif kind == "text":
            text = clean_text(raw)
            limit = int(question.get("max_length", 1200))
            if len(text) > limit:
                checked.problems.append(
                    FieldProblem(key, f"{str(question['text']).rstrip('?')} must be {limit:,} characters or fewer")
                )
                continue
            if not text:
                if question.get("required"):
                    checked.problems.append(FieldProblem(key, _required_message(question)))
                continue
            checked.texts[key] = text
    return checked
