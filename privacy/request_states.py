"""Subject requests as an explicit state machine (no I/O): the kinds of request, their states, and which moves
are allowed. Every move the service makes goes through `check_transition`, so an illegal one is refused with a
message a DPO can act on, and every allowed one is recorded and audited by the caller."""

from __future__ import annotations

from enum import StrEnum

from civicvoice.core.errors import CivicVoiceError


class RequestKind(StrEnum):
    access = "access"  # Art. 15
    erasure = "erasure"  # Art. 17
    rectification = "rectification"  # Art. 16
    restriction = "restriction"  # Art. 18
    objection = "objection"  # Art. 21: suppression, never surveyed again
    portability = "portability"  # Art. 20
    complaint = "complaint"  # a data-protection complaint to the council as controller (DUA Act 2025)

    @property
    def article(self) -> str:
        return {
            RequestKind.access: "Article 15",
            RequestKind.erasure: "Article 17",
            RequestKind.rectification: "Article 16",
            RequestKind.restriction: "Article 18",
            RequestKind.objection: "Article 21",
            RequestKind.portability: "Article 20",
            RequestKind.complaint: "Data (Use and Access) Act 2025, s. 103",
        }[self]

    @property
    def label(self) -> str:
        return {
            RequestKind.access: "Subject access",
            RequestKind.erasure: "Erasure",
            RequestKind.rectification: "Rectification",
            RequestKind.restriction: "Restriction of processing",
            RequestKind.objection: "Objection",
            RequestKind.portability: "Data portability",
            RequestKind.complaint: "Data protection complaint",
        }[self]


class RequestState(StrEnum):
    received = "received"
    identity_pending = "identity_pending"  # waiting for the requester to prove who they are; the clock waits
    in_progress = "in_progress"
    extended = "extended"  # up to two further months, with a reason, notified within the first month
    on_hold = "on_hold"  # waiting for clarification the request needs; the clock stops
    completed = "completed"
    refused = "refused"  # with a reason (manifestly unfounded or excessive, an exemption)
    withdrawn = "withdrawn"

    @property
    def closed(self) -> bool:
        return self in (RequestState.completed, RequestState.refused, RequestState.withdrawn)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


S = RequestState
_CLOSE = {S.completed, S.refused, S.withdrawn}
TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    S.received: frozenset({S.identity_pending, S.in_progress, S.on_hold, S.refused, S.withdrawn}),
    S.identity_pending: frozenset({S.in_progress, S.refused, S.withdrawn}),
    S.in_progress: frozenset({S.extended, S.on_hold, *_CLOSE}),
    S.extended: frozenset({S.on_hold, *_CLOSE}),
    # Clarification arrives: back to work (the service returns it to `extended` if it had been extended).
    S.on_hold: frozenset({S.in_progress, S.extended, S.refused, S.withdrawn}),
    S.completed: frozenset(),
    S.refused: frozenset(),
    S.withdrawn: frozenset(),
}


class IllegalTransition(CivicVoiceError):
    status = 409
    slug = "illegal-request-transition"
    title = "That change is not possible for this request"


class RefusalNeedsReason(CivicVoiceError):
    status = 422
    slug = "reason-required"
    title = "Give a reason"


def allowed_moves(state: RequestState) -> frozenset[RequestState]:
    return TRANSITIONS[state]


def check_transition(current: RequestState, target: RequestState, *, reason: str | None = None) -> None:
    """Raise IllegalTransition unless ``current -> target`` is a move the rules allow; a refusal or an extension
    needs a reason."""
    if target not in TRANSITIONS[current]:
        if current.closed:
            raise IllegalTransition(f"The request is {current.label.lower()}; a closed request cannot be changed.")
        moves = ", ".join(sorted(s.label.lower() for s in TRANSITIONS[current]))
        raise IllegalTransition(
            f"A request that is {current.label.lower()} cannot become {target.label.lower()}; it can become: {moves}.",
            field="state",
        )
    if target in (RequestState.refused, RequestState.extended) and not (reason or "").strip():
        what = "refusing" if target is RequestState.refused else "extending"
        raise RefusalNeedsReason(f"Give the reason for {what} the request; it is recorded.", field="reason")
