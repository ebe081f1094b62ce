"""Checking answers against the survey version answered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from surveys.answers import check_answers, clean_text
from surveys.catalogue import POST_CONTACT_SURVEY

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
