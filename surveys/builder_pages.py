"""Staff pages for designing surveys (administrators only): surveys and their versions, a draft edited question
by question (add, edit, move up or down, remove), a preview, publishing, and the channels a survey may use.

Plain forms with post-redirect-get: every change works without JavaScript. Publishing refuses a broken version
with the GOV.UK error summary, each problem linking to the question it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.auth import Access
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import CivicVoiceError, InvalidInput, NotFound
from civicvoice.core.http import NO_STORE, acting_staff, form_values, service, staff_template
from surveys.builder import (
    Campaign,
    SurveySummary,
    create_survey,
    find_survey,
    list_surveys,
    new_draft,
    publish_version,
    replace_draft,
    responses_to,
    set_campaign,
    set_channels,
    version_of,
    with_question,
)
from surveys.campaigns import MAX_RECIPIENTS, Campaigns, campaign_progress, keep_to_period, recipients_from_csv
from surveys.catalogue import SATISFACTION_CHOICES
from surveys.definitions import (
    ENGLISH,
    WELSH,
    Choice,
    CommentPrompt,
    DefinitionFault,
    DefinitionProblem,
    InvalidSurveyDefinition,
    Question,
    QuestionKind,
    ShowIf,
    SurveyDefinition,
    SurveyKind,
    Text,
    stored_definition,
)
from surveys.models import SurveyVersion, VersionStatus
from surveys.rules import InvitationChannel
from surveys.versions import VersionNotDraft

BUILDER_ROLES: Final = ("admin",)
KIND_NAMES: Final = {
    QuestionKind.csat: "Satisfaction (CSAT, 1 to 5)",
    QuestionKind.rating: "Rating (1 to 5)",
    QuestionKind.nps: "Net promoter score (0 to 10)",
    QuestionKind.effort: "Customer effort (1 to 7)",
    QuestionKind.yes_partly_no: "Yes, partly or no",
    QuestionKind.single_choice: "One choice",
    QuestionKind.multiple_choice: "Several choices",
    QuestionKind.free_text: "Free text",
}
CHANNEL_NAMES: Final = {
    InvitationChannel.email: "Email",
    InvitationChannel.sms: "Text message (SMS)",
    InvitationChannel.ivr: "Phone keypad (IVR)",
    InvitationChannel.chat: "Web chat",
    InvitationChannel.kiosk: "Kiosk",
    InvitationChannel.paper: "Paper",
    InvitationChannel.web_link: "Link after an online form",
}
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_VALUE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_TEXT_LIMIT: Final = 2000
_LIST_BYTES: Final = 1024 * 1024  # a pasted or uploaded list of campaign recipients


class FormProblems(CivicVoiceError):
    """Answers in a builder form that cannot be read, each under its field (for the error summary)."""

    status = 422
    slug = "invalid-input"
    title = "Invalid input"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(" ".join(message for _, message in problems), field_errors=problems)


@dataclass
class _Reading:
    """Collects the problems of one form while reading it, so they are all shown at once."""

    form: dict[str, str]
    problems: list[tuple[str, str]]

    def text(self, name: str, english: str, welsh: str, *, required: str | None = None) -> Text | None:
        en = self.form.get(english, "").strip()
        cy = self.form.get(welsh, "").strip()
        for field, value in ((english, en), (welsh, cy)):
            if len(value) > _TEXT_LIMIT:
                self.problems.append((field, f"{name} must be {_TEXT_LIMIT:,} characters or fewer"))
        if not en:
            if required:
                self.problems.append((english, required))
            return None
        return {ENGLISH: en, WELSH: cy} if cy else {ENGLISH: en}

    def number(self, field: str, name: str) -> int | None:
        raw = self.form.get(field, "").strip()
        if not raw:
            return None
        if not re.fullmatch(r"-?\d{1,6}", raw):
            self.problems.append((field, f"{name} must be a whole number, like 2"))
            return None
        return int(raw)


def read_choices(reading: _Reading, kind: QuestionKind) -> tuple[Choice, ...]:
    """Choices typed one a line as "value | English label | Welsh label" (Welsh optional)."""
    raw = reading.form.get("choices", "")
    choices: list[Choice] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 1 and kind.scale is None:
            # A label alone: its value is made from it.
            parts = [re.sub(r"[^a-z0-9]+", "-", parts[0].lower()).strip("-")[:40] or str(number), parts[0]]
        if len(parts) not in (2, 3) or not _VALUE.match(parts[0]) or not parts[1]:
            reading.problems.append(
                (
                    "choices",
                    f"Choice on line {number} must be a value, an English label and an optional Welsh label, "
                    "separated by |, like: yes | Yes | Ydw",
                )
            )
            continue
        label = {ENGLISH: parts[1], WELSH: parts[2]} if len(parts) == 3 and parts[2] else {ENGLISH: parts[1]}
        choices.append(Choice(value=parts[0], label=label))
    if not choices and kind is QuestionKind.csat:
        return SATISFACTION_CHOICES
    if not choices and kind is QuestionKind.rating:
        return tuple(Choice(value=str(point), label={ENGLISH: str(point)}) for point in range(1, 6))
    return tuple(choices)


def question_from_form(form: dict[str, str], *, question_id: str | None, taken: set[str]) -> Question:
    """The question a builder form describes; FormProblems naming each field that cannot be read."""
    reading = _Reading(form, [])
    qid = question_id if question_id is not None else form.get("id", "").strip()
    if question_id is None:
        if not _ID.match(qid):
            reading.problems.append(
                ("id", "Enter a short name of lower-case letters, digits and underscores, starting with a letter")
            )
        elif qid in taken or qid == "new":  # "new" is the path of the form that adds a question
            reading.problems.append(("id", f"There is already a question called {qid}; choose another short name"))
    try:
        kind = QuestionKind(form.get("kind", ""))
    except ValueError:
        reading.problems.append(("kind", "Select the kind of question"))
        kind = QuestionKind.free_text
    text = reading.text("The question", "text_en", "text_cy", required="Enter the question in English")
    hint = reading.text("The hint", "hint_en", "hint_cy")
    choices = read_choices(reading, kind) if kind is not QuestionKind.free_text or form.get("choices") else ()
    max_length = reading.number("max_length", "The length limit") if kind is QuestionKind.free_text else None
    if max_length is not None and not 1 <= max_length <= 10_000:
        reading.problems.append(("max_length", "The length limit must be between 1 and 10,000"))
    prompt_raw = form.get("comment_prompt", "")
    prompt = (
        CommentPrompt(prompt_raw)
        if kind is QuestionKind.free_text and prompt_raw in {p.value for p in CommentPrompt}
        else None
    )
    show_if = _skip_rule(reading)
    if reading.problems:
        raise FormProblems(reading.problems)
    return Question(
        id=qid,
        kind=kind,
        text=text or {ENGLISH: ""},
        hint=hint,
        required=form.get("required") == "yes",
        choices=choices,
        max_length=max_length,
        show_if=show_if,
        comment_prompt=prompt,
        resolution=kind is QuestionKind.yes_partly_no and form.get("resolution") == "yes",
    )


def _day(reading: _Reading, field: str) -> date | None:
    raw = reading.form.get(field, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        reading.problems.append((field, "Enter the date as YYYY-MM-DD, for example 2027-01-31"))
        return None


def _skip_rule(reading: _Reading) -> ShowIf | None:
    target = reading.form.get("show_if", "").strip()
    at_most = reading.number("show_if_at_most", "The score")
    raw_choices = reading.form.get("show_if_choices", "").strip()
    if not target:
        if at_most is not None or raw_choices:
            reading.problems.append(("show_if", "Select the question this one depends on, or clear the condition"))
        return None
    values = tuple(value.strip() for value in raw_choices.split(",") if value.strip())
    if (at_most is None) == (not values):
        reading.problems.append(
            ("show_if_at_most", "Give either the highest score that shows this question or the choices that do")
        )
        return None
    if any(not _VALUE.match(value) for value in values):
        reading.problems.append(("show_if_choices", "Give the choices as their values, separated by commas"))
        return None
    return ShowIf(question=target, at_most=at_most, any_of=values)


def question_values(question: Question) -> dict[str, str]:
    """A question's fields as the form shows them."""
    condition = question.show_if
    return {
        "id": question.id,
        "kind": question.kind.value,
        "text_en": question.text.get(ENGLISH, ""),
        "text_cy": question.text.get(WELSH, ""),
        "hint_en": (question.hint or {}).get(ENGLISH, ""),
        "hint_cy": (question.hint or {}).get(WELSH, ""),
        "required": "yes" if question.required else "",
        "resolution": "yes" if question.resolution else "",
        "choices": "\n".join(
            " | ".join([c.value, c.label.get(ENGLISH, ""), *([c.label[WELSH]] if c.label.get(WELSH) else [])])
            for c in question.choices
        ),
        "max_length": str(question.max_length or ""),
        "comment_prompt": question.comment_prompt.value if question.comment_prompt else "",
        "show_if": condition.question if condition else "",
        "show_if_at_most": str(condition.at_most) if condition and condition.at_most is not None else "",
        "show_if_choices": ", ".join(condition.any_of) if condition else "",
    }


