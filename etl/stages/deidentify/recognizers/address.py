"""Addresses outside the US pattern: European street lines, the town, postal code and country lines after them, whole labelled address lines, and the completion of a street over what follows it."""

from __future__ import annotations

import re
from functools import lru_cache

import regex
from presidio_analyzer import Pattern, RecognizerResult

from etl.stages.deidentify.name_cues import RARE_ZIPF
from etl.stages.deidentify.recognizers.address_parts import (
    CONNECTOR,
    LETTERS,
    NOT_AFTER_DIGITS,
    UNIT,
    UPPER_WORD,
    address_tail,
    countries_pattern,
)
from etl.stages.deidentify.recognizers.common import GatedPatternRecognizer
from etl.stages.deidentify.recognizers.us_address import CITY_STATE_ZIP, STREET

STREET_TYPES = (
    r"rue|rua|r\.|(?-i:R)|avenida|av\.|calle|c/|via|viale|piazza|corso|ul\.|ulica|utca|út|aleja|al\.|strada|rúa|carrer|"
    r"chemin|boulevard|plaza|praça|travessa|largo|trg|πλατεία|οδός|λ\.|λεωφ\.|χλμ|lungodora"
)
STREET_SUFFIXES = (
    r"vej|gatan|gata|gate|veien|vegen|vägen|väg|stigen|stígur|braut|vegur|gränd|allé|katu|kuja|tie|polku|straße|strasse|"
    r"str\.?|gasse|weg|platz|laan|straat|plein|gracht|hof|dreef|terrasse|ring|singel|kade|steeg|sträte"
)
# "Who won the 2020 World Series" is no street: a street's words are not function words
NOT_FUNCTION_WORD = (
    r"(?!(?:the|a|an|and|or|of|to|my|your|our|for|in|on|at|with|was|is|it|i|who|what|when|won|have|has|had|get|got|"
    r"order|orders|ordered|about|after|before|since|until|over|under|only|just|all|table|tables|stars?|minutes?|hours?|"
    r"days?|weeks?|years?|times?)\b)"
)
NAMED_WORDS = rf"{NOT_FUNCTION_WORD}{UPPER_WORD}(?:\s+(?:{CONNECTOR}\s+)?{NOT_FUNCTION_WORD}{UPPER_WORD}){{0,3}}"
# street words written apart from the name, before the number ("Rákóczi út 41.", "Fogd Drejers gate 93")
SEPARATE_TYPES = r"utca|út|u\.|ulica|gate|gata|gatan|veg|vei|veien|vej|terrasse|str\.?|strasse|straße|gasse|allé|tie|katu|weg|laan|straat"
EURO_STREET = (
    rf"(?:(?:{NOT_AFTER_DIGITS}\b\d{{1,6}}\s+)?(?:(?<![^\W\d_])(?:{STREET_TYPES})\s+(?:{LETTERS}\s+){{0,3}}{LETTERS}|(?:{UPPER_WORD}\s+){{0,2}}(?:[^\W\d_]+-)*[^\W\d_]*(?<=[^\W\d_]|-)(?:{STREET_SUFFIXES})"
    rf"|(?:{UPPER_WORD}\s+){{1,3}}(?:{SEPARATE_TYPES}))"
    # no street word: only after a building number, in capitalised words ("16957 Baarlandhof 68")
    rf"|{NOT_AFTER_DIGITS}\b\d{{1,6}}\s+{NAMED_WORDS})"
    r"\s+\d{1,4}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?\b\.?(?!\s*(?:%|\$|am\b|pm\b|minutes?\b|stars?\b))"
)
# the number first, French style ("46 rue Nationale", "31 rue de la Hulotais")
NUMBER_FIRST_STREET = (
    rf"{NOT_AFTER_DIGITS}\b\d{{1,6}}(?:\s+\d{{1,6}})?,?\s+(?:rue|avenue|boulevard|chemin|allée|impasse|place|quai|cours|via|calle|rua)\s+"
    rf"(?:{CONNECTOR}\s+)*{UPPER_WORD}(?:\s+(?:{CONNECTOR}\s+)*{UPPER_WORD}){{0,3}}"
)
# a building number, then the street's number and name ("4093 110 Kontomari"): only with the lines after it
TWO_NUMBER_STREET = rf"{NOT_AFTER_DIGITS}\b\d{{1,6}}\s+\d{{1,6}}[A-Za-z]?\s+{NAMED_WORDS}"
# "P.O. Box 178", after a building number or not
PO_BOX = r"(?:" + NOT_AFTER_DIGITS + r"\b\d{1,6}\s+)?\bP\.?\s?O\.?\s*Box\s+\d{1,6}"


