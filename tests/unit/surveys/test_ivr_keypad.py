"""The keypad plan: which questions the IVR asks, in which order, with which keys; and the request signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.channels.ivr import keypad_plan, next_question
from surveys.definitions import Choice, Question, QuestionKind, ShowIf, SurveyDefinition
from surveys.signed_requests import SignatureMissing, SignatureRefused, sign_request, verify_request

EN = {"en": "Q"}


def q(qid: str, kind: QuestionKind, **kw: object) -> Question:
    return Question(id=qid, kind=kind, text={"en": qid.title()}, **kw)  # type: ignore[arg-type]


def test_csat_comes_first_text_and_multiple_choice_are_left_out_and_three_at_most() -> None:
    definition = SurveyDefinition(
        title=EN,
        questions=(
            q("effort", QuestionKind.effort),
            q("comment", QuestionKind.free_text, max_length=100),
            q(
                "which",
                QuestionKind.multiple_choice,
                choices=(Choice(value="a", label=EN), Choice(value="b", label=EN)),
            ),
            q("nps", QuestionKind.nps),
            q("csat", QuestionKind.csat),
            q("many", QuestionKind.single_choice, choices=tuple(Choice(value=f"c{i}", label=EN) for i in range(10))),
            q("fixed", QuestionKind.yes_partly_no),
        ),
    )
    plan = keypad_plan(definition)
    assert [kq.id for kq in plan] == ["csat", "effort", "nps"]
    nps = plan[2]
    assert list(nps.keys) == [str(n) for n in range(11)] and nps.keys["10"] == "10"
    assert nps.prompt == "Nps Press a number from 0 to 10."


def test_choices_are_numbered_from_one() -> None:
    plan = keypad_plan(POST_CONTACT_SURVEY)
    assert [kq.id for kq in plan] == ["satisfaction", "resolved", "contact_me"]
    assert plan[1].keys == {"1": "yes", "2": "partly", "3": "no"}
    assert plan[2].keys == {"1": "yes", "2": "no"}


def test_skip_logic_uses_the_answers_given() -> None:
    definition = SurveyDefinition(
        title=EN,
        questions=(
            q("csat", QuestionKind.csat),
            q("why", QuestionKind.yes_partly_no, show_if=ShowIf(question="csat", at_most=2)),
            q("again", QuestionKind.yes_partly_no),
        ),
    )
    plan = keypad_plan(definition)
    assert next_question(plan, {}).id == "csat"  # type: ignore[union-attr]
    assert next_question(plan, {"csat": "4"}).id == "again"  # type: ignore[union-attr]
    assert next_question(plan, {"csat": "1"}).id == "why"  # type: ignore[union-attr]
    assert next_question(plan, {"csat": None}).id == "again"  # type: ignore[union-attr] - unanswered: skipped
    assert next_question(plan, {"csat": "1", "why": "no", "again": None}) is None


SECRETS = {"phones": "k" * 40}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_signed_request_names_its_platform() -> None:
    headers = sign_request("phones", "k" * 40, "POST", "/api/v1/ivr/calls/A", b"{}", NOW)
    assert (
        verify_request(SECRETS, headers, "POST", "/api/v1/ivr/calls/A", b"{}", NOW + timedelta(seconds=299)) == "phones"
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"x-civicvoice-signature": None}, SignatureMissing),
        ({"x-civicvoice-platform": "elsewhere"}, SignatureRefused),
        ({"x-civicvoice-timestamp": str(int(NOW.timestamp()) - 301)}, SignatureRefused),
        ({"x-civicvoice-signature": "v1=" + "0" * 64}, SignatureRefused),
        ({"x-civicvoice-timestamp": "999999999999"}, SignatureRefused),  # beyond any date: refused, not a crash
        ({"x-civicvoice-timestamp": "-1"}, SignatureRefused),
    ],
)
def test_anything_else_is_refused(change: dict[str, str | None], error: type[Exception]) -> None:
    headers: dict[str, str] = sign_request("phones", "k" * 40, "POST", "/p", b"", NOW)
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    with pytest.raises(error):
        verify_request(SECRETS, headers, "POST", "/p", b"", NOW)