def moved(definition: SurveyDefinition, question_id: str, step: int) -> SurveyDefinition:
    questions = list(definition.questions)
    index = next((i for i, q in enumerate(questions) if q.id == question_id), None)
    if index is None:
        raise NotFound("The draft has no such question.")
    target = index + step
    if 0 <= target < len(questions):
        questions[index], questions[target] = questions[target], questions[index]
    return replace(definition, questions=tuple(questions))


def _base(slug: str, number: int) -> str:
    return f"/staff/surveys/{slug}/versions/{number}"


class SurveyBuilderPages(Controller):
    path = "/staff/surveys"
    include_in_schema = False
    opt = Access.staff(*BUILDER_ROLES).opt()

    # --- surveys ------------------------------------------------------------------------------------------------

    @get("/")
    async def surveys(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
        return await self._surveys(request, db_session, {}, [])

    async def _surveys(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        values: dict[str, str],
        errors: list[dict[str, str]],
    ) -> Template:
        return staff_template(
            request,
            "builder/surveys.html.j2",
            status_code=422 if errors else 200,
            surveys=await list_surveys(session),
            values=values,
            errors=errors,
            channel_names=CHANNEL_NAMES,
        )

    @post("/", status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = await form_values(request, limit=300)
        slug = form.get("slug", "").strip()
        try:
            kind = SurveyKind(form.get("kind", ""))
        except ValueError:
            return await self._surveys(
                request, db_session, form, [{"field": "kind", "message": "Select the kind of survey"}]
            )
        try:
            await create_survey(
                db_session, acting_staff(request), slug=slug, name=form.get("name", ""), kind=kind, channels=None
            )
        except CivicVoiceError as exc:
            return await self._surveys(
                request, db_session, form, [{"field": exc.field or "name", "message": exc.detail}]
            )
        return Redirect(_base(slug, 1), status_code=303)

    @get("/{slug:str}")
    async def survey(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Template:
        return await self._survey(request, db_session, await find_survey(db_session, slug), [])

    async def _survey(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        found: SurveySummary,
        errors: list[dict[str, str]],
        chosen: Any = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        survey = found.survey
        return staff_template(
            request,
            "builder/survey.html.j2",
            status_code=422 if errors else 200,
            found=found,
            errors=errors,
            channel_names=CHANNEL_NAMES,
            chosen=chosen if chosen is not None else survey.channels,
            responses=await responses_to(session, survey) if survey.kind == SurveyKind.campaign else None,
            progress=await campaign_progress(session, survey) if survey.kind == SurveyKind.campaign else None,
            max_recipients=MAX_RECIPIENTS,
            values={
                "starts_on": survey.campaign_starts_on.isoformat() if survey.campaign_starts_on else "",
                "ends_on": survey.campaign_ends_on.isoformat() if survey.campaign_ends_on else "",
                "target_responses": str(survey.target_responses or ""),
                **(values or {}),
            },
        )

    @post("/{slug:str}/campaign", status_code=303)
    async def campaign(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Template | Redirect:
        form = await form_values(request, limit=40)
        found = await find_survey(db_session, slug)
        reading = _Reading(form, [])
        starts_on, ends_on = _day(reading, "starts_on"), _day(reading, "ends_on")
        target = reading.number("target_responses", "The target")
        try:
            if reading.problems:
                raise FormProblems(reading.problems)
            await set_campaign(db_session, acting_staff(request), found, Campaign(starts_on, ends_on, target))
            await keep_to_period(db_session, found.survey, utcnow())
        except CivicVoiceError as exc:
            errors = [{"field": str(f or "starts_on"), "message": m} for f, m in exc.field_errors] or [
                {"field": exc.field or "starts_on", "message": exc.detail}
            ]
            return await self._survey(request, db_session, found, errors, values=form)
        return Redirect(f"/staff/surveys/{slug}", status_code=303)

    @post("/{slug:str}/recipients", status_code=200, request_max_body_size=_LIST_BYTES + 64 * 1024)
    async def recipients(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Template:
        """People pasted or uploaded as CSV, added to the campaign's list; the page then says who was not added."""
        form = await request.form()
        found = await find_survey(db_session, slug)
        pasted = form.get("recipients")
        text = pasted[:_LIST_BYTES] if isinstance(pasted, str) else ""
        upload = form.get("recipients_file")
        values = {"recipients": text}
        try:
            if isinstance(upload, UploadFile) and upload.filename:
                content = await upload.read()
                if len(content) > _LIST_BYTES:
                    raise InvalidInput("The file is too big: upload at most 1 MB.", field="recipients_file")
                try:
                    text = content.decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise InvalidInput(
                        "The file is not a CSV file saved as UTF-8: save it as CSV UTF-8 and upload it again.",
                        field="recipients_file",
                    ) from None
            if not text.strip():
                raise InvalidInput("Paste the list or choose a CSV file.", field="recipients")
            rows = recipients_from_csv(text)
            added = await service(request, Campaigns).add_recipients(
                db_session, acting_staff(request), found, [recipient for _, recipient in rows]
            )
        except CivicVoiceError as exc:
            await db_session.rollback()
            found = await find_survey(db_session, slug)
            field = exc.field if exc.field == "recipients_file" else "recipients"
            return await self._survey(
                request, db_session, found, [{"field": field, "message": exc.detail}], values=values
            )
        return staff_template(
            request,
            "builder/recipients.html.j2",
            found=found,
            added=added,
            rows=[number for number, _ in rows],
            progress=await campaign_progress(db_session, found.survey),
        )

    @post("/{slug:str}/channels", status_code=303)
    async def channels(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Template | Redirect:
        form = await request.form()
        chosen = [value for value in form.getall("channels") if isinstance(value, str)] if "channels" in form else []
        found = await find_survey(db_session, slug)
        try:
            await set_channels(db_session, acting_staff(request), found, chosen)
        except CivicVoiceError as exc:
            errors = [{"field": "channels", "message": exc.detail}]
            return await self._survey(request, db_session, found, errors, chosen)
        return Redirect(f"/staff/surveys/{slug}", status_code=303)

    @post("/{slug:str}/versions", status_code=303)
    async def draft(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], slug: FromPath[str]
    ) -> Redirect:
        found = await find_survey(db_session, slug)
        version = await new_draft(db_session, acting_staff(request), found)
        return Redirect(_base(slug, version.number), status_code=303)

    # --- a version ----------------------------------------------------------------------------------------------

    @get("/{slug:str}/versions/{number:int}")
    async def version(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> Template:
        found = await find_survey(db_session, slug)
        return self._version(request, found, version_of(found, number), [])

    def _version(
        self,
        request: Request[Any, Any, Any],
        found: SurveySummary,
        version: SurveyVersion,
        errors: list[dict[str, str]],
        values: dict[str, str] | None = None,
    ) -> Template:
        definition = stored_definition(version.definition)
        return staff_template(
            request,
            "builder/version.html.j2",
            status_code=422 if errors else 200,
            found=found,
            version=version,
            definition=definition,
            draft=version.status == VersionStatus.draft,
            base=_base(found.survey.slug, version.number),
            kind_names=KIND_NAMES,
            errors=errors,
            values=values
            if values is not None
            else {
                "title_en": definition.title.get(ENGLISH, ""),
                "title_cy": definition.title.get(WELSH, ""),
                "intro_en": (definition.intro or {}).get(ENGLISH, ""),
                "intro_cy": (definition.intro or {}).get(WELSH, ""),
                "welsh": "yes" if WELSH in definition.languages else "",
            },
        )

    async def _draft(self, session: AsyncSession, slug: str, number: int) -> tuple[SurveySummary, SurveyVersion]:
        found = await find_survey(session, slug)
        return found, version_of(found, number)

    @post("/{slug:str}/versions/{number:int}", status_code=303)
    async def details(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> Template | Redirect:
        """The survey's title, introduction and languages in this draft."""
        form = await form_values(request, limit=_TEXT_LIMIT + 1)
        found, version = await self._draft(db_session, slug, number)
        reading = _Reading(form, [])
        title = reading.text("The title", "title_en", "title_cy", required="Enter the survey's title in English")
        intro = reading.text("The introduction", "intro_en", "intro_cy")
        if reading.problems:
            errors = [{"field": field, "message": message} for field, message in reading.problems]
            return self._version(request, found, version, errors, form)
        definition = replace(
            stored_definition(version.definition),
            title=title or {ENGLISH: ""},
            intro=intro,
            languages=(ENGLISH, WELSH) if form.get("welsh") == "yes" else (ENGLISH,),
        )
        await replace_draft(db_session, acting_staff(request), found, number, definition)
        return Redirect(_base(slug, number), status_code=303)

    @post("/{slug:str}/versions/{number:int}/publish", status_code=303)
    async def publish(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> Template | Redirect:
        found, version = await self._draft(db_session, slug, number)
        try:
            await publish_version(db_session, acting_staff(request), found, number)
        except InvalidSurveyDefinition as invalid:
            errors = [{"field": _problem_field(p), "message": p.message} for p in invalid.problems]
            return self._version(request, found, version, errors)
        return Redirect(_base(slug, number), status_code=303)

    @get("/{slug:str}/versions/{number:int}/preview")
    async def preview(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
        language: Annotated[str, QueryParameter(name="language")] = ENGLISH,
    ) -> Template:
        _, version = await self._draft(db_session, slug, number)
        definition = stored_definition(version.definition)
        shown = language if language in definition.languages else ENGLISH
        return Template(
            template_name="survey/form.html.j2",
            context={
                "page_title": definition.title_in(shown) or "Preview",
                "survey": definition,
                "language": shown,
                "lang": shown,
                "values": {},
                "errors": [],
                "action": "",
                "preview": {
                    "back": _base(slug, number),
                    "languages": [lang for lang in definition.languages if lang != shown],
                },
            },
            headers=NO_STORE,
        )

    # --- questions ----------------------------------------------------------------------------------------------

    def _question(
        self,
        request: Request[Any, Any, Any],
        found: SurveySummary,
        version: SurveyVersion,
        question: Question | None,
        values: dict[str, str],
        errors: list[dict[str, str]],
    ) -> Template:
        definition = stored_definition(version.definition)
        # A skip rule depends on a question asked before this one.
        ids = [q.id for q in definition.questions]
        earlier = list(definition.questions[: ids.index(question.id)] if question is not None else definition.questions)
        return staff_template(
            request,
            "builder/question.html.j2",
            status_code=422 if errors else 200,
            found=found,
            version=version,
            question=question,
            base=_base(found.survey.slug, version.number),
            earlier=earlier,
            kind_names=KIND_NAMES,
            prompts=list(CommentPrompt),
            values=values,
            errors=errors,
        )

    async def _editable(
        self, session: AsyncSession, slug: str, number: int
    ) -> tuple[SurveySummary, SurveyVersion, SurveyDefinition]:
        found, version = await self._draft(session, slug, number)
        if version.status != VersionStatus.draft:
            raise VersionNotDraft(
                f"Version {version.number} is {version.status} and never changes; make a new draft from the "
                "survey's page and change that."
            )
        return found, version, stored_definition(version.definition)

    @get("/{slug:str}/versions/{number:int}/questions/new")
    async def new_question(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> Template:
        found, version, _ = await self._editable(db_session, slug, number)
        return self._question(request, found, version, None, {"kind": ""}, [])

    @post("/{slug:str}/versions/{number:int}/questions/new", status_code=303)
    async def add_question(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
    ) -> Template | Redirect:
        form = await form_values(request, limit=_TEXT_LIMIT * 4)
        found, version, definition = await self._editable(db_session, slug, number)
        try:
            question = question_from_form(form, question_id=None, taken={q.id for q in definition.questions})
        except FormProblems as bad:
            errors = [{"field": str(f), "message": m} for f, m in bad.field_errors]
            return self._question(request, found, version, None, form, errors)
        await replace_draft(db_session, acting_staff(request), found, number, with_question(definition, question))
        return Redirect(f"{_base(slug, number)}#question-{question.id}", status_code=303)

    @get("/{slug:str}/versions/{number:int}/questions/{question_id:str}")
    async def edit_question(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
        question_id: FromPath[str],
    ) -> Template | Redirect:
        found, version, definition = await self._editable(db_session, slug, number)
        question = _find_question(definition, question_id)
        return self._question(request, found, version, question, question_values(question), [])

    @post("/{slug:str}/versions/{number:int}/questions/{question_id:str}", status_code=303)
    async def save_question(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
        question_id: FromPath[str],
    ) -> Template | Redirect:
        form = await form_values(request, limit=_TEXT_LIMIT * 4)
        found, version, definition = await self._editable(db_session, slug, number)
        question = _find_question(definition, question_id)
        try:
            changed = question_from_form(form, question_id=question.id, taken=set())
        except FormProblems as bad:
            errors = [{"field": str(f), "message": m} for f, m in bad.field_errors]
            return self._question(request, found, version, question, {**form, "id": question.id}, errors)
        await replace_draft(
            db_session, acting_staff(request), found, number, with_question(definition, changed, replacing=question.id)
        )
        return Redirect(f"{_base(slug, number)}#question-{question.id}", status_code=303)

    @post("/{slug:str}/versions/{number:int}/questions/{question_id:str}/{change:str}", status_code=303)
    async def change_question(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        slug: FromPath[str],
        number: FromPath[int],
        question_id: FromPath[str],
        change: FromPath[str],
    ) -> Redirect:
        """Move a question up or down, or remove it."""
        found, _, definition = await self._editable(db_session, slug, number)
        question = _find_question(definition, question_id)
        if change == "up":
            definition = moved(definition, question.id, -1)
        elif change == "down":
            definition = moved(definition, question.id, 1)
        elif change == "remove":
            definition = replace(definition, questions=tuple(q for q in definition.questions if q.id != question.id))
        else:
            raise NotFound("There is no such change to a question.")
        await replace_draft(db_session, acting_staff(request), found, number, definition)
        anchor = f"#question-{question.id}" if change != "remove" else "#questions"
        return Redirect(f"{_base(slug, number)}{anchor}", status_code=303)


_TITLE_FAULTS: Final = frozenset(
    {DefinitionFault.missing_english, DefinitionFault.missing_translation, DefinitionFault.bad_languages}
)


def _problem_field(problem: DefinitionProblem) -> str:
    """Where the error summary sends a person: the question's card, the title field or the questions."""
    if problem.question is not None:
        return f"question-{problem.question}"
    return "title_en" if problem.fault in _TITLE_FAULTS else "questions"


def _find_question(definition: SurveyDefinition, question_id: str) -> Question:
    question = definition.question(question_id)
    if question is None:
        raise NotFound("This draft has no such question.")
    return question


PAGES = [SurveyBuilderPages]
