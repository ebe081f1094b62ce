"""Demand types as a reviewer or a contact system gives them: the type, and a reason for non-value demand."""

from __future__ import annotations

import pytest

from civicvoice.core.errors import InvalidInput
from feedback.demand import REASON_LIMIT, check_demand
from feedback.scorecard.formulas import DemandType


def test_value_demand_needs_no_reason() -> None:
    found = check_demand("value", None)
    assert found.demand_type is DemandType.value and found.reason is None


@pytest.mark.parametrize("kind", ["excess", "failure", "preventable", "co_dependent"])
def test_non_value_demand_needs_a_reason(kind: str) -> None:
    with pytest.raises(InvalidInput, match="Say why") as refused:
        check_demand(kind, "   ")
    assert refused.value.field == "reason"
    assert check_demand(kind, "  chasing   a reply ").reason == "chasing a reply"


def test_unknown_types_and_long_reasons_are_refused() -> None:
    with pytest.raises(InvalidInput, match="one of value, excess") as refused:
        check_demand("grumble", "x")
    assert refused.value.field == "type"
    with pytest.raises(InvalidInput, match="300 characters"):
        check_demand("failure", "x" * (REASON_LIMIT + 1))


def test_identifiers_in_a_reason_are_removed_before_storing() -> None:
    found = check_demand("failure", "Chasing; call 07700 900123 or jo.bloggs@example.org")
    assert found.reason is not None
    assert "07700 900123" not in found.reason and "jo.bloggs@example.org" not in found.reason
    assert found.reason.startswith("Chasing; call ")
