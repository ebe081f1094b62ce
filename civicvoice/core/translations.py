"""The gettext catalogues (English first, Welsh in ``translations/cy``), compiled in memory by Babel: one place
that pages (through Jinja), printed letters and the chat widget's words (from Python) take their fixed text from."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import pass_context

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def load_translations(directory: Path = TRANSLATIONS) -> dict[str, Translations]:
    """Each language's gettext catalogue (``<lang>/LC_MESSAGES/messages.po``), compiled in memory by Babel."""
    found: dict[str, Translations] = {}
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        language = po.parent.parent.name
        with po.open("rb") as source:
            catalogue = read_po(source, locale=language)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)
        compiled.seek(0)
        found[language] = Translations(compiled)
    return found


@cache
def catalogues() -> dict[str, Translations]:
    """The catalogues shipped with civicvoice, read once per process."""
    return load_translations()


def translations_for(language: str) -> NullTranslations:
    """The catalogue for ``language``; English (and a language without a catalogue) is the text as written."""
    return catalogues().get(language) or NullTranslations()


def install_translations(env: Any, translations: dict[str, Translations]) -> None:
    """Templates translate into the page's ``lang`` (English unless the page says otherwise; see base.html.j2).

    The callables receive the render context, so one environment serves every language at once."""

    def chosen(context: Any) -> Translations | None:
        return translations.get(str(context.get("lang") or "en"))

    @pass_context
    def gettext(context: Any, message: str) -> str:
        found = chosen(context)
        if found is None:
            return message
        translated = found.gettext(message)
        if translated == message and "%%" in message:
            # A {% trans %} block without variables asks for its text with each % doubled (Jinja's new-style
            # gettext formats every result); Babel's extractor keeps the catalogue's text as written.
            written = message.replace("%%", "%")
            translated_written = found.gettext(written)
            if translated_written != written:
                return translated_written.replace("%", "%%")
        return translated

    @pass_context
    def ngettext(context: Any, singular: str, plural: str, n: int) -> str:
        found = chosen(context)
        if found is not None:
            return str(found.ngettext(singular, plural, n))
        return singular if n == 1 else plural

    env.install_gettext_callables(gettext, ngettext, newstyle=True)


def translator(language: str) -> Callable[[str], str]:
    """``gettext`` for one language: the message itself when the language has no catalogue or no translation.
    Bind it to ``_`` so Babel's extractor finds the messages (babel.cfg)."""
    return translations_for(language).gettext


def N_(message: str) -> str:
    """Marks text defined ahead of use (a problem's title) for the catalogue; it is translated where it is shown."""
    return message
