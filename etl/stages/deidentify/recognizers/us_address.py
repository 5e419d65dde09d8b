"""US street addresses (presidio has none): street, unit, city, state and ZIP; military addresses."""

from __future__ import annotations

from presidio_analyzer import Pattern

from etl.stages.deidentify.recognizers.address_parts import NOT_AFTER_DIGITS, UNIT, address_tail
from etl.stages.deidentify.recognizers.common import GatedPatternRecognizer

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
STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|"
    "PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|AA|AE|AP|PR|GU|VI"
)
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
