"""Rectification (Art. 16): correct a person's name, email address, phone number or postal address.

The identity ciphertext and the blind indexes change together, in the caller's transaction: the old value no
longer finds the person, the new one does. A new value that already belongs to another record is refused (two
people are never merged by a correction). Audited with the names of the fields changed, never their values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.errors import Conflict, InvalidInput, NotFound
from privacy.blind_index import normalise_email, normalise_phone
from privacy.exceptions import KeyDestroyed
from privacy.models import DataSubject, SubjectIndex
from privacy.postal import parse_address
from privacy.vault import IDENTITY_FIELD, Identity, IdentityClaim, Vault

NAME_MAX_LENGTH = 200


class RectificationConflict(Conflict):
    slug = "rectification-conflict"
    title = "The corrected value belongs to another record"


@dataclass(frozen=True)
class Correction:
    """What to correct. For email and phone: ``old_*`` is the wrong value (it may be left out when the record
    holds just one), ``new_*`` the right one; an old value with no new one removes it. ``address`` is the correct
    postal address as typed (lines, then the postcode): it replaces every address held, since letters go to one."""

    name: str | None = None
    old_email: str | None = None
    new_email: str | None = None
    old_phone: str | None = None
    new_phone: str | None = None
    address: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any((self.name, self.old_email, self.new_email, self.old_phone, self.new_phone, self.address))


def _replace(
    values: tuple[str, ...], old: str | None, new: str | None, *, what: str, field: str
) -> tuple[tuple[str, ...], str | None]:
    """The values after the correction, and the value taken out (None when one is only added)."""
    if old is None and new is None:
        return values, None
    if old is None:
        if len(values) > 1:
            raise InvalidInput(f"The record holds more than one {what}: say which one is wrong.", field=f"old_{field}")
        old = values[0] if values else None
    elif old not in values:
        raise InvalidInput(f"The record does not hold that {what}; check the wrong value.", field=f"old_{field}")
    kept = tuple(v for v in values if v != old)
    if new is not None and new not in kept:
        kept = (*kept, new)
    return kept, old


async def rectify(
    session: AsyncSession,
    vault: Vault,
    subject_id: uuid.UUID,
    correction: Correction,
    *,
    actor: Actor,
    request_id: uuid.UUID | None = None,
) -> list[str]:
    """Apply ``correction`` to the person; returns the fields changed (empty when nothing changed)."""
    if correction.is_empty:
        raise InvalidInput("Give the corrected name, email address, phone number or postal address.", field="name")
    new_name = (correction.name or "").strip() or None
    if new_name is not None and len(new_name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"The name is longer than {NAME_MAX_LENGTH} characters.", field="name")
    old_email = normalise_email(correction.old_email) if correction.old_email else None
    new_email = normalise_email(correction.new_email) if correction.new_email else None
    old_phone = normalise_phone(correction.old_phone) if correction.old_phone else None
    new_phone = normalise_phone(correction.new_phone) if correction.new_phone else None
    address = parse_address(correction.address) if correction.address else None

    subject = await session.scalar(select(DataSubject).where(DataSubject.id == subject_id).with_for_update())
    if subject is None:
        raise NotFound("No person with that id.", field="subject_id")
    if subject.erased_at is not None:
        raise KeyDestroyed("This person has been erased: there is nothing to correct.")
    identity = await vault.identity(session, subject)
    emails, removed_email = _replace(identity.emails, old_email, new_email, what="email address", field="email")
    phones, removed_phone = _replace(identity.phones, old_phone, new_phone, what="phone number", field="phone")
    corrected = Identity(
        new_name or identity.name,
        emails,
        phones,
        identity.external_ids,
        (address,) if address is not None else identity.addresses,
    )
    if corrected == identity:
        return []

    added = IdentityClaim(
        email=new_email if new_email not in identity.emails else None,
        phone=new_phone if new_phone not in identity.phones else None,
    )
    if not added.is_empty:
        owners = await vault.find(session, added)
        taken = sorted(field for field, owner in owners.items() if owner != subject_id)
        if taken:
            what = " and ".join("email address" if f == "email" else "phone number" for f in taken)
            raise RectificationConflict(
                f"The corrected {what} already belongs to another record. Check both records with "
                "'civicvoice privacy find' before correcting.",
                field=f"new_{taken[0]}",
            )

    # The ciphertext and the indexes change in one transaction: nothing reads one without the other.
    subject.identity_ciphertext = await vault.encrypt(
        session, subject_id, IDENTITY_FIELD, subject_id, corrected.to_json()
    )
    for field, old in (("email", removed_email), ("phone", removed_phone)):
        if old is None:
            continue
        digests = [vault.indexer.digest(field, old, version=v) for v in vault.keyring.index]
        await session.execute(
            delete(SubjectIndex).where(
                SubjectIndex.subject_id == subject_id, SubjectIndex.field == field, SubjectIndex.digest.in_(digests)
            )
        )
    active = vault.indexer.active_version
    for field, value in added.identifiers().items():
        session.add(
            SubjectIndex(
                subject_id=subject_id,
                field=field,
                key_version=active,
                digest=vault.indexer.digest(field, value, version=active),
            )
        )
    if corrected.name != identity.name:
        await vault.index_name(session, subject_id, corrected.name)  # found by the corrected name, not the old one
    if subject.opted_out_at is not None:
        # An objection or opt-out covers the person, whatever their address now is.
        await vault.suppress(session, added, reason="objection")
    changed = [
        field
        for field, before, after in (
            ("name", identity.name, corrected.name),
            ("email", identity.emails, corrected.emails),
            ("phone", identity.phones, corrected.phones),
            ("address", identity.addresses, corrected.addresses),
        )
        if before != after
    ]
    record(
        session,
        actor,
        "privacy.rectify",
        target_kind="data_subject",
        target_id=subject_id,
        detail={"fields": changed, "request": str(request_id) if request_id else None},
    )
    await session.flush()
    return changed
