"""Extension points of the surveys feature: what higher layers plug into intake and answering."""

from __future__ import annotations

from civicvoice.core.services import ExtensionPoint
from surveys.intake import OpenComplaintCheck
from surveys.responses import Subscriber as ResponseSubscriber

# Told of every stored survey response, in the answering transaction ("response submitted"); feedback scores them.
RESPONSE_SUBSCRIBERS: ExtensionPoint[ResponseSubscriber] = ExtensionPoint(
    "surveys.response_subscribers", "told of every stored survey response, in the same transaction"
)
# Asked at decision time whether a person has an open complaint, so they are not surveyed meanwhile.
OPEN_COMPLAINT_CHECKS: ExtensionPoint[OpenComplaintCheck] = ExtensionPoint(
    "surveys.open_complaint_checks", "asked at decision time whether a person has an open complaint"
)
