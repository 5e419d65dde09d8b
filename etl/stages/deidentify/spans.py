"""Fixing the spans the recognizers return before they are replaced: one line each, a name
without its leading lower-case words or possessive tail, names grown to their full extent,
overlaps separated, nested spans dropped, and the record's own known values (its customer's
and agent's names, e-mails, phones) found wherever they appear."""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from etl.text.people import blocked_words, name_lexicon


def resized(result: RecognizerResult, start: int, end: int) -> RecognizerResult:
    """The same detection over other bounds."""
    return RecognizerResult(
        result.entity_type, start, end, result.score, result.analysis_explanation, result.recognition_metadata
    )


def first_line(text: str, result: RecognizerResult) -> RecognizerResult:
    """A PERSON span cut at its first line break, trailing spaces left out."""
    newline = text.find("\n", result.start, result.end)
    if result.entity_type != "PERSON" or newline < 0:
        return result
    end = len(text[result.start : newline].rstrip()) + result.start
    return resized(result, result.start, max(end, result.start + 1))


# the lower-case words a model's name span may open with ("a Leif I. Ranheim", "ex-Zombie Sörös"),
# and what may follow a possessive inside it ("Frej Lind's Cautionary Tales")
LEADING_LOWER = re.compile(r"(?:[a-z][\w'-]*\s+)+(?=[A-Z])")
POSSESSIVE_TAIL = re.compile(r"['\u2019]s(?:\s+\S.*)?$", re.DOTALL)


def name_only(text: str, result: RecognizerResult) -> RecognizerResult:
    """A capitalised PERSON span without the lower-case words before it and without its
    possessive "'s" and what follows that: the name alone, so evidence is weighed on the
    name and its surrogate keeps the "'s" ("Hilmija's address" -> "Ashley's address")."""
    if result.entity_type != "PERSON":
        return result
    value = text[result.start : result.end]
    start = result.start
    lead = LEADING_LOWER.match(value)
    if lead:
        start += lead.end()
    tail = POSSESSIVE_TAIL.search(text, start, result.end)
    end = tail.start() if tail else result.end
    if (start, end) == (result.start, result.end):
        return result
    return resized(result, start, end)


def shouted_word(text: str, result: RecognizerResult) -> bool:
    """An all-caps "name" is emphasis ("the food was AMAZING", "NEVER AGAIN"), not a person."""
    value = text[result.start : result.end]
    letters = [c for c in value if c.isalpha()]
    return result.entity_type == "PERSON" and len(letters) > 1 and all(c.isupper() for c in letters)


def trim_to_word(text: str, result: RecognizerResult) -> RecognizerResult | None:
    """A name span starts and ends on a letter or digit: the spaces, punctuation and emoji
    around it stay in the text ("Flats Jeffrey" never becomes "FlatsJeffrey")."""
    if result.entity_type != "PERSON":
        return result
    start, end = result.start, result.end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return None
    if (start, end) == (result.start, result.end):
        return result
    return resized(result, start, end)


# Words that start or end a sentence next to a name without being part of it.
NOT_NAME_PARTS = {
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank",
    "yes",
    "yeah",
    "no",
    "ok",
    "okay",
    "please",
    "sorry",
    "welcome",
    "bye",
    "goodbye",
    "sir",
    "madam",
    "maam",
}
NAME_PART = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*\.?", re.UNICODE)


def expand_names(text: str, results: list[RecognizerResult], name_part) -> list[RecognizerResult]:
    """Grow each name over the name words and initials right next to it: NER often
    returns part of a name ("Kadiev" of "Bulat R Kadiev"), and the rest would stay in
    the text. Only words that may be part of a name count (`name_part`: a known first
    or last name, an initial, a rare word no food, place or company list holds), so a
    name never grows over "Flats", "Latte" or the next sentence's first word."""

    def part(match, name: str) -> bool:
        value = match.group(0)
        word = value.lower().strip(".")
        if not value[0].isupper() and not name.islower():
            return False  # a capitalised name grows over capitalised words; "jordan brown" over lower-case ones
        if len(word) == 1:
            return True  # an initial ("Anne-Lise A. Frederiksen"), though "A" is a stop word
        return word not in STOP_WORDS and word not in NOT_NAME_PARTS and name_part(value)

    grown = []
    for result in results:
        if result.entity_type != "PERSON":
            grown.append(result)
            continue
        start, end = result.start, result.end
        while True:
            match = NAME_PART.match(text, end + 1) if text[end : end + 1] == " " else None
            if not match or not part(match, text[start:end]) or match.end() - end > 30:
                break
            end = match.end()
        while start > 1 and text[start - 1] == " ":
            window = text[max(0, start - 31) : start - 1]
            before = [m for m in NAME_PART.finditer(window) if m.end() == len(window)]
            if (
                not before
                or not part(before[-1], text[start:end])
                or (before[-1].start() > 0 and window[before[-1].start() - 1].isalnum())
            ):
                break
            start = start - 1 - (before[-1].end() - before[-1].start())
        grown.append(resized(result, start, end))
    return grown


