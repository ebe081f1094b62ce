"""Masks identifiers in free text shown to staff: emails, phone numbers, postcodes, NI, card, NHS and bank
account numbers, sort codes, dates of birth, street addresses and people's names.

Patterns only start matching at the edge of a run and their repeats are bounded, so the work stays linear
in the length of the text whatever a respondent types. Names are found from cue words ("my name is", titles,
"spoke to") and a shipped list of first names and surnames (``privacy/data/person_names.json``), never by
guessing at capitalised words; ordinary numbers (times, amounts, counts, references) are left readable.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol


class MaskingRule(Protocol):
    """One kind of identifier and how to hide it."""

    name: str

    def mask(self, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Redaction:
    """One identifier found in a comment: its place in the original text and the label that replaces it."""

    start: int
    end: int
    kind: str
    label: str


class _Folding(dict[int, int]):
    """Maps every decimal digit to its ASCII digit, and full-width forms to ASCII, one character for one.

    Keeping the length lets matches found in the folded text be cut from the original. Only characters
    that change are cached, so a comment using every code point cannot grow the cache unboundedly.
    """

    def __missing__(self, code: int) -> int:
        char = chr(code)
        if char.isdecimal():
            folded = 48 + int(char)
        elif 0xFF01 <= code <= 0xFF5E:
            folded = code - 0xFEE0
        elif code == 0x3000:
            folded = 32
        else:
            return code
        self[code] = folded
        return folded


_FOLDING = _Folding()

# Stands in for an identifier another rule already found, so later rules neither match inside it nor take
# it for a word or a digit.
_BLANK: Final = "\x00"


def _fold(text: str) -> str:
    return text if text.isascii() else text.translate(_FOLDING)


class IdentifierRule:
    """A rule that reports where identifiers are, so redaction can be measured as well as applied.

    ``find`` reads the folded text, in which identifiers found by earlier rules are blanked out.
    """

    name: str
    label: str

    def find(self, folded: str) -> Iterator[Redaction]:
        raise NotImplementedError

    def mask(self, text: str) -> str:
        return _apply(text, find_identifiers(text, [self]))


class _PatternRule(IdentifierRule):
    """Reports every match of ``pattern`` (its ``group``) that ``_accepts``.

    Patterns run over a folded copy, so numbers typed in full-width or Arabic-Indic digits are caught too.
    """

    pattern: re.Pattern[str]
    group: int | str = 0

    def find(self, folded: str) -> Iterator[Redaction]:
        for match in self.pattern.finditer(folded):
            if self._accepts(folded, match):
                start, end = match.span(self.group)
                yield Redaction(start, end, self.name, self.label)

    def _accepts(self, folded: str, match: re.Match[str]) -> bool:
        return True


def _before(folded: str, position: int, width: int = 40) -> str:
    """The lower-cased text just before ``position``, cut at the start of its line."""
    window = folded[max(0, position - width) : position]
    return window[window.rfind("\n") + 1 :].lower()


class EmailRule(_PatternRule):
    name = "email"
    label = "[email removed]"
    # The lookbehind lets a match start only at the beginning of a run of address characters;
    # without it a long run with no "@" is rescanned from every position (quadratic time).
    pattern = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")


_PHONE_GAP = r"[ \u00a0\-()]{0,2}"


class PhoneRule(_PatternRule):
    """UK numbers written from 0 (10-11 digits) and international ones from + or 00 (8-15 digits).

    Numbers not starting with 0, + or 00 are left alone: that is what keeps "5 stars", "2024" and
    reference numbers readable.
    """

    name = "phone"
    label = "[phone removed]"
    pattern = re.compile(
        r"(?<![\d+])"
        rf"(?:(?:\+|00)\d(?:{_PHONE_GAP}\d){{6,13}}"
        rf"|\(?0\d(?:{_PHONE_GAP}\d){{8,9}})"
        r"(?!\d)"
    )


class PostcodeRule(_PatternRule):
    """Full UK postcodes (outward and inward code); an outward code alone ("SW1A") is too coarse to hide."""

    name = "postcode"
    label = "[postcode removed]"
    # Royal Mail's letter rules (no Q, V or X first; no C, I, K, M, O or V in the inward code)
    # keep words and product codes out.
    pattern = re.compile(
        r"\b(?:[A-PR-UWYZ](?:\d[\dA-HJKPSTUW]?|[A-HK-Y]\d[\dABEHMNPRVWXY]?)|GIR)"
        r" ?\d[ABD-HJLNP-UW-Z]{2}\b",
        re.IGNORECASE,
    )


class NationalInsuranceRule(_PatternRule):
    """National Insurance numbers like "QQ 12 34 56 C"; the suffix letter is required to spare references."""

    name = "ni_number"
    label = "[NI number removed]"
    pattern = re.compile(
        r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
        r"[ -]?\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D]\b",
        re.IGNORECASE,
    )


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class PaymentCardRule(_PatternRule):
    """Payment card numbers: 13-19 digits, spaces or dashes allowed, passing the Luhn check."""

    name = "card_number"
    label = "[card number removed]"
    # Card numbers never start with 0, which also keeps UK phone numbers out of this rule.
    pattern = re.compile(r"(?<![\d+])[1-9](?:[ -]?\d){12,18}(?!\d)")

    def _accepts(self, folded: str, match: re.Match[str]) -> bool:
        # Only a number passing Luhn is taken for a card; other long numbers are references staff need.
        return _passes_luhn("".join(ch for ch in match.group() if ch.isdecimal()))


# Words after which a number is one the service gave out and needs to see ("ref 12345", "case 4501234567").
_REFERENCE_CUE: Final = re.compile(
    r"\b(?:ref|reference|case|order|invoice|claim|application|booking|ticket|job|complaint|enquiry|receipt"
    r"|permit|licence|license|incident|crime|report|request|tracking|policy)\b(?:\s*(?:no|number|num|#))?\.?"
    r"(?:\s*(?:is|was))?\s*:?\s*$"
)


def _passes_nhs_check(digits: str) -> bool:
    """The NHS number check digit: modulus 11 over the first nine digits weighted 10 down to 2."""
    remainder = sum(int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = (11 - remainder) % 11
    return check != 10 and check == int(digits[9])


class NHSNumberRule(_PatternRule):
    """NHS numbers: ten digits (usually written 3-3-4) with a valid modulus 11 check digit.

    A number run together is only taken for one after an "NHS" cue; a grouped one is taken unless a
    reference cue comes right before it. About one ten-digit number in eleven passes the check by chance,
    so the cue and grouping are what keep order and case numbers readable.
    """

    name = "nhs_number"
    label = "[NHS number removed]"
    # A leading 0 is a phone number's, never an NHS number's.
    pattern = re.compile(r"(?<![\w+£$€.,/-])[1-9]\d{2}([ -]?)\d{3}\1\d{4}(?!\w|[.,/-]\d)")
    _cue = re.compile(r"\b(?:nhs|health (?:service )?(?:no|number)|chi)\b")

    def _accepts(self, folded: str, match: re.Match[str]) -> bool:
        digits = "".join(ch for ch in match.group() if ch.isdecimal())
        if not _passes_nhs_check(digits):
            return False
        before = _before(folded, match.start())
        if self._cue.search(before):
            return True
        return bool(match.group(1)) and not _REFERENCE_CUE.search(before)


class BankDetailsRule(IdentifierRule):
    """Sort codes ("12-34-56") and account numbers (6-10 digits) next to a bank cue, or written as a pair.

    Without a cue nearby neither is touched: a six-digit group could be a date, eight digits a reference.
    """

    name = "bank_details"
    label = "[bank details removed]"
    sort_code_label = "[sort code removed]"
    account_label = "[account number removed]"
    _sort_code = re.compile(r"(?<![\w£$€.,/-])\d{2}([ -]?)\d{2}\1\d{2}(?!\w|[.,/-]\d)")
    _account = re.compile(r"(?<![\w£$€.,/-])(?:\d{4} \d{4}|\d{6,10})(?!\w|[.,/-]\d)")
    # "Bank holiday" is about opening days, not money.
    _sort_code_cue = re.compile(r"\b(?:sort\s?-?code|s/c|bank(?!\s+holiday))\b")
    _account_cue = re.compile(r"\b(?:account|acc|acct|a/c|bank(?!\s+holiday))\b")
    # A sort code and account number written together: "12-34-56 12345678".
    _pair = re.compile(r"[\s,/]{1,3}(?:\d{4} \d{4}|\d{6,10})(?!\w)")

    def find(self, folded: str) -> Iterator[Redaction]:
        starts: set[int] = set()
        ends: set[int] = set()
        for match in self._sort_code.finditer(folded):
            paired = self._pair.match(folded, match.end()) is not None
            if not paired and self._inside_longer_number(folded, match):
                continue
            if paired or self._sort_code_cue.search(_before(folded, match.start())):
                starts.add(match.start())
                ends.add(match.end())
                yield Redaction(*match.span(), "sort_code", self.sort_code_label)
        for match in self._account.finditer(folded):
            if match.start() in starts:
                continue
            gap = folded[max(0, match.start() - 3) : match.start()]
            separators = len(gap) - len(gap.rstrip(" ,/\t\n"))
            after_sort_code = separators > 0 and match.start() - separators in ends
            if not after_sort_code and self._inside_longer_number(folded, match):
                continue
            before = _before(folded, match.start())
            # The cue nearest the number decides: "account ref 123456" is a reference.
            cues = list(self._account_cue.finditer(before))
            if after_sort_code or (cues and not _REFERENCE_CUE.search(before[cues[-1].end() :])):
                yield Redaction(*match.span(), "account_number", self.account_label)

    @staticmethod
    def _inside_longer_number(folded: str, match: re.Match[str]) -> bool:
        """Whether the digits are one group of a longer number ("07400 000000"), which is not bank details."""
        start, end = match.span()
        return bool(re.search(r"\d[ -]$", folded[max(0, start - 2) : start])) or bool(
            re.match(r"[ -]\d", folded[end : end + 2])
        )


_MONTH: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_ORDINAL: Final = r"(?:st|nd|rd|th)?"


class DateOfBirthRule(_PatternRule):
    """A date (or a year) right after a birth cue: "DOB 12/03/1980", "born on 3 March 1980", "born in 1952".

    The cue stays, so the reader still sees that a birth date was given; dates without a cue are left alone.
    """

    name = "date_of_birth"
    label = "[date of birth removed]"
    group = "date"
    pattern = re.compile(
        r"\b(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s?date|born|birthday)"
        r"(?:[\s:,=-]{1,3}(?:is|was|of|on|in|the|being)\b){0,3}[\s:,=-]{0,3}"
        r"(?P<date>"
        rf"\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})(?![\d/.-]\d)"
        rf"|\d{{1,2}}{_ORDINAL}(?:\s+of)?\s+{_MONTH}(?:,?\s+\d{{4}}(?!\d))?"
        rf"|{_MONTH}\s+\d{{1,2}}{_ORDINAL}(?:,?\s+\d{{4}})?(?!\d)"
        rf"|{_MONTH}\s+\d{{4}}(?!\d)"
        r"|(?:19|20)\d{2}(?!\d)"
        r")",
        re.IGNORECASE,
    )


# Last words of a street name. Lower-case addresses are only taken with the unmistakable ones.
_STREET_SUFFIX: Final = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Drive|Dr|Way|Crescent|Cres|Court|Ct|Place|Gardens|Gdns"
    r"|Terrace|Grove|Hill|Park|View|Walk|Square|Sq|Mews|Row|Green|Rise|Parade|Wharf|Vale|Boulevard|Chase"
    r"|Croft|Fields|Meadows?|Mount|Gate|Yard|Wynd|Brae|Heights|Approach|Grange|Orchard|Lea|Estate)\b"
)
_BUILDING: Final = r"(?:House|Lodge|Tower|Mansions|Buildings|Point|Cottages?|Court|Heights|Block)\b"
_NAME_WORD: Final = r"[A-Z][a-z'\u2019]+(?:-[A-Z][a-z'\u2019]+)?"
_UNIT: Final = r"(?:Flat|Apartment|Apt|Unit|Maisonette|Room)\.?\s?\d{1,4}[A-Za-z]?"
_HOUSE_NUMBER: Final = r"\d{1,4}[A-Za-z]?(?:\s?[-/]\s?\d{1,4}[A-Za-z]?)?"


class AddressRule(_PatternRule):
    """Street addresses: a house number (and flat) before a street name, or a street after "I live on".

    A street named without a number or a cue ("the potholes on Station Road") is a place, not a person's
    address, and stays.
    """

    name = "address"
    label = "[address removed]"
    pattern = re.compile(
        r"(?<![\w£$€.,:/-])"
        r"(?:"
        # Flat 3, 45 High Street / 12a Acacia Avenue / Flat 2 Rose Court
        rf"(?:{_UNIT},?\s+){{0,2}}{_HOUSE_NUMBER},?\s+(?:{_NAME_WORD}\s+){{1,3}}{_STREET_SUFFIX}"
        rf"|{_UNIT},?\s+(?:{_NAME_WORD}\s+){{1,2}}(?:{_BUILDING}|{_STREET_SUFFIX})"
        r"|\d{1,4}[a-z]?,?\s+(?:[a-z]+\s+){1,2}(?:street|road|avenue|lane|crescent|terrace|gardens)\b"
        r")"
    )
    _cued = re.compile(
        r"\b(?:(?:live[sd]?|living|reside)\s+(?:at|on|in)|moved\s+to|address\s+is:?|address:)\s+"
        rf"(?P<street>(?:{_NAME_WORD}\s+){{1,3}}{_STREET_SUFFIX})"
    )
    # Numbered things that end like a street but are not anyone's home.
    _not_homes = re.compile(r"\b(?:Car Park|Retail Park|Business Park|Industrial Estate)\b")

    def find(self, folded: str) -> Iterator[Redaction]:
        yield from super().find(folded)
        for match in self._cued.finditer(folded):
            yield Redaction(*match.span("street"), self.name, self.label)

    def _accepts(self, folded: str, match: re.Match[str]) -> bool:
        return not self._not_homes.search(match.group())


# --- People's names ------------------------------------------------------------------------------------

_NAMES_FILE: Final = Path(__file__).parent / "data" / "person_names.json"


def _word_set(text: str) -> frozenset[str]:
    """A set of words written as one string, which is how the word lists below read best."""
    return frozenset(text.split())


# Given names that are also everyday words: taken for a name only with a cue ("spoke to Will") or beside
# another name ("Grace Patel"), never on their own ("Will someone call me?").
_WORDLIKE_FIRST_NAMES: Final = _word_set(
    """
    will may mark bill grace hope joy rose summer june dawn faith amber frank pat rob art guy ray jay max
    miles glen dale dean holly ruby ivy lily daisy heather hazel jade crystal april august sky don sue jack
    penny sandy robin carol bob nick ken gene cliff drew wade reed angel precious blessing poppy jordan lee
    christian josh angus harry terry
    chelsea georgia paige kent lincoln marion norman bruce victor gill jan sam owen billy kim leigh
    florence tess fran gail jean lou mel pam val reg stan ted fred les del dom gaz baz
    """
)
# Surnames that are also everyday words: taken only when written with a capital.
_WORDLIKE_SURNAMES: Final = _word_set(
    """
    brown green white black long short day may hope hill hall wood king young price page power bell ball rose
    bird lamb fox cook field little read law west north cross bond gray lord noble smart sharp swift frost
    winter banks mills woods waters stone moss lane hunt rice ford dean kay miles
    mann dale gill wall cole hale marsh long bull fry kirk lee jordan wells booth gates close bishop
    """
)
# Capitalised words that never start or continue a name, though they often follow a cue or a name.
_NOT_NAME_PARTS: Final = _word_set(
    """
    i the a an at on in from to and but or was is were who which that this thanks thank please council housing
    team services service department office centre center reception desk customer library contact benefits
    planning revenues street road monday tuesday wednesday thursday friday saturday sunday january february
    march april may june july august september october november december he she they we you it my our your
    his her their not no yes ok very so also then when if as just still again today yesterday tomorrow madam
    dear sir all everyone everybody someone somebody staff hello hi there here tax universal credit blue badge
    nhs gp hospital school police
    """
)
# Words that cannot be a name even after a title ("Dr The", "Mr and Mrs").
_FUNCTION_WORDS: Final = _word_set("i the a an at on in from to and but or of is was my our your")
_TITLES: Final = _word_set("mr mrs ms miss mx dr cllr councillor prof rev")
# Titles that are never ordinary words, so they count written in lower case too.
_LOWER_CASE_TITLES: Final = _word_set("mr mrs ms mx cllr")
# Cues that introduce the speaker's own name; whatever capitalised word follows is a name.
_STRONG_CUES: Final = tuple(
    tuple(cue.split())
    for cue in ("my name is", "my name's", "my names", "name is", "i am called", "i'm called", "im called", "name:")
)
# Cues after which a name is likely; the word must still be in the list of names.
_WEAK_CUES: Final = tuple(
    tuple(cue.split())
    for cue in (
        "spoke to",
        "speak to",
        "speaking to",
        "spoken to",
        "spoke with",
        "talked to",
        "talking to",
        "dealt with",
        "dealt with by",
        "called",
        "named",
        "officer",
        "adviser",
        "advisor",
        "agent",
        "caseworker",
        "thanks to",
        "thank you",
        "thanks",
        "ask for",
        "asked for",
        "helped by",
        "served by",
        "seen by",
        "visited by",
        "colleague",
        "manager",
        "husband",
        "wife",
        "son",
        "daughter",
        "mum",
        "dad",
        "neighbour",
        "carer",
        "tell",
        "told",
    )
)
# Words after a name that show it was one: "Grace at the desk", "Will on reception".
_AFTER_CUES: Final = tuple(
    tuple(cue.split())
    for cue in (
        "at the desk",
        "at the front desk",
        "on the desk",
        "on the front desk",
        "on reception",
        "at reception",
        "on the phone",
        "in customer services",
        "from housing",
        "from the council",
    )
)
_WORD: Final = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


@functools.cache
def _person_names() -> tuple[frozenset[str], frozenset[str]]:
    """Lower-cased first names and surnames from the shipped list."""
    data = json.loads(_NAMES_FILE.read_text(encoding="utf-8"))
    first = frozenset(name.lower() for part in ("first_names_ons", "first_names_team") for name in data[part])
    surnames = frozenset(name.lower() for part in ("surnames_faker_en_gb", "surnames_team") for name in data[part])
    return first, surnames


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int  # end of the name itself: a possessive "'s" is not part of it
    written_end: int  # end of the word as written
    lower: str  # the word as written, lower-cased, with a typographic apostrophe as a plain one
    name: str  # the word without a possessive, lower-cased
    capitalised: bool


def _words(folded: str) -> list[_Word]:
    words = []
    for match in _WORD.finditer(folded):
        text = match.group()
        end = match.end()
        if text[-2:] in ("'s", "\u2019s") and len(text) > 2:
            text, end = text[:-2], end - 2
        words.append(
            _Word(
                match.start(),
                end,
                match.end(),
                match.group().lower().replace("\u2019", "'"),
                text.lower(),
                text[:1].isupper(),
            )
        )
    return words


class NameRule(IdentifierRule):
    """People's names: after a title or a cue, or a listed first name written with a capital.

    A surname alone ("Brown", "Hall") is only taken after a title, a cue or a first name; a first name that
    is also a word ("Will", "Grace") only after a cue, before a surname or before "at the desk".
    """

    name = "person_name"
    label = "[name removed]"

    def find(self, folded: str) -> Iterator[Redaction]:
        words = _words(folded)
        masked = [False] * len(words)
        for index in range(len(words)):
            if masked[index]:
                continue
            if self._starts_name(folded, words, index):
                masked[index] = True
                self._extend(folded, words, index, masked)
        index = 0
        while index < len(words):
            if not masked[index]:
                index += 1
                continue
            last = index
            while last + 1 < len(words) and masked[last + 1] and _joined(folded, words[last], words[last + 1]):
                last += 1
            yield Redaction(words[index].start, words[last].end, self.name, self.label)
            index = last + 1

    def _starts_name(self, folded: str, words: Sequence[_Word], index: int) -> bool:
        first_names, surnames = _person_names()
        word = words[index]
        if word.name in _FUNCTION_WORDS:
            return False
        listed = word.name in first_names or word.name in surnames
        wordlike = word.name in _WORDLIKE_FIRST_NAMES or (
            word.name not in first_names and word.name in _WORDLIKE_SURNAMES
        )
        if index and self._after_title(folded, words, index):
            # "Mrs May", "Mr Hall", "Mrs J Smith": after a title even a month, a word or an initial is a name.
            return word.capitalised or (listed and not wordlike)
        if len(word.name) < 2 or word.name in _NOT_NAME_PARTS:
            return False
        if _cue_before(folded, words, index, _STRONG_CUES_BY_LAST):
            return word.capitalised or (listed and not wordlike)
        if _cue_before(folded, words, index, _WEAK_CUES_BY_LAST):
            if word.capitalised:
                return listed
            return word.name in first_names and not wordlike
        if not word.capitalised or word.name not in first_names:
            return False
        if word.name not in _WORDLIKE_FIRST_NAMES:
            return True
        following = words[index + 1] if index + 1 < len(words) else None
        if (
            following is not None
            and following.capitalised
            and following.name in surnames
            and _joined(folded, word, following)
        ):
            return True
        return _cue_after(folded, words, index)

    @staticmethod
    def _after_title(folded: str, words: Sequence[_Word], index: int) -> bool:
        title = words[index - 1]
        if title.lower not in _TITLES or not (title.capitalised or title.lower in _LOWER_CASE_TITLES):
            return False
        return folded[title.written_end : words[index].start] in (" ", ". ", ".", "  ")

    @staticmethod
    def _extend(folded: str, words: Sequence[_Word], index: int, masked: list[bool]) -> None:
        """Take up to two more words of the same name: "Sarah Jones", "Mrs Ann Marie Okafor"."""
        first_names, surnames = _person_names()
        for following in range(index + 1, min(index + 3, len(words))):
            word, previous = words[following], words[following - 1]
            if previous.end != previous.written_end or not _joined(folded, previous, word):
                return  # a possessive ("Sarah's team") or punctuation ends the name
            if word.name in _NOT_NAME_PARTS or (len(word.name) < 2 and not word.capitalised):
                return
            if word.capitalised:
                known = word.name in first_names or word.name in surnames
                if not known and not previous.capitalised:
                    return
            elif word.name not in surnames or word.name in _WORDLIKE_SURNAMES:
                return
            masked[following] = True


def _joined(folded: str, left: _Word, right: _Word) -> bool:
    """Whether two words are written as parts of one name: one space or a hyphen between them."""
    return folded[left.end : right.start] in (" ", "-")


def _by_word(cues: Iterable[tuple[str, ...]], position: int) -> dict[str, list[tuple[str, ...]]]:
    """Cues indexed by their first or last word, so each word of a comment is checked against few of them."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for cue in cues:
        index.setdefault(cue[position], []).append(cue)
    return index


