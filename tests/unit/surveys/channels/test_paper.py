"""Which languages a letter is printed in, which language its link opens the survey in, and its fixed text from
the gettext catalogue: Welsh dates and wording for a Welsh letter, "Reminder" on a reminder."""

from __future__ import annotations

from datetime import date

import pytest

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.channels.paper import PrintedLetter, letter_languages, letter_view, link_language, wording

EN, CY = "en", "cy"


@pytest.mark.parametrize(
    ("preferred", "offered", "bilingual", "languages"),
    [
        (CY, (EN, CY), False, (CY,)),
        (CY, (EN,), False, (EN,)),  # the survey has no Welsh: English
        (EN, (EN, CY), False, (EN,)),
        (None, (EN, CY), False, (EN,)),
        (None, (EN, CY), True, (CY, EN)),  # bilingual: Welsh first, whatever the preference
        (EN, (EN, CY), True, (CY, EN)),
        (CY, (EN,), True, (EN,)),  # no Welsh text to print
    ],
)
def test_a_letter_is_printed_in_the_preferred_language_the_survey_has(
    preferred: str | None, offered: tuple[str, ...], bilingual: bool, languages: tuple[str, ...]
) -> None:
    assert letter_languages(preferred, offered, bilingual=bilingual) == languages


@pytest.mark.parametrize(
    ("languages", "preferred", "offered", "link"),
    [
        ((CY,), CY, (EN, CY), CY),
        ((EN,), None, (EN, CY), EN),
        ((EN,), CY, (EN,), None),  # one language: the link need not say
        ((CY, EN), EN, (EN, CY), EN),  # bilingual: the person's own language
        ((CY, EN), None, (EN, CY), CY),
    ],
)
def test_the_link_opens_the_survey_in_the_letters_language(
    languages: tuple[str, ...], preferred: str | None, offered: tuple[str, ...], link: str | None
) -> None:
    assert link_language(languages, preferred, offered) == link


def letter(**changes: object) -> PrintedLetter:
    values: dict[str, object] = {
        "reference": "KX7RM2QDP",
        "name": "Siân Ŵyn",
        "address": ("1 High Street", "LL61 5UJ"),
        "council_name": "Cyngor Sir Ynys Môn",
        "service_name": "Council Tax",
        "survey": POST_CONTACT_SURVEY,
        "short_url": "https://example.org/r/abc?lang=cy",
        "expires_on": date(2026, 12, 31),
        "privacy_url": "https://example.org/privacy",
        "dated": date(2026, 12, 1),
    }
    return PrintedLetter(**(values | changes))  # type: ignore[arg-type]


def test_the_fixed_text_comes_from_the_welsh_catalogue_with_welsh_dates() -> None:
    welsh = wording(letter(languages=(CY,)), CY)
    assert welsh.paragraph.startswith("Annwyl Siân Ŵyn, buoch mewn cysylltiad â ni yn ddiweddar ynghylch Council Tax.")
    assert welsh.paragraph.endswith("erbyn 31 Rhagfyr 2026.") and welsh.dated == "1 Rhagfyr 2026"
    assert welsh.reference_label == "Cyfeirnod:" and welsh.reminder == ""
    english = wording(letter(), EN)
    assert english.paragraph.startswith("Dear Siân Ŵyn, you were recently in touch with us about Council Tax.")
    assert english.paragraph.endswith("by 31 December 2026.")


def test_a_reminder_says_so_and_when_we_first_wrote() -> None:
    reminder = letter(first_sent_on=date(2026, 11, 3))
    english = wording(reminder, EN)
    assert english.heading == "Reminder: Tell us about your recent contact"
    assert english.reminder.startswith("This is a reminder. We wrote to you on 3 November 2026")
    welsh = wording(reminder, CY)
    assert welsh.heading.startswith("Nodyn atgoffa: ") and "3 Tachwedd 2026" in welsh.reminder


def test_a_bilingual_letter_asks_each_question_in_welsh_then_english() -> None:
    view = letter_view(letter(languages=(CY, EN)))
    assert [text.language for text in view.wordings] == [CY, EN]
    first = view.questions[0]
    assert [language for language, _ in first.texts] == [CY, EN]
    assert [language for language, _ in first.notes] == [CY, EN] and first.notes[0][1] == "Ticiwch un blwch."
    # The survey has no Welsh labels: each box is labelled once, not "Very satisfied / Very satisfied".
    assert first.boxes[0] == "Very satisfied"
