"""What the words of a span say: the name lexicons and word frequencies agreeing, or not.

A part of `NameEvidence` (names.py), which holds the lexicons these methods read
(`firsts`, `lasts`, `any_lasts`, `core_firsts`, `zipf`, the food, firm and place lists)."""

from __future__ import annotations

from spacy.lang.en.stop_words import STOP_WORDS

from etl.stages.deidentify.name_cues import (
    ARTICLE,
    COMMON_ZIPF,
    CORE_FIRST_ZIPF,
    LOCATIVE,
    NAME_PARTICLES,
    NAMED_THING_AFTER,
    NEARLY_UNKNOWN_ZIPF,
    NER_FIRST_ZIPF,
    RARE_ZIPF,
    VERY_COMMON_ZIPF,
)
from etl.text.phrases import WORD


class NameWords:
    def _lexicon_agrees(
        self,
        text: str,
        start: int,
        end: int,
        span_words: list[str],
        ner_spans: list[tuple[int, int]],
        other_spans: list[tuple[int, int]] = (),
    ) -> bool:
        """A name lexicon hit on a capitalised span, or the NER model and a lexicon together."""
        found_by_ner = any(s < end and start < e for s, e in ner_spans)
        words = [w.removesuffix("'s") for w in span_words]
        if len(words) > 2:  # "Antoinetta van Teeffelen": the particle is no evidence either way
            words = [w for w in words if w not in NAME_PARTICLES] or words
        capitalised = all(
            w[:1].isupper()
            for w in WORD.findall(text[start:end])
            if len(words) == len(span_words) or w not in NAME_PARTICLES
        )
        if len(words) == 1:
            return self._one_word_agrees(words[0], text, start, end, found_by_ner, capitalised)
        surname_like = [
            w in self.lasts or w in self.firsts or len(w) == 1 or self.zipf(w) < RARE_ZIPF for w in words[1:]
        ]
        if words[0] in self.firsts and all(surname_like):
            # lower-case "lauren walker" only when neither word is an everyday word
            return capitalised or found_by_ner or not any(self.zipf(w) >= COMMON_ZIPF for w in words)
        known = [w in self.firsts or w in self.lasts for w in words]
        if found_by_ner and capitalised and any(known):
            return True
        # "Elbio Navarrete": rare capitalised words, one of them a known name
        if capitalised and any(known) and all(k or self.zipf(w) < RARE_ZIPF for k, w in zip(known, words)):
            return True
        # "Czcibor Borkowski": a full name of words English hardly ever uses; "Sonoka Miki": of rare
        # words, one English hardly ever uses, unless the NER model calls it a place or a firm, or
        # a place cue comes before it ("in Bremen Ohlenhof", "originally from Tokoza Ext")
        zipfs = [self.zipf(w) for w in words]
        if capitalised and all(z < NEARLY_UNKNOWN_ZIPF for z in zipfs):
            return True
        before = text[max(0, start - 30) : start]
        elsewhere = any(s < end and start < e for s, e in other_spans) or LOCATIVE.search(before)
        if capitalised and not elsewhere and min(zipfs) < NEARLY_UNKNOWN_ZIPF:
            if max(zipfs) < RARE_ZIPF:
                return True
            # "Marjančo Nose": the NER model on a first name English never uses, then a capitalised word
            if found_by_ner and len(words) == 2 and zipfs[0] < NEARLY_UNKNOWN_ZIPF:
                return not self._ordinary(words[1])
        return found_by_ner and capitalised and all(z < RARE_ZIPF for z in zipfs)

    def _one_word_agrees(
        self, word: str, text: str, start: int, end: int, found_by_ner: bool, capitalised: bool
    ) -> bool:
        """`_lexicon_agrees` for a span of one word."""
        if ARTICLE.search(text[max(0, start - 10) : start]):
            # "won an Oscar", "the Halibut"; but "the Johnsen novel" is a person's
            known = (
                word in self.lasts
                or word in self.firsts
                or self.zipf(word) < (RARE_ZIPF if found_by_ner else NEARLY_UNKNOWN_ZIPF)
            )
            return capitalised and known and NAMED_THING_AFTER.match(text, end) is not None
        if word in self.core_firsts:
            # the commonest first names ("James", "David") with the NER model's agreement
            limit = NER_FIRST_ZIPF if found_by_ner else CORE_FIRST_ZIPF
            return capitalised and self.zipf(word) < limit
        if word in self.firsts and self.zipf(word) < RARE_ZIPF:
            return capitalised
        if found_by_ner and capitalised and self.zipf(word) < NEARLY_UNKNOWN_ZIPF and text[end : end + 1] == ",":
            return True  # "Serdar, can I ...": addressed, and a word English hardly uses
        return found_by_ner and capitalised and word in self.lasts and self.zipf(word) < COMMON_ZIPF

    def _name_like(self, word: str) -> bool:
        """A word that could be a name on its own: a known name no everyday word, or a rare word."""
        if word in self.core_firsts:
            return self.zipf(word) < NER_FIRST_ZIPF  # "Thomas had given ...", "Paul had given ..."
        known = word in self.firsts or word in self.any_lasts
        return self.zipf(word) < (COMMON_ZIPF if known else RARE_ZIPF)

    def _ordinary(self, word: str) -> bool:
        """A word too common to be named after an introduction ("call me Back", "my friend Loved it")."""
        return word not in self.firsts and (word in STOP_WORDS or self.zipf(word) >= VERY_COMMON_ZIPF)

    def could_be_name_part(self, word: str) -> bool:
        """A word a name may grow over: a known name (any surname, "Brown" too), an initial, or a
        rare word that no food, drink, company or place list holds."""
        lower = word.lower().strip(".")
        if len(lower) == 1:
            return True
        if lower in self.firsts or lower in self.any_lasts:
            return True
        return (
            self.zipf(lower) < RARE_ZIPF
            and lower not in self.food
            and lower not in self.places
            and lower not in self.companies
        )
