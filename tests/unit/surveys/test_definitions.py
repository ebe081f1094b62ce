"""Survey definitions: every broken version is refused with the problem named; a good one round-trips through JSON."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import (
    Choice,
    CommentPrompt,
    DefinitionFault,
    InvalidSurveyDefinition,
    Question,
    QuestionKind,
    ShowIf,
    SurveyDefinition,
    SurveyKind,
    check_definition,
    checked_definition,
    decode_definition,
    stored_definition,
    stored_form,
)

Fault = DefinitionFault


def scale(points: range, language: str = "en") -> tuple[Choice, ...]:
    return tuple(Choice(value=str(p), label={language: f"point {p}"}) for p in points)


CSAT = Question(
    id="satisfaction", kind=QuestionKind.csat, text={"en": "How satisfied were you?"}, choices=scale(range(1, 6))
)
WHY = Question(
    id="why",
    kind=QuestionKind.free_text,
    text={"en": "What went wrong?"},
    max_length=500,
    show_if=ShowIf(question="satisfaction", at_most=2),
)
SURVEY = SurveyDefinition(title={"en": "Your contact"}, questions=(CSAT, WHY))


def with_questions(*questions: Question, **changes: Any) -> SurveyDefinition:
    return replace(SURVEY, questions=questions, **changes)


def faults(definition: SurveyDefinition) -> list[Fault]:
    return [problem.fault for problem in check_definition(definition)]


def test_the_standard_survey_can_be_published() -> None:
    assert check_definition(POST_CONTACT_SURVEY) == []
    assert POST_CONTACT_SURVEY.csat_question is not None and POST_CONTACT_SURVEY.csat_question.id == "satisfaction"
    assert POST_CONTACT_SURVEY.resolution_question is not None
    assert POST_CONTACT_SURVEY.resolution_question.id == "resolved"


def test_every_kind_with_welsh_and_skip_logic_can_be_published() -> None:
    both = {"en": "Text", "cy": "Testun"}
    definition = SurveyDefinition(
        title={"en": "Your views", "cy": "Eich barn"},
        intro={"en": "Two minutes", "cy": "Dau funud"},
        languages=("en", "cy"),
        questions=(
            Question(id="csat", kind=QuestionKind.csat, text=both, required=True, choices=scale_both(range(1, 6))),
            Question(id="rating", kind=QuestionKind.rating, text=both, choices=scale_both(range(1, 6))),
            Question(id="nps", kind=QuestionKind.nps, text=both),
            Question(id="effort", kind=QuestionKind.effort, text=both, show_if=ShowIf(question="nps", at_most=6)),
            Question(
                id="resolved",
                kind=QuestionKind.yes_partly_no,
                text=both,
                resolution=True,
                choices=tuple(Choice(value=v, label=both) for v in ("yes", "partly", "no")),
            ),
            Question(
                id="channel",
                kind=QuestionKind.single_choice,
                text=both,
                choices=(Choice(value="phone", label=both), Choice(value="web", label=both)),
                show_if=ShowIf(question="resolved", any_of=("no", "partly")),
            ),
            Question(
                id="topics",
                kind=QuestionKind.multiple_choice,
                text=both,
                choices=(Choice(value="staff", label=both), Choice(value="speed", label=both)),
            ),
            Question(
                id="speed_detail",
                kind=QuestionKind.free_text,
                text=both,
                max_length=200,
                show_if=ShowIf(question="topics", any_of=("speed",)),
            ),
            Question(
                id="improve",
                kind=QuestionKind.free_text,
                text=both,
                hint=both,
                max_length=1200,
                comment_prompt=CommentPrompt.improve,
                show_if=ShowIf(question="csat", at_least=1, at_most=2),
            ),
        ),
    )
    assert check_definition(definition) == []
    assert checked_definition(stored_form(definition)) == definition


def scale_both(points: range) -> tuple[Choice, ...]:
    return tuple(Choice(value=str(p), label={"en": f"point {p}", "cy": f"pwynt {p}"}) for p in points)


def test_a_campaign_needs_no_csat_question() -> None:
    nps = Question(id="nps", kind=QuestionKind.nps, text={"en": "Would you recommend us?"})
    assert faults(with_questions(nps, kind=SurveyKind.campaign)) == []


def text_question(**changes: Any) -> Question:
    return replace(
        Question(id="comment", kind=QuestionKind.free_text, text={"en": "Anything else?"}, max_length=10), **changes
    )


BROKEN: list[tuple[str, SurveyDefinition, Fault]] = [
    ("no questions", with_questions(kind=SurveyKind.campaign), Fault.no_questions),
    ("duplicate ids", with_questions(CSAT, text_question(id="satisfaction")), Fault.duplicate_question_id),
    ("title without English", replace(SURVEY, title={"cy": "Eich cyswllt"}), Fault.missing_english),
    ("blank English", replace(SURVEY, title={"en": "  "}), Fault.missing_english),
    (
        "question without English",
        with_questions(CSAT, text_question(text={"cy": "Unrhyw beth arall?"})),
        Fault.missing_english,
    ),
    (
        "choice label without English",
        with_questions(replace(CSAT, choices=(*CSAT.choices[:4], Choice(value="5", label={"cy": "Bodlon iawn"})))),
        Fault.missing_english,
    ),
    ("Welsh offered but missing", replace(SURVEY, languages=("en", "cy")), Fault.missing_translation),
    (
        "Welsh offered but yes/partly/no labelled in English only",
        with_questions(
            replace(CSAT, text={"en": "Satisfied?", "cy": "Bodlon?"}, choices=scale_both(range(1, 6))),
            Question(id="resolved", kind=QuestionKind.yes_partly_no, text={"en": "Resolved?", "cy": "Wedi datrys?"}),
            title={"en": "Your contact", "cy": "Eich cyswllt"},
            languages=("en", "cy"),
        ),
        Fault.missing_translation,
    ),
    ("languages not starting with English", replace(SURVEY, languages=("cy", "en")), Fault.bad_languages),
    ("a language twice", replace(SURVEY, languages=("en", "en")), Fault.bad_languages),
    (
        "single choice without choices",
        with_questions(CSAT, Question(id="pick", kind=QuestionKind.single_choice, text={"en": "Pick"})),
        Fault.too_few_choices,
    ),
    (
        "single choice with one choice",
        with_questions(
            CSAT,
            Question(
                id="pick",
                kind=QuestionKind.single_choice,
                text={"en": "Pick"},
                choices=(Choice(value="a", label={"en": "A"}),),
            ),
        ),
        Fault.too_few_choices,
    ),
    (
        "the same choice twice",
        with_questions(
            CSAT,
            Question(
                id="pick",
                kind=QuestionKind.single_choice,
                text={"en": "Pick"},
                choices=(Choice(value="a", label={"en": "A"}), Choice(value="a", label={"en": "Also A"})),
            ),
        ),
        Fault.duplicate_choice,
    ),
    (
        "free text with choices",
        with_questions(CSAT, text_question(choices=scale(range(1, 3)))),
        Fault.unexpected_choices,
    ),
    ("CSAT without labels", with_questions(replace(CSAT, choices=())), Fault.wrong_scale_points),
    ("CSAT labelled 0-4", with_questions(replace(CSAT, choices=scale(range(0, 5)))), Fault.wrong_scale_points),
    (
        "rating without labels",
        with_questions(CSAT, Question(id="rate", kind=QuestionKind.rating, text={"en": "Rate us"})),
        Fault.wrong_scale_points,
    ),
    (
        "NPS labelled in part",
        with_questions(
            CSAT, Question(id="nps", kind=QuestionKind.nps, text={"en": "Recommend?"}, choices=scale(range(0, 3)))
        ),
        Fault.wrong_scale_points,
    ),
    (
        "yes/partly/no with other values",
        with_questions(
            CSAT,
            Question(
                id="resolved",
                kind=QuestionKind.yes_partly_no,
                text={"en": "Resolved?"},
                choices=(Choice(value="yes", label={"en": "Yes"}), Choice(value="maybe", label={"en": "Maybe"})),
            ),
        ),
        Fault.wrong_scale_points,
    ),
    ("free text without a limit", with_questions(CSAT, text_question(max_length=None)), Fault.missing_length_limit),
    ("a limit on a scale", with_questions(replace(CSAT, max_length=100)), Fault.unexpected_length_limit),
    (
        "a comment prompt on a scale",
        with_questions(replace(CSAT, comment_prompt=CommentPrompt.praise)),
        Fault.unexpected_comment_prompt,
    ),
    (
        "skip logic to an unknown question",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="nowhere", at_most=2))),
        Fault.skip_to_unknown_question,
    ),
    ("skip logic to a later question", with_questions(WHY, CSAT), Fault.skip_to_later_question),
    (
        "skip logic to itself",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="why", any_of=("x",)))),
        Fault.skip_to_later_question,
    ),
    (
        "skip logic with no condition",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="satisfaction"))),
        Fault.bad_skip_condition,
    ),
    (
        "skip logic with a range and choices",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="satisfaction", at_most=2, any_of=("2",)))),
        Fault.bad_skip_condition,
    ),
    (
        "skip logic on a score outside the scale",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="satisfaction", at_most=9))),
        Fault.bad_skip_condition,
    ),
    (
        "skip logic on a score of free text",
        with_questions(CSAT, text_question(), replace(WHY, show_if=ShowIf(question="comment", at_most=2))),
        Fault.bad_skip_condition,
    ),
    (
        "skip logic on a choice of a scale",
        with_questions(CSAT, replace(WHY, show_if=ShowIf(question="satisfaction", any_of=("yes",)))),
        Fault.bad_skip_condition,
    ),
    (
        "skip logic on a choice not offered",
        with_questions(
            CSAT,
            Question(id="resolved", kind=QuestionKind.yes_partly_no, text={"en": "Resolved?"}),
            replace(WHY, show_if=ShowIf(question="resolved", any_of=("never",))),
        ),
        Fault.bad_skip_condition,
    ),
    ("post-contact without CSAT", with_questions(text_question()), Fault.csat_count),
    ("post-contact with two CSAT", with_questions(CSAT, replace(CSAT, id="again")), Fault.csat_count),
    (
        "campaign with two CSAT",
        with_questions(CSAT, replace(CSAT, id="again"), kind=SurveyKind.campaign),
        Fault.csat_count,
    ),
    (
        "CSAT behind skip logic",
        with_questions(
            Question(id="resolved", kind=QuestionKind.yes_partly_no, text={"en": "Resolved?"}),
            replace(CSAT, show_if=ShowIf(question="resolved", any_of=("yes",))),
        ),
        Fault.conditional_csat,
    ),
    (
        "resolution marked on free text",
        with_questions(CSAT, text_question(resolution=True)),
        Fault.bad_resolution_marker,
    ),
    (
        "two resolution questions",
        with_questions(
            CSAT,
            Question(id="resolved", kind=QuestionKind.yes_partly_no, text={"en": "Resolved?"}, resolution=True),
            Question(id="fixed", kind=QuestionKind.yes_partly_no, text={"en": "Fixed?"}, resolution=True),
        ),
        Fault.bad_resolution_marker,
    ),
    (
        "multiple choice with one choice",
        with_questions(
            CSAT,
            Question(
                id="topics",
                kind=QuestionKind.multiple_choice,
                text={"en": "Topics"},
                choices=(Choice(value="a", label={"en": "A"}),),
            ),
        ),
        Fault.too_few_choices,
    ),
]


@pytest.mark.parametrize(("definition", "fault"), [(d, f) for _, d, f in BROKEN], ids=[name for name, _, _ in BROKEN])
def test_a_broken_version_is_refused_with_its_problem_named(definition: SurveyDefinition, fault: Fault) -> None:
    with pytest.raises(InvalidSurveyDefinition) as refused:
        checked_definition(definition)
    assert fault in refused.value.faults
    assert refused.value.status == 422
    problem = next(p for p in refused.value.problems if p.fault is fault)
    assert problem.message in refused.value.detail
    assert {"fault": fault.value, "question": problem.question} in refused.value.extra["problems"]


def test_the_problem_names_the_question() -> None:
    [problem] = check_definition(with_questions(CSAT, replace(WHY, show_if=ShowIf(question="nowhere", at_most=2))))
    assert problem.question == "why"
    assert problem.message == (
        "Question 'why' is shown depending on question 'nowhere', which the survey does not have."
    )


def test_every_problem_is_reported_at_once() -> None:
    definition = with_questions(text_question(max_length=None, text={"cy": "Dim"}), text_question())
    assert set(faults(definition)) == {
        Fault.missing_english,
        Fault.missing_length_limit,
        Fault.duplicate_question_id,
        Fault.csat_count,
    }


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (
            b'{"title": {"en": "T"}, "questions": [{"id": "Bad Id", "kind": "csat", "text": {"en": "Q"}}]}',
            "$.questions[0].id",
        ),
        (
            b'{"title": {"en": "T"}, "questions": [{"id": "q", "kind": "slider", "text": {"en": "Q"}}]}',
            "$.questions[0].kind",
        ),
        (b'{"title": {"en": "T"}, "questions": [], "colour": "red"}', "colour"),
        (b'{"title": "T", "questions": []}', "$.title"),
        (b'{"title": {"en": "T"}}', "questions"),
        (
            b'{"title": {"en": "T"}, "questions": [{"id": "q", "kind": "free_text", "text": {"en": "Q"}, '
            b'"max_length": 0}]}',
            "max_length",
        ),
    ],
    ids=["bad-id", "unknown-kind", "unknown-field", "text-not-per-language", "no-questions-field", "zero-limit"],
)
def test_a_malformed_definition_is_refused_with_where(raw: bytes, where: str) -> None:
    with pytest.raises(InvalidSurveyDefinition) as refused:
        checked_definition(raw)
    assert refused.value.faults == {Fault.malformed}
    assert where in refused.value.detail


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidSurveyDefinition) as refused:
        decode_definition(b"{not json")
    assert refused.value.faults == {Fault.malformed}
    assert refused.value.detail.startswith("Not JSON")


def test_options_default_to_the_scale_points_and_yes_partly_no() -> None:
    nps = Question(id="nps", kind=QuestionKind.nps, text={"en": "Recommend?"})
    assert [o.value for o in nps.options()] == [str(p) for p in range(11)]
    resolved = Question(id="resolved", kind=QuestionKind.yes_partly_no, text={"en": "Resolved?"})
    assert [(o.value, o.label_in("cy")) for o in resolved.options()] == [
        ("yes", "Yes"),
        ("partly", "Partly"),
        ("no", "No"),
    ]


def test_text_falls_back_to_english() -> None:
    question = Question(id="q", kind=QuestionKind.nps, text={"en": "Recommend?", "cy": "Argymell?"})
    assert question.text_in("cy") == "Argymell?"
    assert question.text_in("fr") == "Recommend?"
    assert question.hint_in("cy") == ""


# Round trip: any definition of the right shape, valid or not, is stored and read back unchanged.
texts = st.dictionaries(st.sampled_from(["en", "cy", "gd"]), st.text(max_size=30), min_size=1, max_size=3)
ids = st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)
values = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,39}", fullmatch=True)
choices = st.builds(Choice, value=values, label=texts)
conditions = st.builds(
    ShowIf,
    question=ids,
    at_most=st.none() | st.integers(0, 10),
    at_least=st.none() | st.integers(0, 10),
    any_of=st.lists(values, max_size=3).map(tuple),
)
questions = st.builds(
    Question,
    id=ids,
    kind=st.sampled_from(QuestionKind),
    text=texts,
    hint=st.none() | texts,
    error_message=st.none() | texts,
    required=st.booleans(),
    choices=st.lists(choices, max_size=5).map(tuple),
    max_length=st.none() | st.integers(1, 10_000),
    show_if=st.none() | conditions,
    comment_prompt=st.none() | st.sampled_from(CommentPrompt),
    resolution=st.booleans(),
)
definitions = st.builds(
    SurveyDefinition,
    title=texts,
    intro=st.none() | texts,
    kind=st.sampled_from(SurveyKind),
    languages=st.lists(st.sampled_from(["en", "cy", "gd"]), min_size=1, max_size=3).map(tuple),
    questions=st.lists(questions, max_size=6).map(tuple),
)


@given(definitions)
def test_json_round_trip(definition: SurveyDefinition) -> None:
    assert msgspec.json.decode(msgspec.json.encode(definition), type=SurveyDefinition) == definition
    assert decode_definition(msgspec.json.encode(definition)) == definition
    # The database keeps the JSON form; a version read back checks the same as the one published.
    stored = stored_definition(msgspec.json.decode(msgspec.json.encode(stored_form(definition))))
    assert stored == definition
    assert check_definition(stored) == check_definition(definition)
