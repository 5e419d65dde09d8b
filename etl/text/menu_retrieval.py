"""Which catalog entries a customer's question is about: the retrieval that puts menu facts into
the prompt, the same way in the published training examples and at answer time (`etl eval`).

Customers rarely write a dish's full name. The retriever finds, in order:

1. dishes named in full ("the Paleo Power Bowl", any case): certain;
2. dishes named in part or misspelt ("the paleo bowl", "peachtre power bowl"): the words of each
   name the question spells nearly alike (difflib), weighted by how few names hold them, so
   "bowl" counts little; a dish whose found words reach NAME_MATCH of its name's weight is a
   candidate, when two of its words are found or one that states no need ("something vegan"
   names no Vegan Buddha Bowl);
3. dishes described by what is in them ("the steak one with chimichurri"): the question's
   words against each dish's ingredients and description (word TF-IDF, need and function words
   out, so "a sesame allergy" describes no dish made with sesame), reaching INGREDIENT_MATCH;
   named and described dishes are ranked together;
4. when none is named or described but the question states a need (a diet, an allergy, "under 500 calories",
   "at least 40 g of protein"), the dishes that fit it, most protein first.

At most `max_entries` dishes come back, the certain ones first, then by score. A dish's entry is
one line of catalog facts (`card`): name, price, calories, protein, diet tags, allergens and
ingredients; a prompt grounded with entries is the task's system prompt, GROUNDING_HEADER, and
one entry a line. `base_prompt` takes the entries off again (the manifest's prompt library
records the task prompt, not one question's entries).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property

import numpy as np

from etl.catalog import Catalog, Constraint, Dish, needs_in

GROUNDING_HEADER = "\n\nMenu entries for this question (from the catalog; answer from them):"
# share of a dish name's weight found in the question
NAME_MATCH = 0.30
# difflib ratio at which a question word spells a name word ("peachtre" for "peachtree": 0.94)
WORD_MATCH = 0.8
NAME_GLUE = {"and", "in", "a", "the", "with", "of"}
# wordfreq's Zipf frequency at or above which a word is English, not a misspelling
COMMON_WORD_ZIPF = 3.0
# cosine of the question with a dish's ingredients and description (words)
INGREDIENT_MATCH = 0.30
# words that alone point at no dish, beside the catalog's diets and allergens and English stop words
GENERIC_WORDS = {
    "protein", "calorie", "calories", "cal", "cals", "carb", "carbs", "meal", "meals", "dish", "dishes", "bowl",
    "plate", "menu", "food", "option", "options", "price", "cost", "order", "today", "tonight", "lunch", "dinner",
    "breakfast", "something", "anything", "good", "best", "healthy", "one", "ones", "whats", "hi", "hey", "thanks",
    "please", "pls", "want", "like", "need", "get", "got", "recommend", "suggest", "g", "gram", "grams", "kcal",
    "oz", "allergy", "allergic", "diet",
}  # fmt: skip
WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
CALORIES_UNDER = re.compile(
    r"\b(?:under|below|less than|fewer than|at most|no more than|max(?:imum)?|up to)\s+(\d{2,4})\s*(?:cal|kcal|calories)\b",
    re.IGNORECASE,
)
PROTEIN_OVER = re.compile(
    r"\b(?:at least|over|more than|above|min(?:imum)?)\s+(\d{1,3})\s*(?:g|grams?)\b(?:\s+of)?\s+protein",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Bounds:
    """Numeric limits a customer states: most calories, least protein (grams)."""

    max_calories: int | None = None
    min_protein: float | None = None

    def fits(self, dish: Dish) -> bool:
        if self.max_calories is not None and dish.calories > self.max_calories:
            return False
        return self.min_protein is None or dish.protein_g >= self.min_protein

    def __bool__(self) -> bool:
        return self.max_calories is not None or self.min_protein is not None


def bounds_in(text: str) -> Bounds:
    calories, protein = CALORIES_UNDER.search(text), PROTEIN_OVER.search(text)
    return Bounds(int(calories.group(1)) if calories else None, float(protein.group(1)) if protein else None)


def fits_request(catalog: Catalog, dish: Dish, needs: list[Constraint], bounds: Bounds) -> bool:
    """Whether a dish fits every stated diet, allergy and numeric bound."""
    return catalog.fits(dish, needs) and bounds.fits(dish)


def card(dish: Dish, money) -> str:
    """One line of catalog facts about a dish; `money` writes a price as the business does."""
    tags = ", ".join(dish.diet_tags) if dish.diet_tags else "no diet tags"
    allergens = ", ".join(dish.allergens) if dish.allergens else "none listed"
    return (
        f"{dish.name}: {money(dish.price)}; {dish.calories} calories; {dish.protein_g:g} g protein; "
        f"{tags}; allergens: {allergens}; made with {', '.join(dish.ingredients)}."
    )


def base_prompt(system_prompt: str) -> str:
    """The task's own prompt, without the entries a grounded prompt adds."""
    return system_prompt.split(GROUNDING_HEADER, 1)[0]


