"""Checking a survey answer against the version answered: pure, no I/O. Messages follow GOV.UK style."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from surveys.definitions import ENGLISH, WELSH, Question, QuestionKind, SurveyDefinition, in_language


@dataclass(frozen=True)
class FieldProblem:
    key: str
    message: str


# A posted answer: one value, or the several values of a multiple-choice question (one per box ticked).
FormValue = str | tuple[str, ...]


@dataclass
class CheckedAnswers:
    numbers: dict[str, int] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    # Multiple-choice answers: the choices picked, in the order the question offers them.
    selections: dict[str, tuple[str, ...]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_DEFAULT_LIMIT: Final = 1200  # a published free-text question always has its own


def clean_text(raw: str) -> str:
    """Line breaks count once ("\\r\\n" is one); control characters other than line breaks and tabs go."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co"))
    return text.strip()


# The messages a question gets when its version gives none, in the languages the respondent pages offer.
_ANSWER_IT: Final = {ENGLISH: "Answer the question: {question}", WELSH: "Atebwch y cwestiwn: {question}"}
_TOO_LONG: Final = {
    ENGLISH: "{question} must be {limit:,} characters or fewer",
    WELSH: "Rhaid i {question} fod yn {limit:,} nod neu lai",
}


def too_long_message(question: Question, language: str) -> str:
    """What a comment longer than its question's limit is told, in ``language``."""
    template = _TOO_LONG.get(language, _TOO_LONG[ENGLISH])
    return template.format(question=question.text_in(language).rstrip("?"), limit=question.max_length or _DEFAULT_LIMIT)


def _required_message(question: Question, language: str) -> str:
    template = _ANSWER_IT.get(language, _ANSWER_IT[ENGLISH])
    return in_language(question.error_message, language) or template.format(question=question.text_in(language))


def check_answers(
    definition: SurveyDefinition,
    form: Mapping[str, FormValue],
    *,
    language: str = ENGLISH,
    asked: frozenset[str] | None = None,
    partial: bool = False,
    earlier: Mapping[str, int | str | tuple[str, ...]] | None = None,
) -> CheckedAnswers:
    """The answers the version asks for, checked; a question skipped by its condition is neither required nor kept.

    ``asked`` limits the check to the questions a channel asked (an SMS asks only the CSAT question): the others
    are neither required nor kept. ``partial``: the answers come from a channel where a question may go unanswered
    (IVR moves on after a repeated wrong key), so none is required; what is given is checked as usual.
    ``earlier``: answers already stored for the same response (a kiosk's tap, before its comment), read by skip
    conditions only.
    """
    checked = CheckedAnswers()
    given: dict[str, int | str | tuple[str, ...]] = dict(earlier or {})
    for question in definition.questions:
        key = question.id
        if asked is not None and key not in asked:
            continue
        if question.show_if is not None and not question.show_if.holds(given.get(question.show_if.question)):
            continue
        raw = form.get(key, "")
        if question.kind is QuestionKind.multiple_choice:
            picked = _multiple_choice(question, raw)
            if picked is None:
                checked.problems.append(FieldProblem(key, _required_message(question, language)))
            elif picked:
                given[key] = checked.selections[key] = picked
            elif question.required and not partial:
                checked.problems.append(FieldProblem(key, _required_message(question, language)))
            continue
        if isinstance(raw, tuple):
            # Only a multiple-choice question takes several values.
            checked.problems.append(FieldProblem(key, _required_message(question, language)))
            continue
        if question.kind is QuestionKind.free_text:
            text = clean_text(raw)
            limit = question.max_length or _DEFAULT_LIMIT
            if len(text) > limit:
                checked.problems.append(FieldProblem(key, too_long_message(question, language)))
                continue
            if not text:
                if question.required and not partial:
                    checked.problems.append(FieldProblem(key, _required_message(question, language)))
                continue
            checked.texts[key] = text
            continue
        allowed = {option.value for option in question.options()}
        value = raw.strip()
        if not value:
            if question.required and not partial:
                checked.problems.append(FieldProblem(key, _required_message(question, language)))
            continue
        if value not in allowed:
            checked.problems.append(FieldProblem(key, _required_message(question, language)))
            continue
        if question.kind.scale is not None:
            given[key] = checked.numbers[key] = int(value)
        else:
            given[key] = checked.choices[key] = value
    return checked


def _multiple_choice(question: Question, raw: FormValue) -> tuple[str, ...] | None:
    """The choices picked, in the question's order (each once); None if any value is not one it offers."""
    values = {value.strip() for value in ((raw,) if isinstance(raw, str) else raw)} - {""}
    offered = [option.value for option in question.options()]
    if not values <= set(offered):
        return None
    return tuple(value for value in offered if value in values)
