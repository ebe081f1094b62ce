"""Kiosk pages: the tablet's screens (enrolment, the tap question, the optional comment, thanks) and the
administrator's page to issue, watch and revoke kiosks and choose the survey each asks. Server-rendered and
complete without JavaScript, which only adds the idle reset (`/static/js/kiosk.mjs`); the thank-you screen also
returns by itself without it.

The visitor's language (the switch on the first screen) travels as `lang` in the screens' links and forms only:
home is always `/kiosk`, in English, so every reset and "Start again" starts the next visitor in English.

The tablet's screens are public routes: the device cookie set at enrolment is their credential, checked here, and
every refusal is a page the person at the tablet can act on (problem details for anything that is not a browser).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.cookies import read_cookie, set_cookie
from civicvoice.core.errors import CivicVoiceError, NotFound
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template, wants_page
from civicvoice.core.settings import Settings
from civicvoice.core.translations import N_, catalogues, translator
from surveys.answers import FieldProblem
from surveys.channels.kiosk import (
    COMMENT_FIELD,
    COMMENT_WINDOW,
    CSRF_FIELD,
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    LANGUAGE_FIELD,
    RATING_FIELD,
    CommentClosed,
    KioskBusy,
    KioskFormExpired,
    KioskInputError,
    KioskProblem,
    Kiosks,
    change_kiosk_survey,
    comment_response,
    comment_token,
    csrf_token,
    enrol_path,
    issue_kiosk,
    kiosk_language,
    kiosk_listing,
    kiosk_surveys,
    revoke_kiosk,
    tokens_match,
)
from surveys.definitions import ENGLISH, Question, SurveyDefinition
from surveys.models import Kiosk, Service, Survey
from surveys.pages import LANGUAGE_NAMES
from surveys.responses import AlreadyAnswered, InvalidAnswers

KIOSK_ROLES = ("admin",)
HOME = "/kiosk"
THANKS = "/kiosk/thanks"


def in_language(path: str, language: str) -> str:
    """A kiosk screen's address in the visitor's language: English, the default, needs no parameter."""
    if language == ENGLISH:
        return path
    return f"{path}{'&' if '?' in path else '?'}{LANGUAGE_FIELD}={language}"


def language_switch(definition: SurveyDefinition, language: str) -> list[tuple[str, str, bool]]:
    """(language, its own name, whether shown now) for each language the survey offers; empty for one only."""
    if len(definition.languages) < 2:
        return []
    return [(other, LANGUAGE_NAMES.get(other, other), other == language) for other in definition.languages]


def problem_language(requested: str | None) -> str:
    """The language a refusal is told in: the one the visitor chose, when civicvoice has a catalogue for it (the
    survey may not be known when the refusal comes); otherwise English."""
    return requested if requested is not None and requested in catalogues() else ENGLISH


async def _kiosk(session: AsyncSession, kiosk_id: uuid.UUID) -> Kiosk:
    """An issued kiosk, for the staff pages; 404 if there is none."""
    kiosk = await session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise NotFound("There is no such kiosk.")
    return kiosk


async def _service_name(session: AsyncSession, kiosk: Kiosk) -> str | None:
    name: str | None = await session.scalar(select(Service.name).where(Service.id == kiosk.service_id))
    return name


def _problem(request: Request[Any, Any, Any], exc: KioskProblem, requested: str | None = None) -> Template:
    """The refusal as the tablet's own full-screen page, in the visitor's language; anything that is not a browser
    gets problem details."""
    if not wants_page(request):
        raise exc
    headers = dict(NO_STORE)
    if isinstance(exc, KioskBusy):
        headers["retry-after"] = str(int(exc.retry_after) + 1)
    language = problem_language(requested)
    # Translated here, not in the template, so the text stays plain and is escaped like any other.
    _ = translator(language)
    return Template(
        template_name="kiosk/problem.html.j2",
        context={
            "page_title": _(exc.title),
            "problem": exc,
            "title": _(exc.title),
            "detail": _(exc.detail),
            "what_to_do": _(exc.what_to_do),
            "home": HOME,
            "resets": False,
            "language": language,
            "lang": language,
        },
        status_code=exc.status,
        headers=headers,
    )


def _page(
    request: Request[Any, Any, Any], name: str, *, status_code: int = 200, screen: bool = True, **context: Any
) -> Template:
    """A kiosk page; ``screen``: one of a working kiosk's screens, which tell the tablet its idle time."""
    if screen:
        context["idle_seconds"] = service(request, Settings).kiosk_idle_seconds
    return Template(
        template_name=f"kiosk/{name}.html.j2",
        context={"home": HOME, "language": ENGLISH, "lang": context.get("language", ENGLISH), **context},
        status_code=status_code,
        headers=NO_STORE,
    )


