"""The facts a customer turn states: augmentation must never change them, and semantic
dedup never groups two questions that state different ones (etl/text/question_facts.py).

Catalog terms (dish names and the words of ingredients, allergens and diet
tags) and the words of a food and drink lexicon (off-catalog drinks and flavours:
"latte", "vanilla"), numbers of any kind (prices, quantities, times, order numbers),
capitalised names (pseudonymised customers, places, brands: a capitalised
word that is not an everyday function word, and known first names and
surnames however they are written: "this is wanda burns"), quantities in
words ("three", "half"), the words a diet question turns on ("allergies",
"gluten free", "calories", "tomorrow") and negations ("not", "no", "never",
"n't": deleting one flips the meaning). `stopwords` and
`stopwords_regex` tell nlpaug to leave their tokens alone; `of(text)` lists
them, so a variant's facts can be compared with its parent's.
"""

from __future__ import annotations

import re
from functools import cached_property

from etl.catalog import Catalog
from etl.text.people import name_lexicon
from etl.text.phrases import food_and_drink, thesaurus
from etl.text.stop_words import english_stop_words

# quantities written as words, and the words a diet or allergy question turns on
NUMBER_WORDS = {
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "dozen",
    "half",
    "double",
    "single",
    "once",
    "twice",
    "first",
    "second",
    "third",
    "noon",
    "midnight",
}
DIET_WORDS = {
    "allergy",
    "allergies",
    "allergic",
    "allergen",
    "allergens",
    "intolerant",
    "intolerance",
    "free",
    "calories",
    "calorie",
    "protein",
    "carbs",
    "carb",
    "sugar",
    "sodium",
    "fat",
    "vegan",
    "vegetarian",
    "keto",
    "paleo",
    "halal",
    "kosher",
    "spicy",
    "price",
    "cost",
    "today",
    "tomorrow",
    "tonight",
    "morning",
    "evening",
    "lunch",
    "dinner",
}
NEGATIONS = {"not", "no", "never", "nothing", "none", "nor", "without", "cannot"}
# "can't", "dont", "wasnt": a negation however it is spelt (a spelling slip can make one: "can" -> "cant")
NEGATED = re.compile(
    r"(?:ca|do|does|did|wo|is|are|was|were|could|should|would|ai|have|has|had|must|need)n['’]?t", re.IGNORECASE
)
WORD = re.compile(r"[\w$£€'’-]+")
# a number with everything glued to it: "6:30pm", "$12.50", "HB-123456", "2x"
NUMBER_SPAN = re.compile(r"[$£€]?[\w.,:/'’-]*\d[\w.,:/%'’-]*")


class ProtectedFacts:
    def __init__(self, catalog: Catalog) -> None:
        terms = set()
        for dish in catalog.dishes:
            terms.add(dish.name.lower())
            terms |= {t.lower() for t in (*dish.ingredients, *dish.allergens, *dish.diet_tags)}
        self.terms = sorted(terms, key=len, reverse=True)
        self.words = {w for term in terms for w in re.findall(r"\w+", term) if len(w) > 2}
        # pseudonyms are often written in lower case ("this is wanda burns"): a known first name
        # or surname that is not an everyday word is a name however it is written
        firsts, lasts = name_lexicon()
        self.names = frozenset(firsts | lasts)
        # what a customer orders is a fact even off the catalog ("a vanilla oat milk latte"):
        # the words of the food and drink lexicon de-identification uses are protected too
        self.words |= {w for phrase in food_and_drink().phrases for w in phrase.split() if len(w) > 2}

    @cached_property
    def stopwords(self) -> set[str]:
        # a set: nlpaug only asks `token in stopwords`, and the name lexicon has tens of thousands
        words = self.words | NEGATIONS | NUMBER_WORDS | DIET_WORDS | self.names
        return words | {w.capitalize() for w in words} | {w.upper() for w in words}

    @cached_property
    def stopwords_regex(self) -> str:
        # tokens are whitespace-separated ("free?", "6:30pm"): a protected word with punctuation
        # around it, a token with a digit or a currency sign, or a capitalised word (a name, a place)
        from retrie.trie import Trie

        # as a trie (one branch per shared prefix): nlpaug matches this four times per token,
        # and a flat alternation of the lexicon's thousands of words cost 28 of augment's 152 s
        protected = Trie()
        protected.add(*(self.words | NEGATIONS | NUMBER_WORDS | DIET_WORDS))
        words = protected.pattern()
        # and a token with punctuation glued to it: moved or cut, "latte," ends a sentence mid-way
        # (nlpaug also tries each token with a space on either side: \s is not punctuation)
        # a hyphenated word is protected when one of its parts is: "sugar-free", "dairy-free"
        compound = r"[\w'’]+-"
        return rf"(?i:^\W*(?:{compound})*(?:{words})(?:-[\w'’]+)*\W*$)|^.*[\d$£€].*$|^\W*[A-Z][\w'’-]*\W*$|^.*[^\w\s'’-].*$"

    def of(self, text: str) -> tuple[str, ...]:
        """The protected facts of a text in the order it states them: catalog terms
        (case-insensitive), numbers, capitalised words, negations. In order, not as a bag: a word
        swap that moves "sugar-free" from "a latte with sugar-free vanilla." into the next sentence
        keeps every fact and still changes the order."""
        lower = text.lower()
        found: list[tuple[int, str]] = []
        for match in self.term_pattern.finditer(lower):
            found.append((match.start(), "term:" + re.sub(r"[\s-]+", " ", match.group())))
        for match in NUMBER_SPAN.finditer(text):
            found.append((match.start(), "number:" + match.group().rstrip(".,")))
        for match in WORD.finditer(text):
            token = match.group()
            if any(c.isdigit() for c in token):
                continue
            if (token[0].isupper() or token.lower() in self.names) and token.lower() not in self.everyday:
                found.append((match.start(), "name:" + token))
            elif token.lower() in NEGATIONS or NEGATED.fullmatch(token):
                found.append((match.start(), "negation"))
            elif self.is_protected_word(token.lower()) or self.is_protected_compound(token.lower()):
                found.append((match.start(), "word:" + token.lower()))
        return tuple(key for _, key in sorted(found))

    def is_protected_word(self, word: str) -> bool:
        return word in NUMBER_WORDS or word in DIET_WORDS or word in self.words

    def is_protected_compound(self, word: str) -> bool:
        """ "sugar-free", "non-fat": a hyphenated word with a protected part that is not an
        everyday word ("drop-off" is a synonym of "delivery", not a drink)."""
        return "-" in word and any(self.is_protected_word(p) and p not in self.everyday for p in word.split("-"))

    @cached_property
    def term_pattern(self) -> re.Pattern[str]:
        """Every catalog term in one pattern, longest first; "gluten-free" is written "gluten free" too."""
        alternatives = (r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", term)) for term in self.terms)
        return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")

    @cached_property
    def everyday(self) -> set[str]:
        """Capitalised only for starting a sentence or for emphasis: not names."""
        return set(english_stop_words()) | {w for group in thesaurus() for phrase in group for w in phrase.split()}
