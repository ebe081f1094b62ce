"""Redaction of comments shown to staff: identifiers disappear, the rest of the comment stays readable."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.redaction import (
    DEFAULT_RULES,
    AddressRule,
    BankDetailsRule,
    DateOfBirthRule,
    EmailRule,
    MaskingRule,
    NameRule,
    NationalInsuranceRule,
    NHSNumberRule,
    PaymentCardRule,
    PhoneRule,
    PostcodeRule,
    find_identifiers,
    redact,
)


def full_width(text: str) -> str:
    """``text`` as typed on a full-width (East Asian) keyboard."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def arabic_indic(text: str) -> str:
    return "".join(chr(0x0660 + int(ch)) if ch.isdigit() else ch for ch in text)


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("Email me at jo.bloggs@example.org.uk please", "Email me at [email removed] please"),
        ("Contact O'Brien+council@Sub.Example.CO.UK.", "Contact [email removed]."),
        ("(jo_b@example.com)", "([email removed])"),
        ("write to zoë@exämple.de", "write to [email removed]"),
        ("07911123456@example.org", "[email removed]"),
        (full_width("jo@example.org"), "[email removed]"),
    ],
)
def test_email_addresses_are_removed(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    "number",
    [
        "07911 123456",
        "07911123456",
        "07911-123-456",
        "+44 7911 123456",
        "+447911123456",
        "+44 (0)7911 123456",
        "0044 7911 123456",
        "(020) 7946 0018",
        "020 7946 0018",
        "0161 496 0123",
        "0800 123 4567",
        "+1 202-555-0143",
        "+33 6 12 34 56 78",
        "+91 98765 43210",
        "07700 900123",
        full_width("07911 123456"),
        arabic_indic("07911 123456"),
    ],
)
def test_phone_numbers_are_removed(number: str) -> None:
    assert redact(f"Ring me on {number} after 5pm.") == "Ring me on [phone removed] after 5pm."


@pytest.mark.parametrize(
    "postcode",
    [
        "SW1A 1AA",
        "sw1a 1aa",
        "M1 1AE",
        "B33 8TH",
        "CR2 6XH",
        "DN55 1PT",
        "EC1A 1BB",
        "W1A 0AX",
        "B338TH",
        "GIR 0AA",
    ],
)
def test_full_postcodes_are_removed(postcode: str) -> None:
    assert redact(f"I live at {postcode}, by the park") == "I live at [postcode removed], by the park"


@pytest.mark.parametrize("ni_number", ["AB 12 34 56 C", "AB123456C", "ab 12 34 56 c", "JG-10-32-87-A"])
def test_national_insurance_numbers_are_removed(ni_number: str) -> None:
    assert redact(f"My NI is {ni_number}.") == "My NI is [NI number removed]."


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5500 0000 0000 0004",
        "3782 822463 10005",
        "6011 0009 9013 9424",
        "4222222222222",
        "6304 0000 0000 0000 018",
    ],
)
def test_card_numbers_passing_luhn_are_removed(card: str) -> None:
    assert redact(f"I paid with {card} twice!") == "I paid with [card number removed] twice!"


@pytest.mark.parametrize(
    "comment",
    [
        "5 stars, very helpful",
        "I waited 2 weeks for a reply",
        "It took 10 days in 2024 and again in 2025",
        "The fee went up from £20 to £1,250.50",
        "Collected at 10:30 on 01/02/2024, 2024-02-01",
        "Ring 999 in an emergency or 101 otherwise",
        "0 out of 10, would not recommend",
        "Order 123456789 and case ref 12345678901234",
        "Reference 4111 1111 1111 1112 failed the Luhn check",
        "Score 9.5/10 and 100% satisfied",
        "The SW1A district office",
        "QQ 12 34 56 C is the HMRC example, not a real NI number",
        "M25 was closed for 3 hours",
        "Email us (not a real address): @example.org or name@",
    ],
)
def test_ordinary_numbers_and_words_are_left_alone(comment: str) -> None:
    assert redact(comment) == comment


