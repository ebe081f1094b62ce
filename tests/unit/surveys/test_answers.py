"""Checking answers against the survey version answered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from surveys.answers import FieldProblem, check_answers, clean_text
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import Choice, Question, QuestionKind, ShowIf, SurveyDefinition, SurveyKind

VALID = {"satisfaction": "4", "resolved": "yes"}


def test_valid_answers() -> None:
    checked = check_answers(POST_CONTACT_SURVEY, {**VALID, "improve": "  Shorter waits  ", "praise": ""})
    assert checked.ok
    assert checked.numbers == {"satisfaction": 4}
    assert checked.choices == {"resolved": "yes"}
    assert checked.texts == {"improve": "Shorter waits"}


def test_required_and_unknown_values() -> None:
    checked = check_answers(POST_CONTACT_SURVEY, {"satisfaction": "9", "resolved": ""})
    assert [(p.key, p.message) for p in checked.problems] == [
        ("satisfaction", "Select how satisfied you were with the service"),
        ("resolved", "Select whether your issue was resolved"),
    ]


def test_limit_counts_line_breaks_once() -> None:
    exactly = ("x" * 99 + "\r\n") * 12
    assert check_answers(POST_CONTACT_SURVEY, {**VALID, "improve": exactly}).ok
    over = "x" * 1201
    [problem] = check_answers(POST_CONTACT_SURVEY, {**VALID, "improve": over}).problems
    assert problem.key == "improve" and "1,200 characters or fewer" in problem.message


@given(st.text())
def test_clean_text_keeps_what_people_type(text: str) -> None:
    cleaned = clean_text(text)
    assert "\r" not in cleaned and "\x00" not in cleaned
    assert clean_text(cleaned) == cleaned


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=50)))
def test_any_form_is_checked_without_error(form: dict[str, str]) -> None:
    check_answers(POST_CONTACT_SURVEY, form)


CSAT_AND_FOLLOW_UP = SurveyDefinition(
    title={"en": "Your contact"},
    questions=(
        Question(
            id="csat",
            kind=QuestionKind.csat,
            text={"en": "How satisfied were you?"},
            required=True,
            choices=tuple(Choice(value=str(p), label={"en": str(p)}) for p in range(1, 6)),
        ),
        Question(
            id="what_went_wrong",
            kind=QuestionKind.free_text,
            text={"en": "What went wrong?"},
            required=True,
            max_length=200,
            show_if=ShowIf(question="csat", at_most=2),
        ),
        Question(id="nps", kind=QuestionKind.nps, text={"en": "Would you recommend us?"}),
        Question(id="effort", kind=QuestionKind.effort, text={"en": "How easy was it?"}),
        Question(
            id="channel",
            kind=QuestionKind.single_choice,
            text={"en": "How did you contact us?"},
            choices=(Choice(value="phone", label={"en": "Phone"}), Choice(value="web", label={"en": "Online"})),
        ),
    ),
)


def test_a_question_skipped_by_its_condition_is_neither_required_nor_kept() -> None:
    satisfied = check_answers(CSAT_AND_FOLLOW_UP, {"csat": "4", "what_went_wrong": "Nothing really"})
    assert satisfied.ok
    assert satisfied.numbers == {"csat": 4} and satisfied.texts == {}


def test_a_question_shown_by_its_condition_is_checked() -> None:
    [problem] = check_answers(CSAT_AND_FOLLOW_UP, {"csat": "2"}).problems
    assert problem == FieldProblem("what_went_wrong", "Answer the question: What went wrong?")
    shown = check_answers(CSAT_AND_FOLLOW_UP, {"csat": "1", "what_went_wrong": "Long wait"})
    assert shown.texts == {"what_went_wrong": "Long wait"}


def test_scales_and_choices_are_checked_against_their_points() -> None:
    checked = check_answers(CSAT_AND_FOLLOW_UP, {"csat": "5", "nps": "0", "effort": "7", "channel": "web"})
    assert checked.ok
    assert checked.numbers == {"csat": 5, "nps": 0, "effort": 7}
    assert checked.choices == {"channel": "web"}
    wrong = check_answers(CSAT_AND_FOLLOW_UP, {"csat": "5", "nps": "11", "effort": "0", "channel": "post"})
    assert [p.key for p in wrong.problems] == ["nps", "effort", "channel"]


TOPICS = SurveyDefinition(
    title={"en": "Your visit"},
    kind=SurveyKind.campaign,
    questions=(
        Question(
            id="topics",
            kind=QuestionKind.multiple_choice,
            text={"en": "What did you come about?"},
            required=True,
            choices=tuple(Choice(value=v, label={"en": v.title()}) for v in ("tax", "bins", "parking")),
        ),
        Question(
            id="parking_detail",
            kind=QuestionKind.free_text,
            text={"en": "What about parking?"},
            required=True,
            max_length=100,
            show_if=ShowIf(question="topics", any_of=("parking",)),
        ),
    ),
)


def test_several_choices_are_kept_in_the_questions_order() -> None:
    checked = check_answers(TOPICS, {"topics": ("parking", "tax", "tax"), "parking_detail": "No spaces"})
    assert checked.ok
    assert checked.selections == {"topics": ("tax", "parking")}
    assert checked.texts == {"parking_detail": "No spaces"}
    one = check_answers(TOPICS, {"topics": "bins"})
    assert one.ok and one.selections == {"topics": ("bins",)}


def test_multiple_choice_is_checked_and_drives_skip_logic() -> None:
    assert [p.key for p in check_answers(TOPICS, {}).problems] == ["topics"]
    assert [p.key for p in check_answers(TOPICS, {"topics": ("tax", "pigeons")}).problems] == ["topics"]
    # Any one choice among the condition's shows the question.
    assert [p.key for p in check_answers(TOPICS, {"topics": ("bins", "parking")}).problems] == ["parking_detail"]
    # Several values for a question that takes one are refused.
    [problem] = check_answers(CSAT_AND_FOLLOW_UP, {"csat": ("4", "5")}).problems
    assert problem.key == "csat"
