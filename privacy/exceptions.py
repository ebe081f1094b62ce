"""Typed errors of the privacy package: key problems, failed decryption, erased data, bad identifiers.

Messages never carry key material or a person's identifiers, because they reach logs and problem details.
"""

from __future__ import annotations

from typing import Any

from civicvoice.core.errors import CivicVoiceError, ConfigurationError, InvalidInput


class PrivacyError(CivicVoiceError):
    """Base of the privacy package's own errors; most mean data could not be read, so they are not 4xx."""

    status = 500
    slug = "privacy-error"
    title = "Privacy error"


class KeyProblem(ConfigurationError):
    """A key is missing, wrong or unreadable; the detail is one line telling the operator what to do."""

    slug = "key-problem"
    title = "Encryption key problem"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        # The operator reads this in a start-up log line or a terminal; several lines get split or lost.
        super().__init__(" ".join(detail.split()), field=field, extra=extra)


class DecryptionFailed(PrivacyError):
    """A ciphertext or wrapped key failed authentication: altered, moved, or read with the wrong key."""

    status = 500
    slug = "decryption-failed"
    title = "Decryption failed"


class KeyDestroyed(PrivacyError):
    """The data key was destroyed on purpose (erasure or retention), so the data is gone for good."""

    status = 410
    slug = "erased"
    title = "Erased"


class InvalidIdentifier(InvalidInput):
    """An email address, phone number or external id that cannot identify a person as given.

    ``field`` is required: "email", "phone" or "external_id" here, a request's own path when re-raised.
    """

    def __init__(self, detail: str, *, field: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail, field=field, extra=extra)
