"""Paper: the survey as a printed letter, in print-ready HTML (one letter, for a browser) and PDF (a print batch).

Every letter is one A4 page (a bilingual one may run to two): the council's name and the reference at the top,
the address where a DL window envelope shows it (20 mm from the left, 50 mm from the top, on an A4 sheet folded
in three), a QR code to the web survey with its short link printed beside it, then the survey itself, with a box
to tick for every answer.

A letter is written in one language, or in two (Welsh first, then English): the survey's own text in each, and
the letter's fixed text from the gettext catalogue (`Wording`); the PDF embeds a Unicode font, so Welsh letters
(ŵ, ŷ) print. A reminder letter is the same letter, saying it is a reminder and when we first wrote.

Paper has no provider: it is not sent by a job through `Channel.send` but printed by staff from the print queue
(`surveys.letters`), and answers come back as forms that staff key in against the reference. Survey content is
the one definition, rendered here for print.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import segno
from babel.dates import format_date
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from civicvoice.core.errors import ConfigurationError
from civicvoice.core.translations import translations_for
from surveys.definitions import ENGLISH, WELSH, Question, QuestionKind, SurveyDefinition
from surveys.letter_references import printed


@dataclass(frozen=True)
class PrintedLetter:
    """Everything one printed survey shows; built at print time from the person's identity and never stored."""

    reference: str  # compact; printed in groups
    name: str | None
    address: tuple[str, ...]  # the lines as on the envelope, the postcode last
    council_name: str
    service_name: str
    survey: SurveyDefinition
    short_url: str  # the web version (/r/CODE, with the letter's language): what the QR code holds
    expires_on: date  # the last day to answer (London)
    privacy_url: str
    dated: date  # the day this letter was printed (London)
    # The languages the letter is written in, in print order: one, or Welsh then English for a bilingual letter.
    languages: tuple[str, ...] = (ENGLISH,)
    first_sent_on: date | None = None  # a reminder letter: the day the first letter was printed

    @property
    def printed_reference(self) -> str:
        return printed(self.reference)

    @property
    def is_reminder(self) -> bool:
        return self.first_sent_on is not None


def letter_languages(preferred: str | None, offered: Sequence[str], *, bilingual: bool) -> tuple[str, ...]:
    """The languages a letter is printed in: Welsh then English when the council prints bilingual letters and the
    survey has Welsh; else the person's preferred language when the survey has it; else English."""
    if bilingual and WELSH in offered:
        return (WELSH, ENGLISH)
    if preferred is not None and preferred in offered:
        return (preferred,)
    return (ENGLISH,)


def link_language(letter_languages: Sequence[str], preferred: str | None, offered: Sequence[str]) -> str | None:
    """The language the QR code and web link open the survey in: the letter's (for a bilingual letter, the
    person's preferred language if the survey has it, else the first); none when the survey has only one."""
    if len(offered) < 2:
        return None
    if len(letter_languages) > 1 and preferred in offered:
        return preferred
    return letter_languages[0]


def _day(day: date, language: str) -> str:
    return format_date(day, "d MMMM y", locale="cy" if language == WELSH else "en_GB")


@dataclass(frozen=True)
class Wording:
    """A letter's fixed text in one language, from the gettext catalogue, with its details filled in."""

    language: str
    heading: str
    reminder: str  # empty for a first letter
    paragraph: str
    online: str
    reference_label: str
    dated: str
    qr_caption: str
    qr_label: str
    footnote: str
    page_title: str
    address_label: str
    write_in_label: str


def wording(letter: PrintedLetter, language: str) -> Wording:
    t = translations_for(language)
    title = letter.survey.title_in(language)
    greeting = t.gettext("Dear %(name)s") % {"name": letter.name} if letter.name else t.gettext("Dear customer")
    about = t.gettext("you were recently in touch with us about %(service)s.") % {"service": letter.service_name}
    how = t.gettext(
        "Answer online (scan the code, or type the address below), or tick the boxes and post this page back to us "
        "in the reply-paid envelope, by %(date)s."
    ) % {"date": _day(letter.expires_on, language)}
    reminder = ""
    if letter.first_sent_on is not None:
        title = t.gettext("Reminder: %(title)s") % {"title": title}
        reminder = t.gettext(
            "This is a reminder. We wrote to you on %(date)s to ask about your recent contact with us, and we have "
            "not had your answers yet. If you have already sent them, thank you: there is nothing more to do."
        ) % {"date": _day(letter.first_sent_on, language)}
    return Wording(
        language=language,
        heading=title,
        reminder=reminder,
        paragraph=f"{greeting}, {about} {letter.survey.intro_in(language)} {how}",
        online=t.gettext("Online:"),
        reference_label=t.gettext("Reference:"),
        dated=_day(letter.dated, language),
        qr_caption=t.gettext("Scan with your phone's camera to answer online"),
        qr_label=t.gettext("QR code: opens this survey online"),
        footnote=t.gettext(
            "Reference %(reference)s: it lets us match your answers to this survey, so please return the whole page."
        )
        % {"reference": letter.printed_reference}
        + " "
        + t.gettext("How we use your information:")
        + f" {letter.privacy_url}",
        page_title=t.gettext("Survey letter"),
        address_label=t.gettext("Address"),
        write_in_label=t.gettext("Space to write your answer"),
    )


