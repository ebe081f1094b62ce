"""Invitation rules: each reason a user sees, precedence, quiet hours across clock changes, and the cap."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicvoice.core.clock import LONDON
from surveys.rules import (
    RULES_VERSION,
    ContactChannel,
    ContactFacts,
    ContactPreference,
    Decision,
    InvitationChannel,
    InvitationPolicy,
    PersonFacts,
    QuietHours,
    Reason,
    decide,
    one_reminder_due,
    reminder_due,
    sampled,
    within_cap,
)

EMAIL, SMS, PAPER = InvitationChannel.email, InvitationChannel.sms, InvitationChannel.paper
NOW = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)  # 12:00 in London (BST)
EVENING_SMS = QuietHours(time(20, 0), time(9, 0))
# 2026: clocks go forward at 01:00 UTC on 29 March and back at 01:00 UTC on 25 October.
SPRING_FORWARD = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
CLOCK_CHANGES = [
    SPRING_FORWARD,
    FALL_BACK,
    datetime(2027, 3, 28, 1, tzinfo=UTC),
    datetime(2027, 10, 31, 1, tzinfo=UTC),
]


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def a_contact(**changes: Any) -> ContactFacts:
    facts = ContactFacts(
        contact_id=UUID(int=1),
        service_slug="housing-repairs",
        service_excluded=False,
        channel=ContactChannel.phone,
        occurred_at=NOW - timedelta(minutes=5),
        do_not_survey=False,
        has_open_complaint=False,
        reachable=frozenset({EMAIL}),
        preference=None,
    )
    return dataclasses.replace(facts, **changes)


def a_person(**changes: Any) -> PersonFacts:
    return dataclasses.replace(PersonFacts(opted_out=False, suppressed=False, invitation_times=()), **changes)


# ----------------------------------------------------------------------------------------------------
# What staff see for each reason


def test_reason_values_are_the_stored_ones() -> None:
    assert {reason.value for reason in Reason} == {
        "invited",
        "opted_out",
        "suppressed",
        "do_not_survey",
        "excluded_service",
        "open_complaint",
        "no_contact_details",
        "no_enabled_channel",
        "contact_preference_none",
        "frequency_cap",
        "not_sampled",
        "too_old",
        "restricted",
        "no_published_survey",
    }
    assert RULES_VERSION == "2026-12.1"


def test_a_reachable_person_is_invited_by_email_after_the_delay() -> None:
    decision = decide(a_contact(), a_person(), InvitationPolicy(), now=NOW)

    assert decision.invite
    assert decision.reason is Reason.invited
    assert decision.channel is EMAIL
    assert decision.due_at == NOW + timedelta(minutes=55)  # an hour after the contact
    assert decision.due_at.tzinfo is UTC
    assert decision.expires_at == decision.due_at + timedelta(days=7)
    assert decision.reminder_at == decision.due_at + timedelta(days=3)
    assert decision.rules_version == RULES_VERSION


def test_a_contact_reported_late_is_due_now_not_in_the_past() -> None:
    decision = decide(a_contact(occurred_at=NOW - timedelta(days=2)), a_person(), InvitationPolicy(), now=NOW)

    assert decision.due_at == NOW


def test_no_reminder_when_the_policy_has_none() -> None:
    decision = decide(a_contact(), a_person(), InvitationPolicy(reminder_after=None), now=NOW)

    assert decision.invite
    assert decision.reminder_at is None


DEFAULT = InvitationPolicy()
EMAIL_ONLY = InvitationPolicy(enabled_channels=frozenset({InvitationChannel.email}))
NOT_SAMPLED = InvitationPolicy(sampling={"housing-repairs/phone": 0.0})
TEN_DAYS = timedelta(days=10)


@pytest.mark.parametrize(
    ("contact", "person", "policy", "reason"),
    [
        pytest.param(a_contact(), None, DEFAULT, Reason.no_contact_details, id="no identifiable person"),
        pytest.param(a_contact(reachable=frozenset()), a_person(), DEFAULT, Reason.no_contact_details, id="no details"),
        pytest.param(a_contact(), a_person(opted_out=True), DEFAULT, Reason.opted_out, id="opted out"),
        pytest.param(a_contact(), a_person(suppressed=True), DEFAULT, Reason.suppressed, id="suppressed"),
        pytest.param(
            a_contact(do_not_survey=True),
            a_person(),
            DEFAULT,
            Reason.do_not_survey,
            id="do not survey",
        ),
        pytest.param(
            a_contact(service_excluded=True),
            a_person(),
            DEFAULT,
            Reason.excluded_service,
            id="excluded service",
        ),
        pytest.param(
            a_contact(has_open_complaint=True),
            a_person(),
            DEFAULT,
            Reason.open_complaint,
            id="open complaint",
        ),
        pytest.param(
            a_contact(occurred_at=NOW - timedelta(days=7)),
            a_person(),
            DEFAULT,
            Reason.too_old,
            id="as old as the expiry",
        ),
        pytest.param(
            a_contact(preference=ContactPreference.none),
            a_person(),
            DEFAULT,
            Reason.contact_preference_none,
            id="preference none",
        ),
        pytest.param(
            a_contact(reachable=frozenset({SMS})),
            a_person(),
            EMAIL_ONLY,
            Reason.no_enabled_channel,
            id="only a mobile number and sms not enabled",
        ),
        pytest.param(a_contact(), a_person(), NOT_SAMPLED, Reason.not_sampled, id="not sampled"),
        pytest.param(
            a_contact(),
            a_person(invitation_times=[NOW - TEN_DAYS]),
            DEFAULT,
            Reason.frequency_cap,
            id="invited ten days ago",
        ),
        pytest.param(
            a_contact(),
            a_person(invitation_times=[NOW + TEN_DAYS]),
            DEFAULT,
            Reason.frequency_cap,
            id="an invitation already due in ten days",
        ),
    ],
)
def test_each_reason_not_to_invite(
    contact: ContactFacts, person: PersonFacts | None, policy: InvitationPolicy, reason: Reason
) -> None:
    decision = decide(contact, person, policy, now=NOW)

    assert (decision.invite, decision.reason) == (False, reason)
    assert decision.channel is decision.due_at is decision.expires_at is decision.reminder_at is None
    assert decision.detail.endswith(".")
    assert "@" not in decision.detail


def test_a_contact_just_younger_than_the_expiry_is_still_invited() -> None:
    contact = a_contact(occurred_at=NOW - timedelta(days=7) + timedelta(seconds=1))

    assert decide(contact, a_person(), InvitationPolicy(), now=NOW).reason is Reason.invited


def test_an_invitation_older_than_the_cap_window_does_not_block() -> None:
    person = a_person(invitation_times=[NOW - timedelta(days=31)])

    assert decide(a_contact(), person, InvitationPolicy(), now=NOW).reason is Reason.invited


def test_the_cap_holds_when_contacts_are_reported_out_of_order() -> None:
    # A later contact is reported first; an earlier one reported afterwards must not squeeze in before it.
    first = decide(a_contact(occurred_at=NOW), a_person(), InvitationPolicy(), now=NOW)
    earlier = a_contact(contact_id=UUID(int=2), occurred_at=NOW - timedelta(days=1))

    assert first.invite
    assert decide(earlier, a_person(invitation_times=[first.due_at]), InvitationPolicy(), now=NOW).reason is (
        Reason.frequency_cap
    )


# ----------------------------------------------------------------------------------------------------
# Precedence: fix one problem at a time and the next one shows


Facts = tuple[ContactFacts, PersonFacts | None, InvitationPolicy]
Fix = Callable[[ContactFacts, PersonFacts | None, InvitationPolicy], Facts]


def _fixes() -> list[tuple[Fix, Reason]]:
    def with_contact(**changes: Any) -> Fix:
        return lambda c, p, pol: (dataclasses.replace(c, **changes), p, pol)

    def with_person(**changes: Any) -> Fix:
        return lambda c, p, pol: (c, dataclasses.replace(p or a_person(), **changes), pol)

    return [
        (with_contact(reachable=frozenset({SMS})), Reason.no_contact_details),
        (with_person(opted_out=True, suppressed=True, invitation_times=[NOW]), Reason.opted_out),
        (with_person(opted_out=False), Reason.suppressed),
        (with_person(suppressed=False), Reason.do_not_survey),
        (with_contact(do_not_survey=False), Reason.excluded_service),
        (with_contact(service_excluded=False), Reason.open_complaint),
        (with_contact(has_open_complaint=False), Reason.too_old),
        (with_contact(occurred_at=NOW), Reason.contact_preference_none),
        (with_contact(preference=ContactPreference.sms), Reason.no_enabled_channel),
        (
            lambda c, p, pol: (c, p, dataclasses.replace(pol, enabled_channels=frozenset({EMAIL, SMS}))),
            Reason.not_sampled,
        ),
        (lambda c, p, pol: (c, p, dataclasses.replace(pol, default_sampling_rate=1.0)), Reason.frequency_cap),
        (with_person(invitation_times=[]), Reason.invited),
    ]


def test_the_first_rule_that_applies_wins() -> None:
    contact = a_contact(
        reachable=frozenset(),
        do_not_survey=True,
        service_excluded=True,
        has_open_complaint=True,
        occurred_at=NOW - timedelta(days=30),
        preference=ContactPreference.none,
    )
    person: PersonFacts | None = None
    policy = InvitationPolicy(default_sampling_rate=0.0, enabled_channels=frozenset({InvitationChannel.email}))

    seen = []
    for fix, _ in _fixes():
        seen.append(decide(contact, person, policy, now=NOW).reason)
        contact, person, policy = fix(contact, person, policy)
    seen.append(decide(contact, person, policy, now=NOW).reason)

    assert seen == [Reason.no_contact_details] + [reason for _, reason in _fixes()]


def test_missing_contact_details_come_before_an_opt_out() -> None:
    decision = decide(a_contact(reachable=frozenset()), a_person(opted_out=True), InvitationPolicy(), now=NOW)

    assert decision.reason is Reason.no_contact_details


# ----------------------------------------------------------------------------------------------------
# Channel choice


BOTH = frozenset({EMAIL, SMS})


@pytest.mark.parametrize(
    ("preference", "reachable", "enabled", "channel"),
    [
        (ContactPreference.sms, BOTH, BOTH, SMS),
        (ContactPreference.email, BOTH, BOTH, EMAIL),
        (None, BOTH, BOTH, EMAIL),
        (ContactPreference.post, BOTH, BOTH, EMAIL),
        (ContactPreference.phone, frozenset({SMS}), BOTH, SMS),
        (ContactPreference.sms, BOTH, frozenset({EMAIL}), EMAIL),
        (ContactPreference.email, frozenset({SMS}), BOTH, SMS),
        (ContactPreference.sms, frozenset({SMS, PAPER}), frozenset({PAPER}), PAPER),
    ],
)
def test_the_preferred_channel_is_used_when_enabled_and_reachable_else_email_then_sms(
    preference: ContactPreference | None,
    reachable: frozenset[InvitationChannel],
    enabled: frozenset[InvitationChannel],
    channel: InvitationChannel,
) -> None:
    contact = a_contact(preference=preference, reachable=reachable)

    decision = decide(contact, a_person(), InvitationPolicy(enabled_channels=enabled), now=NOW)

    assert decision.channel is channel


IVR = InvitationChannel.ivr


@pytest.mark.parametrize(
    ("preference", "enabled", "channel"),
    [
        (None, frozenset({EMAIL, SMS, IVR}), IVR),  # still on the call: asked there, before email
        (ContactPreference.email, frozenset({EMAIL, SMS, IVR}), EMAIL),  # a stated preference still wins
        (None, BOTH, EMAIL),  # the IVR channel not enabled
    ],
)
def test_a_reachable_ivr_comes_before_email_and_sms_but_not_before_a_preference(
    preference: ContactPreference | None, enabled: frozenset[InvitationChannel], channel: InvitationChannel
) -> None:
    contact = a_contact(preference=preference, reachable=frozenset({EMAIL, SMS, IVR}))

    decision = decide(contact, a_person(), InvitationPolicy(enabled_channels=enabled), now=NOW)

    assert decision.channel is channel


def test_an_evening_sms_waits_for_the_morning_but_an_email_does_not() -> None:
    evening = london(2026, 6, 10, 21, 30)
    policy = InvitationPolicy(enabled_channels=BOTH, delay=timedelta(0))

    sms_only = a_contact(occurred_at=evening, reachable=frozenset({SMS}))

    by_sms = decide(sms_only, a_person(), policy, now=evening)
    by_email = decide(a_contact(occurred_at=evening), a_person(), policy, now=evening)

    assert by_sms.due_at == london(2026, 6, 11, 9, 0)
    assert by_sms.expires_at == by_sms.due_at + timedelta(days=7)
    assert by_email.due_at == evening


# ----------------------------------------------------------------------------------------------------
# Quiet hours


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (19, 59, False),
        (20, 0, True),
        (23, 59, True),
        (0, 0, True),
        (8, 59, True),
        (9, 0, False),
        (12, 0, False),
    ],
)
def test_evening_quiet_hours_wrap_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert EVENING_SMS.contains(london(2026, 1, 15, hour, minute)) is quiet
    assert EVENING_SMS.contains(london(2026, 7, 15, hour, minute)) is quiet


def test_daytime_quiet_hours_do_not_wrap() -> None:
    lunch = QuietHours(time(12, 0), time(14, 0))

    assert [lunch.contains(london(2026, 7, 1, h, 0)) for h in (11, 12, 13, 14)] == [False, True, True, False]
    assert lunch.next_allowed(london(2026, 7, 1, 13, 0)) == london(2026, 7, 1, 14, 0)


def test_a_moment_outside_quiet_hours_is_returned_unchanged() -> None:
    moment = london(2026, 7, 1, 10, 0)

    assert EVENING_SMS.next_allowed(moment) is moment


@pytest.mark.parametrize(
    "moment", [london(2026, 7, 1, 21, 0), london(2026, 7, 2, 3, 0)], ids=["before midnight", "after midnight"]
)
def test_quiet_hours_end_the_next_morning_in_utc(moment: datetime) -> None:
    allowed = EVENING_SMS.next_allowed(moment)

    assert allowed == london(2026, 7, 2, 9, 0)
    assert allowed.tzinfo is UTC


def test_quiet_hours_follow_the_clock_when_it_goes_forward_in_march() -> None:
    saturday_night = datetime(2026, 3, 28, 21, 0, tzinfo=UTC)  # 21:00 GMT

    allowed = EVENING_SMS.next_allowed(saturday_night)

    assert allowed == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert allowed - saturday_night == timedelta(hours=11)
    assert EVENING_SMS.contains(datetime(2026, 3, 28, 8, 30, tzinfo=UTC))  # 08:30 GMT
    assert not EVENING_SMS.contains(datetime(2026, 3, 29, 8, 30, tzinfo=UTC))  # 09:30 BST


def test_quiet_hours_follow_the_clock_when_it_goes_back_in_october() -> None:
    saturday_night = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)  # 21:00 BST

    allowed = EVENING_SMS.next_allowed(saturday_night)

    assert allowed == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # 09:00 GMT
    assert allowed - saturday_night == timedelta(hours=13)
    assert not EVENING_SMS.contains(datetime(2026, 10, 24, 8, 30, tzinfo=UTC))  # 09:30 BST
    assert EVENING_SMS.contains(datetime(2026, 10, 25, 8, 30, tzinfo=UTC))  # 08:30 GMT


def test_quiet_hours_ending_in_the_repeated_october_hour_end_on_each_pass() -> None:
    until_half_one = QuietHours(time(20, 0), time(1, 30))
    first_pass = datetime(2026, 10, 25, 0, 10, tzinfo=UTC)  # 01:10 BST
    second_pass = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 01:10 GMT, an hour later

    assert until_half_one.next_allowed(first_pass) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert until_half_one.next_allowed(second_pass) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT


def test_quiet_hours_ending_in_the_skipped_march_hour_end_when_the_clock_jumps() -> None:
    until_half_one = QuietHours(time(20, 0), time(1, 30))

    allowed = until_half_one.next_allowed(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))

    assert allowed == SPRING_FORWARD  # the clock reads 02:00 BST, past 01:30
    assert allowed.astimezone(LONDON).hour == 2


def test_quiet_hours_end_early_when_the_october_change_turns_the_clock_back_before_their_start() -> None:
    # Found by Hypothesis: quiet from 01:03; at 02:00 BST the clock goes back to 01:00 GMT, before 01:03.
    small_hours = QuietHours(time(1, 3), time(2, 0))

    allowed = small_hours.next_allowed(datetime(2026, 10, 25, 0, 59, tzinfo=UTC))  # 01:59 BST

    assert allowed == FALL_BACK  # 01:00 GMT
    assert small_hours.next_allowed(datetime(2026, 10, 25, 1, 3, tzinfo=UTC)) == datetime(
        2026, 10, 25, 2, 0, tzinfo=UTC
    )


def test_an_allowed_window_lost_to_the_march_change_waits_for_the_next_day() -> None:
    # Allowed only 01:30-02:00, which does not exist on 29 March 2026.
    short_window = QuietHours(time(2, 0), time(1, 30))

    allowed = short_window.next_allowed(datetime(2026, 3, 29, 0, 0, tzinfo=UTC))

    assert allowed == london(2026, 3, 30, 1, 30)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (time(9, 0), time(9, 0), "ambiguous"),
        (time(20, 0, tzinfo=UTC), time(9, 0), "no tzinfo"),
        (time(20, 0, 30), time(9, 0), "whole minute"),
        ("20:00", time(9, 0), "must be a time"),
    ],
)
def test_quiet_hours_refuse_unclear_periods(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuietHours(start, end)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EVENING_SMS.contains(datetime(2026, 7, 1, 21, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(a_contact(), a_person(), InvitationPolicy(), now=datetime(2026, 7, 1, 21, 0))
    with pytest.raises(ValueError, match="occurred_at"):
        a_contact(occurred_at=datetime(2026, 7, 1, 21, 0))


minutes_of_day = st.builds(lambda m: time(m // 60, m % 60), st.integers(0, 24 * 60 - 1))
# Half the time, put an edge in the small hours where the clocks change.
small_hours = st.builds(lambda m: time(m // 60, m % 60), st.integers(0, 3 * 60))
edges = st.one_of(minutes_of_day, small_hours)
quiet_hours = st.tuples(edges, edges).filter(lambda pair: pair[0] != pair[1]).map(lambda pair: QuietHours(*pair))
moments = st.one_of(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(CLOCK_CHANGES),
        st.integers(-2 * 86_400, 2 * 86_400),
    ),
)


@settings(max_examples=300, deadline=None)
@given(hours=quiet_hours, moment=moments)
def test_next_allowed_is_the_first_moment_outside_quiet_hours(hours: QuietHours, moment: datetime) -> None:
    allowed = hours.next_allowed(moment)

    assert allowed >= moment
    assert not hours.contains(allowed)
    if allowed != moment:
        # Quiet all the way from the moment to the end: no allowed window was skipped.
        span = allowed - moment
        assert all(hours.contains(moment + span * k / 20) for k in range(20))
        assert hours.contains(allowed - timedelta(seconds=1))


# ----------------------------------------------------------------------------------------------------
# Sampling


def test_sampling_rate_takes_the_most_specific_setting() -> None:
    policy = InvitationPolicy(
        sampling={"housing/phone": 0.1, "housing/*": 0.2, "*/phone": 0.3}, default_sampling_rate=0.4
    )

    assert policy.sampling_rate("housing", ContactChannel.phone) == 0.1
    assert policy.sampling_rate("housing", ContactChannel.email) == 0.2
    assert policy.sampling_rate("waste", ContactChannel.phone) == 0.3
    assert policy.sampling_rate("waste", ContactChannel.email) == 0.4


def test_sampling_picks_close_to_the_rate_over_many_contacts() -> None:
    picked = sum(sampled(UUID(int=i), 0.3) for i in range(10_000))

    assert 2_700 <= picked <= 3_300


@settings(max_examples=200, deadline=None)
@given(contact_id=st.uuids(), rate=st.floats(0, 1), higher=st.floats(0, 1))
def test_sampling_is_deterministic_and_raising_the_rate_only_adds_contacts(
    contact_id: UUID, rate: float, higher: float
) -> None:
    assert sampled(contact_id, rate) == sampled(contact_id, rate)
    assert sampled(contact_id, 1.0)
    assert not sampled(contact_id, 0.0)
    if sampled(contact_id, rate):
        assert sampled(contact_id, max(rate, higher))


@pytest.mark.parametrize("rate", [-0.1, 1.01, float("nan")])
def test_sampling_refuses_a_rate_outside_zero_to_one(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        sampled(UUID(int=1), rate)


# ----------------------------------------------------------------------------------------------------
# Policy validation and storage


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cap_count": 0}, "cap_count"),
        ({"cap_count": True}, "cap_count"),
        ({"cap_window": timedelta(0)}, "cap_window must be more than zero"),
        ({"expiry": timedelta(days=-1)}, "expiry must be more than zero"),
        ({"delay": timedelta(hours=-1)}, "delay must be zero or more"),
        ({"delay": timedelta(seconds=1.5)}, "whole number of seconds"),
        ({"delay": 3600}, "delay must be a timedelta"),
        ({"reminder_after": timedelta(0)}, "reminder_after must be more than zero"),
        ({"reminder_after": timedelta(days=7)}, "shorter than expiry"),
        ({"reminder_after": timedelta(days=8)}, "shorter than expiry"),
        ({"default_sampling_rate": 1.5}, "between 0 and 1"),
        ({"default_sampling_rate": float("nan")}, "between 0 and 1"),
        ({"sampling": {"housing/phone": -0.1}}, "between 0 and 1"),
        ({"sampling": {"housing": 0.5}}, "service/channel"),
        ({"sampling": {"housing/webchat": 0.5}}, "unknown contact channel 'webchat'"),
        ({"sampling": {"*/*": 0.5}}, "default_sampling_rate"),
        ({"quiet_hours": {"fax": EVENING_SMS}}, "unknown invitation channel 'fax'"),
        ({"quiet_hours": {SMS: (time(20), time(9))}}, "must be QuietHours"),
        ({"enabled_channels": frozenset({"fax"})}, "unknown invitation channel 'fax'"),
    ],
)
def test_a_policy_with_a_bad_setting_is_refused_with_a_clear_message(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InvitationPolicy(**changes)


def test_the_default_policy() -> None:
    policy = InvitationPolicy()

    assert policy.cap_count == 1
    assert policy.cap_window == timedelta(days=30)
    # SMS is enabled by default; a deployment offers it only with GOV.UK Notify configured (ContactIntake).
    assert policy.enabled_channels == {EMAIL, SMS}
    assert dict(policy.quiet_hours) == {SMS: EVENING_SMS}
    assert policy.sampling_rate("anything", ContactChannel.post) == 1.0


def test_a_policy_is_not_changed_by_editing_the_mapping_it_was_built_from() -> None:
    sampling = {"housing/*": 0.5}
    policy = InvitationPolicy(sampling=sampling)

    sampling["housing/*"] = 0.0

    assert policy.sampling_rate("housing", ContactChannel.phone) == 0.5
    with pytest.raises(TypeError):
        policy.sampling["housing/*"] = 0.0  # type: ignore[index]


def test_the_demo_policy_invites_a_new_contact_at_once_even_at_night() -> None:
    night = london(2026, 1, 15, 23, 0)
    policy = dataclasses.replace(InvitationPolicy.demo(), enabled_channels=BOTH)

    decision = decide(a_contact(occurred_at=night, reachable=frozenset({SMS})), a_person(), policy, now=night)

    assert decision.invite
    assert decision.due_at == night


CUSTOM = InvitationPolicy(
    cap_count=2,
    cap_window=timedelta(days=60),
    delay=timedelta(minutes=30),
    expiry=timedelta(days=10),
    reminder_after=None,
    quiet_hours={SMS: EVENING_SMS, EMAIL: QuietHours(time(22, 30), time(6, 0))},
    sampling={"housing/phone": 0.25, "*/web_chat": 0.5, "waste/*": 1},
    default_sampling_rate=0.1,
    enabled_channels=BOTH,
)


@pytest.mark.parametrize(
    "policy", [InvitationPolicy(), InvitationPolicy.demo(), CUSTOM], ids=["default", "demo", "custom"]
)
def test_a_policy_survives_a_trip_through_json(policy: InvitationPolicy) -> None:
    stored = json.dumps(policy.to_dict())

    assert InvitationPolicy.from_dict(json.loads(stored)) == policy


def test_the_stored_form_is_readable_by_an_administrator() -> None:
    assert CUSTOM.to_dict() == {
        "cap_count": 2,
        "cap_window_seconds": 60 * 86_400,
        "delay_seconds": 1_800,
        "expiry_seconds": 10 * 86_400,
        "reminder_after_seconds": None,
        "quiet_hours": {
            "email": {"start": "22:30", "end": "06:00"},
            "sms": {"start": "20:00", "end": "09:00"},
        },
        "sampling": {"*/web_chat": 0.5, "housing/phone": 0.25, "waste/*": 1.0},
        "default_sampling_rate": 0.1,
        "enabled_channels": ["email", "sms"],
    }


def test_missing_settings_take_the_defaults() -> None:
    assert InvitationPolicy.from_dict({"cap_count": 3}) == InvitationPolicy(cap_count=3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"cap_windows_seconds": 60}, "unknown invitation policy setting"),
        ({"cap_window_seconds": "30d"}, "cap_window_seconds must be a whole number"),
        ({"delay_seconds": 1.5}, "delay_seconds must be a whole number"),
        ({"cap_count": True}, "cap_count must be a whole number"),
        ({"expiry_seconds": -5}, "expiry must be more than zero"),
        ({"quiet_hours": {"sms": {"start": "8pm", "end": "09:00"}}}, "HH:MM"),
        ({"quiet_hours": {"sms": {"start": "24:00", "end": "09:00"}}}, "HH:MM"),
        ({"quiet_hours": {"sms": {"start": "20:00"}}}, '"start" and "end"'),
        ({"quiet_hours": ["sms"]}, "quiet_hours must be an object"),
        ({"enabled_channels": "email"}, "list of channel names"),
        ({"enabled_channels": ["email", "fax"]}, "unknown invitation channel 'fax'"),
        ({"sampling": {"housing/phone": "half"}}, "between 0 and 1"),
        ({"default_sampling_rate": None}, "between 0 and 1"),
    ],
)
def test_a_stored_policy_with_bad_input_is_refused_with_a_clear_message(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InvitationPolicy.from_dict(data)


# ----------------------------------------------------------------------------------------------------
# The frequency cap


def _day(n: float) -> datetime:
    return NOW + timedelta(days=n)


@pytest.mark.parametrize(
    ("existing", "candidate", "allowed"),
    [
        ([0], 29, False),
        ([0], 30, True),  # windows are half-open: day 30 starts a new one
        ([0], -29, False),  # an earlier invitation may not squeeze in before an existing one
        ([0], -30, True),
        ([0], 0, False),
    ],
)
def test_one_invitation_per_thirty_days(existing: list[int], candidate: int, allowed: bool) -> None:
    assert within_cap([_day(d) for d in existing], _day(candidate), InvitationPolicy()) is allowed


@pytest.mark.parametrize(
    ("existing", "candidate", "allowed"),
    [
        ([0, 20], 10, False),
        ([0, 20], 25, False),
        ([0, 20], 31, True),
        ([0, 20], -9, False),  # [-9, 21) would hold three
        ([0, 20], -10, True),
    ],
)
def test_two_invitations_per_thirty_days(existing: list[int], candidate: float, allowed: bool) -> None:
    assert within_cap([_day(d) for d in existing], _day(candidate), InvitationPolicy(cap_count=2)) is allowed


def _fullest_window(times: Sequence[datetime], window: timedelta) -> int:
    # The fullest half-open window starts at one of the times.
    return max((sum(start <= t < start + window for t in times) for start in times), default=0)


@settings(max_examples=200, deadline=None)
@given(
    cap_count=st.integers(1, 4),
    window_hours=st.integers(1, 40 * 24),
    offsets=st.lists(st.integers(0, 120 * 24 * 60), max_size=15),
    candidate=st.integers(0, 120 * 24 * 60),
)
def test_within_cap_agrees_with_checking_every_window(
    cap_count: int, window_hours: int, offsets: list[int], candidate: int
) -> None:
    policy = InvitationPolicy(cap_count=cap_count, cap_window=timedelta(hours=window_hours))
    existing: list[datetime] = []
    for offset in offsets:
        moment = NOW + timedelta(minutes=offset)
        if within_cap(existing, moment, policy):
            existing.append(moment)
    moment = NOW + timedelta(minutes=candidate)

    keeps_cap = _fullest_window([*existing, moment], policy.cap_window) <= cap_count
    assert within_cap(existing, moment, policy) is keeps_cap


arrivals = st.lists(
    st.tuples(
        st.integers(0, 200 * 24 * 60),  # when the contact happened, minutes after the start
        st.integers(0, 15 * 24 * 60),  # how long the contact system took to report it
        st.frozensets(st.sampled_from([EMAIL, SMS]), min_size=1),
        st.sampled_from([None, ContactPreference.email, ContactPreference.sms, ContactPreference.post]),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(
    contacts=arrivals,
    cap_count=st.integers(1, 3),
    window_days=st.integers(1, 60),
    delay_minutes=st.integers(0, 3 * 24 * 60),
    expiry_days=st.integers(1, 10),
)
def test_the_cap_is_never_exceeded_whatever_the_order_and_timing_of_contacts(
    contacts: list[tuple[int, int, frozenset[InvitationChannel], ContactPreference | None]],
    cap_count: int,
    window_days: int,
    delay_minutes: int,
    expiry_days: int,
) -> None:
    policy = InvitationPolicy(
        cap_count=cap_count,
        cap_window=timedelta(days=window_days),
        delay=timedelta(minutes=delay_minutes),
        expiry=timedelta(days=expiry_days),
        reminder_after=None,
        enabled_channels=BOTH,
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    reports = [
        (
            ContactFacts(
                contact_id=UUID(int=i),
                service_slug="housing",
                service_excluded=False,
                channel=ContactChannel.phone,
                occurred_at=start + timedelta(minutes=occurred),
                do_not_survey=False,
                has_open_complaint=False,
                reachable=reachable,
                preference=preference,
            ),
            start + timedelta(minutes=occurred + lag),
        )
        for i, (occurred, lag, reachable, preference) in enumerate(contacts)
    ]
    reports.sort(key=lambda report: report[1])  # handled in the order they arrive
    invited: list[datetime] = []

    for contact, arrived in reports:
        decision = decide(contact, a_person(invitation_times=tuple(invited)), policy, now=arrived)
        if decision.invite:
            assert decision.due_at is not None
            invited.append(decision.due_at)

    assert _fullest_window(invited, policy.cap_window) <= cap_count


# ----------------------------------------------------------------------------------------------------
# Properties of every decision


@st.composite
def policies(draw: st.DrawFn) -> InvitationPolicy:
    expiry_hours = draw(st.integers(2, 14 * 24))
    return InvitationPolicy(
        cap_count=draw(st.integers(1, 5)),
        cap_window=timedelta(hours=draw(st.integers(1, 60 * 24))),
        delay=timedelta(minutes=draw(st.integers(0, 48 * 60))),
        expiry=timedelta(hours=expiry_hours),
        reminder_after=draw(st.none() | st.integers(1, expiry_hours - 1).map(lambda h: timedelta(hours=h))),
        quiet_hours=draw(st.dictionaries(st.sampled_from(InvitationChannel), quiet_hours)),
        sampling=draw(
            st.dictionaries(
                st.sampled_from(["housing/*", "*/phone", "housing/email", "waste/post"]),
                st.floats(0, 1),
                max_size=3,
            )
        ),
        default_sampling_rate=draw(st.floats(0, 1)),
        enabled_channels=draw(st.frozensets(st.sampled_from(InvitationChannel))),
    )


contact_facts = st.builds(
    ContactFacts,
    contact_id=st.uuids(),
    service_slug=st.sampled_from(["housing", "waste", "council-tax"]),
    service_excluded=st.booleans(),
    channel=st.sampled_from(ContactChannel),
    occurred_at=moments,
    do_not_survey=st.booleans(),
    has_open_complaint=st.booleans(),
    reachable=st.frozensets(st.sampled_from(InvitationChannel)),
    preference=st.none() | st.sampled_from(ContactPreference),
)


@settings(max_examples=100, deadline=None)
@given(
    contact=contact_facts,
    policy=policies(),
    suppressed=st.booleans(),
    lag=st.timedeltas(min_value=timedelta(hours=-1), max_value=timedelta(days=20)),
)
def test_an_opted_out_person_is_never_invited(
    contact: ContactFacts, policy: InvitationPolicy, suppressed: bool, lag: timedelta
) -> None:
    person = a_person(opted_out=True, suppressed=suppressed)

    decision = decide(contact, person, policy, now=contact.occurred_at + lag)

    assert not decision.invite
    assert decision.reason is (Reason.opted_out if contact.reachable else Reason.no_contact_details)


@settings(max_examples=100, deadline=None)
@given(
    contact=contact_facts,
    policy=policies(),
    lag=st.timedeltas(min_value=timedelta(hours=-1), max_value=timedelta(days=20)),
)
def test_a_person_whose_processing_is_restricted_is_never_invited(
    contact: ContactFacts, policy: InvitationPolicy, lag: timedelta
) -> None:
    decision = decide(contact, a_person(restricted=True), policy, now=contact.occurred_at + lag)

    assert not decision.invite
    assert decision.reason is (Reason.restricted if contact.reachable else Reason.no_contact_details)


@settings(max_examples=150, deadline=None)
@given(
    contact=contact_facts.map(
        lambda c: dataclasses.replace(
            c,
            service_excluded=False,
            do_not_survey=False,
            has_open_complaint=False,
            reachable=c.reachable | {EMAIL},
            preference=None if c.preference is ContactPreference.none else c.preference,
        )
    ),
    policy=policies().map(
        lambda p: dataclasses.replace(p, default_sampling_rate=1.0, sampling={}, enabled_channels=BOTH)
    ),
    lag_fraction=st.floats(-0.1, 0.99),
)
def test_an_invitation_is_due_outside_quiet_hours_after_the_contact_and_expires_later(
    contact: ContactFacts, policy: InvitationPolicy, lag_fraction: float
) -> None:
    now = contact.occurred_at + policy.expiry * lag_fraction

    decision = decide(contact, a_person(), policy, now=now)

    assert decision.invite
    assert decision.channel is not None
    assert decision.due_at is not None
    assert decision.expires_at is not None
    quiet = policy.quiet_hours.get(decision.channel)
    assert decision.due_at >= max(contact.occurred_at, now)
    assert quiet is None or not quiet.contains(decision.due_at)
    assert decision.expires_at > decision.due_at
    if decision.reminder_at is not None:
        assert decision.due_at < decision.reminder_at < decision.expires_at
        assert quiet is None or not quiet.contains(decision.reminder_at)


def test_a_decision_not_to_invite_carries_no_schedule() -> None:
    with pytest.raises(ValueError, match="invite=False"):
        Decision(invite=True, reason=Reason.opted_out, detail="x.")
    with pytest.raises(ValueError, match="no channel or times"):
        Decision(invite=False, reason=Reason.opted_out, detail="x.", channel=EMAIL)


# ----------------------------------------------------------------------------------------------------
# Reminders


SENT = london(2026, 7, 1, 10, 0)
EXPIRES = SENT + timedelta(days=7)


def _reminder(**changes: Any) -> bool:
    arguments: dict[str, Any] = {
        "sent_at": SENT,
        "responded": False,
        "reminders_sent": 0,
        "expires_at": EXPIRES,
        "policy": InvitationPolicy(),
        "now": SENT + timedelta(days=3),
    }
    return reminder_due(**(arguments | changes))


@pytest.mark.parametrize(
    ("changes", "due"),
    [
        ({}, True),
        ({"now": SENT + timedelta(days=3, seconds=-1)}, False),
        ({"responded": True}, False),
        ({"reminders_sent": 1}, False),
        ({"now": EXPIRES}, False),
        ({"sent_at": None}, False),
        ({"policy": InvitationPolicy(reminder_after=None)}, False),
        ({"channel": SMS}, True),
        ({"channel": SMS, "now": london(2026, 7, 4, 22, 0)}, False),
        ({"channel": EMAIL, "now": london(2026, 7, 4, 22, 0)}, True),
    ],
)
def test_one_reminder_after_the_wait_unless_answered_or_expired(changes: dict[str, Any], due: bool) -> None:
    assert _reminder(**changes) is due


@settings(max_examples=100, deadline=None)
@given(
    now=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    responded=st.booleans(),
    reminders_sent=st.integers(0, 3),
)
def test_a_reminder_is_only_ever_due_once_and_before_expiry(
    now: timedelta, responded: bool, reminders_sent: int
) -> None:
    due = _reminder(now=SENT + now, responded=responded, reminders_sent=reminders_sent)

    if due:
        assert not responded
        assert reminders_sent == 0
        assert timedelta(days=3) <= now < EXPIRES - SENT


@settings(max_examples=100, deadline=None)
@given(
    after=st.timedeltas(min_value=timedelta(days=1), max_value=timedelta(days=30)),
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    responded=st.booleans(),
    reminders_sent=st.integers(0, 3),
)
def test_a_paper_reminder_waits_its_own_days_and_is_due_once_before_closing(
    after: timedelta, elapsed: timedelta, responded: bool, reminders_sent: int
) -> None:
    """The rule every channel's reminder follows, with a printed letter's own wait (14 days by default)."""
    expires = SENT + timedelta(days=30)
    due = one_reminder_due(
        sent_at=SENT,
        responded=responded,
        reminders_sent=reminders_sent,
        expires_at=expires,
        after=after,
        now=SENT + elapsed,
    )
    assert due == (not responded and reminders_sent == 0 and after <= elapsed and SENT + elapsed < expires)