_STRONG_CUES_BY_LAST: Final = _by_word(_STRONG_CUES, -1)
_WEAK_CUES_BY_LAST: Final = _by_word(_WEAK_CUES, -1)
_AFTER_CUES_BY_FIRST: Final = _by_word(_AFTER_CUES, 0)


def _cue_before(folded: str, words: Sequence[_Word], index: int, cues: dict[str, list[tuple[str, ...]]]) -> bool:
    if not index:
        return False
    for cue in cues.get(words[index - 1].lower, ()):
        size = len(cue)
        if index < size:
            continue
        if all(words[index - size + offset].lower == part for offset, part in enumerate(cue)):
            # Only spaces, a colon or a comma between the cue and the name: "thanks, Dave", "name: Jo".
            gap = folded[words[index - 1].written_end : words[index].start]
            if len(gap) <= 3 and all(ch in " :,-" for ch in gap):
                return True
    return False


def _cue_after(folded: str, words: Sequence[_Word], index: int) -> bool:
    if index + 1 >= len(words):
        return False
    for cue in _AFTER_CUES_BY_FIRST.get(words[index + 1].lower, ()):
        size = len(cue)
        if index + size >= len(words):
            continue
        if all(words[index + 1 + offset].lower == part for offset, part in enumerate(cue)):
            return folded[words[index].written_end : words[index + 1].start] == " "
    return False


