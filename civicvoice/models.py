"""Every table of every feature, imported in one place for migrations, the data map and tests."""

from __future__ import annotations

from civicvoice.core.audit import AuditEvent
from civicvoice.core.auth import ApiKey, StaffUser
from civicvoice.core.db import Base
from civicvoice.core.jobs import Job
from civicvoice.staff.models import LoginThrottle, StaffSession  # staff access (issue 5)
from feedback.models import CommentScore
from privacy.closures import ClosureDay  # council closure days (privacy: deadlines)
from privacy.models import DataKey, DataSubject, KeyCheck, SubjectConflict, SubjectIndex, SuppressionEntry
from surveys.models import (
    Answer,
    Contact,
    Invitation,
    InvitationDecision,
    InvitationPolicyRecord,
    Response,
    Service,
    ServiceGroup,
    Survey,
    SurveyVersion,
)

__all__ = [
    "Answer",
    "ApiKey",
    "AuditEvent",
    "Base",
    "ClosureDay",
    "CommentScore",
    "Contact",
    "DataKey",
    "DataSubject",
    "Invitation",
    "InvitationDecision",
    "InvitationPolicyRecord",
    "Job",
    "KeyCheck",
    "LoginThrottle",
    "Response",
    "Service",
    "ServiceGroup",
    "StaffSession",
    "StaffUser",
    "SubjectConflict",
    "SubjectIndex",
    "SuppressionEntry",
    "Survey",
    "SurveyVersion",
]
