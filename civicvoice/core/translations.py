"""The gettext catalogues (``civicvoice/translations/<lang>/LC_MESSAGES/messages.po``), compiled in memory by
Babel: the pages' fixed text through Jinja (`civicvoice.app`), and fixed text a feature sends as data (the chat
widget's buttons and messages) through `translator`."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

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
def _catalogues() -> dict[str, Translations]:
    return load_translations()


def translator(language: str) -> Callable[[str], str]:
    """``gettext`` for one language: the message itself when the language has no catalogue or no translation.
    Bind it to ``_`` so Babel's extractor finds the messages (babel.cfg)."""
    found = _catalogues().get(language)
    if found is None:
        return str
    return found.gettext
