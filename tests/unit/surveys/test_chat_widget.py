"""What the end-of-chat widget asks, how its token is read, and which channels count as reachable."""

from __future__ import annotations

import pytest

from civicvoice.core.settings import Settings
from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.channels import Channels
from surveys.channels.chat import (
    ChatLanguageNotOffered,
    ChatTokenMissing,
    bearer_token,
    chat_language,
    widget_plan,
    widget_survey,
)
from surveys.definitions import Choice, Question, QuestionKind, ShowIf, SurveyDefinition
from surveys.feature import sendable_channels

EN = {"en": "Q"}
CSAT = Question(
    id="sat",
    kind=QuestionKind.csat,
    text=EN,
    required=True,
    choices=tuple(Choice(value=str(v), label=EN) for v in range(1, 6)),
)


def test_the_widget_asks_the_csat_question_then_the_first_comment_asked_of_everyone() -> None:
    plan = widget_plan(POST_CONTACT_SURVEY)
    assert plan is not None
    assert (plan.question.id, plan.comment.id if plan.comment else None) == ("satisfaction", "improve")
    assert plan.asked == {"satisfaction", "improve"}
    survey = widget_survey(POST_CONTACT_SURVEY, plan)
    assert [(c.value, c.label) for c in survey.question.choices][:2] == [("5", "Very satisfied"), ("4", "Satisfied")]
    assert survey.comment is not None and survey.comment.max_length == 1200
    assert survey.comment.hint.startswith("Do not include personal details")


def test_a_comment_behind_a_condition_is_not_asked_and_no_csat_means_no_widget() -> None:
    conditional = Question(
        id="why", kind=QuestionKind.free_text, text=EN, max_length=300, show_if=ShowIf(question="sat", at_most=2)
    )
    plan = widget_plan(SurveyDefinition(title=EN, questions=(CSAT, conditional)))
    assert plan is not None and plan.comment is None and plan.asked == {"sat"}
    rating = Question(id="r", kind=QuestionKind.rating, text=EN, choices=CSAT.choices)
    assert widget_plan(SurveyDefinition(title=EN, questions=(rating,))) is None


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic abc", "bearer abc"])
def test_the_widget_token_comes_from_a_bearer_header(header: str | None) -> None:
    with pytest.raises(ChatTokenMissing):
        bearer_token(header)
    assert bearer_token("Bearer AbC-_1") == "AbC-_1"


def test_chat_and_ivr_count_once_a_platform_is_configured_and_web_links_and_paper_always() -> None:
    channels = Channels()
    assert sendable_channels(channels, Settings()) == {"web_link", "paper"}
    configured = Settings(ivr_secrets={"t": "k" * 40}, chat_secrets={"c": "k" * 40})
    assert sendable_channels(channels, configured) == {"web_link", "paper", "ivr", "chat"}


def test_the_widget_speaks_a_language_the_survey_offers_and_refuses_another() -> None:
    bilingual = SurveyDefinition(title={"en": "T", "cy": "T"}, questions=(CSAT,), languages=("en", "cy"))
    assert chat_language(bilingual, None) == "en" and chat_language(bilingual, "cy") == "cy"
    for asked in ("fr", "cy-GB", "x" * 500):
        with pytest.raises(ChatLanguageNotOffered) as refused:
            chat_language(bilingual, asked)
        assert refused.value.status == 400 and refused.value.field == "language"
        assert len(refused.value.detail) < 200
    with pytest.raises(ChatLanguageNotOffered):
        chat_language(POST_CONTACT_SURVEY, "cy")
    plan = widget_plan(POST_CONTACT_SURVEY)
    assert plan is not None
    english = widget_survey(POST_CONTACT_SURVEY, plan).messages
    welsh = widget_survey(POST_CONTACT_SURVEY, plan, "cy").messages
    assert english is not None and welsh is not None
    assert (english.send, welsh.send) == ("Send feedback", "Anfon adborth")
    assert (english.limit, welsh.limit) == ("You can enter up to 1,200 characters", "Gallwch nodi hyd at 1,200 nod")
    # Every one of the widget's words has its Welsh in the catalogue.
    untranslated = [name for name in english.__struct_fields__ if getattr(english, name) == getattr(welsh, name)]
    assert untranslated == []
