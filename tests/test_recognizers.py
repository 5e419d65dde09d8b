"""Each recognizer module's own examples, as a table: what it must find in a text (the exact
span) and what it must leave alone. The examples the modules' comments give are here, so a
changed pattern is checked against the cases it was written for. The full analyzer (NER, name
evidence, overlaps) is tested in test_deidentify.py; these run one recognizer alone."""

from __future__ import annotations

import pytest

from etl.stages.deidentify.recognizers import (
    AddressLineRecognizer,
    BankAccountRecognizer,
    BirthDateRecognizer,
    CuedCardRecognizer,
    IbanShapeRecognizer,
    InternationalAddressRecognizer,
    LabelledPhoneRecognizer,
    LuhnCardRecognizer,
    NameLexiconRecognizer,
    PhoneFormatRecognizer,
    SignatureNameRecognizer,
    SocialHandleRecognizer,
    StreetAddressRecognizer,
    TrunkPrefixPhoneRecognizer,
    identifier_recognizer,
)

# (recognizer, text, the span it must find, or None: it must find nothing)
EXAMPLES = {
    "us_address": [
        (
            StreetAddressRecognizer,
            "send it to 1075 West Peachtree Street NW, Atlanta, GA 30309",
            "1075 West Peachtree Street NW, Atlanta, GA 30309",
        ),
        (StreetAddressRecognizer, "PSC 1234, Box 5678\nAPO AE 09876", "PSC 1234, Box 5678\nAPO AE 09876"),
        (StreetAddressRecognizer, "I earned 50 reward points today", None),
    ],
    "address": [
        (
            InternationalAddressRecognizer,
            "ship it to Ørbækvej 96, 2300 København S, Denmark",
            "Ørbækvej 96, 2300 København S, Denmark",
        ),
        (InternationalAddressRecognizer, "Deliver to Nico-Flantz-Straße 1-6, please", "Nico-Flantz-Straße 1-6"),
        (InternationalAddressRecognizer, "Deliver to 847, rue Costa please", "847, rue Costa"),
        (InternationalAddressRecognizer, "Who won the 2020 World Series", None),
        (AddressLineRecognizer, "Personal Info: rue Mark, Tamara, France 21833", "rue Mark, Tamara, France 21833"),
        (
            AddressLineRecognizer,
            "Best,\nAna\nPiazza Morpurgo, 63, Lama Di Setta, Italy 20853",
            "Piazza Morpurgo, 63, Lama Di Setta, Italy 20853",
        ),
        (AddressLineRecognizer, "We ate at 3 places in Rome, Italy and loved it", None),
    ],
    "phones": [
        (PhoneFormatRecognizer, "call 302-652-5610-Office today", "302-652-5610"),
        (TrunkPrefixPhoneRecognizer, "Text me at 0151 23456789 when the new menu drops", "0151 23456789"),
        (LabelledPhoneRecognizer, "Tel: (089) 2543835", "(089) 2543835"),
        (LabelledPhoneRecognizer, "377998940 (mobile)", "377998940"),
        (LabelledPhoneRecognizer, "Call me on (056) 5565512 x1373 if the driver gets lost", "(056) 5565512 x1373"),
        (LabelledPhoneRecognizer, "The total was 1234567 at 12:30", None),
    ],
    "cards": [
        (LuhnCardRecognizer, "my card 4539 1488 0343 6467 was charged", "4539 1488 0343 6467"),
        (LuhnCardRecognizer, "order 4716 2210 9988 1234 arrived", None),  # checksum fails, no cue
        (CuedCardRecognizer, "my card 4716 2210 9988 1234 got charged twice", "4716 2210 9988 1234"),
    ],
    "banking": [
        (BankAccountRecognizer, "My account number is 40182277 for the refund.", "40182277"),
        (BankAccountRecognizer, "I ordered 40182277 grams", None),
        (IbanShapeRecognizer, "Refund it to IBAN GB33 BUKB 2020 1555 5555 55 please", "GB33 BUKB 2020 1555 5555 55"),
    ],
    "dates": [
        (BirthDateRecognizer, "I was born 03/14/1987 so I get the discount", "03/14/1987"),
        (BirthDateRecognizer, "Date of birth: March 14, 1987.", "March 14, 1987"),
        (BirthDateRecognizer, "ordered on 03/14/2026", None),
    ],
    "person": [
        (NameLexiconRecognizer, "this was ordered by bartholomew fennimore for the office", "bartholomew fennimore"),
        (SignatureNameRecognizer, "Best regards,\nCarolina Girschner\nTeacher", "Carolina Girschner"),
        (SignatureNameRecognizer, "Cheers,\nSent by Lieke W. van Ham (l@example.org)", "Lieke W. van Ham"),
        (SignatureNameRecognizer, "Loved the bowl, thanks for asking", None),
    ],
    "handles": [
        (
            SocialHandleRecognizer,
            "my profile is https://www.linkedin.com/in/ophelia-vantassel-4412 ok",
            "https://www.linkedin.com/in/ophelia-vantassel-4412",
        ),
    ],
    "identifiers": [
        (
            lambda: identifier_recognizer("ORDER_NUMBER", [r"\bHB-\d{6}\b"], ["order"]),
            "order HB-592914 is late",
            "HB-592914",
        ),
    ],
}
ENTITY = {
    "us_address": "STREET_ADDRESS",
    "address": "STREET_ADDRESS",
    "phones": "PHONE_NUMBER",
    "cards": "CREDIT_CARD",
    "banking": None,
    "dates": "DATE_OF_BIRTH",
    "person": "PERSON",
    "handles": "SOCIAL_HANDLE",
    "identifiers": "ORDER_NUMBER",
}
CASES = [(kind, *case) for kind, cases in EXAMPLES.items() for case in cases]