# --- the QR code -------------------------------------------------------------------------------------------


def qr_code(url: str) -> segno.QRCode:
    # Medium error correction at least (segno raises it when the symbol has room): a creased letter still scans.
    return segno.make(url, error="m", micro=False)


def qr_png(url: str) -> bytes:
    """The QR code as PNG for the PDF (1 module = 10 pixels, the quiet zone of 4 modules included)."""
    buffer = io.BytesIO()
    qr_code(url).save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


# --- what a question looks like on paper ---------------------------------------------------------------------


@dataclass(frozen=True)
class PrintedQuestion:
    number: int
    text: str
    note: str  # how to answer, and when to skip it
    options: tuple[str, ...]  # boxes to tick; empty for free text
    lines: int  # writing lines for free text


def printed_questions(survey: SurveyDefinition, language: str = ENGLISH) -> list[PrintedQuestion]:
    """The questions as printed: numbered, each with how to answer it (and when to skip it)."""
    numbers = {question.id: position for position, question in enumerate(survey.questions, start=1)}
    result = []
    for question in survey.questions:
        result.append(
            PrintedQuestion(
                number=numbers[question.id],
                text=question.text_in(language),
                note=_note(question, numbers, survey, language),
                options=tuple(option.label_in(language) for option in question.options())
                if question.kind is not QuestionKind.free_text
                else (),
                lines=0 if question.kind is not QuestionKind.free_text else 3,
            )
        )
    return result


def _note(question: Question, numbers: dict[str, int], survey: SurveyDefinition, language: str) -> str:
    t = translations_for(language)
    parts = []
    condition = question.show_if
    if condition is not None:
        earlier = survey.question(condition.question)
        labels = {option.value: option.label_in(language) for option in earlier.options()} if earlier else {}
        if condition.any_of:
            either = t.gettext("or")
            answered = f" {either} ".join(f'"{labels.get(value, value)}"' for value in condition.any_of)
        elif condition.at_most is not None and condition.at_least is not None:
            answered = t.gettext("%(low)s to %(high)s") % {"low": condition.at_least, "high": condition.at_most}
        elif condition.at_most is not None:
            answered = t.gettext("%(value)s or lower") % {"value": condition.at_most}
        else:
            answered = t.gettext("%(value)s or higher") % {"value": condition.at_least}
        parts.append(
            t.gettext("Answer only if you answered %(answers)s to question %(number)s.")
            % {"answers": answered, "number": numbers[condition.question]}
        )
    if question.kind is QuestionKind.free_text:
        hint = question.hint_in(language)
        parts.append(hint or t.gettext("Write your answer in the box."))
    else:
        parts.append(t.gettext("Tick one box."))
    return " ".join(parts)


@dataclass(frozen=True)
class LetterQuestion:
    """One question on a letter in each of its languages (in the letter's order): text and note per language,
    and the boxes to tick labelled in all of them (none for a question answered in writing)."""

    number: int
    texts: tuple[tuple[str, str], ...]  # (language, text)
    notes: tuple[tuple[str, str], ...]
    boxes: tuple[str, ...]


@dataclass(frozen=True)
class LetterView:
    """A letter laid out in its languages: its wording in each, then its questions."""

    letter: PrintedLetter
    wordings: tuple[Wording, ...]
    questions: tuple[LetterQuestion, ...]

    @property
    def first(self) -> Wording:
        return self.wordings[0]

    @property
    def html_lang(self) -> str:
        return f"{self.letter.languages[0]}-GB"


def letter_view(letter: PrintedLetter) -> LetterView:
    languages = letter.languages
    per_language = [printed_questions(letter.survey, language) for language in languages]
    questions = []
    for parts in zip(*per_language, strict=True):
        questions.append(
            LetterQuestion(
                number=parts[0].number,
                texts=tuple(zip(languages, (part.text for part in parts), strict=True)),
                notes=tuple(zip(languages, (part.note for part in parts), strict=True)),
                boxes=tuple(_bilingual(labels) for labels in zip(*(part.options for part in parts), strict=True)),
            )
        )
    return LetterView(
        letter=letter,
        wordings=tuple(wording(letter, language) for language in languages),
        questions=tuple(questions),
    )


