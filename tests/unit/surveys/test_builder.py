"""How a version is asked on each channel, checked when it is published (pure)."""

from __future__ import annotations

import pytest

from surveys.builder import UnknownChannel, channel_problems, checked_channels
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import Choice, DefinitionFault, Question, QuestionKind, SurveyDefinition, SurveyKind

TWO = (Choice(value="a", label={"en": "A"}), Choice(value="b", label={"en": "B"}))


def survey(*questions: Question) -> SurveyDefinition:
    return SurveyDefinition(title={"en": "T"}, kind=SurveyKind.campaign, questions=questions)


def choice(qid: str) -> Question:
    return Question(id=qid, kind=QuestionKind.single_choice, text={"en": qid}, choices=TWO)


def comment(qid: str = "comment", *, required: bool = False) -> Question:
    return Question(id=qid, kind=QuestionKind.free_text, text={"en": qid}, max_length=100, required=required)


def test_the_standard_survey_fits_every_channel_but_the_kiosk() -> None:
    assert channel_problems(POST_CONTACT_SURVEY, ["email", "sms", "ivr", "chat", "paper", "web_link"]) == []
    [kiosk] = channel_problems(POST_CONTACT_SURVEY, ["kiosk"])
    assert kiosk.fault is DefinitionFault.channel_limit
    assert "3 tap question(s), 2 comment question(s)" in kiosk.message


@pytest.mark.parametrize("channel", ["sms", "ivr"])
def test_sms_and_ivr_ask_at_most_three_questions(channel: str) -> None:
    # Free text and multiple choice are not asked there, so they do not count.
    several = Question(id="several", kind=QuestionKind.multiple_choice, text={"en": "S"}, choices=TWO)
    assert channel_problems(survey(choice("a"), choice("b"), choice("c"), comment(), several), [channel]) == []
    [problem] = channel_problems(survey(choice("a"), choice("b"), choice("c"), choice("d")), [channel])
    assert "at most 3 questions; this version has 4" in problem.message and channel.upper() in problem.message
    [nothing] = channel_problems(survey(comment()), [channel])
    assert "no question a key press or a one-word reply can answer" in nothing.message


def test_the_kiosk_asks_one_tap_question_and_an_optional_comment() -> None:
    assert channel_problems(survey(choice("a"), comment()), ["kiosk"]) == []
    assert channel_problems(survey(choice("a")), ["kiosk"]) == []
    for broken in (survey(choice("a"), choice("b")), survey(choice("a"), comment(required=True)), survey(comment())):
        assert len(channel_problems(broken, ["kiosk"])) == 1


def test_channels_are_named_from_the_known_ones() -> None:
    assert checked_channels(["web_link", "email", "email"]) == ("email", "web_link")
    with pytest.raises(UnknownChannel, match="'pigeon' is not a channel"):
        checked_channels(["email", "pigeon"])