@pytest.mark.parametrize(("kind", "make", "text", "span"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_recognizer_finds_its_examples_and_leaves_the_rest(kind, make, text, span):
    recognizer = make()
    entities = [ENTITY[kind]] if ENTITY[kind] else recognizer.supported_entities
    found = [text[r.start : r.end] for r in recognizer.analyze(text, entities, None) or []]
    if span is None:
        assert found == []
    else:
        assert span in found, found


def test_a_gated_recognizer_must_list_every_pattern_so_a_rename_cannot_drop_a_gate():
    from presidio_analyzer import Pattern

    from etl.stages.deidentify.recognizers import GatedPatternRecognizer

    class Renamed(GatedPatternRecognizer):
        GATED = {"street": "number"}

        def __init__(self) -> None:
            super().__init__(supported_entity="STREET_ADDRESS", patterns=[Pattern("street line", r"\d+ Main", 0.5)])
            self.set_gates({})

    with pytest.raises(ValueError, match=r"unlisted \['street line'\], unknown \['street'\]"):
        Renamed()


# (text, the candidate span, is it a name, the rule that decides)
NAME_DECISIONS = [
    ("Cheers,\nSent by Lieke W. van Ham (l@example.org)", "Lieke W. van Ham", True, "signature"),
    ("I had the Ham sandwich", "Ham", False, "food, firm or place"),
    ("my name is Beaufort and I ordered", "Beaufort", True, "food, firm or place"),  # a place, but introduced
    ("my name is Quenby and I ordered", "Quenby", True, "introduced or in a role"),
    ("hey its olivia thompson again", "olivia thompson", True, "greeted"),
    ("Efimiya, can I please speak to your boss?", "Efimiya", True, "addressed at the start"),
    ("Thanks,\nThe Healthy Bites Team", "The Healthy Bites Team", False, "greeted"),  # no signature: common words
]


@pytest.mark.parametrize(("text", "value", "expected", "rule"), NAME_DECISIONS)
def test_each_name_decision_names_the_rule_that_made_it(text, value, expected, rule):
    from etl.stages.deidentify.names import NameEvidence
    from etl.text.people import name_lexicon

    evidence = NameEvidence(*name_lexicon(), set(), [])
    start = text.index(value)
    assert evidence.decide(text, start, start + len(value), []) == (expected, rule)