class KioskPages(Controller):
    path = "/kiosk"
    include_in_schema = False
    # The device cookie is the credential: checked by each handler, which answers a clear page when it fails.
    opt = Access.public().opt()

    def _device_key(self, request: Request[Any, Any, Any]) -> str | None:
        return read_cookie(request, DEVICE_COOKIE)

    async def _posted(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, form: dict[str, str]
    ) -> tuple[Kiosk, str]:
        """The kiosk behind a posted form, locked; refused unless the form came from its pages."""
        device_key = self._device_key(request)
        kiosk = await service(request, Kiosks).device(db_session, device_key, lock=True)
        assert device_key is not None
        if not tokens_match(csrf_token(device_key), form.get(CSRF_FIELD)):
            raise KioskFormExpired(N_("This screen did not come from this kiosk, or it is out of date."))
        return kiosk, device_key

    @get("/")
    async def start(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        lang: Annotated[str | None, QueryParameter(name=LANGUAGE_FIELD)] = None,
    ) -> Template:
        kiosks = service(request, Kiosks)
        device_key = self._device_key(request)
        try:
            kiosk = await kiosks.device(db_session, device_key)
            questions = await kiosks.questions(db_session, kiosk)
        except KioskProblem as exc:
            return _problem(request, exc, lang)
        assert device_key is not None
        language = kiosk_language(questions.definition, lang)
        return _page(
            request,
            "start",
            page_title=questions.rating.text_in(language),
            question=questions.rating,
            language=language,
            switch=language_switch(questions.definition, language),
            centre=kiosk.name,
            csrf_token=csrf_token(device_key),
            # The first screen stays until someone taps, but not in a language the last visitor chose.
            resets=language != ENGLISH,
        )

    @post("/answer", status_code=HTTP_303_SEE_OTHER)
    async def answer(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Redirect | Template:
        kiosks = service(request, Kiosks)
        form = await form_values(request, limit=20_000)
        try:
            kiosk, device_key = await self._posted(request, db_session, form)
            response_id, rating, questions = await kiosks.answer(db_session, kiosk, form.get(RATING_FIELD))
        except KioskProblem as exc:
            return _problem(request, exc, form.get(LANGUAGE_FIELD))
        language = kiosk_language(questions.definition, form.get(LANGUAGE_FIELD))
        if questions.comment_for(rating) is None:
            return Redirect(in_language(THANKS, language), status_code=HTTP_303_SEE_OTHER)
        token = comment_token(device_key, response_id, utcnow() + COMMENT_WINDOW)
        return Redirect(in_language(f"/kiosk/comment?answer={token}", language), status_code=HTTP_303_SEE_OTHER)

    @get("/comment")
    async def comment_form(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        answer: Annotated[str | None, QueryParameter(name="answer")] = None,
        lang: Annotated[str | None, QueryParameter(name=LANGUAGE_FIELD)] = None,
    ) -> Template:
        kiosks = service(request, Kiosks)
        device_key = self._device_key(request)
        try:
            kiosk = await kiosks.device(db_session, device_key)
            assert device_key is not None
            response_id = comment_response(device_key, answer, utcnow())
            _, question, definition = await kiosks.answered(db_session, kiosk, response_id)
        except KioskProblem as exc:
            return _problem(request, exc, lang)
        language = kiosk_language(definition, lang)
        return self._comment_page(request, device_key, question, language, answer or "", "", None)

    def _comment_page(
        self,
        request: Request[Any, Any, Any],
        device_key: str,
        question: Question,
        language: str,
        token: str,
        value: str,
        error: FieldProblem | None,
    ) -> Template:
        return _page(
            request,
            "comment",
            status_code=400 if error else 200,
            page_title=question.text_in(language),
            question=question,
            language=language,
            token=token,
            value=value,
            error=error,
            csrf_token=csrf_token(device_key),
            resets=True,
        )

    @post("/comment", status_code=HTTP_303_SEE_OTHER)
    async def comment(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Redirect | Template:
        kiosks = service(request, Kiosks)
        form = await form_values(request, limit=20_000)
        try:
            kiosk, device_key = await self._posted(request, db_session, form)
            token = form.get("answer", "")
            response_id = comment_response(device_key, token, utcnow())
            _, _, definition = await kiosks.answered(db_session, kiosk, response_id)
            language = kiosk_language(definition, form.get(LANGUAGE_FIELD))
            if "skip" in form:
                return Redirect(in_language(THANKS, language), status_code=HTTP_303_SEE_OTHER)
            await kiosks.comment(db_session, kiosk, response_id, form.get(COMMENT_FIELD, ""), language=language)
        except InvalidAnswers as invalid:
            _, question, _ = await kiosks.answered(db_session, kiosk, response_id)
            error = FieldProblem(COMMENT_FIELD, invalid.checked.problems[0].message)  # in the visitor's language
            return self._comment_page(
                request, device_key, question, language, token, form.get(COMMENT_FIELD, ""), error
            )
        except AlreadyAnswered:
            return _problem(
                request, CommentClosed(N_("A comment has already been added to that answer.")), form.get(LANGUAGE_FIELD)
            )
        except KioskProblem as exc:
            return _problem(request, exc, form.get(LANGUAGE_FIELD))
        return Redirect(in_language(THANKS, language), status_code=HTTP_303_SEE_OTHER)

    @get("/thanks")
    async def thanks(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        lang: Annotated[str | None, QueryParameter(name=LANGUAGE_FIELD)] = None,
    ) -> Template:
        kiosks = service(request, Kiosks)
        try:
            kiosk = await kiosks.device(db_session, self._device_key(request))
            language = (
                ENGLISH
                if lang in (None, ENGLISH)
                else kiosk_language((await kiosks.questions(db_session, kiosk)).definition, lang)
            )
        except KioskProblem as exc:
            return _problem(request, exc, lang)
        return _page(request, "thanks", page_title="Thank you", language=language, resets=True)

    @get("/enrol/{key:str}")
    async def enrol_form(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Template:
        try:
            kiosk, service_name = await service(request, Kiosks).enrolling(db_session, key)
        except KioskProblem as exc:
            return _problem(request, exc)
        return _page(
            request,
            "enrol",
            page_title="Set up this tablet as a kiosk",
            kiosk=kiosk,
            service_name=service_name,
            action=enrol_path(key),
            resets=False,
            screen=False,
        )

    @post("/enrol/{key:str}", status_code=HTTP_303_SEE_OTHER)
    async def enrol(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], key: FromPath[str]
    ) -> Redirect | Template:
        try:
            _, device_key = await service(request, Kiosks).enrol(db_session, key)
        except KioskProblem as exc:
            return _problem(request, exc)
        response = Redirect(HOME, status_code=HTTP_303_SEE_OTHER, headers=NO_STORE)
        # Strict: no other site's page can make the tablet send it, so no other site can post an answer.
        set_cookie(response, request, DEVICE_COOKIE, device_key, max_age=DEVICE_COOKIE_MAX_AGE, samesite="strict")
        return response


class KioskAdminPages(Controller):
    """Administrators issue a kiosk (its enrolment link shown once) for a centre, a service and a survey, see each
    one's state, survey, last use and answers taken, change the survey it asks, and revoke it."""

    path = "/staff/kiosks"
    include_in_schema = False
    opt = Access.staff(*KIOSK_ROLES).opt()

    async def _list(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        *,
        values: dict[str, str] | None = None,
        error: CivicVoiceError | None = None,
    ) -> Template:
        services = (
            await db_session.execute(
                select(Service.slug, Service.name).where(Service.survey_excluded.is_(False)).order_by(Service.name)
            )
        ).all()
        return staff_template(
            request,
            "surveys/kiosks.html.j2",
            status_code=error.status if error else 200,
            kiosks=await kiosk_listing(db_session),
            services=services,
            surveys=await kiosk_surveys(db_session),
            values=values or {},
            error=error,
        )

    @get("/")
    async def kiosks(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._list(request, db_session)

    @post("/", status_code=200)
    async def issue(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        values = await form_values(request, limit=200)
        try:
            issued = await issue_kiosk(
                db_session,
                name=values.get("name", ""),
                service_slug=values.get("service", ""),
                survey_slug=values.get("survey", ""),
                actor=acting_staff(request),
            )
        except KioskInputError as exc:
            return await self._list(request, db_session, values=values, error=exc)
        settings = service(request, Settings)
        return staff_template(
            request,
            "surveys/kiosk_issued.html.j2",
            issued=issued,
            link=settings.base_url + enrol_path(issued.enrol_key),
        )

    async def _survey_form(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        kiosk: Kiosk,
        *,
        chosen: str,
        error: CivicVoiceError | None = None,
    ) -> Template:
        return staff_template(
            request,
            "surveys/kiosk_survey.html.j2",
            status_code=error.status if error else 200,
            kiosk=kiosk,
            service_name=await _service_name(db_session, kiosk),
            surveys=await kiosk_surveys(db_session),
            chosen=chosen,
            error=error,
        )

    @get("/{kiosk_id:uuid}/survey")
    async def choose_survey(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        kiosk_id: FromPath[uuid.UUID],
    ) -> Template:
        """The survey a kiosk asks can change at any time; its next visitor is asked the new one."""
        kiosk = await _kiosk(db_session, kiosk_id)
        survey = await db_session.get(Survey, kiosk.survey_id) if kiosk.survey_id else None
        return await self._survey_form(request, db_session, kiosk, chosen=survey.slug if survey else "")

    @post("/{kiosk_id:uuid}/survey", status_code=HTTP_303_SEE_OTHER)
    async def change_survey(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        kiosk_id: FromPath[uuid.UUID],
    ) -> Redirect | Template:
        values = await form_values(request, limit=200)
        try:
            await change_kiosk_survey(
                db_session, kiosk_id=kiosk_id, survey_slug=values.get("survey", ""), actor=acting_staff(request)
            )
        except KioskInputError as exc:
            kiosk = await _kiosk(db_session, kiosk_id)
            return await self._survey_form(request, db_session, kiosk, chosen=values.get("survey", ""), error=exc)
        return Redirect("/staff/kiosks", status_code=HTTP_303_SEE_OTHER)

    @get("/{kiosk_id:uuid}/revoke")
    async def confirm_revoke(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        kiosk_id: FromPath[uuid.UUID],
    ) -> Template:
        """Revoking cannot be undone (the tablet needs a new kiosk), so it is confirmed first."""
        kiosk = await _kiosk(db_session, kiosk_id)
        return staff_template(
            request, "surveys/kiosk_revoke.html.j2", kiosk=kiosk, service_name=await _service_name(db_session, kiosk)
        )

    @post("/{kiosk_id:uuid}/revoke", status_code=HTTP_303_SEE_OTHER)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        kiosk_id: FromPath[uuid.UUID],
    ) -> Redirect:
        await revoke_kiosk(db_session, kiosk_id=kiosk_id, actor=acting_staff(request))
        return Redirect("/staff/kiosks", status_code=HTTP_303_SEE_OTHER)


KIOSK_PAGES = [KioskPages, KioskAdminPages]
