"""Whether a span a recognizer calls PERSON is a person's name: evidence, not capitals.

spaCy's small model calls most capitalised words it does not know a person ("one Chai
Latte", "the Halibut", "Bigelow"), and a rare capitalised word is as often a dish, a
drink, a town or a restaurant as a name. A span is kept as a name only with evidence:

- a cue in the text before it: "my name is", "this is", "call me", "ask for", a role
  ("our server Heimer"), a title ("Mrs."), a sign-off dash, or "for <name>" when an
  order is placed for someone ("a mocha for Jean, please");
- or a name lexicon (Faker's first and last names) agreeing with the NER model, or with
  a first-name-then-last-name shape;
- or the NER model on a full name of rare words ("Einojuhani Pyysalo"), or on a word
  English hardly uses that is addressed ("Serdar, can I ...");
- or its place in the sentence: spoken to or about ("said Calle to David"), owning
  personal data ("Hilmija's address"), naming a thing ("the Kaczmarek novel"), or listed
  with a name ("Johannessen, Pugh and Chung", "They had 6: Pista, Gary, ...").

And it is never a name when it lies in a food or drink name (Corpora's food lists, a
reviewed supplement and the catalog), a company, chain or brand, or a place (GeoNames
cities, US states and counties, countries), unless an introduction says so ("my name
is Ginger"). Known customer and agent names are matched elsewhere (spans.known_value_hits),
within their own record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import RecognizerResult

from etl.stages.deidentify.name_context import NameContext
from etl.stages.deidentify.name_cues import (
    ADDRESSED_AFTER,
    FOR,
    GREETING,
    INITIAL_FOLLOWS,
    INTRODUCTION,
    OBJECT_BEFORE,
    ORDER_TAIL,
    ORDERED_FOR_ZIPF,
    RARE_ZIPF,
    ROLE,
    ROLE_AFTER,
    SENTENCE_START,
    SIGNATURE_NAME_RE,
    SIGNED,
    SPEECH_AFTER,
    SPEECH_BEFORE,
    VOCATIVE_AFTER,
    VOCATIVE_BEFORE,
    WITH_INITIAL,
)
from etl.stages.deidentify.name_lists import ListedNames
from etl.stages.deidentify.name_words import NameWords
from etl.text.people import name_lexicon
from etl.text.phrases import PhraseSet, companies, food_and_drink, places, words_of


@dataclass(frozen=True)
class Candidate:
    """A span offered as a name, with what the rules read about it."""

    text: str
    start: int
    end: int
    words: list[str]
    before: str  # the 40 characters before it
    introduced: bool  # right after an introduction ("my name is", a title, a sign-off dash)
    first_name: bool  # its first word is a known first name
    capitalised: bool
    looks_like_a_name: bool

    @property
    def value(self) -> str:
        return self.text[self.start : self.end]

    @staticmethod
    def of(evidence: NameEvidence, text: str, start: int, end: int, ner_spans, other_spans) -> Candidate:
        words = words_of(text[start:end])
        before = text[max(0, start - 40) : start]
        first_name = bool(words) and words[0].removesuffix("'s") in evidence.firsts
        capitalised = text[start].isupper()
        return Candidate(
            text, start, end, words, before, INTRODUCTION.search(before) is not None,
            first_name, capitalised, capitalised or first_name,
        )  # fmt: skip


class NameEvidence(ListedNames, NameWords, NameContext):
    """Keeps a PERSON span only when the text gives evidence that it is a person's name."""

    def __init__(
        self, firsts: frozenset[str], lasts: frozenset[str], business_words: set[str], dish_names: list[str]
    ) -> None:
        from wordfreq import zipf_frequency

        self.firsts, self.lasts = firsts, lasts
        # first names of English- and Spanish-speaking customers: alone, evidence of a name even
        # when the word is fairly common in English ("Eric"); other locales' names only when rare
        self.core_firsts = name_lexicon(core=True)[0]
        self.any_lasts = name_lexicon(with_common=True)[1]
        self.business_words = {w.lower() for w in business_words}
        self.food = food_and_drink()
        self.food_as_written = PhraseSet(self.food.phrases, plurals=False)
        self.dishes = PhraseSet.of(dish_names)
        self.companies = companies()
        self.places = places()
        self.zipf = lru_cache(maxsize=200_000)(lambda word: zipf_frequency(word, "en"))

    def keep(
        self,
        text: str,
        results: list[RecognizerResult],
        ner_spans: list[tuple[int, int]],
        other_spans: list[tuple[int, int]] = (),
    ) -> list[RecognizerResult]:
        """`ner_spans`: what the NER model calls a person; `other_spans`: what it calls a place,
        an organisation, a product or a work (evidence against a name of rare words)."""
        names = {
            id(r)
            for r in results
            if r.entity_type == "PERSON" and self.is_name(text, r.start, r.end, ner_spans, other_spans)
        }
        # "Kleist and Arnold", "Bártová, Short and Alvarez": listed with a name, a rare word or a
        # surname is one too; until no more join ("Johannessen, Pugh and Chung")
        while joined := {
            id(r)
            for r in results
            if r.entity_type == "PERSON" and id(r) not in names and self._listed_with(text, r, results, names)
        }:
            names |= joined
        names |= self._paired_names(text, [r for r in results if r.entity_type == "PERSON"])
        kept = [r for r in results if r.entity_type != "PERSON" or id(r) in names]
        kept += self._list_neighbours(text, [r for r in kept if r.entity_type == "PERSON"])
        return kept + self._repeated(text, [r for r in kept if r.entity_type == "PERSON"])

    def is_name(
        self,
        text: str,
        start: int,
        end: int,
        ner_spans: list[tuple[int, int]],
        other_spans: list[tuple[int, int]] = (),
    ) -> bool:
        return self.decide(text, start, end, ner_spans, other_spans)[0]

    def decide(
        self,
        text: str,
        start: int,
        end: int,
        ner_spans: list[tuple[int, int]],
        other_spans: list[tuple[int, int]] = (),
    ) -> tuple[bool, str]:
        """Whether text[start:end] is a person's name, and the rule that decided: the first rule
        of NAME_RULES with an answer. Their order is the logic (a signature before the food
        check, the food check before the cues that would take "Ham" for a name)."""
        span = Candidate.of(self, text, start, end, ner_spans, other_spans)
        if not span.words:
            return False, "no words"
        for name, rule in NAME_RULES:
            answer = rule(self, span)
            if answer is not None:
                return answer, name
        return self._lexicon_agrees(text, start, end, span.words, ner_spans, other_spans), "lexicon and NER agree"

    # Each rule answers True (a name), False (not one) or None (no say: the next rule is asked).

    def _full_name_with_known_surname(self, c: Candidate) -> bool | None:
        # "Liberal A Aranda": the shape of a full name ending in a known surname, though a place starts it
        if (
            WITH_INITIAL.fullmatch(c.value)
            and c.capitalised
            and c.words[-1].removesuffix("'s") in self.lasts
            and not any(self._ordinary(w) for w in c.words if len(w) > 1)
            and not self._food_or_firm(c.text, c.start, c.end)
        ):
            return True
        return None

    def _signature(self, c: Candidate) -> bool | None:
        # the writer's name in a signature, even where a word of it means something ("van Ham")
        if (
            SIGNED.search(c.before)
            and SIGNATURE_NAME_RE.fullmatch(c.value)
            and self._signed_name(c.text, c.start, c.end)
        ):
            return True
        return None

    def _food_firm_or_place(self, c: Candidate) -> bool | None:
        if self._not_a_person(c.text, c.start, c.end):
            return c.introduced and c.looks_like_a_name and len(c.words) == 1
        return None

    def _introduced_or_in_a_role(self, c: Candidate) -> bool | None:
        text, end = c.text, c.end
        introduces_self = VOCATIVE_BEFORE.search(c.before) and re.match(r",?\s+here\b", text[end:])  # "Pete here, ..."
        if c.introduced or ROLE.search(c.before) or ROLE_AFTER.match(text, end) or introduces_self:
            # "my name is My E Lundberg": an ordinary first word, then an initial and a word
            return c.looks_like_a_name and (
                not self._ordinary(c.words[0]) or (c.introduced and INITIAL_FOLLOWS.match(text, end) is not None)
            )
        return None

    def _owns_personal_data(self, c: Candidate) -> bool | None:
        if self._owner_of_personal_data(c.text, c.end, c.words):
            return c.capitalised and not self._ordinary(c.words[0].removesuffix("'s"))
        return None

    def _with_an_initial(self, c: Candidate) -> bool | None:
        if (
            WITH_INITIAL.fullmatch(c.value)
            and c.capitalised
            and not any(self._ordinary(w) for w in c.words if len(w) > 1)  # "A." is an initial
        ):
            return True
        return None

    def _speaks_or_spoken_to(self, c: Candidate) -> bool | None:
        if (
            SPEECH_BEFORE.search(c.before)
            or SPEECH_AFTER.match(c.text, c.end)
            or self._speaker_label(c.text, c.start, c.end)
        ):
            # a rare word or a known name that speaks or is spoken to is a person
            return c.capitalised and all(
                w.removesuffix("'s") in self.firsts
                or w.removesuffix("'s") in self.any_lasts
                or self.zipf(w) < RARE_ZIPF
                for w in c.words
            )
        return None

    def _person_by_syntax_rule(self, c: Candidate) -> bool | None:
        if len(c.words) == 1 and c.capitalised and self._person_by_syntax(c.text, c.end, c.before):
            return self._name_like(c.words[0].removesuffix("'s"))
        return None

    def _ordered_for(self, c: Candidate) -> bool | None:
        if FOR.search(c.before) and ORDER_TAIL.match(c.text, c.end):
            return c.first_name or (c.capitalised and self.zipf(c.words[0]) < ORDERED_FOR_ZIPF)
        return None

    def _greeted(self, c: Candidate) -> bool | None:
        if not GREETING.search(c.before):
            return None
        words = c.words
        if c.capitalised:
            surname = words[-1].removesuffix("'s")
            lexicon_name = c.first_name or surname in self.lasts or (len(words) > 1 and surname in self.any_lasts)
            # "hey its Raj Whitfield again": a full name with one known name word in it
            known_word = len(words) > 1 and any(w in self.firsts or w in self.any_lasts for w in words)
            return lexicon_name or known_word or all(self.zipf(w) < RARE_ZIPF for w in words)
        # "hey its olivia thompson again": a lower-case first name, then a surname or a pause
        return c.first_name and (
            len(words) > 1 or re.match(r"\s*(?:$|[,.!?]|again\b|here\b)", c.text[c.end :]) is not None
        )

    def _vocative(self, c: Candidate) -> bool | None:
        if c.first_name and c.capitalised and VOCATIVE_BEFORE.search(c.before) and VOCATIVE_AFTER.match(c.text, c.end):
            return True
        return None

    def _addressed_at_the_start(self, c: Candidate) -> bool | None:
        if (  # "Efimiya, can I please speak to your boss?": a rare word addressed at the start
            len(c.words) == 1
            and c.capitalised
            and SENTENCE_START.search(c.before)
            and ADDRESSED_AFTER.match(c.text, c.end)
            and self.zipf(c.words[0]) < RARE_ZIPF
        ):
            return True
        return None

    def _addressed_after_an_object(self, c: Candidate) -> bool | None:
        if (  # "leave me Hleb, four hungry children": spoken to, right after the object of the verb
            len(c.words) == 1
            and c.capitalised
            and OBJECT_BEFORE.search(c.before)
            and VOCATIVE_AFTER.match(c.text, c.end)
        ):
            return self._name_like(c.words[0])
        return None

    def _place_business_or_inside_a_name(self, c: Candidate) -> bool | None:
        if len(c.words) == 1 and (
            self._locative(c.before, c.first_name)
            or self._business_possessive(c.text, c.end, c.words)
            or self._inside_other_name(c.text, c.start, c.end)
        ):
            return False
        return None


# NameEvidence.decide asks these in order; the first with an answer decides, and its name is the reason.
NAME_RULES = [
    ("full name ending in a known surname", NameEvidence._full_name_with_known_surname),
    ("signature", NameEvidence._signature),
    ("food, firm or place", NameEvidence._food_firm_or_place),
    ("introduced or in a role", NameEvidence._introduced_or_in_a_role),
    ("owns personal data", NameEvidence._owns_personal_data),
    ("name with an initial", NameEvidence._with_an_initial),
    ("speaks or is spoken to", NameEvidence._speaks_or_spoken_to),
    ("person by syntax", NameEvidence._person_by_syntax_rule),
    ("ordered for", NameEvidence._ordered_for),
    ("greeted", NameEvidence._greeted),
    ("vocative", NameEvidence._vocative),
    ("addressed at the start", NameEvidence._addressed_at_the_start),
    ("addressed after an object", NameEvidence._addressed_after_an_object),
    ("place, business or inside a name", NameEvidence._place_business_or_inside_a_name),
]
