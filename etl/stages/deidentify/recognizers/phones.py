"""Phone numbers by shape, by national trunk prefix (libphonenumber) and by label."""

from __future__ import annotations

import re

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

from etl.stages.deidentify.surrogates import split_extension

# Digits a phone number is not glued to; a word may follow it ("302-652-5610-Office").
NO_DIGIT_BEFORE = r"(?<![\w+.$/-])"
NO_DIGIT_AFTER = r"(?![\d$]|[.,-]\d)"
EXTENSION = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?"
NATIONAL_GROUPS = (
    r"(?:\(0?\d{1,4}\)\s?\d{2,5}(?:[ .-]\d{2,5}){0,3}"  # (021) 8106-014, (03) 5300 2469
    r"|0\d{1,4}(?:[ .-]\d{2,5}){1,4}"  # 052 948 46 74, 046-8275895, 0680 390 92 93
    r"|\d{2,5}(?:[ .-]\d{2,4}){2,4}"  # 67 501 36 56, 51 196 19 99, 772 616 930
    r"|\d{2}(?:\.\d{2}){4})"  # 03.91.12.17.13
)
PHONE_WORDS = [
    "phone",
    "call",
    "calling",
    "called",
    "text",
    "mobile",
    "cell",
    "fax",
    "office",
    "desk",
    "tel",
    "number",
    "reach",
    "registered",
    "answering",
    "contact",
    "ring",
    "dial",
    "whatsapp",
    "sms",
    "home",
    "work",
]
PHONE_CONTEXT = re.compile(r"\b(?:" + "|".join(PHONE_WORDS) + r")\b", re.IGNORECASE)
LOCAL_NUMBER_AFTER_CUE = regex.compile(  # `regex`: a variable-width look-behind
    r"\b(?:call|ring|text|reach|phone|tel|telephone|mobile|cell|fax|messages?)\b[^\n\d]{0,16}?(?:\n\s*)?"
    r"(?<!\d[\s.-]?)(?P<number>\d{2,4}(?:[ .-]\d{2,4}){1,3})(?![ .-]?\d)",
    regex.IGNORECASE,
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{5}-\d{4}")  # a date or a ZIP+4, not a phone


class PhoneFormatRecognizer(PatternRecognizer):
    """Phone numbers by their written shape, for what the phonenumbers-based recognizer
    (US region only, for speed) rejects: numbers with unassigned area codes, glued-on words
    ("302-652-5610-Office"), 001 and +1 prefixes and extensions ("001-136-984-8578",
    "(031)951-0392x4517"), international numbers, and the national formats of other
    countries, grouped by spaces, dashes or dots, with or without a leading 0. Two groups
    alone ("9175 3554") count only with a context word beside them."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="PhoneFormatRecognizer",
            patterns=[
                Pattern(
                    "north american",
                    NO_DIGIT_BEFORE
                    + r"(?:(?:\+?1|001)[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{4}"
                    + EXTENSION
                    + NO_DIGIT_AFTER,
                    0.6,
                ),
                Pattern(
                    "north american with prefix",
                    NO_DIGIT_BEFORE
                    + r"(?:\+?1|001)[\s.-]?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}"
                    + EXTENSION
                    + NO_DIGIT_AFTER,
                    0.6,
                ),
                Pattern(
                    "international",
                    NO_DIGIT_BEFORE
                    + r"\+\d{1,3}(?:[\s.-]?\(?0?\d{1,4}\)?){1,2}(?:[\s.-]?\d{2,4}){2,4}"
                    + EXTENSION
                    + NO_DIGIT_AFTER,
                    0.55,
                ),
                Pattern(
                    "uk national", NO_DIGIT_BEFORE + r"\(?0\d{3,4}\)?[\s-]?\d{3}[\s-]?\d{3,4}" + NO_DIGIT_AFTER, 0.5
                ),
                Pattern("national groups", NO_DIGIT_BEFORE + NATIONAL_GROUPS + EXTENSION + NO_DIGIT_AFTER, 0.4),
                Pattern("two groups", NO_DIGIT_BEFORE + r"\d{2,5}[ .-]\d{3,7}" + NO_DIGIT_AFTER, 0.2),
            ],
            context=PHONE_WORDS,
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        """Context read from the raw text on both sides: presidio's enhancer reads only the
        words before a match and skips spaCy stop words, "call" among them ("call me at
        9822 3749", "9380 6377 office")."""
        results = super().analyze(text, entities, nlp_artifacts, regex_flags) + self._local_numbers(text)
        for result in results:
            window = text[max(0, result.start - 40) : result.start] + " " + text[result.end : result.end + 25]
            if PHONE_CONTEXT.search(window):
                result.score = min(1.0, result.score + 0.35)
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results

    def _local_numbers(self, text: str) -> list[RecognizerResult]:
        """Six or seven digits in groups right after a phone cue ("call me at 85 99 60",
        "Phone: 467 3395"): a local number. Without the cue such digits are as often a price,
        a count or an order number, so the shape alone never counts."""
        found = []
        for match in LOCAL_NUMBER_AFTER_CUE.finditer(text):
            if 6 <= sum(c.isdigit() for c in match.group("number")) <= 7:
                found.append(
                    RecognizerResult(
                        "PHONE_NUMBER",
                        match.start("number"),
                        match.end("number"),
                        0.6,
                        analysis_explanation=None,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return found

    def validate_result(self, pattern_text: str) -> bool | None:
        # an extension ("x00806") is not part of the number's length
        digits = sum(c.isdigit() for c in split_extension(pattern_text)[0])
        if ISO_DATE.fullmatch(pattern_text.strip()):
            return False
        return None if 8 <= digits <= 15 else False


# A national number written with its trunk prefix 0, as Europe writes mobiles and landlines:
# "0151 23456789", "030/1234567", "06-12345678": 9 to 12 digits in at most three groups
TRUNK_NUMBER = NO_DIGIT_BEFORE + r"0\d{1,4}(?:[ /.-]?\d{2,9}){1,2}" + NO_DIGIT_AFTER
PHONE_REGIONS = ("GB", "DE", "FR", "NL", "IT", "ES", "AT", "CH", "BE", "IE", "AU", "IN")


class TrunkPrefixPhoneRecognizer(PatternRecognizer):
    """Numbers other countries write the national way (US numbers are PhoneRecognizer's and
    PhoneFormatRecognizer's): the shape above, kept when libphonenumber (the `phonenumbers`
    package presidio uses) reads it as a valid number of one of PHONE_REGIONS."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="TrunkPrefixPhoneRecognizer",
            patterns=[Pattern("trunk prefix national", TRUNK_NUMBER, 0.45)],
            context=PHONE_WORDS,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        import phonenumbers

        digits = sum(c.isdigit() for c in pattern_text)
        if not 9 <= digits <= 12 or ISO_DATE.fullmatch(pattern_text.strip()):
            return False
        for region in PHONE_REGIONS:
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(pattern_text, region)):
                    return None
            except phonenumbers.NumberParseException:
                continue
        return False


# A number its label calls a phone, whatever its national shape ("Tel: (089) 2543835",
# "377998940 (mobile)", "37836789040-Cell"): 7 to 15 digits right after or before the label.
PHONE_LABEL_BEFORE = (
    r"(?:\b(?:tel|telephone|phone|ph|mobile|mob|cell|fax|landline|whatsapp)\.?[ \t]*(?:no\.?|number|#)?[ \t]*[:.]?"
    r"|\b(?:call|text|ring|reach|phone|contact|whatsapp)(?:[ \t]+(?:me|us|him|her))?[ \t]+(?:on|at))[ \t]*"
)
PHONE_LABEL_AFTER = r"[ \t]*(?:-|\(|/)?[ \t]*(?:office|mobile|cell|work|home|fax|landline|direct)\b"
LABELLED_DIGITS = r"\+?\(?\d[\d \t().-]{5,22}\d"


class LabelledPhoneRecognizer(PatternRecognizer):
    """Phone numbers in any national format where a label beside them says what they are: a
    signature's "Tel:" line or a number glued to "-Office" (the shapes presidio's and ours miss
    when they are no country's valid layout). 7 to 15 digits, nothing but separators between."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="LabelledPhoneRecognizer",
            patterns=[
                Pattern(
                    "labelled before", rf"(?<={PHONE_LABEL_BEFORE}){LABELLED_DIGITS}{EXTENSION}{NO_DIGIT_AFTER}", 0.6
                ),
                Pattern("labelled after", rf"{NO_DIGIT_BEFORE}{LABELLED_DIGITS}(?={PHONE_LABEL_AFTER})", 0.6),
            ],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = sum(c.isdigit() for c in pattern_text)
        if not 7 <= digits <= 15 or ISO_DATE.fullmatch(pattern_text.strip()):
            return False
        return None
