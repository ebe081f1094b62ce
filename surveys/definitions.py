"""Survey definitions as typed data (msgspec Structs): questions, their kinds, skip logic and text per language.

A version is checked as a whole when it is published (`check_definition`); a broken one is refused with
`InvalidSurveyDefinition`, naming each problem. Stored versions keep this JSON form; `stored_definition` reads one.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta, Struct

from civicvoice.core.errors import CivicVoiceError

ENGLISH: Final = "en"
WELSH: Final = "cy"

# A question id is what an answer row stores as its `question_key` (40 characters).
QuestionId = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
# A choice value is what an answer row stores as its `choice` (40 characters); scale points are "0" to "10".
ChoiceValue = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
LanguageTag = Annotated[str, Meta(pattern=r"^[a-z]{2,3}$")]
# Wording by language tag: English ("en") always, Welsh ("cy") and others when the version offers them.
Text = dict[LanguageTag, Annotated[str, Meta(max_length=2000)]]
LengthLimit = Annotated[int, Meta(ge=1, le=10_000)]


# The question by which a respondent asks to be contacted ("close the loop"); a "yes" raises a callback.
CONTACT_REQUEST = "contact_me"


class QuestionKind(StrEnum):
    rating = "rating"  # 1-5, every point labelled
    csat = "csat"  # customer satisfaction 1-5, every point labelled: the response's `satisfaction`
    nps = "nps"  # net promoter score 0-10
    effort = "effort"  # customer effort score 1-7
    yes_partly_no = "yes_partly_no"
    single_choice = "single_choice"
    multiple_choice = "multiple_choice"
    free_text = "free_text"

    @property
    def scale(self) -> range | None:
        """The points of a numeric scale, or None for a question answered with a choice or text."""
        return _SCALES.get(self)

    @property
    def picks_a_choice(self) -> bool:
        return self in (QuestionKind.yes_partly_no, QuestionKind.single_choice, QuestionKind.multiple_choice)


_SCALES: Final = {
    QuestionKind.rating: range(1, 6),
    QuestionKind.csat: range(1, 6),
    QuestionKind.nps: range(0, 11),
    QuestionKind.effort: range(1, 8),
}
_LABELLED_SCALES: Final = frozenset({QuestionKind.rating, QuestionKind.csat})
YES_PARTLY_NO: Final = ("yes", "partly", "no")


class SurveyKind(StrEnum):
    post_contact = "post_contact"  # sent after a contact; marks one CSAT question
    campaign = "campaign"  # a relationship survey sent to a list


class CommentPrompt(StrEnum):
    """What a free-text question asks, so a comment's sentiment is read against it ("Nothing" after each)."""

    improve = "improve"  # "What could we do better?"
    praise = "praise"  # "What went well?"
    general = "general"  # "Any other comments?"


def in_language(text: Text | None, language: str) -> str:
    """The wording in ``language``, falling back to English."""
    if not text:
        return ""
    return text.get(language) or text.get(ENGLISH, "")


