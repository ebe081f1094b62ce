"""Respondent pages: the survey, thank you, unsubscribe. Server-rendered, no login, working without JavaScript.

Survey tokens are consumed on POST only (mail scanners fetch GET links). One-click unsubscribe (RFC 8058) is a
POST that needs no cookie and no CSRF token: the signed token is the capability.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError
from civicvoice.core.http import NO_STORE, service
from privacy.vault import Vault
from surveys.answers import FormValue, check_answers
from surveys.definitions import ENGLISH, WELSH, SurveyDefinition
from surveys.models import Invitation
from surveys.responses import GroupedResponses, InvalidAnswers, ResponseRecorder, open_invitation
from surveys.tokens import UNSUBSCRIBE_LIFETIME, BadToken, ExpiredToken, Purpose, TokenSigner, short_digest
from surveys.unsubscribe import unsubscribe

T = TypeVar("T")

# How each language names itself, for the switch between the languages a survey version offers.
LANGUAGE_NAMES: Final = {ENGLISH: "English", WELSH: "Cymraeg"}


def respondent_language(request: Request[Any, Any, Any], definition: SurveyDefinition, asked: str | None) -> str:
    """The language the respondent asked for (the switch), else their browser's first that the version offers,
    else English."""
    offered = definition.languages
    if asked in offered:
        return asked
    preferences: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        preferences.append((-weight, position, tag.split("-")[0].strip().lower()))
    for weight, _, language in sorted(preferences):
        if weight < 0 and language in offered:
            return language
    return ENGLISH


def link_problem(exc: CivicVoiceError) -> Template:
    what_to_do = {
        410: "If you still want to tell us about your contact, you can reply to the council in the usual way.",
        409: "There is nothing more you need to do.",
    }.get(
        exc.status, "Check you copied the whole link from the email. If it still does not work, the link may be wrong."
    )
    return Template(
        template_name="survey/link_problem.html.j2",
        context={"page_title": exc.title, "heading": exc.title, "message": exc.detail, "what_to_do": what_to_do},
        status_code=exc.status,
        headers=NO_STORE,
    )


class SurveyPages(Controller):
    path = "/"
    include_in_schema = False
    opt = Access.public().opt()

    def _claims(self, request: Request[Any, Any, Any], token: str, purpose: Purpose) -> Any:
        signer = service(request, TokenSigner)
        return signer.verify(token, purpose)

    @get("/r/{code:str}", status_code=HTTP_303_SEE_OTHER)
    async def short_link(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        code: FromPath[str],
        lang: Annotated[str | None, QueryParameter(name="lang")] = None,
    ) -> Redirect | Template:
        """A short link (text messages, print) leads to the survey's own link, signed afresh; nothing is used up.
        A letter's link names its language (``?lang=cy``), passed on so the survey opens in it."""
        invitation = None
        if 8 <= len(code) <= 24:
            invitation = await db_session.scalar(
                select(Invitation).where(Invitation.short_digest == short_digest(code))
            )
        if invitation is None:
            return link_problem(BadToken("This link is not complete or has been changed."))
        signer = service(request, TokenSigner)
        token = signer.sign(invitation.id, Purpose.survey, invitation.expires_at)
        language = f"?lang={lang}" if lang in LANGUAGE_NAMES else ""
        return Redirect(f"/s/{token}{language}", status_code=HTTP_303_SEE_OTHER, headers=NO_STORE)

    @get("/s/{token:str}")
    async def show_survey(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        token: FromPath[str],
        lang: Annotated[str | None, QueryParameter(name="lang")] = None,
    ) -> Template:
        try:
            claims = self._claims(request, token, Purpose.survey)
            invitation = await open_invitation(db_session, claims.invitation_id)
            recorder = service(request, ResponseRecorder)
            definition = await recorder.definition(db_session, invitation.survey_version_id)
        except (BadToken, ExpiredToken, CivicVoiceError) as exc:
            return link_problem(exc)
        language = respondent_language(request, definition, lang)
        return self._form(request, token, claims.invitation_id, definition, {}, [], language)

    def _form(
        self,
        request: Request[Any, Any, Any],
        token: str,
        invitation_id: Any,
        definition: SurveyDefinition,
        values: Mapping[str, FormValue],
        errors: list[dict[str, str]],
        language: str = ENGLISH,
    ) -> Template:
        signer = service(request, TokenSigner)
        unsubscribe_token = signer.sign(invitation_id, Purpose.unsubscribe, utcnow() + UNSUBSCRIBE_LIFETIME)
        return Template(
            template_name="survey/form.html.j2",
            context={
                "page_title": definition.title_in(language),
                "survey": definition,
                # The version's text and the page's fixed text (gettext) both follow the respondent's language.
                "language": language,
                "lang": language,
                "switch": [
                    (other, LANGUAGE_NAMES.get(other, other)) for other in definition.languages if other != language
                ],
                "values": values,
                "errors": errors,
                "action": f"/s/{token}",
                "unsubscribe_url": f"/u/{unsubscribe_token}",
            },
            status_code=400 if errors else 200,
            headers=NO_STORE,
        )

    @post("/s/{token:str}", status_code=HTTP_303_SEE_OTHER)
    async def answer_survey(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template | Redirect:
        try:
            claims = self._claims(request, token, Purpose.survey)
        except CivicVoiceError as exc:
            return link_problem(exc)
        form = await request.form()
        values: dict[str, FormValue] = {}
        for key in form:
            given = tuple(value for value in form.getall(key) if isinstance(value, str))
            if given:
                # A multiple-choice question posts one value per box ticked; every other field posts one.
                values[key] = given[0] if len(given) == 1 else given
        asked = values.pop("lang", None)
        writer = service(request, GroupedResponses)
        try:
            await writer.submit(db_session, claims.invitation_id, values)
        except InvalidAnswers as invalid:
            language = respondent_language(request, invalid.definition, asked if isinstance(asked, str) else None)
            # The same problems, told in the respondent's language.
            problems = check_answers(invalid.definition, values, language=language).problems
            errors = [{"key": p.key, "message": p.message} for p in problems]
            return self._form(request, token, claims.invitation_id, invalid.definition, values, errors, language)
        except CivicVoiceError as exc:
            return link_problem(exc)
        thanks = f"/survey/thank-you?lang={WELSH}" if asked == WELSH else "/survey/thank-you"
        return Redirect(thanks, status_code=HTTP_303_SEE_OTHER)

    @get("/survey/thank-you")
    async def thank_you(self, lang: Annotated[str | None, QueryParameter(name="lang")] = None) -> Template:
        language = WELSH if lang == WELSH else ENGLISH
        return Template(template_name="survey/thanks.html.j2", context={"page_title": "Thank you", "lang": language})

    @get("/u/{token:str}")
    async def confirm_unsubscribe(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        try:
            self._claims(request, token, Purpose.unsubscribe)
        except CivicVoiceError as exc:
            return link_problem(exc)
        return Template(
            template_name="survey/unsubscribe.html.j2",
            context={"page_title": "Unsubscribe", "state": "confirm", "action": f"/u/{token}"},
            headers=NO_STORE,
        )

    @post("/u/{token:str}", status_code=200)
    async def unsubscribe(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token: FromPath[str]
    ) -> Template:
        try:
            claims = self._claims(request, token, Purpose.unsubscribe)
        except CivicVoiceError as exc:
            return link_problem(exc)
        await unsubscribe(db_session, service(request, Vault), claims.invitation_id)
        return Template(
            template_name="survey/unsubscribe.html.j2",
            context={"page_title": "You have unsubscribed", "state": "done", "action": f"/u/{token}"},
            headers=NO_STORE,
        )


PAGES = [SurveyPages]
