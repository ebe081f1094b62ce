"""survey definitions in the typed form of surveys.definitions

Versions stored as the untyped dict of the first release (questions with "key", kinds scale / choice / text,
text as a plain string) are rewritten in the form `surveys.definitions.SurveyDefinition` decodes: the same
questions, ids, values, labels, limits and messages. The conversion is written out here, not imported, so this
migration keeps meaning what it meant when the code moves on.

Revision ID: 0011
Revises: 0003
Create Date: 2026-12-01 10:30:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import GUID, JsonB
from alembic import op

revision = "0011"
down_revision = "0003"
branch_labels = None
depends_on = None

_VERSIONS = sa.table("survey_version", sa.column("id", GUID), sa.column("definition", JsonB))
_YES_PARTLY_NO = {"yes", "partly", "no"}
_DEFAULT_YES_PARTLY_NO = [{"value": v, "label": {"en": v.capitalize()}} for v in ("yes", "partly", "no")]
_COMMENT_PROMPTS = {"improve", "praise", "general"}
# The answer checker of the first release had these two messages built in.
_ERROR_MESSAGES = {
    "satisfaction": "Select how satisfied you were with the service",
    "resolved": "Select whether your issue was resolved",
}


def _english(text: Any) -> dict[str, str]:
    return {"en": str(text)}


def typed_question(old: dict[str, Any]) -> dict[str, Any]:
    key = str(old["key"])
    question: dict[str, Any] = {"id": key, "text": _english(old.get("text", key))}
    if old.get("hint"):
        question["hint"] = _english(old["hint"])
    if key in _ERROR_MESSAGES:
        question["error_message"] = _english(_ERROR_MESSAGES[key])
    question["required"] = bool(old.get("required", False))
    choices = [{"value": str(o["value"]), "label": _english(o["label"])} for o in old.get("options", [])]
    kind = old.get("kind")
    if kind == "scale":
        question["kind"] = "csat" if key == "satisfaction" else "rating"
        question["choices"] = choices
    elif kind == "choice":
        if {c["value"] for c in choices} == _YES_PARTLY_NO:
            question["kind"] = "yes_partly_no"
            question["resolution"] = key == "resolved"
            if choices != _DEFAULT_YES_PARTLY_NO:  # the typed form offers these three by default
                question["choices"] = choices
        else:
            question["kind"] = "single_choice"
            question["choices"] = choices
    else:
        question["kind"] = "free_text"
        question["max_length"] = int(old.get("max_length", 1200))
        if old.get("sentiment_context") in _COMMENT_PROMPTS:
            question["comment_prompt"] = old["sentiment_context"]
    return question


def typed_definition(old: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = {"title": _english(old.get("title", "Survey"))}
    if old.get("intro"):
        definition["intro"] = _english(old["intro"])
    definition["questions"] = [typed_question(q) for q in old.get("questions", [])]
    return definition


def untyped_definition(new: dict[str, Any]) -> dict[str, Any]:
    """The first release's form, for a downgrade (English text only; it had no other)."""
    old: dict[str, Any] = {"title": new["title"]["en"], "questions": []}
    if new.get("intro"):
        old["intro"] = new["intro"]["en"]
    for question in new.get("questions", []):
        kind = question["kind"]
        item: dict[str, Any] = {
            "key": question["id"],
            "kind": "text"
            if kind == "free_text"
            else ("choice" if "choice" in kind or kind == "yes_partly_no" else "scale"),
            "text": question["text"]["en"],
            "required": question.get("required", False),
        }
        if question.get("hint"):
            item["hint"] = question["hint"]["en"]
        if kind == "free_text":
            item["max_length"] = question.get("max_length", 1200)
            if question.get("comment_prompt"):
                item["sentiment_context"] = question["comment_prompt"]
        else:
            choices = question.get("choices") or [
                {"value": v, "label": {"en": v.capitalize()}} for v in ("yes", "partly", "no")
            ]
            item["options"] = [
                {"value": int(c["value"]) if item["kind"] == "scale" else c["value"], "label": c["label"]["en"]}
                for c in choices
            ]
        old["questions"].append(item)
    return old


def _is_untyped(definition: dict[str, Any]) -> bool:
    return any("key" in question for question in definition.get("questions", []))


def upgrade() -> None:
    bind = op.get_bind()
    for version_id, definition in bind.execute(sa.select(_VERSIONS.c.id, _VERSIONS.c.definition)).all():
        if _is_untyped(definition):
            bind.execute(
                _VERSIONS.update().where(_VERSIONS.c.id == version_id).values(definition=typed_definition(definition))
            )


def downgrade() -> None:
    bind = op.get_bind()
    for version_id, definition in bind.execute(sa.select(_VERSIONS.c.id, _VERSIONS.c.definition)).all():
        if not _is_untyped(definition):
            bind.execute(
                _VERSIONS.update().where(_VERSIONS.c.id == version_id).values(definition=untyped_definition(definition))
            )