# Emails first, since an address can hold a phone number; cards, NHS and bank numbers before phones (an
# account number can start with 0); dates of birth before phones; addresses before names ("12 Smith Road").
DEFAULT_RULES: tuple[IdentifierRule, ...] = (
    EmailRule(),
    PaymentCardRule(),
    NHSNumberRule(),
    BankDetailsRule(),
    DateOfBirthRule(),
    PhoneRule(),
    NationalInsuranceRule(),
    PostcodeRule(),
    AddressRule(),
    NameRule(),
)


def find_identifiers(text: str, rules: Iterable[IdentifierRule]) -> list[Redaction]:
    """Every identifier the rules find in ``text``, in order; a rule never sees what an earlier one took."""
    folded = _fold(text)
    found: list[Redaction] = []
    for rule in rules:
        taken = list(rule.find(folded))
        if taken:
            found += taken
            folded = _blank(folded, taken)
    return sorted(found, key=lambda redaction: redaction.start)


def _blank(folded: str, taken: Iterable[Redaction]) -> str:
    pieces: list[str] = []
    kept_from = 0
    for redaction in sorted(taken, key=lambda redaction: redaction.start):
        if redaction.start < kept_from:
            continue
        pieces += (folded[kept_from : redaction.start], _BLANK * (redaction.end - redaction.start))
        kept_from = redaction.end
    pieces.append(folded[kept_from:])
    return "".join(pieces)


