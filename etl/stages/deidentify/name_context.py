"""What the text around a span says: a food, firm or place holds it, a sentence's syntax, a possessive.

A part of `NameEvidence` (names.py), which holds the lexicons these methods read
(`firsts`, `lasts`, `any_lasts`, `core_firsts`, `zipf`, the food, firm and place lists)."""

from __future__ import annotations

import re

from etl.stages.deidentify.name_cues import (
    COMMON_ZIPF,
    CORPORATE,
    GIVEN_AFTER,
    GIVEN_BEFORE,
    KIN_AFTER,
    LOCATIVE,
    NAMED_THING_AFTER,
    PERSON_VERB_AFTER,
    PERSONAL_POSSESSION,
    PRONOUN_AND_AFTER,
    PRONOUN_AND_BEFORE,
    SENTENCE_START,
    SPEAKER,
    SPEECH_BEFORE,
    TITLES,
)
from etl.text.phrases import WORD


class NameContext:
    def _food_or_firm(self, text: str, start: int, end: int, tokens=None, first=None, last=0) -> bool:
        """A food, drink, dish, company or firm's name holds the span."""
        if tokens is None:
            tokens, first, last = self._tokens_around(text, start, end)
            if first is None:
                return False
        food = self.food
        if first == last and tokens[first] in self.firsts:
            food = self.food_as_written  # "James" is no plural of "jam"
        return any(
            phrases.touches(tokens, first, last) for phrases in (food, self.dishes, self.companies)
        ) or self._corporate(text, start, end)

    @staticmethod
    def _corporate(text: str, start: int, end: int) -> bool:
        """A firm's legal form ends the span or follows it ("FinWise Bancorp", "Nihon Seito Corporation")."""
        last = text[start:end].rsplit(" ", 1)[-1]
        return CORPORATE.match(" " + last) is not None or CORPORATE.match(text, end) is not None

    @staticmethod
    def _person_by_syntax(text: str, end: int, before: str) -> bool:
        """Where a word stands says it is a person: the subject of a person's verb, listed with a
        personal pronoun, given something of their own, or owning a work ("Macias's song")."""
        return bool(
            PERSON_VERB_AFTER.match(text, end)
            or PRONOUN_AND_BEFORE.search(before)
            or PRONOUN_AND_AFTER.match(text, end)
            or (GIVEN_BEFORE.search(before) and GIVEN_AFTER.match(text, end))
            or (text[end : end + 2] in ("'s", "\u2019s") and NAMED_THING_AFTER.match(text, end + 2))
            or (text[end : end + 2] in ("'s", "\u2019s") and KIN_AFTER.match(text, end + 2))
        )

    def _locative(self, before: str, first_name: bool) -> bool:
        """A place or business cue before a single word; "of" only for words no first-name
        lexicon holds ("the true gender of Antonina" is a person, "a branch of Otto" not)."""
        match = LOCATIVE.search(before)
        return match is not None and not (first_name and match.group(0).lower().lstrip().startswith("of"))

    @staticmethod
    def _owner_of_personal_data(text: str, end: int, span_words: list[str]) -> bool:
        possessive = span_words[-1].endswith("'s") or text[end : end + 2] in ("'s", "\u2019s")
        return possessive and PERSONAL_POSSESSION.match(text, end) is not None

    @staticmethod
    def _speaker_label(text: str, start: int, end: int) -> bool:
        """The span is a speaker label and the text is a transcript: two or more lines start with one."""
        label = SPEAKER.match(text, max(0, start - 1)) if start == 0 or text[start - 1] in "\n \t" else None
        return label is not None and label.end(1) == end and len(SPEAKER.findall(text)) >= 2

    def _not_a_person(self, text: str, start: int, end: int) -> bool:
        """A food, drink, company or place name, or a catalog term, holds the span."""
        tokens, first, last = self._tokens_around(text, start, end)
        if first is None:
            return False
        if self._food_or_firm(text, start, end, tokens, first, last):
            return True
        # "Chamomile Honey Tea", "Ninja Sushi", "Jenni Pho": a food word ends it, unless it is a
        # surname after a first name ("Jean Berry")
        head = tokens[last].removesuffix("'s")
        food = self.food_as_written if first == last and head in self.firsts else self.food
        if head in food and (
            tokens[first] not in self.core_firsts or tokens[first] in self.food or head not in self.lasts
        ):
            return True
        if self.places.touches(tokens, first, last):
            # "Austin said..." is a person, "in Austin" a place: a first name alone needs the
            # locative; inside a longer place name ("San Francisco") it is the place
            alone = first == last and tokens[first] in self.firsts and self.places.covers(tokens, first, last)
            longer = any(
                self.places.covers(tokens, a, b)
                for a, b in ((first - 1, last), (first, last + 1))
                if a >= 0 and b < len(tokens)
            )
            near = text[max(0, start - 20) : start]
            locative = LOCATIVE.search(near) is not None and SPEECH_BEFORE.search(near) is None  # "shouted at Austin"
            return longer or not alone or locative
        return False

    @staticmethod
    def _tokens_around(text: str, start: int, end: int) -> tuple[list[str], int | None, int]:
        window_start = max(0, start - 60)
        matches = list(WORD.finditer(text, window_start, min(len(text), end + 60)))
        tokens = [m.group(0).lower().replace("\u2019", "'") for m in matches]
        inside = [i for i, m in enumerate(matches) if m.start() < end and start < m.end()]
        return tokens, (inside[0] if inside else None), (inside[-1] if inside else 0)

    def _inside_other_name(self, text: str, start: int, end: int) -> bool:
        """A first name that is part of something else's name: after a capitalised everyday
        word ("Christmas Eve", "Hard Rock"; titles and kin aside: "Uncle Bob"), or naming the
        food written after it ("Almon milk")."""
        previous = re.search(r"([^\W\d_]+)\s+$", text[max(0, start - 30) : start])
        if (
            previous
            and previous.group(1)[0].isupper()
            and not SENTENCE_START.search(text[: start - len(previous.group(0))])
        ):
            word = previous.group(1).lower()
            if (
                word not in TITLES
                and word not in self.firsts
                and word not in self.lasts
                and self.zipf(word) >= COMMON_ZIPF
            ):
                return True
        following = re.match(r"\s+([a-z]+)", text[end:])
        return following is not None and following.group(1) in self.food

    def _business_possessive(self, text: str, end: int, span_words: list[str]) -> bool:
        """ "Joey's was voted best", "Ryan's Bar": a name in a possessive followed by no noun of
        its own is a restaurant; "Jeff's wife" is a person."""
        if not span_words[-1].endswith("'s") and text[end : end + 2] not in ("'s", "\u2019s"):
            return False
        following = re.match(r"(?:['\u2019]s)?\s*([^\W\d_]+)?", text[end:])
        word = following.group(1) if following else None
        return word is None or word[0].isupper() or self.zipf(word.lower()) >= 6.0
