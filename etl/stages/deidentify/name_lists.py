"""Names that stand with other names: listed together, paired, repeated, signed.

A part of `NameEvidence` (names.py), which holds the lexicons these methods read
(`firsts`, `lasts`, `any_lasts`, `core_firsts`, `zipf`, the food, firm and place lists)."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from etl.stages.deidentify.name_cues import (
    COMMON_ZIPF,
    CONJUNCTION,
    LISTED_AFTER,
    LISTED_BEFORE,
    NAME_AFFIX_RE,
    PARTICLE_BETWEEN,
    RARE_ZIPF,
    VERY_COMMON_ZIPF,
)
from etl.text.phrases import WORD, words_of


class ListedNames:
    def _paired_names(self, text: str, candidates: list[RecognizerResult]) -> set[int]:
        """ "Cocci and Rios were precision engineers": two single capitalised words joined by
        "and", both names a lexicon knows (or one known, one rare), neither a food, drink,
        company or place, are two people."""
        paired = set()
        for first in candidates:
            for second in candidates:
                if text[first.end : second.start] != " and ":  # "Cohen & Steers" is a firm
                    continue
                pair = [text[r.start : r.end] for r in (first, second)]
                if not all(len(w) > 2 and w[0].isupper() and WORD.fullmatch(w) for w in pair):
                    continue
                words = [w.lower() for w in pair]
                known = [w in self.firsts or w in self.lasts for w in words]
                blocked = [self._not_a_person(text, r.start, r.end) for r in (first, second)]
                # "Deguchi and Durham": a place that is a surname too, beside a name that is no place
                excused = [
                    b and not other and w in self.lasts and not self._food_or_firm(text, r.start, r.end)
                    for b, other, w, r in zip(blocked, blocked[::-1], words, (first, second))
                ]
                if (
                    any(known)
                    and all(self._name_like(w) for w in words)
                    and all(not b or e for b, e in zip(blocked, excused))
                ):
                    paired |= {id(first), id(second)}
        return paired

    def _list_neighbours(self, text: str, names: list[RecognizerResult]) -> list[RecognizerResult]:
        """Words listed beside a name that no recognizer offered ("They had 6: Pista, Gary,
        Michael", "Floyd, Hernandez and White"): a capitalised word that could be a name."""
        taken = [(r.start, r.end) for r in names]
        found, queue = [], list(taken)
        while queue:
            start, end = queue.pop()
            window = max(0, start - 40)
            for match in (LISTED_AFTER.match(text, end), LISTED_BEFORE.search(text[window:start])):
                if match is None:
                    continue
                offset = 0 if match.re is LISTED_AFTER else window
                word_start, word_end = offset + match.start("word"), offset + match.end("word")
                pair = (start, end, word_start, word_end) if word_start > start else (word_start, word_end, start, end)
                if (
                    any(s < word_end and word_start < e for s, e in taken)
                    or not self._in_a_list(text, *pair)
                    or not self._could_be_listed_name(text, word_start, word_end)
                ):
                    continue
                taken.append((word_start, word_end))
                queue.append((word_start, word_end))
                found.append(RecognizerResult("PERSON", word_start, word_end, 0.6))
        return found

    @staticmethod
    def _in_a_list(text: str, first_start: int, first_end: int, second_start: int, second_end: int) -> bool:
        """Two words joined by "and", or by a comma in a list that goes on ("Pista, Gary, Michael"):
        "Sadly, Gordon" and "Thanks Maria, Delicious food" are no lists."""
        if re.fullmatch(r"\s(?:and|&)\s", text[first_end:second_start]):
            return True
        goes_on = re.match(r"\s*(?:,|\band\b|&)\s*[A-Z]", text[second_end:]) is not None
        came_before = re.search(r"[A-Z][^\W\d_]*,\s*$", text[max(0, first_start - 40) : first_start]) is not None
        return goes_on or came_before

    def _could_be_listed_name(self, text: str, start: int, end: int) -> bool:
        word = text[start:end].lower()
        if len(word) < 3 or word.isupper() or word in STOP_WORDS:
            return False
        return (
            self.zipf(word) < COMMON_ZIPF or word in self.any_lasts or word in self.firsts
        ) and not self._not_a_person(text, start, end)

    def _repeated(self, text: str, names: list[RecognizerResult]) -> list[RecognizerResult]:
        """The words of a name found once, wherever else they stand in the same text ("You
        can tell Sonoka was a huge Sonoka Miki fan")."""
        words = {
            w
            for r in names
            for w in WORD.findall(text[r.start : r.end])
            if len(w) > 2 and w[0].isupper() and self.zipf(w.lower()) < COMMON_ZIPF
        }
        if not words:
            return []
        pattern = re.compile(
            r"(?<![\w])(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w])"
        )
        taken = [(r.start, r.end) for r in names]
        return [
            RecognizerResult("PERSON", m.start(), m.end(), 0.6)
            for m in pattern.finditer(text)
            if not any(s < m.end() and m.start() < e for s, e in taken)
        ]

    def _listed_with(
        self, text: str, result: RecognizerResult, results: list[RecognizerResult], names: set[int]
    ) -> bool:
        words = words_of(text[result.start : result.end])
        common = [w for w in words if self.zipf(w) >= COMMON_ZIPF and w not in self.any_lasts and w not in self.firsts]
        if not text[result.start].isupper() or common:
            return False
        for other in results:
            if id(other) in names:
                between = (
                    text[other.end : result.start] if other.end <= result.start else text[result.end : other.start]
                )
                if CONJUNCTION.fullmatch(between) and not self._not_a_person(text, result.start, result.end):
                    return True
        return False

    def _signed_name(self, text: str, start: int, end: int) -> bool:
        """A signature's words as a name: one the lexicons know or a rare one (or a surname
        particle between capitalised words), and no everyday word ("The Healthy Bites Team")."""
        span_words = words_of(text[start:end])
        words = [w.removesuffix("'s") for w in span_words if len(w) > 1 and not NAME_AFFIX_RE.fullmatch(w)]
        known = [w in self.firsts or w in self.any_lasts for w in words]
        particle = len(words) < len(span_words) and PARTICLE_BETWEEN.search(text, start, end) is not None
        return (particle or any(k or self.zipf(w) < RARE_ZIPF for w, k in zip(words, known))) and all(
            k or self.zipf(w) < VERY_COMMON_ZIPF - 1 for w, k in zip(words, known)
        )