def _bilingual(parts: Sequence[str], joiner: str = " / ") -> str:
    """The same text in each language once: "Bodlon iawn / Very satisfied", "5" (not "5 / 5")."""
    return joiner.join(dict.fromkeys(parts))


# --- HTML -------------------------------------------------------------------------------------------------


@cache
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("surveys", "templates/letters"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
    )
    # The letter's text comes from its `Wording` (gettext in Python, one catalogue per language on the page).
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


# The page's one stylesheet, inline so a letter saved from the browser prints the same; the content security policy
# allows exactly this text by its hash (`LETTER_CSP`). Positions are those of the PDF.
LETTER_STYLE = """
@page { size: A4; margin: 0; }
* { box-sizing: border-box; }
html { background: #f3f2f1; }
body { margin: 0; font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #0b0c0c;
  line-height: 1.35; }
.sheet { position: relative; width: 210mm; min-height: 297mm; margin: 0 auto; padding: 15mm 20mm 20mm;
  background: #fff; }
.masthead { display: flex; justify-content: space-between; height: 30mm; }
.council { font-size: 14pt; font-weight: bold; margin: 0; }
.reference { text-align: right; margin: 0; }
.recipient { position: absolute; left: 20mm; top: 50mm; width: 85mm; height: 35mm; font-style: normal;
  font-size: 11pt; overflow: hidden; }
.qr { position: absolute; left: 150mm; top: 45mm; width: 40mm; margin: 0; text-align: center; font-size: 8pt; }
.qr svg { width: 40mm; height: 40mm; display: block; margin: 0 auto; }
.link { word-break: break-all; }
h1 { margin: 63mm 0 2mm; font-size: 13pt; }
h2 { font-size: 10pt; margin: 0; }
.heading-again { font-size: 13pt; margin: 3mm 0 2mm; }
.questions { padding-left: 5mm; margin: 2mm 0; }
.questions > li { margin-bottom: 2mm; }
.note { font-size: 8.5pt; margin: 0 0 1mm; }
.boxes { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 1mm 6mm; }
.box { display: inline-block; width: 3.6mm; height: 3.6mm; border: 1px solid #0b0c0c; margin-right: 2mm;
  vertical-align: -0.5mm; }
.write-in { border: 1px solid #0b0c0c; height: 16mm; }
.footnote { font-size: 8pt; margin-top: 4mm; }
@media print { html { background: none; } .sheet { margin: 0; } }
"""
LETTER_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(LETTER_STYLE.encode()).digest()).decode()
    + "'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def letter_html(letter: PrintedLetter) -> str:
    """One letter as a print-ready HTML page (A4, printed from a browser at 100%); serve it with `LETTER_CSP`."""
    view = letter_view(letter)
    label = view.first.qr_label
    svg = qr_code(letter.short_url).svg_inline(scale=4, border=4, title=label, omitsize=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    context: dict[str, Any] = {"view": view, "letter": letter, "qr": svg, "style": LETTER_STYLE}
    return _templates().get_template("letter.html.j2").render(context)


# --- PDF --------------------------------------------------------------------------------------------------

# A Unicode TrueType font (names and Welsh place names need more than Latin-1): DejaVu Sans, or Liberation Sans.
_FONT_CANDIDATES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
)
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/liberation-sans"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)


class LetterFontMissing(ConfigurationError):
    slug = "letter-font-missing"
    title = "No font to print letters with"


@cache
def letter_font() -> tuple[Path, Path]:
    """The regular and bold font files letters are printed in."""
    for regular, bold in _FONT_CANDIDATES:
        for folder in _FONT_DIRS:
            if (folder / regular).is_file() and (folder / bold).is_file():
                return folder / regular, folder / bold
    raise LetterFontMissing(
        "Printing letters needs the DejaVu Sans or Liberation Sans font: install fonts-dejavu-core "
        "(Debian, Ubuntu) or dejavu-sans-fonts (Fedora, RHEL)."
    )


PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 210.0, 297.0, 20.0
# The window of a DL envelope (110 x 220 mm; window 90 x 45 mm, 20 mm from the left and 15 mm from the bottom)
# over an A4 sheet folded in three: the address block starts 20 mm from the left and 50 mm from the top.
ADDRESS_LEFT, ADDRESS_TOP, ADDRESS_WIDTH, ADDRESS_HEIGHT = 20.0, 50.0, 85.0, 35.0
QR_LEFT, QR_TOP, QR_SIZE = 150.0, 45.0, 40.0