class Choice(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    value: ChoiceValue
    label: Text

    def label_in(self, language: str) -> str:
        return in_language(self.label, language)


class ShowIf(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Skip logic: show this question only when an earlier one was answered within bounds or with one of choices.

    ``ShowIf(question="satisfaction", at_most=2)`` asks "what went wrong?" only of the dissatisfied. A question
    whose condition is not met (or whose earlier question was left blank) is skipped: not required, not stored.
    After a multiple-choice question, ``any_of`` holds when any one of the choices picked is among them.
    """

    question: QuestionId
    at_most: int | None = None
    at_least: int | None = None
    any_of: tuple[ChoiceValue, ...] = ()

    def holds(self, answer: int | str | tuple[str, ...] | None) -> bool:
        if answer is None:
            return False
        if isinstance(answer, int):
            return (self.at_most is None or answer <= self.at_most) and (
                self.at_least is None or answer >= self.at_least
            )
        if isinstance(answer, tuple):
            return any(picked in self.any_of for picked in answer)
        return answer in self.any_of


class Question(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    id: QuestionId
    kind: QuestionKind
    text: Text
    hint: Text | None = None
    # The GOV.UK error message when a required question is left blank or answered with something not offered.
    error_message: Text | None = None
    required: bool = False
    # Scales: a label per point (required for rating and CSAT, optional for NPS and effort). Choices: the options.
    choices: tuple[Choice, ...] = ()
    max_length: LengthLimit | None = None  # free text only, and required there
    show_if: ShowIf | None = None
    comment_prompt: CommentPrompt | None = None  # free text only
    # Marks the yes/partly/no question whose answer is the response's `resolved` (first-contact resolution).
    resolution: bool = False

    def text_in(self, language: str) -> str:
        return in_language(self.text, language)

    def hint_in(self, language: str) -> str:
        return in_language(self.hint, language)

    def options(self) -> tuple[Choice, ...]:
        """What the respondent picks from: the labelled choices, or the bare scale points, or yes/partly/no."""
        if self.choices:
            return self.choices
        scale = self.kind.scale
        if scale is not None:
            return tuple(Choice(value=str(point), label={ENGLISH: str(point)}) for point in scale)
        if self.kind is QuestionKind.yes_partly_no:
            return tuple(Choice(value=value, label={ENGLISH: value.capitalize()}) for value in YES_PARTLY_NO)
        return ()


class SurveyDefinition(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    title: Text
    intro: Text | None = None
    kind: SurveyKind = SurveyKind.post_contact
    # The languages this version is offered in, English first; every text has each of them.
    languages: tuple[LanguageTag, ...] = (ENGLISH,)
    questions: tuple[Question, ...]

    def title_in(self, language: str) -> str:
        return in_language(self.title, language)

    def intro_in(self, language: str) -> str:
        return in_language(self.intro, language)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def csat_question(self) -> Question | None:
        """The CSAT question whose answer is the response's satisfaction (one per post-contact version)."""
        return next((q for q in self.questions if q.kind is QuestionKind.csat), None)

    @property
    def resolution_question(self) -> Question | None:
        return next((q for q in self.questions if q.resolution), None)


class DefinitionFault(StrEnum):
    """Why a survey version cannot be published; stable values an API client or the builder can act on."""

    malformed = "malformed"
    no_questions = "no_questions"
    duplicate_question_id = "duplicate_question_id"
    missing_english = "missing_english"
    missing_translation = "missing_translation"
    bad_languages = "bad_languages"
    too_few_choices = "too_few_choices"
    duplicate_choice = "duplicate_choice"
    unexpected_choices = "unexpected_choices"
    wrong_scale_points = "wrong_scale_points"
    missing_length_limit = "missing_length_limit"
    unexpected_length_limit = "unexpected_length_limit"
    unexpected_comment_prompt = "unexpected_comment_prompt"
    skip_to_unknown_question = "skip_to_unknown_question"
    skip_to_later_question = "skip_to_later_question"
    bad_skip_condition = "bad_skip_condition"
    csat_count = "csat_count"
    conditional_csat = "conditional_csat"
    bad_resolution_marker = "bad_resolution_marker"
    wrong_kind = "wrong_kind"  # a version's kind differs from its survey's
    channel_limit = "channel_limit"  # more (or other) questions than a survey's channel can ask


@dataclass(frozen=True)
class DefinitionProblem:
    fault: DefinitionFault
    message: str
    question: str | None = None  # the question's id, when the problem is in one


class InvalidSurveyDefinition(CivicVoiceError):
    status = 422
    slug = "invalid-survey-definition"
    title = "This survey version cannot be published"

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        super().__init__(
            " ".join(problem.message for problem in problems),
            extra={"problems": [{"fault": p.fault.value, "question": p.question} for p in problems]},
            # Each problem in the problem details' `errors`, under the question it is in (None: the whole survey).
            field_errors=[(p.question, p.message) for p in problems],
        )
        self.problems = tuple(problems)

    @property
    def faults(self) -> set[DefinitionFault]:
        return {problem.fault for problem in self.problems}


def decode_definition(raw: bytes | str | Mapping[str, Any]) -> SurveyDefinition:
    """A definition from JSON (or its decoded form), its shape checked; InvalidSurveyDefinition if it is wrong."""
    try:
        if isinstance(raw, bytes | str):
            return msgspec.json.decode(raw, type=SurveyDefinition)
        return msgspec.convert(raw, SurveyDefinition)
    except msgspec.ValidationError as exc:
        raise InvalidSurveyDefinition([DefinitionProblem(DefinitionFault.malformed, f"{exc}.")]) from None
    except msgspec.DecodeError as exc:
        raise InvalidSurveyDefinition([DefinitionProblem(DefinitionFault.malformed, f"Not JSON: {exc}.")]) from None


def stored_form(definition: SurveyDefinition) -> dict[str, Any]:
    """The JSON form kept in `survey_version.definition`."""
    stored: dict[str, Any] = msgspec.to_builtins(definition)
    return stored


def stored_definition(stored: Mapping[str, Any]) -> SurveyDefinition:
    """A stored version's definition (it was checked when published)."""
    return msgspec.convert(stored, SurveyDefinition)


def checked_definition(raw: SurveyDefinition | bytes | str | Mapping[str, Any]) -> SurveyDefinition:
    """The definition, if it can be published; InvalidSurveyDefinition naming every problem otherwise."""
    definition = raw if isinstance(raw, SurveyDefinition) else decode_definition(raw)
    problems = check_definition(definition)
    if problems:
        raise InvalidSurveyDefinition(problems)
    return definition


def check_definition(definition: SurveyDefinition) -> list[DefinitionProblem]:
    """Every reason this definition cannot be published, in reading order; empty when it can."""
    return list(_problems(definition))


def _problems(definition: SurveyDefinition) -> Iterator[DefinitionProblem]:
    languages = definition.languages
    if not languages or languages[0] != ENGLISH or len(set(languages)) != len(languages):
        yield DefinitionProblem(
            DefinitionFault.bad_languages,
            f"The survey's languages must start with English ({ENGLISH!r}) and name each language once.",
        )
    yield from _text_problems(definition.title, "The survey title", languages, None)
    yield from _text_problems(definition.intro, "The survey introduction", languages, None, optional=True)
    if not definition.questions:
        yield DefinitionProblem(DefinitionFault.no_questions, "The survey has no questions.")

    seen: dict[str, Question] = {}
    for question in definition.questions:
        if question.id in seen:
            yield DefinitionProblem(
                DefinitionFault.duplicate_question_id,
                f"Two questions have the id {question.id!r}; each question needs its own.",
                question.id,
            )
        yield from _question_problems(question, languages)
        if question.show_if is not None:
            yield from _skip_problems(question, question.show_if, seen, definition)
        seen.setdefault(question.id, question)

    csat = [q for q in definition.questions if q.kind is QuestionKind.csat]
    if definition.kind is SurveyKind.post_contact and len(csat) != 1:
        yield DefinitionProblem(
            DefinitionFault.csat_count,
            f"A post-contact survey needs exactly one CSAT (1-5) question; this one has {len(csat)}.",
        )
    elif len(csat) > 1:
        yield DefinitionProblem(
            DefinitionFault.csat_count, f"A survey has at most one CSAT (1-5) question; this one has {len(csat)}."
        )
    for question in csat:
        if question.show_if is not None:
            yield DefinitionProblem(
                DefinitionFault.conditional_csat,
                f"The CSAT question {question.id!r} cannot be skipped: every response reports satisfaction.",
                question.id,
            )
    marked = [q for q in definition.questions if q.resolution]
    if len(marked) > 1:
        yield DefinitionProblem(
            DefinitionFault.bad_resolution_marker,
            f"Only one question can record whether the issue was resolved; {len(marked)} are marked.",
        )


def _text_problems(
    text: Text | None, what: str, languages: tuple[str, ...], question: str | None, *, optional: bool = False
) -> Iterator[DefinitionProblem]:
    if text is None and optional:
        return
    if not text or not (text.get(ENGLISH) or "").strip():
        yield DefinitionProblem(DefinitionFault.missing_english, f"{what} has no English text.", question)
        return
    for language in languages:
        if language != ENGLISH and not (text.get(language) or "").strip():
            yield DefinitionProblem(
                DefinitionFault.missing_translation,
                f"{what} has no {language!r} text, and the survey is offered in {language!r}.",
                question,
            )


def _question_problems(question: Question, languages: tuple[str, ...]) -> Iterator[DefinitionProblem]:
    name = f"Question {question.id!r}"
    kind = question.kind
    yield from _text_problems(question.text, name, languages, question.id)
    yield from _text_problems(
        question.hint, f"The hint of question {question.id!r}", languages, question.id, optional=True
    )
    yield from _text_problems(
        question.error_message, f"The error message of question {question.id!r}", languages, question.id, optional=True
    )
    for choice in question.choices:
        yield from _text_problems(
            choice.label, f"Choice {choice.value!r} of question {question.id!r}", languages, question.id
        )
    values = [choice.value for choice in question.choices]
    if len(set(values)) != len(values):
        yield DefinitionProblem(
            DefinitionFault.duplicate_choice, f"{name} offers the same choice value twice.", question.id
        )

    scale = kind.scale
    if scale is not None:
        points = {str(point) for point in scale}
        if (values or kind in _LABELLED_SCALES) and set(values) != points:
            yield DefinitionProblem(
                DefinitionFault.wrong_scale_points,
                f"{name} is a {kind.value} question: label each point from {scale.start} to {scale.stop - 1} once.",
                question.id,
            )
    elif kind is QuestionKind.yes_partly_no:
        if not values and len(languages) > 1:
            # The built-in labels are English only.
            yield DefinitionProblem(
                DefinitionFault.missing_translation,
                f"{name} needs its yes, partly and no labels in each language the survey is offered in.",
                question.id,
            )
        if values and set(values) != set(YES_PARTLY_NO):
            yield DefinitionProblem(
                DefinitionFault.wrong_scale_points,
                f"{name} is a yes/partly/no question: its choices are 'yes', 'partly' and 'no'.",
                question.id,
            )
    elif kind.picks_a_choice:
        if len(values) < 2:
            yield DefinitionProblem(
                DefinitionFault.too_few_choices,
                f"{name} is a choice question with {'no choices' if not values else 'only one choice'}; "
                "give it at least two.",
                question.id,
            )
    elif values:
        yield DefinitionProblem(
            DefinitionFault.unexpected_choices, f"{name} is free text and has choices.", question.id
        )

    if kind is QuestionKind.free_text and question.max_length is None:
        yield DefinitionProblem(
            DefinitionFault.missing_length_limit, f"{name} is free text and needs a length limit.", question.id
        )
    if kind is not QuestionKind.free_text and question.max_length is not None:
        yield DefinitionProblem(
            DefinitionFault.unexpected_length_limit,
            f"{name} is not free text; only free text has a length limit.",
            question.id,
        )
    if kind is not QuestionKind.free_text and question.comment_prompt is not None:
        yield DefinitionProblem(
            DefinitionFault.unexpected_comment_prompt,
            f"{name} is not free text; only comments are read for sentiment.",
            question.id,
        )
    if question.resolution and kind is not QuestionKind.yes_partly_no:
        yield DefinitionProblem(
            DefinitionFault.bad_resolution_marker,
            f"{name} records whether the issue was resolved, so it must be a yes/partly/no question.",
            question.id,
        )


def _skip_problems(
    question: Question, condition: ShowIf, earlier: Mapping[str, Question], definition: SurveyDefinition
) -> Iterator[DefinitionProblem]:
    name = f"Question {question.id!r}"
    target = earlier.get(condition.question)
    if target is None:
        if definition.question(condition.question) is None:
            yield DefinitionProblem(
                DefinitionFault.skip_to_unknown_question,
                f"{name} is shown depending on question {condition.question!r}, which the survey does not have.",
                question.id,
            )
        else:
            yield DefinitionProblem(
                DefinitionFault.skip_to_later_question,
                f"{name} is shown depending on question {condition.question!r}, which is not asked before it.",
                question.id,
            )
        return
    numeric = condition.at_most is not None or condition.at_least is not None
    scale = target.kind.scale
    if numeric == bool(condition.any_of):
        problem = "both a range and choices" if numeric else "no condition"
        yield DefinitionProblem(
            DefinitionFault.bad_skip_condition,
            f"{name} is shown depending on {target.id!r} with {problem}: give either at_most/at_least or any_of.",
            question.id,
        )
    elif numeric and scale is None:
        yield DefinitionProblem(
            DefinitionFault.bad_skip_condition,
            f"{name} depends on a score of {target.id!r}, which is not a scale question.",
            question.id,
        )
    elif numeric and scale is not None:
        bounds = [b for b in (condition.at_most, condition.at_least) if b is not None]
        if any(bound not in scale for bound in bounds):
            yield DefinitionProblem(
                DefinitionFault.bad_skip_condition,
                f"{name} depends on a score of {target.id!r} outside its scale of {scale.start} to {scale.stop - 1}.",
                question.id,
            )
    elif not target.kind.picks_a_choice:
        yield DefinitionProblem(
            DefinitionFault.bad_skip_condition,
            f"{name} depends on a choice in {target.id!r}, which is not a choice question.",
            question.id,
        )
    else:
        offered = {choice.value for choice in target.options()}
        unknown = [value for value in condition.any_of if value not in offered]
        if unknown:
            yield DefinitionProblem(
                DefinitionFault.bad_skip_condition,
                f"{name} depends on {', '.join(map(repr, unknown))} in {target.id!r}, which it does not offer.",
                question.id,
            )
