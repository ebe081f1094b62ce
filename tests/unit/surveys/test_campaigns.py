"""A campaign's pure parts: reading a pasted or uploaded list, checking one person, its days and its schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from surveys.campaigns import (
    RecipientIn,
    RecipientProblem,
    RecipientsUnreadable,
    check_recipient,
    closes_at,
    recipients_from_csv,
    schedule,
    under_way,
)
from surveys.models import Survey
from surveys.rules import InvitationChannel, InvitationPolicy

EMAIL_AND_SMS = frozenset({"email", "sms"})


def test_a_list_names_its_columns_and_keeps_its_row_numbers() -> None:
    text = (
        "\ufeffName,E-mail,Email,Mobile number,Organisation\r\nAnn,x,ann@example.org,,Acme\r\n\r\n,,,07911 123456,\r\n"
    )
    assert recipients_from_csv(text) == [
        (2, RecipientIn(email="ann@example.org", name="Ann", organisation="Acme")),
        (4, RecipientIn(mobile="07911 123456")),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The list is empty"),
        ("ann@example.org\n", "The first row must name the columns"),
        ("email\n\n", "has nobody in it"),
        ("email\n" + "a@example.org\n" * 1001, "at most 1000"),
        ('email\n"unfinished\n', "not valid CSV"),
    ],
    ids=["empty", "no header", "nobody", "too many", "broken quotes"],
)
def test_an_unreadable_list_says_why(text: str, message: str) -> None:
    with pytest.raises(RecipientsUnreadable, match=message):
        recipients_from_csv(text)


def test_a_person_is_asked_by_email_else_by_text_when_the_campaign_may() -> None:
    both = RecipientIn(email=" Ann@Example.org ", mobile="07911 123456", name="  Ann   Buyer ")
    checked = check_recipient(0, both, EMAIL_AND_SMS)
    assert not isinstance(checked, RecipientProblem)
    assert (checked.channel, checked.claim.email, checked.claim.phone, checked.claim.name) == (
        InvitationChannel.email,
        "ann@example.org",
        "+447911123456",
        "Ann Buyer",
    )
    texted = check_recipient(1, RecipientIn(mobile="07911 123456"), EMAIL_AND_SMS)
    assert not isinstance(texted, RecipientProblem) and texted.channel == InvitationChannel.sms
    refused = check_recipient(2, RecipientIn(mobile="07911 123456"), frozenset({"email"}))
    assert isinstance(refused, RecipientProblem) and (refused.position, refused.reason) == (2, "no_channel")
    bad = check_recipient(3, RecipientIn(email="ann@", mobile="07911 123456"), EMAIL_AND_SMS)
    assert isinstance(bad, RecipientProblem) and (bad.reason, bad.field) == ("invalid_email", "email")


def test_a_campaign_runs_from_its_first_day_to_its_last_in_london() -> None:
    survey = Survey(campaign_starts_on=date(2027, 3, 1), campaign_ends_on=date(2027, 3, 31))
    assert [under_way(survey, date(2027, 3, d)) for d in (1, 31)] == [True, True]
    assert not under_way(survey, date(2027, 2, 28)) and not under_way(survey, date(2027, 4, 1))
    assert not under_way(Survey(campaign_starts_on=date(2027, 3, 1), campaign_ends_on=None), date(2027, 3, 2))
    # The clocks go forward on 28 March 2027: midnight in London is then 23:00 UTC the day before.
    assert closes_at(date(2027, 3, 31)) == datetime(2027, 3, 31, 23, 0, tzinfo=UTC)
    assert closes_at(date(2027, 1, 31)) == datetime(2027, 2, 1, 0, 0, tzinfo=UTC)


def test_sending_keeps_out_of_quiet_hours_and_reminds_only_before_the_end() -> None:
    policy = InvitationPolicy(reminder_after=timedelta(days=3))
    noon = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
    assert schedule(policy, InvitationChannel.email, noon, noon + timedelta(days=10)) == (
        noon,
        noon + timedelta(days=3),
    )
    assert schedule(policy, InvitationChannel.email, noon, noon + timedelta(days=2)) == (noon, None)
    late = datetime(2027, 1, 10, 21, 0, tzinfo=UTC)  # texts wait for the morning (quiet 20:00 to 09:00)
    due, _ = schedule(policy, InvitationChannel.sms, late, late + timedelta(days=10)) or (None, None)
    assert due == datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    assert schedule(policy, InvitationChannel.sms, late, late + timedelta(hours=2)) is None