# Postal codes as countries write them: UK ("DD85 9HP"), Canada ("R4L 6M3"), the Netherlands
# ("4534 YD"), and the digit codes of the rest ("10115", "D-10115", "12345-6789")
POSTAL_ANY = (
    r"(?:(?-i:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d|\d{4}[ \t]?[A-Z]{2})"
    r"|(?:[A-Z]{1,2}-?)?\d{4,6}(?:-\d{3,4})?)(?![\w-])"
)
ADDRESS_LABEL = (
    r"(?:^|\n)[ \t]*(?:(?:home|postal|mailing|billing|shipping|delivery|street|my)[ \t]+)?"
    r"(?:address|personal info|ship to|deliver to|send to)[ \t]*:[ \t]*"
)
# the lower-case words an address line may hold ("37, rue de Carre", "Acceso de Brenda 10")
ADDRESS_LOWER_WORDS = set(
    "rue de du des la le les di da del della dei y e et am an im bis of and van von der den ter te op aan "
    "chemin avenue boulevard allée impasse place quai cours route rue via viale piazza corso strada calle rua avenida "
    "carrer paseo plaza apt apartment flat suite unit floor no nr bus".split()
)


@lru_cache(maxsize=1)
def address_line_patterns() -> dict[str, str]:
    countries = countries_pattern()
    return {
        # everything after an address label on its line, when it holds a number
        "labelled": rf"(?<={ADDRESS_LABEL})(?=\S)[^\n]*?\d[^\n]*?(?=[ \t]*(?:\n|$))",
        # a line of comma-separated parts with a number, ending in a country and maybe its postal
        # code ("Pavel-Lehmann-Straße 9/1, Lippstadt, Germany 11628"): a signature's address line
        "country": rf"(?<=(?:^|\n)[ \t]*)(?=\S)(?=[^\n]*\d)[^\n]*?,[ \t]*(?:{countries})(?:[ \t]*,?[ \t]*{POSTAL_ANY})?(?=[ \t]*(?:\n|$))",
        # what completes a street: postal codes, towns and the country after it on its line
        "tail": rf"(?:[ \t]*,?[ \t]*(?:{UPPER_WORD}[ \t]+){{0,3}}?(?:{POSTAL_ANY}|(?:{countries})\b))+",
    }


@lru_cache(maxsize=1)
def _address_tail() -> regex.Pattern:
    return regex.compile(address_line_patterns()["tail"], regex.IGNORECASE)