def separate_overlaps(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Spans of different types that overlap ("+1 999 999 9999" and "9999 Love this
    place") are cut apart, so every character is still replaced and each surrogate keeps
    the text's own space before the next (presidio's anonymizer would clip one span and
    glue the two surrogates together). The stronger span keeps the shared characters:
    a pattern's (phone, address, card: their edges are exact) before a name's (a name
    grown over "Suite" gives it back), then the higher score, then the longer span. The
    other keeps the rest, its cut edge trimmed to a letter or digit."""
    if len(results) < 2:
        return results

    def strength(r: RecognizerResult) -> tuple:
        return (r.entity_type != "PERSON", r.score, r.end - r.start, -r.start)

    def inside(r: RecognizerResult, o: RecognizerResult) -> bool:
        """r is replaced with o, as presidio does: inside a longer span of its own kind, or the same span."""
        if not (o.start <= r.start and r.end <= o.end) or o is r:
            return False
        same_kind = (r.entity_type == "PERSON") == (o.entity_type == "PERSON")
        if (o.start, o.end) == (r.start, r.end):
            return strength(o) > strength(r) or (strength(o) == strength(r) and id(o) < id(r))
        return same_kind or o.entity_type != "PERSON"

    results = [r for r in results if not any(inside(r, o) for o in results)]
    results = phone_lines_out_of_addresses(text, results)
    kept: list[RecognizerResult] = []
    for result in sorted(results, key=strength, reverse=True):
        start, end, cut_by = result.start, result.end, set()
        for other in sorted(kept, key=lambda o: o.start):
            if other.start <= start < other.end:
                start = other.end
            elif other.start < end <= other.end:
                end = other.start
            elif start < other.start and other.end < end:  # a stronger span inside: keep the longer side
                start, end = (start, other.start) if other.start - start >= end - other.end else (other.end, end)
            else:
                continue
            cut_by.add(other.entity_type)
        # only a cut edge is trimmed: "+1 ..." keeps its plus
        while result.start < start < end and not text[start].isalnum():
            start += 1
        while start < end < result.end and not text[end - 1].isalnum():
            end -= 1
        if start >= end:
            continue
        if result.entity_type == "STREET_ADDRESS" and "PHONE_NUMBER" in cut_by:
            if not any(c.isdigit() for c in text[start:end]):
                continue  # words that lost their number to a phone ("TOTAL WASTE OF") are no address
        if (start, end) != (result.start, result.end):
            result = resized(result, start, end)
        kept.append(result)
    return sorted(kept, key=lambda r: r.start)


def phone_lines_out_of_addresses(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """An address ends before a line that a phone number starts ("KOUVOLA \n04621 56 80 46
    office"): its postal-code pattern reached into the phone's line, and the phone keeps it whole."""
    line_phones = [
        r.start
        for r in results
        if r.entity_type == "PHONE_NUMBER" and re.search(r"\n[ \t]*\(?$", text[max(0, r.start - 8) : r.start])
    ]
    if not line_phones:
        return results
    out = []
    for result in results:
        if result.entity_type == "STREET_ADDRESS":
            inside = [p for p in line_phones if result.start < p < result.end]
            if inside:
                end = result.start + len(text[result.start : text.rindex("\n", result.start, min(inside))].rstrip())
                if end <= result.start:
                    continue
                result = resized(result, result.start, end)
        out.append(result)
    return out


def drop_nested(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A name found inside a longer detection of another type is part of it:
    "Roswell" inside "12 Roswell Road" is the street, not a person. (Only names:
    a phone number inside a mistaken PERSON span is kept, so it is replaced either way.)"""
    kept = []
    for result in results:
        inside = result.entity_type == "PERSON" and any(
            other.entity_type != "PERSON"
            and other.start <= result.start
            and result.end <= other.end
            and (other.end - other.start) > (result.end - result.start)
            for other in results
        )
        if not inside:
            kept.append(result)
    return kept


def known_value_hits(text: str, values: tuple[str, ...]) -> list[RecognizerResult]:
    """Where a value the business already knows is personal (the customer's own
    name, e-mail, phone from the structured fields) appears in the text."""
    if not _may_hold(text, values):
        return []
    pattern = _known_pattern(values)
    if pattern is None:
        return []
    return [
        RecognizerResult(_known_kind(m.group(0), values), m.start(), m.end(), 0.95) for m in pattern.finditer(text)
    ]


def _may_hold(text: str, values: tuple[str, ...]) -> bool:
    """False only where no value can match: in ASCII text and values, a case-blind match holds
    the value's first word (of a name, all the pattern may look for). Most turns never name
    the customer, and compiling each record's own pattern cost more than searching it."""
    if not values:
        return False
    if not text.isascii() or not all(v.isascii() for v in values):
        return True  # case folding outside ASCII is the regex's to judge ("K" matches the Kelvin sign)
    lowered = text.lower()
    return any(v.split()[0].strip(".,").lower() in lowered for v in values if v.strip())


@lru_cache(maxsize=4096)
def _known_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole known values; of a name, also its first word when a name lexicon confirms it is a
    first name ("Jordan" of "Jordan Smith"), never other words ("dog" of "Dog Food Lover")."""
    firsts = name_lexicon()[0]
    words = set()
    for value in values:
        words.add(value)
        tokens = value.split()
        if "@" not in value and not any(c.isdigit() for c in value) and len(tokens) > 1:
            first = tokens[0].strip(".,")
            if len(first) > 2 and first.lower() in firsts and first.lower() not in blocked_words():
                words.add(first)
    ordered = sorted((w for w in words if w.strip()), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in ordered) + r")(?!\w)", re.IGNORECASE)


def _known_kind(match: str, values: tuple[str, ...]) -> str:
    if "@" in match:
        return "EMAIL_ADDRESS"
    if sum(c.isdigit() for c in match) >= 7:
        return "PHONE_NUMBER"
    return "PERSON"
