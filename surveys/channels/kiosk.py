"""Kiosk for face-to-face centres: a tablet asks each visitor the satisfaction question (one tap), then offers an
optional comment, thanks them and starts again for the next person. Anonymous: no personal data at all; answers
are `Response` rows on the kiosk channel for the kiosk's service, a comment encrypted under the month's key.
Each visitor may switch the screens to another language the survey offers (English / Cymraeg); the language lives
only in the pages' links and forms, so the idle reset, which returns to the first screen, starts in English again.

A kiosk is registered to a centre, a service and the survey it asks (any published survey that allows the kiosk
channel; by default the post-contact survey) by a key an administrator issues (`civicvoice kiosk issue` or the
staff page). The key goes in an enrolment link, usable once and for `ENROL_LIFETIME`; opening it on the tablet
swaps it for a device key that lives only in the tablet's HttpOnly, SameSite=Strict cookie, so a copy of the
link is worthless once the tablet is enrolled. Both keys are stored only as SHA-256 digests. Revoking a kiosk
stops it at once: its next request gets a clear page and writes nothing. Each answer carries a token bound to
the device key (CSRF), and each tablet is rate limited on its own row (GCRA), in the answer's own transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import LONDON, utcnow
from civicvoice.core.crypto import digest_secret
from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotFound
from civicvoice.core.ratelimit import Rate
from civicvoice.core.translations import N_
from surveys.definitions import ENGLISH, Question, QuestionKind, SurveyDefinition
from surveys.intake import published_post_contact_version
from surveys.models import Answer, Kiosk, KioskResponse, Response, Service, Survey, SurveyVersion, VersionStatus
from surveys.responses import AnonymousSubmission, ResponseRecorder
from surveys.rules import InvitationChannel

# "cvk_kiosk_": unlike an API key ("cvk_" and 8 hex digits), yet masked in logs as every "cvk_" secret is.
KEY_PREFIX: Final = "cvk_kiosk"
_KEY = re.compile(r"^cvk_kiosk_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
ENROL_LIFETIME: Final = timedelta(days=7)
DEVICE_COOKIE: Final = "cv_kiosk"
DEVICE_COOKIE_MAX_AGE: Final = 400 * 24 * 3600  # the longest a browser keeps a cookie
CSRF_FIELD: Final = "csrf_token"
RATING_FIELD: Final = "rating"
COMMENT_FIELD: Final = "comment"
# How long after the tap its comment may follow: generous against slow typing, short against replay.
COMMENT_WINDOW: Final = timedelta(minutes=10)
NAME_LIMIT: Final = 100
CHANNEL: Final = InvitationChannel.kiosk.value
LANGUAGE_FIELD: Final = "lang"
# How the listing names a kiosk that asks the post-contact survey (none chosen).
DEFAULT_SURVEY_NAME: Final = "Post-contact survey (default)"


# ---------------------------------------------------------------------------------------------------------------
# What can go wrong, each a clear page on the tablet (or problem details for anything that is not a browser)


class KioskProblem(CivicVoiceError):
    """Shown on the tablet as a page: ``what_to_do`` tells the visitor, or staff, what next."""

    what_to_do = N_("Please ask a member of staff for help.")


class MalformedKey(KioskProblem):
    status = 400
    slug = "kiosk-key-malformed"
    title = "This kiosk link is not complete"
    what_to_do = "Check the whole link was copied. If it still does not work, ask an administrator for a new one."


class EnrolmentUnavailable(KioskProblem):
    status = 404
    slug = "kiosk-enrolment-unavailable"
    title = "This kiosk link cannot be used"
    what_to_do = "Ask an administrator to issue a new kiosk key in the staff pages, and open its link on this tablet."


class NotAKiosk(KioskProblem):
    status = 403
    slug = "kiosk-not-enrolled"
    title = "This tablet is not set up as a kiosk"
    what_to_do = "A member of staff can set it up by opening the kiosk link an administrator issues."


class KioskRevoked(KioskProblem):
    status = 403
    slug = "kiosk-revoked"
    title = N_("This kiosk has been switched off")
    what_to_do = N_("Please ask a member of staff about giving feedback. Nothing was saved from this screen.")


class KioskFormExpired(KioskProblem):
    status = 403
    slug = "kiosk-form-expired"
    title = N_("This screen has expired")
    what_to_do = N_("Start again from the first screen. Nothing was saved from this screen.")


class KioskBusy(KioskProblem):
    status = 429
    slug = "kiosk-busy"
    title = N_("This kiosk is taking a short break")
    what_to_do = N_("Please wait a minute, then start again. If this keeps happening, ask a member of staff.")

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidKioskAnswer(KioskProblem):
    status = 400
    slug = "kiosk-invalid-answer"
    title = N_("There is a problem with your answer")
    what_to_do = N_("Start again from the first screen and choose one of the answers shown.")


class CommentClosed(KioskProblem):
    status = 409
    slug = "kiosk-comment-closed"
    title = N_("This comment cannot be added")
    what_to_do = N_("Your answer was saved. Start again from the first screen.")


class NoKioskSurvey(KioskProblem):
    status = 503
    slug = "kiosk-no-survey"
    title = N_("Feedback is not available at the moment")
    what_to_do = N_("Please ask a member of staff. An administrator needs to publish the survey this kiosk asks.")


class KioskInputError(InvalidInput):
    """An administrator's request to issue or revoke a kiosk that cannot be carried out."""