def test_a_comment_with_several_identifiers_keeps_its_words() -> None:
    comment = (
        "Jo here (jo@example.org, 07911 123456) at B33 8TH. NI AB123456C. "
        "You charged my card 4111 1111 1111 1111 £20 twice in 2 weeks. 1 star."
    )
    assert redact(comment) == (
        "[name removed] here ([email removed], [phone removed]) at [postcode removed]. NI [NI number removed]. "
        "You charged my card [card number removed] £20 twice in 2 weeks. 1 star."
    )


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (EmailRule(), "jo@example.org"),
        (PhoneRule(), "07911 123456"),
        (PostcodeRule(), "B33 8TH"),
        (NationalInsuranceRule(), "AB123456C"),
        (PaymentCardRule(), "4111 1111 1111 1111"),
    ],
)
def test_each_rule_removes_only_its_own_kind(rule: MaskingRule, kept: str) -> None:
    comment = "jo@example.org / 07911 123456 / B33 8TH / AB123456C / 4111 1111 1111 1111"
    shown = redact(comment, rules=[rule])
    assert kept not in shown
    assert shown.count("removed]") == 1


def test_rules_have_distinct_names() -> None:
    names = [rule.name for rule in DEFAULT_RULES]
    assert len(set(names)) == len(names) == 10


def test_a_custom_rule_can_be_added_behind_the_same_interface() -> None:
    class HousingReference:
        name = "housing_reference"

        def mask(self, text: str) -> str:
            return text.replace("HR-77", "[reference removed]")

    rules: list[MaskingRule] = [*DEFAULT_RULES, HousingReference()]
    assert redact("HR-77 and jo@example.org", rules=rules) == "[reference removed] and [email removed]"


def test_no_rules_means_no_change() -> None:
    assert redact("jo@example.org", rules=[]) == "jo@example.org"


# Comments with no digits, no "@" and no Latin letter cannot hold any identifier we mask (names and streets
# are written in Latin letters, typed as ASCII or full-width).
_LATIN = "".join(chr(code) for code in [*range(65, 91), *range(97, 123)])
plain_words = st.text(
    alphabet=st.characters(
        exclude_categories=["Nd", "Cs"],
        exclude_characters="@\uff20" + _LATIN + "".join(chr(ord(ch) + 0xFEE0) for ch in _LATIN),
    )
)


@given(plain_words)
def test_comments_without_identifiers_are_unchanged(comment: str) -> None:
    assert redact(comment) == comment


# Everyday words, some of them also surnames, months or street words, in any order: without a title, a cue,
# a first name or a house number none of them is a name or an address.
ordinary_words = st.lists(
    st.sampled_from(
        [
            "the",
            "bins",
            "were",
            "not",
            "collected",
            "on",
            "Tuesday",
            "and",
            "it",
            "be",
            "fixed",
            "very",
            "helpful",
            "staff",
            "period",
            "May",
            "Hope",
            "so",
            "rude",
            "slow",
            "Council",
            "Tax",
            "Road",
            "Street",
            "at",
            "phone",
            "I",
            "waited",
            "weeks",
            "Park",
            "for",
            "Green",
            "Brown",
            "in",
            "April",
            "Hall",
            "Long",
            "Day",
        ]
    ),
    max_size=30,
)


@given(ordinary_words)
def test_everyday_words_are_not_taken_for_names(words: list[str]) -> None:
    comment = " ".join(words)
    assert redact(comment) == comment


words = st.text(alphabet="abcdefghij .,!?£", max_size=20)


@given(
    before=words,
    after=words,
    national=st.from_regex(r"7[4-9][0-9]{8}", fullmatch=True),
    prefix=st.sampled_from(["0", "+44 ", "0044 ", "+44 (0)"]),
)
def test_a_phone_number_anywhere_in_a_sentence_is_removed(before: str, after: str, national: str, prefix: str) -> None:
    shown = redact(f"{before} {prefix}{national[:4]} {national[4:]} {after}")
    assert "[phone removed]" in shown
    assert national[4:] not in shown


@given(
    before=words,
    after=words,
    local=st.from_regex(r"[a-z0-9._+-]{1,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9]{1,10}\.(org\.uk|gov\.uk|com)", fullmatch=True),
)
def test_an_email_anywhere_in_a_sentence_is_removed(before: str, after: str, local: str, domain: str) -> None:
    shown = redact(f"{before} {local}@{domain} {after}")
    assert "@" not in shown
    assert "[email removed]" in shown


@given(st.text())
def test_redacting_twice_changes_nothing_more(comment: str) -> None:
    once = redact(comment)
    assert redact(once) == once


