"""Names spaCy's NER misses: lexicon names (in lower case too) after an introduction, rare capitalised words, and the writer's name in a signature."""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from etl.stages.deidentify.name_cues import PERSON_VERB_AFTER, RARE_ZIPF, SIGN_OFF, SIGNATURE_NAME
from etl.text.people import blocked_words, name_lexicon

INTRO = re.compile(
    r"\b(?:this is|my name is|name is|the name|under the name|with the name|named|for|name's|names|i am|i'm|im|it's|its|call me|ask for|signed|regards|thanks|thank you"
    r"|(?:ordered|placed|booked|paid|signed|picked up) by)[,:]?\s+",
    re.IGNORECASE,
)
WORD = re.compile(r"[^\W\d_][^\W\d_'-]*[^\W\d_]", re.UNICODE)
# Whatever capitalised word follows these is offered as a name, known to the lexicon or not.
NAMED = re.compile(
    r"\b(?:my name is|my name's|name is|the name|under the name|call me|calls me|last name\??|first name\??)[,:]?\s+"
    r"|\bex-[^\W\d_][\w-]*\s+",  # "ex-Zombie Bouts": a former member, then the member's name
    re.IGNORECASE,
)


def _rare(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en") < RARE_ZIPF


class NameLexiconRecognizer(EntityRecognizer):
    def __init__(self, extra_first: set[str] | None = None, extra_last: set[str] | None = None) -> None:
        firsts, lasts = name_lexicon()
        self.firsts = firsts | ({n.lower() for n in extra_first or ()} - blocked_words())
        self.lasts = lasts | ({n.lower() for n in extra_last or ()} - blocked_words())
        super().__init__(supported_entities=["PERSON"], name="NameLexiconRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        words = list(WORD.finditer(text))
        results = []
        introduced = {m.end() for m in INTRO.finditer(text)}
        named = {m.end() for m in NAMED.finditer(text)}
        index = 0
        while index < len(words):
            word = words[index]
            first = word.group(0).lower()
            following = words[index + 1] if index + 1 < len(words) else None
            adjacent = following is not None and text[word.end() : following.start()] == " "
            if first in self.firsts and adjacent and following.group(0).lower() in self.lasts:
                results.append(self._result(word.start(), following.end(), 0.7))
                index += 2
                continue
            if first in self.firsts and word.start() in introduced:
                # "ordered by bartholomew fennimore": after its cue a first name takes a rare
                # word beside it as the surname, whatever the case it is written in
                if adjacent and _rare(following.group(0).lower()):
                    results.append(self._result(word.start(), following.end(), 0.7))
                    index += 2
                    continue
                results.append(self._result(word.start(), word.end(), 0.6))
            elif word.start() in named and word.group(0)[0].isupper():
                results.append(self._result(word.start(), word.end(), 0.6))  # "my name is Beaufort"
            index += 1
        return results

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            score,
            analysis_explanation=None,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


class SignatureNameRecognizer(PatternRecognizer):
    """The writer's name that opens a signature block: the line after a sign-off ("Best
    regards,\nCarolina Girschner"), or after "Sent by" / "From:", in a name's shape (capitalised
    words, initials, surname particles: "Lieke W. van Ham"), ending where its line, a
    parenthesis, a bar or a comma does. A title before it stays in the text."""

    def __init__(self) -> None:
        title = r"(?:(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.?[ \t]+)?"
        super().__init__(
            supported_entity="PERSON",
            name="SignatureNameRecognizer",
            patterns=[
                Pattern(
                    "signature name",
                    rf"(?<=(?:{SIGN_OFF}){title}){SIGNATURE_NAME}(?=[ \t]*(?:$|\n|\(|\||,|<|-|[.!][ \t]*(?:$|\n)))",
                    0.85,
                )
            ],
        )


CAPITALISED = re.compile(r"[^\W\d_][^\W\d_]*(?:['\u2019-][^\W\d_]+)*|[A-Z]\.")
INITIALLED = re.compile(r"(?<![\w.])((?-i:[A-Z])[^\W\d_]+) (?-i:[A-Z])\.? ((?-i:[A-Z])[^\W\d_]+)\b")
# "Mr. Freeh is ...": the full stop of a title ends no sentence
AFTER_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|St|Sr|Jr|Capt|Rev|Sgt)\.\s*$")
PAIRED = re.compile(r" (?:and|&) [A-Z]")
SENTENCE_END = re.compile(r"[.!?:;\n]\s*$|^\s*$")
# At the start of a sentence a word is capitalised anyway: only near-unknown words count there.
RARE_ZIPF_AT_START = 1.5


class RareCapitalisedNameRecognizer(EntityRecognizer):
    """Names spaCy's small model misses ("said Josef to Kristy", "Einojuhani Pyysalo"):
    capitalised words that are rare as English words (wordfreq's Zipf frequency
    below 3, i.e. under one in a million words) or are known first/last names, in
    runs of one to four words. A lone one at the start of a sentence is skipped
    (capitalised for the sentence, not for being a name) unless it is a known
    first name or nearly unknown as a word; business terms never count.
    """

    def __init__(
        self,
        business_words: set[str],
        extra_first: set[str] | None = None,
        extra_last: set[str] | None = None,
        dish_words: set[str] | None = None,
    ) -> None:
        firsts, lasts = name_lexicon()
        self.firsts = firsts | ({n.lower() for n in extra_first or set()} - blocked_words())
        self.names = self.firsts | lasts | ({n.lower() for n in extra_last or set()} - blocked_words())
        self.business_words = {w.lower() for w in business_words}
        self.dish_words = {w.lower() for w in dish_words or set()}
        super().__init__(supported_entities=["PERSON"], name="RareCapitalisedNameRecognizer", supported_language="en")

    def load(self) -> None:
        from wordfreq import zipf_frequency

        self.zipf = lru_cache(maxsize=200_000)(zipf_frequency)

    def _rarity(self, word: str) -> float:
        return self.zipf(word.lower(), "en")

    def _candidate(self, word: str) -> bool:
        if (len(word) == 2 and word.endswith(".")) or (len(word) == 1 and word.isupper() and word not in "AI"):
            return True  # a middle initial ("Bibulat Z. Sultygov", "Elbio D Navarrete")
        if len(word) < 3 or not word[0].isupper() or word.isupper():
            return False
        lower = word.lower()
        if lower in self.business_words or lower in blocked_words():
            return False
        return lower in self.names or self.zipf(lower, "en") < RARE_ZIPF

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        results, run = [], []
        for match in CAPITALISED.finditer(text):
            if run and (text[run[-1].end() : match.start()] != " " or not self._candidate(match.group(0))):
                results += self._close(text, run)
                run = []
            if self._candidate(match.group(0)):
                run.append(match)
        return results + self._close(text, run) + self._initialled(text)

    def _initialled(self, text: str) -> list[RecognizerResult]:
        """ "under Liberal A Aranda": a capitalised word, an initial and a known surname is a full
        name even when the first word is an everyday one (names.py weighs it)."""
        return [
            self._result(m.start(), m.end())
            for m in INITIALLED.finditer(text)
            if m.group(1).lower() not in blocked_words() and m.group(2).lower() in self.names
        ]

    def _close(self, text: str, run: list) -> list[RecognizerResult]:
        def initial(match) -> bool:
            return len(match.group(0).rstrip(".")) == 1

        while run and initial(run[-1]):
            run = run[:-1]
        while run and initial(run[0]):
            run = run[1:]
        if not run or len(run) > 4:
            return []
        following = (
            CAPITALISED.match(text, run[-1].end() + 1) if text[run[-1].end() : run[-1].end() + 1] == " " else None
        )
        if following and following.group(0)[0].isupper() and following.group(0).lower() in self.dish_words:
            return []  # the start of a (misspelt) dish name: "Tai Peanut Noodle Bowl"
        if (
            len(run) == 1
            and SENTENCE_END.search(text[: run[0].start()])
            and not AFTER_TITLE.search(text[: run[0].start()])
        ):
            word = run[0].group(0)
            # "Dennis, ..." / "Rosetta shouted": a known first name opening a sentence is still a name
            speaker_label = text[run[0].end() : run[0].end() + 1] == ":"  # "Ksenia: What a wife."
            # "Joly began writing", "Cocci and Rios were": the subject of a person's verb, or
            # listed with another capitalised word (names.py weighs both)
            subject = PERSON_VERB_AFTER.match(text, run[0].end()) or PAIRED.match(text, run[0].end())
            if (
                word.lower() not in self.firsts
                and self._rarity(word) >= RARE_ZIPF_AT_START
                and not speaker_label
                and not (subject and self._candidate(word))
            ):
                return []
        return [self._result(run[0].start(), run[-1].end())]

    def _result(self, start: int, end: int) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            0.5,
            analysis_explanation=None,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