# ---------------------------------------------------------------------------------------------------------------
# Keys and tokens: pure


def new_key(prefix: str) -> str:
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(key: str) -> str:
    """The prefix of a well-formed key; MalformedKey for anything else (checked before any database read)."""
    match = _KEY.match(key) if len(key) < 100 else None
    if match is None:
        raise MalformedKey("The key in this link is not in the form an administrator's link has.")
    return match.group(1)


def csrf_token(device_key: str) -> str:
    """The token every answer form carries: only a page served to this tablet has it."""
    return hmac.new(device_key.encode(), b"civicvoice kiosk csrf", hashlib.sha256).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def comment_token(device_key: str, response_id: uuid.UUID, expires: datetime) -> str:
    """Names the answer a comment belongs to, for this tablet only and for `COMMENT_WINDOW`."""
    body = f"{response_id.hex}.{int(expires.timestamp())}"
    mac = hmac.new(device_key.encode(), f"civicvoice kiosk comment {body}".encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def comment_response(device_key: str, token: str | None, now: datetime) -> uuid.UUID:
    """The answer a comment token names; KioskFormExpired if it is not this tablet's, altered, or too old."""
    parts = (token or "").split(".")
    if len(parts) != 3 or len(token or "") > 200:
        raise KioskFormExpired(N_("The comment form is not complete."))
    hex_id, expires, _mac = parts
    try:
        response_id = uuid.UUID(hex=hex_id)
        deadline = int(expires)
    except ValueError:
        raise KioskFormExpired(N_("The comment form is not complete.")) from None
    expected = comment_token(device_key, response_id, datetime.fromtimestamp(deadline, tz=now.tzinfo))
    if not hmac.compare_digest(expected.encode(), (token or "").encode()):
        raise KioskFormExpired(N_("The comment form did not come from this kiosk."))
    if deadline < now.timestamp():
        raise KioskFormExpired(N_("The time to add a comment to that answer has passed."))
    return response_id


def next_slot(tat: float, now: float, rate: Rate) -> float | None:
    """One GCRA step with no waiting (`civicvoice.core.ratelimit`'s algorithm): the new theoretical arrival time
    if an answer is allowed now, else None. Kept on the kiosk's own row so the step commits, or not, with the
    answer itself (SQLite has one writer: a second transaction for the limit would wait on the first)."""
    start = max(tat, now)
    if start - now > rate.tolerance:
        return None
    return start + rate.emission


def kiosk_rate(per_minute: int) -> Rate:
    return Rate(limit=per_minute, period=60.0, burst=min(5, per_minute))


# ---------------------------------------------------------------------------------------------------------------
# What the kiosk asks: pure


def tap_question(definition: SurveyDefinition) -> Question | None:
    """The one question a tap answers: the CSAT question of a post-contact survey, else the survey's one question
    answered by a choice or a scale point (a survey allowing the kiosk channel has exactly one)."""
    taps = [
        q
        for q in definition.questions
        if q.kind is not QuestionKind.free_text and q.kind is not QuestionKind.multiple_choice
    ]
    return definition.csat_question or (taps[0] if len(taps) == 1 else None)


def tapped(question: Question, value: str) -> int | str:
    """A tap's value as skip logic reads it: a number on a scale, else the choice's value."""
    return int(value) if question.kind.scale is not None else value


def kiosk_language(definition: SurveyDefinition, asked: str | None) -> str:
    """The language a visitor switched to, if the survey offers it; otherwise the kiosk's default, English. Never
    the browser's preference: the tablet is shared, and each visitor starts from the same screen."""
    return asked if asked is not None and asked in definition.languages else ENGLISH


@dataclass(frozen=True)
class KioskQuestions:
    """The survey version the kiosk asks from: its tap question and the comment offered after it."""

    version_id: uuid.UUID
    definition: SurveyDefinition
    rating: Question

    def comment_for(self, rating: int | str) -> Question | None:
        """The first free-text question the survey would ask after this rating (its skip condition holds)."""
        for question in self.definition.questions:
            if question.kind is not QuestionKind.free_text:
                continue
            condition = question.show_if
            if condition is None or (condition.question == self.rating.id and condition.holds(rating)):
                return question
        return None


# ---------------------------------------------------------------------------------------------------------------
# Kiosks, stored


@dataclass(frozen=True)
class IssuedKiosk:
    kiosk: Kiosk
    service_name: str
    enrol_key: str  # shown once, never stored
    survey_name: str = DEFAULT_SURVEY_NAME


@dataclass(frozen=True)
class KioskListing:
    kiosk: Kiosk
    service_name: str
    survey_name: str = DEFAULT_SURVEY_NAME

    @property
    def state(self) -> str:
        if self.kiosk.revoked_at is not None:
            return "revoked"
        if self.kiosk.enrolled_at is not None:
            return "in use"
        if self.kiosk.enrol_expires_at <= utcnow():
            return "link expired"
        return "waiting to be set up"

    @property
    def last_used(self) -> str | None:
        """When it last took an answer, in the centre's time (Europe/London)."""
        used = self.kiosk.last_used_at
        return used.astimezone(LONDON).strftime("%-d %b %Y %H:%M") if used is not None else None


def enrol_path(enrol_key: str) -> str:
    return f"/kiosk/enrol/{enrol_key}"


# The enrolment link carries its key in the path: logs mask it (declared through SECRET_PATHS).
ENROL_PATHS: Final = (re.compile(r"(/kiosk/enrol)/[^/\s?\"']+"),)


# --- administration: the staff page and the CLI -----------------------------------------------------------------


async def latest_published_version(session: AsyncSession, survey_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        select(SurveyVersion.id)
        .where(SurveyVersion.survey_id == survey_id, SurveyVersion.status == VersionStatus.published)
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    )
    return found


async def kiosk_surveys(session: AsyncSession) -> list[Survey]:
    """The surveys a kiosk may ask: each published and allowing the kiosk channel, by name."""
    published = select(SurveyVersion.survey_id).where(SurveyVersion.status == VersionStatus.published)
    surveys = await session.scalars(select(Survey).where(Survey.id.in_(published)).order_by(Survey.name))
    return [survey for survey in surveys if CHANNEL in (survey.channels or ())]


async def chosen_survey(session: AsyncSession, survey_slug: str | None) -> Survey | None:
    """The survey an administrator chose for a kiosk; None (the post-contact survey) when none was chosen.
    KioskInputError for one that does not exist, has no published version or does not allow the kiosk channel."""
    slug = (survey_slug or "").strip()
    if not slug:
        return None
    survey: Survey | None = await session.scalar(select(Survey).where(Survey.slug == slug)) if len(slug) <= 64 else None
    if survey is None:
        raise KioskInputError("Choose one of the council's surveys.", field="survey")
    if await latest_published_version(session, survey.id) is None:
        raise KioskInputError(
            f"{survey.name} has no published version. Publish it in the survey builder first.", field="survey"
        )
    if CHANNEL not in (survey.channels or ()):
        raise KioskInputError(
            f"{survey.name} may not be asked on the kiosk. Add the kiosk to its channels in the survey builder, "
            "or choose another survey.",
            field="survey",
        )
    return survey


async def issue_kiosk(
    session: AsyncSession, *, name: str, service_slug: str, actor: Actor, survey_slug: str | None = None
) -> IssuedKiosk:
    name = " ".join(name.split())
    if not name or len(name) > NAME_LIMIT:
        raise KioskInputError(f"Give the centre's name, 1 to {NAME_LIMIT} characters.", field="name")
    slug = service_slug.strip()
    service = await session.scalar(select(Service).where(Service.slug == slug)) if len(slug) <= 64 else None
    if service is None:
        raise KioskInputError("Choose one of the council's services.", field="service")
    if service.survey_excluded:
        raise KioskInputError(
            f"{service.name} is never surveyed ({service.exclusion_reason or 'excluded'}).", field="service"
        )
    survey = await chosen_survey(session, survey_slug)
    prefix = secrets.token_hex(4)
    enrol_key = new_key(prefix)
    now = utcnow()
    kiosk = Kiosk(
        name=name,
        service_id=service.id,
        survey_id=survey.id if survey is not None else None,
        prefix=prefix,
        enrol_digest=digest_secret(enrol_key),
        enrol_expires_at=now + ENROL_LIFETIME,
        created_at=now,
        responses=0,
        rate_tat=0.0,
    )
    session.add(kiosk)
    record(
        session,
        actor,
        "kiosk.issue",
        target_kind="kiosk",
        target_id=kiosk.id,
        detail={"prefix": prefix, "service": service.slug, "survey": survey.slug if survey else None},
    )
    await session.flush()
    return IssuedKiosk(kiosk, service.name, enrol_key, survey.name if survey else DEFAULT_SURVEY_NAME)


async def kiosk_listing(session: AsyncSession) -> list[KioskListing]:
    rows = await session.execute(
        select(Kiosk, Service.name, Survey.name)
        .join(Service, Service.id == Kiosk.service_id)
        .outerjoin(Survey, Survey.id == Kiosk.survey_id)
        .order_by(Kiosk.created_at)
    )
    return [
        KioskListing(kiosk, service_name, survey_name or DEFAULT_SURVEY_NAME)
        for kiosk, service_name, survey_name in rows.tuples()
    ]


async def find_kiosk(session: AsyncSession, *, prefix: str | None = None, kiosk_id: uuid.UUID | None = None) -> Kiosk:
    """A kiosk by its prefix (the CLI) or id (the staff pages), locked for a change."""
    if prefix is not None:
        if not re.fullmatch(r"[0-9a-f]{8}", prefix):
            raise KioskInputError("A kiosk's prefix is 8 characters, 0-9 and a-f (see 'kiosk list').")
        kiosk = await session.scalar(select(Kiosk).where(Kiosk.prefix == prefix).with_for_update())
    else:
        kiosk = await session.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is None:
        raise NotFound("There is no such kiosk.")
    return kiosk


async def change_kiosk_survey(
    session: AsyncSession,
    *,
    actor: Actor,
    survey_slug: str | None,
    prefix: str | None = None,
    kiosk_id: uuid.UUID | None = None,
) -> tuple[Kiosk, str]:
    """Choose another survey for a kiosk (empty: the post-contact survey); its next visitor is asked it. Returns
    the kiosk and the survey's name. A revoked kiosk is refused: it asks nothing."""
    kiosk = await find_kiosk(session, prefix=prefix, kiosk_id=kiosk_id)
    if kiosk.revoked_at is not None:
        raise KioskInputError("This kiosk has been revoked and asks nothing; issue a new one.", field="survey")
    survey = await chosen_survey(session, survey_slug)
    kiosk.survey_id = survey.id if survey is not None else None
    record(
        session,
        actor,
        "kiosk.survey",
        target_kind="kiosk",
        target_id=kiosk.id,
        detail={"prefix": kiosk.prefix, "survey": survey.slug if survey else None},
    )
    return kiosk, survey.name if survey is not None else DEFAULT_SURVEY_NAME


async def revoke_kiosk(
    session: AsyncSession, *, actor: Actor, prefix: str | None = None, kiosk_id: uuid.UUID | None = None
) -> Kiosk:
    """Switch a kiosk off for good; revoking one already revoked changes nothing."""
    kiosk = await find_kiosk(session, prefix=prefix, kiosk_id=kiosk_id)
    if kiosk.revoked_at is None:
        kiosk.revoked_at = utcnow()
        kiosk.enrol_digest = None
        record(session, actor, "kiosk.revoke", target_kind="kiosk", target_id=kiosk.id, detail={"prefix": kiosk.prefix})
    return kiosk


class Kiosks:
    """Issues, enrols, finds and revokes kiosks, and records their answers through the one `ResponseRecorder`.

    Works in the caller's transaction and never commits (a request commits on success, so a refused one changes
    nothing).
    """

    def __init__(self, recorder: ResponseRecorder, *, answers_per_minute: int) -> None:
        self.recorder = recorder
        self.rate = kiosk_rate(answers_per_minute)

    # --- enrolment -------------------------------------------------------------------------------------------

    async def enrolling(self, session: AsyncSession, enrol_key: str, *, lock: bool = False) -> tuple[Kiosk, str]:
        """The kiosk an enrolment key is for, and its service's name, if it can still be enrolled."""
        key_prefix(enrol_key)
        query = select(Kiosk).where(Kiosk.enrol_digest == digest_secret(enrol_key))
        kiosk = await session.scalar(query.with_for_update() if lock else query)
        if kiosk is None or kiosk.revoked_at is not None:
            raise EnrolmentUnavailable("This link has already been used on a tablet, or was never issued.")
        if kiosk.enrol_expires_at <= utcnow():
            raise EnrolmentUnavailable("This link was valid for 7 days and has expired.")
        service_name = await session.scalar(select(Service.name).where(Service.id == kiosk.service_id))
        return kiosk, service_name or ""

    async def enrol(self, session: AsyncSession, enrol_key: str) -> tuple[Kiosk, str]:
        """Use up the enrolment key: returns the kiosk and its new device key (for the tablet's cookie only)."""
        kiosk, _ = await self.enrolling(session, enrol_key, lock=True)
        device_key = new_key(kiosk.prefix)
        kiosk.device_digest = digest_secret(device_key)
        kiosk.enrol_digest = None
        kiosk.enrolled_at = utcnow()
        record(
            session,
            Actor("kiosk", str(kiosk.id)),
            "kiosk.enrol",
            target_kind="kiosk",
            target_id=kiosk.id,
            detail={"prefix": kiosk.prefix},
        )
        return kiosk, device_key

    # --- the tablet ------------------------------------------------------------------------------------------

    async def device(self, session: AsyncSession, device_key: str | None, *, lock: bool = False) -> Kiosk:
        """The enrolled kiosk this device key belongs to; NotAKiosk or KioskRevoked otherwise."""
        if not device_key:
            raise NotAKiosk("This tablet has no kiosk key.")
        try:
            key_prefix(device_key)
        except MalformedKey:
            raise NotAKiosk("This tablet's kiosk key is not one an administrator issued.") from None
        query = select(Kiosk).where(Kiosk.device_digest == digest_secret(device_key))
        kiosk = await session.scalar(query.with_for_update() if lock else query)
        if kiosk is None:
            raise NotAKiosk("This tablet's kiosk key is not one an administrator issued.")
        if kiosk.revoked_at is not None:
            raise KioskRevoked(N_("An administrator has switched this kiosk off."))
        return kiosk

    async def questions(self, session: AsyncSession, kiosk: Kiosk) -> KioskQuestions:
        """What this kiosk asks now: the latest published version of its survey (the post-contact survey unless an
        administrator chose another). NoKioskSurvey while there is none it can ask."""
        if kiosk.survey_id is None:
            version_id = await published_post_contact_version(session)
            if version_id is None:
                raise NoKioskSurvey(N_("No post-contact survey is published."))
        else:
            survey = await session.get(Survey, kiosk.survey_id)
            version_id = await latest_published_version(session, kiosk.survey_id)
            if survey is None or version_id is None:
                raise NoKioskSurvey(N_("The survey chosen for this kiosk has no published version."))
            if CHANNEL not in (survey.channels or ()):
                raise NoKioskSurvey("The survey chosen for this kiosk may no longer be asked on the kiosk.")
        definition = await self.recorder.definition(session, version_id)
        rating = tap_question(definition)
        if rating is None:
            raise NoKioskSurvey("The published survey has no question a tap answers.")
        return KioskQuestions(version_id, definition, rating)

    def _take_slot(self, kiosk: Kiosk, now: datetime) -> None:
        tat = next_slot(kiosk.rate_tat, now.timestamp(), self.rate)
        if tat is None:
            wait = max(1.0, kiosk.rate_tat - now.timestamp() - self.rate.tolerance)
            raise KioskBusy(
                N_("This kiosk has sent more answers in the last minute than a centre's visitors can."), wait
            )
        kiosk.rate_tat = tat
        kiosk.last_used_at = now

    async def answer(
        self, session: AsyncSession, kiosk: Kiosk, raw_rating: str | None
    ) -> tuple[uuid.UUID, int | str, KioskQuestions]:
        """Store one tap: an anonymous response on the kiosk channel for the kiosk's service. Needs the kiosk
        locked (`device(..., lock=True)`). Returns the response id, the value tapped and what the kiosk asked."""
        questions = await self.questions(session, kiosk)
        value = (raw_rating or "").strip()
        allowed = {option.value for option in questions.rating.options()}
        if value not in allowed:
            raise InvalidKioskAnswer(
                N_("Choose how satisfied you were: one of the answers shown.")
                if not value
                else N_("That is not one of the answers shown.")
            )
        self._take_slot(kiosk, utcnow())
        response_id = await self.recorder.record_anonymous(
            session,
            AnonymousSubmission(
                survey_version_id=questions.version_id,
                service_id=kiosk.service_id,
                channel=CHANNEL,
                form={questions.rating.id: value},
                asked=frozenset({questions.rating.id}),
                partial=False,
            ),
        )
        session.add(KioskResponse(kiosk_id=kiosk.id, response_id=response_id))
        kiosk.responses += 1
        return response_id, tapped(questions.rating, value), questions

    async def answered(
        self, session: AsyncSession, kiosk: Kiosk, response_id: uuid.UUID
    ) -> tuple[Response, Question, SurveyDefinition]:
        """The kiosk's own answer a comment is for, the comment question offered after it, and the version asked.
        Only its latest answer takes a comment: once the next visitor has tapped, the browser's Back button leads
        to a closed form."""
        response = await session.get(Response, response_id)
        latest = await session.scalar(
            select(KioskResponse.response_id)
            .where(KioskResponse.kiosk_id == kiosk.id)
            .order_by(KioskResponse.id.desc())
            .limit(1)
        )
        if (
            response is None
            or latest != response_id
            or response.channel != CHANNEL
            or not response.anonymous
            or response.service_id != kiosk.service_id
        ):
            raise CommentClosed(N_("That answer is no longer available."))
        definition = await self.recorder.definition(session, response.survey_version_id)
        rating = tap_question(definition)
        tap = (
            await session.scalar(
                select(Answer).where(Answer.response_id == response.id, Answer.question_key == rating.id).limit(1)
            )
            if rating is not None
            else None
        )
        if rating is None or tap is None:
            raise CommentClosed(N_("That answer is no longer available."))
        value: int | str | None = tap.number if rating.kind.scale is not None else tap.choice
        comment = (
            KioskQuestions(response.survey_version_id, definition, rating).comment_for(value)
            if value is not None
            else None
        )
        if comment is None:
            raise CommentClosed(N_("This survey takes no comment."))
        return response, comment, definition

    async def comment(
        self, session: AsyncSession, kiosk: Kiosk, response_id: uuid.UUID, text: str, *, language: str = ENGLISH
    ) -> bool:
        """Add the optional comment to the kiosk's answer, encrypted under the answer's month key. Needs the kiosk
        locked. False when the comment is empty (nothing stored); InvalidAnswers, told in ``language``, when too
        long."""
        response, question, _ = await self.answered(session, kiosk, response_id)
        if not text.strip():
            return False
        self._take_slot(kiosk, utcnow())
        await self.recorder.record_anonymous(
            session,
            AnonymousSubmission(
                survey_version_id=response.survey_version_id,
                service_id=kiosk.service_id,
                channel=CHANNEL,
                form={question.id: text},
                asked=frozenset({question.id}),
                language=language,
            ),
            adding_to=response,
        )
        return True
