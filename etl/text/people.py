"""Who a word may be: the first and last names of Faker's person providers, and the
everyday words that are names only when capitalised ("Will", "Grace", "Rice").

Shared text rules: de-identification finds names with them, and augmentation's
protected facts keep a name however it is written ("this is wanda burns").
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache

from etl.text.stop_words import english_stop_words

# Words that are also names ("Will", "Grace", "Rice") are only names when capitalised.
COMMON_WORDS = {
    "will",
    "grace",
    "hope",
    "summer",
    "mark",
    "rose",
    "may",
    "june",
    "bill",
    "art",
    "love",
    "rice",
    "long",
    "young",
    "price",
    "king",
    "brown",
    "green",
    "white",
    "black",
    "good",
    "best",
    "great",
    "sweet",
    "bowl",
    "order",
    "chef",
    "sunny",
    "honey",
    "ginger",
    "pepper",
    "olive",
    "basil",
    "sage",
    "bean",
    "hunter",
    "cook",
    "baker",
    "wolf",
    "fox",
    "lamb",
    "page",
    "ward",
    "hall",
    "bell",
    "lane",
    "street",
    "way",
    "cash",
    "card",
    "joy",
    "faith",
    "chance",
    "guy",
    "man",
    "major",
    "miles",
    "frank",
    "earnest",
    "constant",
    "noble",
    "rich",
    "son",
    "sonny",
    "august",
    "april",
    "christian",
    "don",
    "dean",
    "dawn",
    "van",
    "ray",
    "ben",
    "sal",
    "drew",
    "jack",
    "max",
    "gene",
    "pat",
    "kit",
    "cat",
    # days, months and US states are names in Faker's lists, and everyday words in orders and FAQs
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "july",
    "september",
    "october",
    "november",
    "december",
    "alabama",
    "alaska",
    "arizona",
    "california",
    "carolina",
    "dakota",
    "florida",
    "georgia",
    "virginia",
    "indiana",
    "montana",
    "nevada",
    "tennessee",
    "texas",
    "kansas",
}
LATIN_NAME = re.compile(r"[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F'\u2019-]*")


# The locales of the customers this business mostly serves; the rest widen the lexicon.
CORE_LOCALES = ("en_US", "en_GB", "en_IN", "en_IE", "en_NZ", "en", "es_MX")


@lru_cache(maxsize=4)
def name_lexicon(core: bool = False, with_common: bool = False) -> tuple[frozenset[str], frozenset[str]]:
    """Lower-cased first and last names from Faker's person providers written in Latin
    letters (romanised lists included): every locale (86) by default, customers of one
    business carry names from everywhere; with `core`, the English and Spanish ones only."""
    import pkgutil

    import faker.providers.person as person

    locales = CORE_LOCALES if core else [m.name for m in pkgutil.iter_modules(person.__path__)]
    firsts, lasts = set(), set()
    for locale in locales:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in dir(provider):
            if not (
                attribute.startswith(("first_name", "last_name")) and attribute.endswith(("s", "names_romanized"))
            ):
                continue
            names = getattr(provider, attribute)
            if not isinstance(names, (list, tuple, dict, set, frozenset)):
                continue
            target = firsts if attribute.startswith("first") else lasts
            target |= {
                n.lower()
                for n in (names.keys() if isinstance(names, dict) else names)
                if isinstance(n, str) and LATIN_NAME.fullmatch(n)
            }
    if with_common:  # "Brown" after "Tiffany" is a surname, though alone it is a colour
        return frozenset(firsts), frozenset(lasts)
    return frozenset(firsts - blocked_words()), frozenset(lasts - blocked_words())


@lru_cache(maxsize=1)
def blocked_words() -> frozenset[str]:
    return frozenset(COMMON_WORDS | english_stop_words())
