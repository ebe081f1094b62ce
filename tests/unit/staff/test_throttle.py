"""Back-off for failed sign-ins: free attempts, then doubling waits, capped (slow, never locked out)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from civicvoice.staff.throttle import ACCOUNT_BACK_OFF, BackOff, TooManyAttempts
from civicvoice.staff.web import safe_next


def test_free_failures_then_doubling() -> None:
    waits = [ACCOUNT_BACK_OFF.wait_after(n).total_seconds() for n in range(1, 11)]
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8, 16]


@given(st.integers(min_value=0, max_value=10**6))
def test_wait_never_exceeds_the_cap_and_never_shrinks(failures: int) -> None:
    back_off = BackOff(free=3, cap=timedelta(minutes=15))
    assert timedelta(0) <= back_off.wait_after(failures) <= timedelta(minutes=15)
    assert back_off.wait_after(failures + 1) >= back_off.wait_after(failures)


def test_message_says_how_long_to_wait() -> None:
    assert "Wait 1 second " in TooManyAttempts(timedelta(milliseconds=200)).detail
    assert "Wait 3 minutes" in TooManyAttempts(timedelta(seconds=150)).detail


def test_after_sign_in_only_staff_paths_on_this_site() -> None:
    assert safe_next("/staff/feedback?page=2") == "/staff/feedback?page=2"
    for hostile in (
        "https://evil.example/",
        "//evil.example/staff/",
        "/staff/\\evil",
        "/staff//evil",
        "/api/v1/x",
        None,
        "",
    ):
        assert safe_next(hostile) == "/staff/feedback"
