"""Job payloads carry ids only: UUIDs and the enum values a job declared; nothing a person could be read from."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicvoice.core.jobs import InvalidJobPayload, JobRegistry, job_row, validate_payload


class RequestKind(StrEnum):
    access = "access"
    erasure = "erasure"


DECLARED = {"kind": frozenset({"access", "erasure"})}
AN_ID = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")


def test_uuids_and_declared_values_are_accepted() -> None:
    payload = {
        "request_id": AN_ID,
        "other_id": str(AN_ID).upper(),
        "kind": RequestKind.erasure,
        "again": None,
    }
    assert validate_payload({**payload, "kind": "access"}, DECLARED)["kind"] == "access"
    assert validate_payload(payload, DECLARED) == {
        "request_id": str(AN_ID),
        "other_id": str(AN_ID),
        "kind": "erasure",
        "again": None,
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Jo Bloggs"},
        {"phone": "07700 900123"},
        {"phone": "+447700900123"},
        {"number": 7700900123},
        {"flag": True},
        {"comment": "The bin was not collected"},
        {"email": "jo@example.org"},
        {"request_id": f"{AN_ID}\n"},
        {"request_id": f" {AN_ID}"},
        {"request_id": f"{{{AN_ID}}}"},
        {"request_id": AN_ID.hex},
        {"kind": "erasure\n"},
        {"kind": "portability"},
        {"other": "access"},
        {"nested": {"id": str(AN_ID)}},
        {"list": [str(AN_ID)]},
        {"Bad": str(AN_ID)},
        {"key\n": str(AN_ID)},
        {"": str(AN_ID)},
    ],
    ids=repr,
)
def test_anything_else_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobPayload, match=r"ids only|identifier"):
        validate_payload(payload, DECLARED)


@given(st.text(max_size=60))
def test_free_text_never_passes(text: str) -> None:
    try:
        uuid_like = str(uuid.UUID(text)) == text.lower()
    except ValueError:
        uuid_like = False
    if uuid_like or text in DECLARED["kind"]:
        return
    with pytest.raises(InvalidJobPayload):
        validate_payload({"kind": text}, DECLARED)


def test_a_job_declares_its_enum_values_at_registration() -> None:
    registry = JobRegistry()

    @registry.job("test.requests", payload_values={"kind": RequestKind})
    async def handle(ctx: Any, payload: dict[str, Any]) -> None:
        return None

    assert job_row("test.requests", {"request_id": AN_ID, "kind": "erasure"})["payload"]["kind"] == "erasure"
    with pytest.raises(InvalidJobPayload, match="access"):
        job_row("test.requests", {"kind": "Jo Bloggs"})
    # Another job did not declare the field, so the same value is refused there.
    with pytest.raises(InvalidJobPayload):
        job_row("test.other", {"kind": "erasure"})


def test_a_job_may_declare_a_range_of_counts() -> None:
    declared = {"limit": frozenset(str(n) for n in range(1, 101))}
    assert validate_payload({"limit": 50}, declared) == {"limit": 50}
    for refused in (0, 101, 7700900123, True, 50.0):
        with pytest.raises(InvalidJobPayload):
            validate_payload({"limit": refused}, declared)