def _apply(text: str, redactions: Sequence[Redaction]) -> str:
    """``text`` with each redaction replaced by its label; neighbours of one kind ("Flat 3, Rose Court, 12
    High Street") become one label."""
    if not redactions:
        return text
    pieces: list[str] = []
    kept_from = 0
    previous: Redaction | None = None
    for redaction in redactions:
        if redaction.start < kept_from:
            continue
        between = text[kept_from : redaction.start]
        if previous is not None and previous.label == redaction.label and _only_separators(between):
            kept_from = redaction.end
            continue
        pieces += (between, redaction.label)
        kept_from = redaction.end
        previous = redaction
    pieces.append(text[kept_from:])
    return "".join(pieces)


def _only_separators(between: str) -> bool:
    return len(between) <= 3 and all(ch in " ,-" for ch in between)


def redact(text: str, rules: Iterable[MaskingRule] = DEFAULT_RULES) -> str:
    """``text`` with every identifier the rules recognise replaced by a label like "[email removed]"."""
    finding: list[IdentifierRule] = []
    for rule in rules:
        if isinstance(rule, IdentifierRule):
            finding.append(rule)
            continue
        text = _apply(text, find_identifiers(text, finding))
        finding = []
        text = rule.mask(text)
    return _apply(text, find_identifiers(text, finding))