HOSTILE = {
    "letters": "a" * 100_000,
    "dots": "a." * 50_000,
    "ats": "a@" * 50_000,
    "long domain": "x@" + "a-" * 50_000,
    "unfinished domain": "x@" + "a." * 50_000 + "-",
    "digits": "1" * 100_000,
    "spaced digits": "1 " * 50_000,
    "spaced zeros": "0 " * 50_000,
    "dashed zeros": "0-" * 50_000,
    "pluses": "+1" * 50_000,
    "brackets": "(0" * 50_000,
    "near postcodes": "SW1A 1" * 16_000,
    "near NI numbers": "AB 12 34 56 " * 8_000,
    "near phones": "07911 12345 " * 8_000,
    "near cards": "4111 1111 1111 111 " * 5_000,
    "mixed": "a@b.c 07911 1 SW1A AB12 4111 " * 3_000,
    "non-ASCII": "\u0660 \u00e9 \uff0b" * 20_000,
    "every code point": "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x20000))),
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_of_100k_characters_completes(text: str) -> None:
    # Backtracking regexes would take hours here; finishing at all is the check.
    shown = redact(text)
    assert isinstance(shown, str)


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("My name is Sarah Jenkins, please ring", "My name is [name removed], please ring"),
        ("my name is john smith", "my name is [name removed]"),
        ("My name's Zbigniew and I rang twice", "My name's [name removed] and I rang twice"),
        ("Mrs Patel at the desk was kind", "Mrs [name removed] at the desk was kind"),
        ("Ask Mr. Okafor or Mrs J Smith", "Ask Mr. [name removed] or Mrs [name removed]"),
        ("Mrs May and Mr Hall replied", "Mrs [name removed] and Mr [name removed] replied"),
        ("I spoke to Dave, then Sarah Jones", "I spoke to [name removed], then [name removed]"),
        ("Thanks Will, and Grace at the desk", "Thanks [name removed], and [name removed] at the desk"),
        ("Karen's team fixed it", "[name removed]'s team fixed it"),
        ("Cllr Marsh promised a reply", "Cllr [name removed] promised a reply"),
        ("a lady called maureen answered", "a lady called [name removed] answered"),
    ],
)
def test_names_are_removed_and_titles_stay(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    "comment",
    [
        "Will someone please call me back?",
        "Grace period of 14 days",
        "Frank and honest advice, Christian charity shop",
        "The Brown bins and Green bins",
        "Bins missed in April, May and June",
        "I spoke to Housing and then to Customer Services",
        "Hope you can fix it by Monday",
        "Long wait. Day two of no heating. Hall lights broken.",
    ],
)
def test_words_that_are_also_names_stay_without_context(comment: str) -> None:
    assert redact(comment) == comment


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("I live at 12 Acacia Avenue, Leeds", "I live at [address removed], Leeds"),
        ("Flat 3, 45 High Street has damp", "[address removed] has damp"),
        ("Room 101, Flat 3, 12 High Street", "[address removed]"),
        ("Write to 14b Victoria Road please", "Write to [address removed] please"),
        ("send to flat 2 at 9 orchard road", "send to flat 2 at [address removed]"),
        ("Flat 9, Jubilee Court is not emptied", "[address removed] is not emptied"),
        ("I live on Acacia Avenue", "I live on [address removed]"),
    ],
)
def test_street_addresses_are_removed(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    "comment",
    [
        "Potholes on Station Road for 8 months",
        "Parked in Level 2 Car Park for 3 hours",
        "Bus 42 was late, 3 weeks running",
        "10 green bins and 2 blue ones",
    ],
)
def test_streets_without_a_home_stay(comment: str) -> None:
    assert redact(comment) == comment


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("DOB 12/03/1980", "DOB [date of birth removed]"),
        ("d.o.b. 01-01-55, claim pending", "d.o.b. [date of birth removed], claim pending"),
        ("I was born on 3 March 1980", "I was born on [date of birth removed]"),
        ("born on the 4th of May 1985!", "born on the [date of birth removed]!"),
        ("My date of birth is May 4, 1985.", "My date of birth is [date of birth removed]."),
        ("Born in 1949, no internet", "Born in [date of birth removed], no internet"),
        ("birthday is 25 December", "birthday is [date of birth removed]"),
    ],
)
def test_dates_of_birth_are_removed_and_the_cue_stays(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("sort code 12-34-56 account 12345678", "sort code [sort code removed] account [account number removed]"),
        ("Bank: 20-00-00, acc 55779911.", "Bank: [sort code removed], acc [account number removed]."),
        ("refund to 30-96-17 12345678 please", "refund to [sort code removed] [account number removed] please"),
        ("s/c 309634 a/c 0192 8374", "s/c [sort code removed] a/c [account number removed]"),
        ("account number is 00123456", "account number is [account number removed]"),
    ],
)
def test_bank_details_are_removed(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    "comment",
    [
        "My account ref is 99887766 for the council tax",
        "Order 12345678 arrived on 12-03-24",
        "Case ref 4500123456 is still open",
        "I went to the shop on 12-03-24 with 12345678 in my head",
        "Closed on the bank holiday, 26-12-24, and again on 01-01-25",
    ],
)
def test_numbers_without_a_bank_cue_stay(comment: str) -> None:
    assert redact(comment) == comment