class _LetterPdf(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        regular, bold = letter_font()
        self.add_font("Letter", "", str(regular))
        self.add_font("Letter", "B", str(bold))
        self.set_margins(MARGIN, 15, MARGIN)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_creator("civicvoice")
        self.set_lang(f"{language}-GB")


def _write(pdf: FPDF, text: str, *, size: float = 10, bold: bool = False, height: float = 4.6) -> None:
    pdf.set_font("Letter", "B" if bold else "", size)
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _letter_page(pdf: _LetterPdf, letter: PrintedLetter) -> None:
    view = letter_view(letter)
    first = view.first
    pdf.add_page()
    pdf.set_title(f"Survey letters from {letter.council_name}")
    # Heading band: who it is from, and the reference.
    pdf.set_xy(MARGIN, 15)
    pdf.set_font("Letter", "B", 14)
    pdf.cell(100, 7, letter.council_name)
    pdf.set_font("Letter", "", 10)
    pdf.set_xy(110, 15)
    pdf.cell(80, 6, f"{first.reference_label} {letter.printed_reference}", align="R")
    pdf.set_xy(110, 21)
    pdf.cell(80, 6, first.dated, align="R")

    # The address, where the envelope window shows it.
    pdf.set_xy(ADDRESS_LEFT, ADDRESS_TOP)
    pdf.set_font("Letter", "", 11)
    lines = [letter.name, *letter.address] if letter.name else list(letter.address)
    pdf.multi_cell(ADDRESS_WIDTH, 4.8, "\n".join(lines), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # The QR code to the web version; its link is printed in words under the introduction, on one line.
    pdf.image(io.BytesIO(qr_png(letter.short_url)), x=QR_LEFT, y=QR_TOP, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(QR_LEFT, QR_TOP + QR_SIZE)
    pdf.set_font("Letter", "", 8)
    pdf.multi_cell(QR_SIZE, 3.6, "\n".join(w.qr_caption for w in view.wordings), align="C")

    pdf.set_y(ADDRESS_TOP + ADDRESS_HEIGHT + 8)
    for part in view.wordings:  # Welsh first on a bilingual letter, then English
        _write(pdf, part.heading, size=13, bold=True, height=6)
        if part.reminder:
            _write(pdf, part.reminder, bold=True)
        _write(pdf, part.paragraph)
        pdf.ln(1)
    _write(pdf, f"{_bilingual([w.online for w in view.wordings])} {letter.short_url}", bold=True, height=6)
    pdf.ln(1)
    for question in view.questions:
        text = "\n".join(dict.fromkeys(text for _, text in question.texts))
        _write(pdf, f"{question.number}. {text}", bold=True, height=5)
        _write(pdf, "\n".join(dict.fromkeys(note for _, note in question.notes)), size=8.5, height=3.8)
        if question.boxes:
            _boxes(pdf, question.boxes)
        else:
            top = pdf.get_y() + 1
            pdf.rect(MARGIN, top, PAGE_WIDTH - 2 * MARGIN, 16)
            pdf.set_y(top + 17)
        pdf.ln(1.5)
    pdf.set_font("Letter", "", 8)
    # The footnote sits at the foot of the page, below the page-break line, so it never starts a page of its own.
    footnote = "\n".join(w.footnote for w in view.wordings)
    pdf.set_auto_page_break(auto=False)
    pdf.set_y(PAGE_HEIGHT - 20 - 7.2 * (len(view.wordings) - 1))
    pdf.multi_cell(0, 3.6, footnote, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_auto_page_break(auto=True, margin=15)


def _boxes(pdf: FPDF, options: Sequence[str]) -> None:
    """Tick boxes laid out left to right, wrapping to a new row when the next one does not fit."""
    pdf.set_font("Letter", "", 9.5)
    left, right = MARGIN, PAGE_WIDTH - MARGIN
    x, y = left, pdf.get_y() + 1
    for label in options:
        width = 4 + 2 + pdf.get_string_width(label) + 6
        if x + width > right and x > left:
            x, y = left, y + 6
        pdf.rect(x, y + 0.5, 3.6, 3.6)
        pdf.set_xy(x + 5.5, y)
        pdf.cell(width - 5.5, 4.6, label)
        x += width
    pdf.set_xy(left, y + 6)


def letters_pdf(letters: Sequence[PrintedLetter]) -> bytes:
    """A print batch: one PDF, one A4 page per letter (a bilingual letter may need two), in the order given."""
    welsh_first = bool(letters) and all(letter.languages[0] == WELSH for letter in letters)
    pdf = _LetterPdf(WELSH if welsh_first else ENGLISH)
    for letter in letters:
        _letter_page(pdf, letter)
    return bytes(pdf.output())
