"""The public request form's checks (every problem at once, in the person's words) and the masked address."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from privacy.public_requests import PublicRequestForm, check_form, masked_email
from privacy.request_states import RequestKind


def form(**changes: str) -> PublicRequestForm:
    values = {"kind": "access", "name": "  Jo   Bloggs ", "email": " Jo@Example.ORG ", **changes}
    return PublicRequestForm(**values)


def test_a_good_form_is_normalised() -> None:
    checked, errors = check_form(form(phone="07911 123456", contact_reference=" CALL-1 "))
    assert errors == [] and checked is not None
    assert checked.kind is RequestKind.access and checked.email == "jo@example.org"
    assert checked.requester.name == "Jo Bloggs" and checked.requester.phone == "+447911123456"
    assert checked.requester.contact_reference == "CALL-1"


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    checked, errors = check_form(form(kind="", name="", email="nope", phone="call me", details="x" * 2001))
    assert checked is None
    assert [field for field, _ in errors] == ["kind", "name", "email", "phone", "details"]


def test_corrections_and_complaints_need_details() -> None:
    for kind in ("rectification", "complaint"):
        assert [f for f, _ in check_form(form(kind=kind))[1]] == ["details"]
        assert check_form(form(kind=kind, details="What is wrong"))[1] == []


@given(local=st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True), domain=st.sampled_from(["example.org", "a.gov.uk"]))
def test_the_masked_address_shows_only_the_first_character_and_the_domain(local: str, domain: str) -> None:
    shown = masked_email(f"{local}@{domain}")
    shown_local, shown_domain = shown.rsplit("@", 1)
    # Only the first character of the local part shows (the local part may of course occur in the domain).
    assert shown_local == f"{local[0]}***" and shown_domain == domain
    assert len(local) == 1 or local not in shown_local
