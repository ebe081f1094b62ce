"""Migration 0011: versions stored in the first release's untyped form read back as the same typed survey."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from surveys.catalogue import POST_CONTACT_SURVEY
from surveys.definitions import check_definition, stored_definition, stored_form

MIGRATION = Path(__file__).resolve().parents[3] / "migrations" / "versions" / "0011_typed_survey_definitions.py"

# The standard survey exactly as the first release stored it.
FIRST_RELEASE: dict[str, Any] = {
    "title": "Tell us about your recent contact",
    "intro": "It takes about a minute. Your answers help us improve our services.",
    "questions": [
        {
            "key": "satisfaction",
            "kind": "scale",
            "text": "Overall, how satisfied were you with the service you received?",
            "required": True,
            "options": [
                {"value": 5, "label": "Very satisfied"},
                {"value": 4, "label": "Satisfied"},
                {"value": 3, "label": "Neither satisfied nor dissatisfied"},
                {"value": 2, "label": "Dissatisfied"},
                {"value": 1, "label": "Very dissatisfied"},
            ],
        },
        {
            "key": "resolved",
            "kind": "choice",
            "text": "Was your issue resolved?",
            "required": True,
            "options": [
                {"value": "yes", "label": "Yes"},
                {"value": "partly", "label": "Partly"},
                {"value": "no", "label": "No"},
            ],
        },
        {
            "key": "improve",
            "kind": "text",
            "text": "What could we do better?",
            "hint": "Do not include personal details such as your name, address or phone number.",
            "required": False,
            "max_length": 1200,
            "sentiment_context": "improve",
        },
        {
            "key": "praise",
            "kind": "text",
            "text": "What went well?",
            "required": False,
            "max_length": 1200,
            "sentiment_context": "praise",
        },
    ],
}


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0011", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The standard survey as the first release had it: today's, less the questions added since ("contact me").
FIRST_RELEASE_TYPED = msgspec.structs.replace(POST_CONTACT_SURVEY, questions=POST_CONTACT_SURVEY.questions[:4])


def test_the_first_release_survey_becomes_the_typed_one() -> None:
    typed = stored_definition(_migration().typed_definition(FIRST_RELEASE))
    assert check_definition(typed) == []
    # Same ids, values, labels, limits and error messages: answers already stored still match their questions.
    assert typed == FIRST_RELEASE_TYPED


def test_a_downgrade_gives_back_the_first_release_form() -> None:
    assert _migration().untyped_definition(stored_form(FIRST_RELEASE_TYPED)) == FIRST_RELEASE
