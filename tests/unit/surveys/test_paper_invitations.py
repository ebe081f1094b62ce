"""Who is invited by post: a person we can reach only at a postal address, when the policy enables paper; email
and SMS come first when we hold them, and a preference for post does not override them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from privacy.vault import Identity
from surveys.intake import reachable_channels
from surveys.rules import (
    PRINTED,
    ContactChannel,
    ContactFacts,
    ContactPreference,
    InvitationChannel,
    InvitationPolicy,
    PersonFacts,
    Reason,
    decide,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADDRESS = "1 High Street\nTC1 2AB"
POST_ENABLED = InvitationPolicy(
    delay=timedelta(0),
    default_sampling_rate=1.0,
    quiet_hours={},
    enabled_channels=frozenset({InvitationChannel.email, InvitationChannel.sms, InvitationChannel.paper}),
)


def facts(identity: Identity, preference: ContactPreference | None = None) -> ContactFacts:
    return ContactFacts(
        contact_id=uuid.UUID(int=7),
        service_slug="council-tax",
        service_excluded=False,
        channel=ContactChannel.post,
        occurred_at=NOW - timedelta(minutes=5),
        do_not_survey=False,
        has_open_complaint=False,
        reachable=reachable_channels(identity),
        preference=preference,
    )


PERSON = PersonFacts(opted_out=False, suppressed=False)


def test_an_address_makes_a_person_reachable_by_post() -> None:
    assert reachable_channels(Identity(None, (), (), (), (ADDRESS,))) == {InvitationChannel.paper}
    assert reachable_channels(Identity(None, ("jo@example.org",), (), ())) == {InvitationChannel.email}
    assert InvitationChannel.paper in PRINTED


@pytest.mark.parametrize(
    ("identity", "preference", "channel"),
    [
        (Identity(None, (), (), (), (ADDRESS,)), None, InvitationChannel.paper),
        (Identity(None, (), (), (), (ADDRESS,)), ContactPreference.post, InvitationChannel.paper),
        (Identity(None, ("jo@example.org",), (), (), (ADDRESS,)), ContactPreference.post, InvitationChannel.email),
        (Identity(None, (), ("+447911123456",), (), (ADDRESS,)), None, InvitationChannel.sms),
    ],
)
def test_post_is_chosen_only_when_nothing_else_reaches_the_person(
    identity: Identity, preference: ContactPreference | None, channel: InvitationChannel
) -> None:
    decision = decide(facts(identity, preference), PERSON, POST_ENABLED, now=NOW)
    assert decision.invite and decision.channel is channel


def test_without_paper_enabled_an_address_alone_invites_no_one() -> None:
    decision = decide(facts(Identity(None, (), (), (), (ADDRESS,))), PERSON, InvitationPolicy(), now=NOW)
    assert not decision.invite and decision.reason is Reason.no_enabled_channel