class MenuRetriever:
    """The catalog entries a question is about (the module docstring says how)."""

    def __init__(self, catalog: Catalog, max_entries: int = 3) -> None:
        self.catalog, self.max_entries = catalog, max_entries
        self._spelling: dict[str, frozenset[str]] = {}

    def retrieve(self, question: str) -> list[Dish]:
        return self.retrieve_many([question])[0]

    def retrieve_many(self, questions: list[str]) -> list[list[Dish]]:
        """The entries of each question (one vectorised pass over all of them)."""
        if not questions:
            return []
        # a dish named in full is certain; its words are taken out before the fuzzy passes, so
        # "the Paleo Power Bowl" does not also bring the Peachtree Power Bowl
        masked = [self._without_full_names(q) for q in questions]
        names = self._name_scores(masked)
        ingredients = self._ingredient_scores(masked)
        return [self._ranked(question, names[i], ingredients[i]) for i, question in enumerate(questions)]

    def grounded(self, system_prompt: str, question: str) -> tuple[str, list[Dish]]:
        """The system prompt with the question's entries after it, and the entries."""
        dishes = self.retrieve(question)
        return ground_prompt(system_prompt, dishes, self.catalog), dishes

    # ------------------------------------------------------------------ scoring

    def _ranked(self, question: str, names: np.ndarray, ingredients: np.ndarray) -> list[Dish]:
        """Dishes named in full first; then those named in part or described, by score (an
        ingredient match scaled to the name scale); else the ones fitting a stated need."""
        scores = np.maximum(names, ingredients * (NAME_MATCH / INGREDIENT_MATCH))
        likely = (names >= NAME_MATCH) | (ingredients >= INGREDIENT_MATCH)
        found = [
            *self.catalog.dishes_in(question),
            *_best(self.catalog.dishes, np.where(likely, scores, 0), NAME_MATCH),
        ]
        chosen = list({d.id: d for d in found}.values())
        if not chosen:
            chosen = self._fitting(question)
        return chosen[: self.max_entries]

    def _without_full_names(self, question: str) -> str:
        for start, end, _ in sorted(self.catalog.mentions(question), reverse=True):
            question = question[:start] + " " + question[end:]
        return question

    @cached_property
    def _generic_words(self) -> frozenset[str]:
        """Words that name no dish on their own: diets, allergens, nutrients, English function words."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        catalog = self.catalog
        facts = {w for phrase in [*catalog.diet_tags, *catalog.allergens] for w in WORD.findall(phrase.lower())}
        facts |= {w[:-1] for w in facts if w.endswith("s")}  # "peanut" as in "a peanut allergy"
        return frozenset(facts | GENERIC_WORDS | ENGLISH_STOP_WORDS)

    def _fitting(self, question: str) -> list[Dish]:
        """A request that names no dish: the dishes fitting its needs and bounds, most protein first."""
        needs, bounds = needs_in(question), bounds_in(question)
        if not needs and not bounds:
            return []
        fitting = [d for d in self.catalog.dishes if fits_request(self.catalog, d, needs, bounds)]
        return sorted(fitting, key=lambda d: (-d.protein_g, d.id))

    def _name_scores(self, questions: list[str]) -> np.ndarray:
        """(questions, dishes): the share of each dish name's weight its words found in the question.

        A name word is found when a question word spells it nearly alike (difflib's ratio at
        WORD_MATCH or more: "peachtre", "powr"); each name word weighs its inverse document
        frequency over the names, so "bowl", in many names, counts little. A name counts as named
        only when two of its words are found ("the paleo bowl"), or one that states no need
        ("the buddha one"): "something vegan" names no Vegan Buddha Bowl."""
        scores = np.zeros((len(questions), len(self.catalog.dishes)))
        words, weights = self._name_words
        for i, question in enumerate(questions):
            found: set[str] = set()
            for word in set(WORD.findall(question.lower())):
                found |= self._spelt_like(word)
            for j, name in enumerate(words):
                hits = [w for w in name if w in found]
                needs = [w for w in hits if w in self._generic_words]
                # a word no need explains ("buddha"), or a need with the dish's noun ("paleo bowl")
                if len(needs) < len(hits) or (needs and hits[-1] == name[-1] and len(hits) >= 2):
                    scores[i, j] = sum(weights[w] for w in hits) / sum(weights[w] for w in name)
        return scores

    def _spelt_like(self, word: str) -> frozenset[str]:
        """The name words this question word spells nearly alike (cached: questions share words)."""
        cached = self._spelling.get(word)
        if cached is None:
            # imported here: the publish stage reads this module's prompts on every run, and a
            # run without grounding never needs the word lists (0.4 s to import on 2 cores)
            from wordfreq import zipf_frequency

            vocabulary = self._name_words[1]
            # an English word is taken as written ("friend" is no misspelt "fried", "price" no
            # "rice"); only a word English hardly uses may be a misspelt name word
            fuzzy = len(word) >= 4 and zipf_frequency(word, "en") < COMMON_WORD_ZIPF
            cached = frozenset(
                w for w in vocabulary if w == word or (fuzzy and SequenceMatcher(None, word, w).ratio() >= WORD_MATCH)
            )
            self._spelling[word] = cached
        return cached

    @cached_property
    def _name_words(self) -> tuple[list[list[str]], dict[str, float]]:
        """Each dish name's words (function words out), and each word's weight: log(N / names holding it) + 1."""
        names = [[w for w in WORD.findall(d.name.lower()) if w not in NAME_GLUE] for d in self.catalog.dishes]
        held = {w: sum(w in name for name in names) for name in names for w in name}
        return names, {w: math.log(len(names) / n) + 1 for w, n in held.items()}

    def _ingredient_scores(self, questions: list[str]) -> np.ndarray:
        vectorizer, documents = self._ingredient_index
        return (vectorizer.transform(questions) @ documents.T).toarray()

    @cached_property
    def _name_index(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        names = [d.name.lower() for d in self.catalog.dishes]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True).fit(names)
        return vectorizer, vectorizer.transform(names)

    @cached_property
    def _ingredient_index(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        documents = [" ".join(d.ingredients) + " " + d.description for d in self.catalog.dishes]
        vectorizer = TfidfVectorizer(
            stop_words=sorted(self._generic_words), token_pattern=r"(?u)\b[a-z][a-z-]+\b"
        ).fit(documents)
        return vectorizer, vectorizer.transform(documents)


def _best(dishes: list[Dish], scores: np.ndarray, least: float) -> list[Dish]:
    """The dishes scoring at least `least`, best first (ties by id)."""
    return [d for _, _, d in sorted((-scores[i], d.id, d) for i, d in enumerate(dishes) if scores[i] >= least)]


def ground_prompt(system_prompt: str, dishes: list[Dish], catalog: Catalog) -> str:
    """The system prompt with one entry a line after GROUNDING_HEADER; unchanged with no entries."""
    if not dishes:
        return system_prompt
    return system_prompt + GROUNDING_HEADER + "".join(f"\n- {card(d, catalog.money)}" for d in dishes)