def complete_addresses(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A street address grows over the postal code, town and country that follow it on its
    line ("446 Spooner Street SA8V 0GA"): whatever pattern found the street, the rest of the
    address goes with it."""
    if not any(r.entity_type == "STREET_ADDRESS" for r in results):
        return results
    grown = []
    for result in results:
        tail = _address_tail().match(text, result.end) if result.entity_type == "STREET_ADDRESS" else None
        if tail and tail.end() > result.end:
            result = RecognizerResult(
                result.entity_type,
                result.start,
                tail.end(),
                result.score,
                result.analysis_explanation,
                result.recognition_metadata,
            )
        grown.append(result)
    return grown


class AddressLineRecognizer(GatedPatternRecognizer):
    """Whole address lines, as letters and forms write them: the rest of a line after an address
    label ("Address:", "Personal Info:", "Ship to:"), and a line of comma-separated parts holding
    a number that ends in a country (its postal code before or after it), whatever the street's
    shape. A country line may hold no lower-case word but street words and connectors, so a
    sentence that mentions a country is no address."""

    GATED = {"address label": "number", "address line ending in a country": "number"}

    def __init__(self) -> None:
        lines = address_line_patterns()
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="AddressLineRecognizer",
            patterns=[
                Pattern("address label", lines["labelled"], 0.8),
                Pattern("address line ending in a country", lines["country"], 0.7),
            ],
        )
        self.set_gates({})

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        return [
            r
            for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
            if r.analysis_explanation is None
            or r.analysis_explanation.pattern_name != "address line ending in a country"
            or all(w in ADDRESS_LOWER_WORDS or len(w) < 3 for w in LOWER_WORD.findall(text, r.start, r.end))
        ]


LOWER_WORD = re.compile(r"(?<![\w'-])(?-i:[a-z\u00df-\u00ff])[^\W\d_]*")


# "The bus station is on Askelund 1", "the north side of Castelao 66": a rare capitalised name
# and a number after a word that places it; kept only when no word of it is an everyday word
PLACED_STREET = rf"(?<=\b(?:on|of|to|at|in|lives on|live on)\s)(?:{NAMED_WORDS})\s+\d{{1,4}}[A-Za-z]?\b(?!\s*(?:%|\$|am\b|pm\b|minutes?\b|stars?\b|[.,]\d))"
# "the corner of Feldstrasse 61 and Marušić Brook": both streets, whatever their form
CORNER_ANY = (
    r"\b(?:the\s+)?corner\s+of\s+(?:\d{1,6}\s+)?(?:[^\W_][\w'.-]*\s+){1,4}?(?:\d{1,4}\s+|(?:st|street|rd|road|ave)\.?\s+)?(?:st\.?\s+)?"
    r"(?:and|&)\s+(?:\d{1,6}\s+)?"
    + UPPER_WORD.removesuffix(r"\.?")
    + r"(?:\s+"
    + UPPER_WORD.removesuffix(r"\.?")
    + r"){0,3}(?:\s+\d{1,4})?"
)
# "Lucinda and Passiewijk 103": a street given as a crossing, after an address cue
CROSSING = rf"\b{UPPER_WORD}\s+(?:and|&)\s+(?:{EURO_STREET}|{NAMED_WORDS}\s+\d{{1,4}}\b)"
# "shows on Amelia Center Street": a street of two names, no number
NAMED_STREET = r"(?<=\b(?:on|at)\s)" + UPPER_WORD + r"\s+" + UPPER_WORD + r"(?=\s+(?-i:Street)\b)"
# "3037 Boulevard, East Point, GA 30344": a street named by its type alone, with a city line, or after "at"/"to"
BARE_TYPE_STREET = NOT_AFTER_DIGITS + r"\b\d{3,6}\s+(?-i:Boulevard|Avenue|Parkway|Broadway|Esplanade)\b"
# A unit line of its own ("Mrs. Christine Hertzog Suite 329 084 Billeveien 122")
UNIT_ALONE = r"\b(?-i:Apt\.|Suite|Apartment|Unit)\s+\d{1,5}\b"


class InternationalAddressRecognizer(GatedPatternRecognizer):
    """Street addresses outside the US pattern: the street line (name then number, or a building
    number first, or a post-office box), and the unit, town, region, postal code and country
    lines that follow it; street corners; unit lines on their own."""

    def __init__(self) -> None:
        tail = address_tail()
        unit, line = tail["unit"], tail["line"]
        street_line = rf"(?:{EURO_STREET}|{NUMBER_FIRST_STREET}|{TWO_NUMBER_STREET}|{PO_BOX})"
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="InternationalAddressRecognizer",
            patterns=[
                Pattern("street, town and country", street_line + tail["to_country"], 0.85),
                Pattern("street, unit and town", street_line + tail["to_town"], 0.75),
                Pattern("us street, unit and town", STREET + tail["to_town"], 0.75),
                Pattern("us street, town and country", STREET + tail["to_country"], 0.75),
                Pattern(
                    "street and town",
                    EURO_STREET + unit + r"\s*[,\n]\s*" + rf"{UPPER_WORD}(?:\s+{LETTERS}){{0,2}}\b",
                    0.4,
                ),
                Pattern("street with unit", street_line + rf"{line}?{UNIT}\.?", 0.6),
                Pattern("street corner", CORNER_ANY, 0.7),
                Pattern("placed street", PLACED_STREET, 0.2),  # raised in analyze() when its words are rare
                Pattern("unit line", UNIT_ALONE, 0.5),
                Pattern("street", EURO_STREET, 0.3),
                Pattern("street, number first", NUMBER_FIRST_STREET, 0.3),
                Pattern("crossing", CROSSING, 0.3),
                Pattern("named street", NAMED_STREET, 0.5),
                Pattern("street named by its type", BARE_TYPE_STREET + rf"(?:{CITY_STATE_ZIP})?", 0.3),
                Pattern("post-office box", PO_BOX, 0.6),
            ],
            context=[],  # read by analyze() below
        )
        self.set_gates({"street line": street_line, "us street": STREET})

    # a number, or the street line the pattern starts with
    GATED = {
        "street, town and country": "street line",
        "street, unit and town": "street line",
        "street and town": "street line",
        "street with unit": "street line",
        "street": "street line",
        "street, number first": "street line",
        "post-office box": "street line",
        "us street, unit and town": "us street",
        "us street, town and country": "us street",
        "placed street": "number",
        "unit line": "number",
        "crossing": "number",
        "street named by its type": "number",
        "street corner": None,  # "the corner of Feldstrasse and Marušić Brook" holds no number
        "named street": None,
    }

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        """Context from the raw text before the match (presidio's enhancer skips stop words such as "at");
        a placed street only when its name is no everyday word ("on Highway 9" is a road, "in Windows 10" no address)."""
        results = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            placed = (
                result.analysis_explanation is not None and result.analysis_explanation.pattern_name == "placed street"
            )
            if placed and self._everyday_words(text, result):
                continue
            if placed:
                result.score = 0.5
            results.append(result)
        for result in results:
            if ADDRESS_CONTEXT_RE.search(text[max(0, result.start - 40) : result.start]):
                result.score = min(1.0, result.score + 0.35)
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results

    @staticmethod
    def _everyday_words(text: str, result: RecognizerResult) -> bool:
        from wordfreq import zipf_frequency

        return any(
            zipf_frequency(w, "en") >= RARE_ZIPF for w in re.findall(r"[^\W\d_]+", text[result.start : result.end])
        )


ADDRESS_CONTEXT_RE = re.compile(
    r"\b(?:address|live|lives|lived|living|deliver|delivered|delivery|located|ship|shipping|billing|mail|send|sent|"
    r"office is|restaurant is|is at|are at|at|in|to|on)\b[^\n.]{0,12}\n?\s*$",
    re.IGNORECASE,
)
