"""Which parts of a text the NER model reads.

spaCy's small English NER keys on capitalisation: in lower-case text it finds
next to nothing, and the name lexicons and known customer values do the work
there. The same holds for a sentence whose only capitals are an everyday word
that starts it ("The soup was cold.", "Great service!") or the pronoun "I":
whatever NER made of it, no PERSON span there survives the name evidence
(names.py). Such sentences are left out of the NER pass, which is the stage's
largest cost; the pattern recognizers still read the whole text.

A kept stretch is a run of neighbouring sentences that need NER, passed to the
model as one piece. The model looks only a few tokens around each word
(tok2vec depth 4, window 1), so a name mostly reads the same without the
everyday sentence before it: on bench/pii.py's 1,400 labeled sentences one name
was lost this way ("Cocci and Rios were ...") and one found, and recall stayed
0.889.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# a sentence ends at a line break or at ., ! or ? followed by a space
SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?]+(?=\s|$)|[.!?]+|\n+|$)")
WORD = re.compile(r"[^\W\d_][\w'’-]*")
PRONOUN_I = {"I", "I'm", "I'll", "I've", "I'd", "I’m", "I’ll", "I’ve", "I’d"}
OPENING_MARKS = " \t\"'“‘(*-•>"


def needs_ner(sentence: str, everyday: Callable[[str], bool], first_name: Callable[[str], bool]) -> bool:
    """A capitalised word other than "I", or than an everyday word at the sentence's start
    or written in capitals ("AMAZING"), may be a name: the model reads the sentence. So does
    a lower-case known first name ("- deshawn johnson" signing a review): next to capitalised
    text, the model tags such names too."""
    for match in WORD.finditer(sentence):
        word = match.group(0)
        if word.islower():
            if first_name(word):
                return True
            continue
        if word in PRONOUN_I:
            continue
        starts = sentence[: match.start()].strip(OPENING_MARKS) == ""
        shouted = len(word) > 1 and word.isupper()
        if (starts or shouted) and everyday(word.lower()):
            continue
        return True
    return False


def ner_stretches(
    text: str, everyday: Callable[[str], bool], first_name: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """(start, end) of the runs of neighbouring sentences the NER model should read."""
    stretches: list[tuple[int, int]] = []
    for match in SENTENCE.finditer(text):
        start, end = match.span()
        if start == end or not needs_ner(match.group(0), everyday, first_name):
            continue
        if stretches and stretches[-1][1] == start:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((start, end))
    return stretches
