"""The facts a single customer question turns on, so that semantic dedup only groups
questions that ask the same thing.

Sentence embeddings score "I'm looking for a vegan meal, what do you suggest?" and "...a
vegetarian meal..." at 0.909 with the packaged MiniLM, "do you deliver on Sundays?" and
"...on Saturdays?" at 0.90: above the rephrasing threshold, though each asks for different
recommendations or a different answer. Two questions conflict when each states a fact the
other does not (a dish, ingredient, allergen or diet word, a drink, a number, a negation, a
weekday, one of the business's places). One that only lacks a fact the other states does not
conflict: a typo ("lemon hrb chicken") or lower case hides a catalog term, and that question is
still a rephrasing.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np

from etl.catalog import Catalog
from etl.text.facts import NEGATED, NEGATIONS, NUMBER_SPAN, WORD, ProtectedFacts

WEEKDAY = re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b")


class QuestionFacts:
    """Read from the lower-cased text, word by word: "Lemon Herb Chicken" and "lemon hrb
    chicken" then state the same words, less the misspelt one."""

    def __init__(self, catalog: Catalog) -> None:
        self.protected = ProtectedFacts(catalog)
        self.catalog = catalog

    def of(self, text: str) -> frozenset[str]:
        lower = text.lower()
        facts = {"number:" + m.group().rstrip(".,") for m in NUMBER_SPAN.finditer(lower)}
        for token in WORD.findall(lower):
            if token in NEGATIONS or NEGATED.fullmatch(token):
                facts.add("negation")
            elif self._stated(token):
                facts.add("word:" + _one_name(token))
        facts |= {"day:" + m.group(1) for m in WEEKDAY.finditer(lower)}
        if self.places:
            facts |= {"place:" + m.group() for m in self._place_pattern.finditer(lower)}
        return frozenset(facts)

    def _stated(self, token: str) -> bool:
        # a catalog, diet or food-and-drink word, not one every question has (the food
        # lexicon's phrases bring "the", "and", "with")
        protected = self.protected
        if any(c.isdigit() for c in token) or token in protected.everyday:
            return False
        return protected.is_protected_word(token) or protected.is_protected_compound(token)

    @cached_property
    def places(self) -> list[str]:
        """What tells the business's stores apart ("midtown", "old fourth ward"): their names
        less the words every store name shares ("healthy bites"), and their cities when they differ."""
        names = [re.findall(r"[a-z]\w*", s.name.lower()) for s in self.catalog.stores]
        shared = set.intersection(*map(set, names)) if len(names) > 1 else set()
        places = {" ".join(w for w in words if w not in shared) for words in names}
        cities = {s.city.lower() for s in self.catalog.stores}
        if len(cities) > 1:
            places |= cities
        return sorted((p for p in places if p), key=len, reverse=True)

    @cached_property
    def _place_pattern(self) -> re.Pattern[str]:
        return re.compile(r"\b(?:" + "|".join(map(re.escape, self.places)) + r")\b")


# words a rephrasing uses for one thing: "what does the X cost?" asks "how much is the X?"
SAME_FACT = {
    "cost": "price",
    "costs": "price",
    "prices": "price",
    "allergy": "allergen",
    "allergies": "allergen",
    "allergic": "allergen",
    "allergens": "allergen",
    "intolerant": "intolerance",
    "carb": "carbs",
}


def _one_name(word: str) -> str:
    # "any vegan meals" and "a vegan meal", "two lattes" and "a latte" name the same thing
    if word in SAME_FACT:
        return SAME_FACT[word]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Each states a fact the other does not."""
    return bool(a - b) and bool(b - a)


def consistent_pairs(pairs: np.ndarray, facts: list[frozenset[str]]) -> np.ndarray:
    """The neighbour pairs whose questions do not conflict."""
    keep = [not conflict(facts[i], facts[j]) for i, j in pairs.tolist()]
    return pairs[np.array(keep, dtype=bool)] if len(pairs) else pairs


def split_conflicting(labels: np.ndarray, facts: list[frozenset[str]]) -> np.ndarray:
    """Clusters are connected components, so "vegan meal" and "vegetarian meal" can still meet
    through a question that states neither ("any veg meals?"). A cluster whose members conflict
    is split by their exact facts: no cluster holds two questions that ask different things."""
    labels = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(index)
    for group in members.values():
        distinct = list(dict.fromkeys(facts[i] for i in group))  # in index order: the same labels every run
        if len(distinct) < 2 or not any(conflict(a, b) for k, a in enumerate(distinct) for b in distinct[k + 1 :]):
            continue
        for value in distinct[1:]:
            for i in group:
                if facts[i] == value:
                    labels[i] = next_label
            next_label += 1
    return labels