@pytest.mark.parametrize(
    ("comment", "shown"),
    [
        ("NHS number 943 476 5919", "NHS number [NHS number removed]"),
        ("my nhs no 9434765919.", "my nhs no [NHS number removed]."),
        ("Number 401-023-2137 for the GP", "Number [NHS number removed] for the GP"),
    ],
)
def test_nhs_numbers_with_a_valid_check_digit_are_removed(comment: str, shown: str) -> None:
    assert redact(comment) == shown


@pytest.mark.parametrize(
    "comment",
    [
        "NHS number 943 476 5918 was rejected",  # wrong check digit
        "Order 9434765919 never came",  # run together, no NHS cue
        "Case ref 943 476 5919",  # a reference cue before a grouped number
    ],
)
def test_ten_digit_numbers_that_are_not_nhs_numbers_stay(comment: str) -> None:
    assert redact(comment) == comment


@pytest.mark.parametrize(
    "comment",
    [
        "Called at 10:30, waited 45 minutes, paid £45.50.",
        "Ref 12345 - case CR-2024-0012 opened on 3 March.",
        "Collected on 3 March and again on 14/02/2024 after 3 weeks.",
        "Fees went up from £40 to £55; 7 out of 10.",
        "Job number 77812, ticket 55612, complaint ref CMP-20931.",
    ],
)
def test_service_numbers_stay_readable(comment: str) -> None:
    assert redact(comment) == comment


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (NameRule(), "Sarah"),
        (AddressRule(), "12 Acacia Avenue"),
        (DateOfBirthRule(), "12/03/1980"),
        (BankDetailsRule(), "20-45-77"),
        (NHSNumberRule(), "943 476 5919"),
    ],
)
def test_each_new_rule_removes_only_its_own_kind(rule: MaskingRule, kept: str) -> None:
    comment = "I'm Sarah of 12 Acacia Avenue, DOB 12/03/1980, sort code 20-45-77, NHS number 943 476 5919"
    shown = redact(comment, rules=[rule])
    assert kept not in shown
    assert shown.count("removed]") == 1


def test_identifiers_are_reported_with_their_place_and_kind() -> None:
    comment = "I'm Sarah, DOB 12/03/1980"
    found = find_identifiers(comment, DEFAULT_RULES)
    assert [(comment[item.start : item.end], item.kind) for item in found] == [
        ("Sarah", "person_name"),
        ("12/03/1980", "date_of_birth"),
    ]


# --- Measured on comments labelled by hand -------------------------------------------------------------

LABELLED = Path(__file__).parents[2] / "fixtures" / "redaction_labelled.jsonl"
# Floors for masked words on the labelled comments. Measured when set: development part precision 1.00,
# recall 1.00 (the rules were tuned on it); held-out part precision 1.00, recall 0.91.
PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.9


def _word_counts(part: str) -> tuple[Counter[str], Counter[str]]:
    """True positives, false positives and false negatives over words, and missed words per kind."""
    counts: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    records = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    for record in records:
        if record.get("part") != part:
            continue
        text = record["text"]
        masked = [(item.start, item.end) for item in find_identifiers(text, DEFAULT_RULES)]
        for word in re.finditer(r"\w+", text):
            kinds = [
                span["kind"] for span in record["spans"] if span["start"] < word.end() and word.start() < span["end"]
            ]
            hidden = any(start < word.end() and word.start() < end for start, end in masked)
            if kinds:
                counts["tp" if hidden else "fn"] += 1
                if not hidden:
                    missed[kinds[0]] += 1
            elif hidden:
                counts["fp"] += 1
    return counts, missed


def test_labelled_comments_are_enough_and_documented() -> None:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    assert "written by the civicvoice team" in json.loads(lines[0])["about"]
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) >= 200
    assert all(record["text"][span["start"] : span["end"]].strip() for record in records for span in record["spans"])


@pytest.mark.parametrize("part", ["development", "held_out"])
def test_precision_and_recall_of_masked_words(part: str) -> None:
    counts, missed = _word_counts(part)
    precision = counts["tp"] / (counts["tp"] + counts["fp"])
    recall = counts["tp"] / (counts["tp"] + counts["fn"])
    print(f"{part}: precision {precision:.3f} recall {recall:.3f} missed by kind {dict(missed)}")
    assert precision >= PRECISION_FLOOR
    assert recall >= RECALL_FLOOR
