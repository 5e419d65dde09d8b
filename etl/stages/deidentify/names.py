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
is Ginger"). Known customer and agent names are matched elsewhere (engine.known_value_hits),
within their own record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import RecognizerResult
from spacy.lang.en.stop_words import STOP_WORDS

from etl.text.people import name_lexicon
from etl.text.phrases import WORD, PhraseSet, companies, food_and_drink, places, words_of

# Words this common are ordinary words first ("Law", "Server"): a name only with a cue.
COMMON_ZIPF = 4.5
# A first name common among this business's customers is a name up to this frequency ("David").
CORE_FIRST_ZIPF = 5.0
# The commonest first names ("James", "David", "John") are names when the NER model agrees.
NER_FIRST_ZIPF = 5.4
# Names of rare words only, for a full name the NER model found and no lexicon knows.
RARE_ZIPF = 3.0
# Words English hardly ever uses (under one in 100 million words): capitalised, a name.
NEARLY_UNKNOWN_ZIPF = 2.0
# After "a latte for ...", a capitalised word is a name unless it is very common ("for Here").
ORDERED_FOR_ZIPF = 5.0
# After "my name is", only the commonest words are not names ("Will" is, "Back" is not).
VERY_COMMON_ZIPF = 6.0

# The name comes right after these ("my name is Dan", "this is Jeff", "Mrs. Kowalski").
INTRODUCTION = re.compile(
    r"(?:\b(?:my name is|my name's|name is|name's|names|the name|under the name|with the name|named(?: him| her| them)?|call me|"
    r"ask for|asked for|speak to|speak with|spoke to|spoke with|talk to|talked to|thanks to|"
    r"calls me|called me|regards|sincerely|cheers|signed|mr|mrs|ms|miss|mx|dr|prof|(?:first|last|full) name\??)\.?[,:]?|"
    r"(?:^|\n|[.!?])\s*[-\u2013\u2014~])\s*$",
    re.IGNORECASE,
)
# A letter's signature: the line after a sign-off line ("Best regards,\nCarolina Girschner"),
# or after "Sent by" / "From:". What follows is the writer's name whatever its words are
# ("Lieke W. van Ham", though ham is a food), when it has a name's shape (SIGNATURE_NAME).
SIGN_OFF = (
    r"(?:^|\n)[ \t]*(?:(?:best|kind|warm|warmest|many)?[ \t]*(?:regards|wishes|thanks)|thanks|thank you|best|warmly|"
    r"cheers|sincerely|yours(?: truly| sincerely| faithfully)?|respectfully|all the best|take care)[ \t]*[,!.]?[ \t]*\n(?:[ \t]*\n)*"
    r"|\b(?:sent|written|signed|submitted) by[ \t]+|(?:^|\n)[ \t]*from:[ \t]*"
    # a sign-off that opens the message's last sentence ("... delicious! Thanks, Samu Gibert Serrano.")
    r"|(?:^|[.!?][ \t]+)(?:(?:best|kind|warm|many)[ \t]+)?(?:thanks|thank you|cheers|regards)[ \t]*,[ \t]*"
)
SIGNED = re.compile(rf"(?:{SIGN_OFF})(?:(?:Mr|Mrs|Ms|Mx|Dr|Prof)\.?[ \t]+)?$", re.IGNORECASE)
# surname particles ("van der Kaay", "de la Cruz", "von Trapp")
PARTICLE = r"(?:van|von|der|den|de|la|le|du|da|di|del|della|ter|ten|te|bin|al|zu)"
NAME_WORD = r"(?-i:[A-Z])[^\W\d_]+(?:['\u2019-][^\W\d_]+)*"
SIGNATURE_NAME = (
    rf"{NAME_WORD}(?:[ \t]+(?:(?-i:[A-Z])\.?|(?:(?-i:{PARTICLE})[ \t]+){{0,2}}{NAME_WORD})){{1,3}}"
    r"(?:,?[ \t]+(?-i:Jr\.?|Sr\.?|II|III|IV))?"  # "Giuseppina Koch II"
)
SIGNATURE_NAME_RE = re.compile(SIGNATURE_NAME)
# particles and generational suffixes weigh nothing either way; a particle between capitalised
# words is itself a sign of a surname ("Max van Es")
NAME_AFFIX_RE = re.compile(rf"{PARTICLE}|jr|sr|ii|iii|iv|mr|mrs|ms|mx|dr|prof")
PARTICLE_BETWEEN = re.compile(rf"(?-i:[A-Z])\S*[ \t]+(?-i:{PARTICLE})[ \t]+(?-i:[A-Z])")
# Weaker: a first name the lexicon knows after these ("I'm Marge", "hi Dan").
GREETING = re.compile(
    r"\b(?:this is|i am|i'm|im|it's|its|it is|it'll be|hi|hello|hey|dear|bye|goodbye|thanks|thank you)[,:]?\s*$",
    re.IGNORECASE,
)
# A first name said to someone: "Marge, I am happy to help", "your order, Dan."
VOCATIVE_BEFORE = re.compile(r"(?:^|[,.!?]\s*)$")
# "between him and Paliki's kid", "Ana and I went": listed with a personal pronoun
PRONOUN_AND_BEFORE = re.compile(r"\b(?:him|her|me|us|them|he|she|we|they)\s+and\s+$", re.IGNORECASE)
PRONOUN_AND_AFTER = re.compile(r"\s+and\s+(?:I|me|him|her|us)\b")
# "Paliki's kid", "Lara Fiorentino's killers": the people someone has
KIN_AFTER = re.compile(
    r"\s+(?:wife|husband|killers?|murderers?|mother|father|mom|dad|sons?|daughters?|kids?|children|"
    r"brothers?|sisters?|parents|lawyer|widow|girlfriend|boyfriend|fianc[eé]e?|grandmother|grandfather)\b"
)
# "had given Cettina his address", "told Ana her order was ready": someone given something of theirs
GIVEN_BEFORE = re.compile(
    r"\b(?:gave|given|give|gives|giving|told|tell|tells|sent|send|sends|showed|show|shows|paid|owe|owes|owed)\s+$",
    re.IGNORECASE,
)
GIVEN_AFTER = re.compile(r"\s+(?:his|her|their)\b")
ADDRESSED_AFTER = re.compile(
    r",\s+(?:can|could|would|will|please|I|I'm|you|are|do|did|have|thank|thanks|how|what|where|when|why)\b"
)
OBJECT_BEFORE = re.compile(r"\b[a-z]+\s+(?:me|us)\s+$")
VOCATIVE_AFTER = re.compile(r"\s*(?:$|[,.!?])")
# "Maria our server was great", "Pete here"
ROLE_AFTER = re.compile(
    r",?\s+(?:our|my|the|your)\s+(?:server|waiter|waitress|bartender|manager|driver|cashier|host|hostess|chef|barista)\b",
    re.IGNORECASE,
)
ROLE = re.compile(
    r"\b(?:server|waiter|waitress|bartender|manager|driver|cashier|host|hostess|chef|agent|rep|representative|"
    r"barista|courier|owner|colleague|coworker|friend|husband|wife|son|daughter|mom|dad|brother|sister|"
    r"kid|child|grandson|granddaughter|nephew|niece|partner|boss|boyfriend|girlfriend|"
    r"ex-[^\W\d_][\w-]*)\s*,?\s*$",  # "ex-Beatle Ringo", "ex-Zombie Bouts"
    re.IGNORECASE,
)
# Reported speech: "says Koupil.", "said Eser to David", "Jaromir shouted at Beth", "told Mika".
SPEECH_BEFORE = re.compile(
    r"\b(?:says|said|asked|told|shouted at|yelled at|wrote|replied)\s+(?:[^\W\d_]+\s+to\s+)?$", re.IGNORECASE
)
SPEECH_AFTER = re.compile(r"\s+(?:says|said|asked|told|shouted|yelled|wrote|replied|whispered)\b", re.IGNORECASE)
# The subject of a verb that mostly takes a person ("Joly began writing", "but Marik just has
# to", "Louelle lives on ..."): a rare word or a known name before one is a person. Verbs
# that products and places take as often ("works", "came", "is") are left out.
PERSON_VERB_AFTER = re.compile(
    r"\s+(?:(?:just|also|never|always|then|still|really|finally|later|soon|once|even|often|only)\s+)?"
    r"(?:began|begins|started|starts|wrote|writes|said|says|told|tells|asked|asks|replied|lives|lived|"
    r"grew up|was born|is from|was from|comes from|died|married|studied|studies|thinks|thought|believes|believed|knows|knew|wants|"
    r"wanted|decided|decides|loves|loved|hates|hated|smiled|laughed|cried|sang|sings|has to|had to|"
    r"needs to|needed to|tried|tries|had given|has given|gave|gives|points out|pointed out|explained|"
    r"explains|admitted|admits|agreed|agrees|insisted|insists|promised|promises|joined|met|fell in love|"
    r"remembers|remembered|realized|realised|realizes|realises|whispered|shouted|yelled)\b",
    re.IGNORECASE,
)
# Lower-case particles inside a surname ("Antoinetta van Teeffelen", "Ana de la Cruz"): neutral
# evidence, neither a rare word nor an ordinary one.
NAME_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "la", "le", "ten", "ter", "bin", "al"}
)
# "Bibulat Z. Sultygov", "Jakobine A Zeeb": a word, an initial, a word is the shape of a full name.
WITH_INITIAL = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)? [A-Z]\.? [^\W\d_]+(?:-[^\W\d_]+)*(?:'s)?")
# A transcript's speaker label: a word alone at the start of a line, then a colon.
SPEAKER = re.compile(r"(?:^|\n)[ \t]*([^\W\d_]+):", re.UNICODE)
# "a latte for Jean, please": the name ends the order.
FOR = re.compile(r"\bfor\s*$", re.IGNORECASE)
ORDER_TAIL = re.compile(
    r"\s*(?:$|[.,!?;:)\-]|please\b|pls\b|thanks?\b|thank you\b|to go\b|and\b|today\b)", re.IGNORECASE
)
# "the folks at Otto", "in Madison", "back to Carly's", "deliver to Marietta": a place or a business.
LOCATIVE = re.compile(
    r"\b(?:at|in|from|near|around|inside|outside|of|visit|visited|visiting|"
    r"(?:go|goes|went|going|gone|come|came|back|drive|drove|head|headed|walk|walked|get|got|trips?|way|move|moved|"
    # a delivery area: "we deliver to Marietta", "do you ship to Austin"
    r"deliver|delivers|delivered|delivering|delivery|ship|ships|shipped|shipping|travel|traveled|travelled|"
    r"fly|flew|relocate|relocated|commute|expand|expanded|expanding)\s+to)\s+(?:the\s+)?$",
    re.IGNORECASE,
)


SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*)$")
TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "doctor",
    "prof",
    "professor",
    "sir",
    "madam",
    "lady",
    "lord",
    "uncle",
    "aunt",
    "auntie",
    "grandma",
    "grandpa",
    "cousin",
    "brother",
    "sister",
    "father",
    "mother",
    "chef",
    "officer",
    "captain",
    "coach",
    "judge",
    "president",
    "senator",
    "governor",
    "mayor",
    "saint",
    "st",
    "pastor",
    "rabbi",
    "producer",
    "director",
}
# a capitalised word listed right after or before another ("Pista, Gary", "Hernandez and White")
LISTED_AFTER = re.compile(r"(?:,\s*(?:and\s+|&\s+)?|\s(?:and|&)\s)(?P<word>[A-Z][^\W\d_]+)\b(?!['\u2019-])")
LISTED_BEFORE = re.compile(r"(?:^|[\s:(])(?P<word>[A-Z][^\W\d_]+)(?:,\s*(?:and\s+|&\s+)?|\s(?:and|&)\s)$")
CONJUNCTION = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+|&\s+)?|\s(?:and|or|&)\s)\s*", re.IGNORECASE)
ARTICLE = re.compile(r"\b(?:a|an|the)\s+$", re.IGNORECASE)
# "Nihon Seito Corporation", "Ginkgo Bioworks Holdings Inc.": a firm's name goes on with its legal form
CORPORATE = re.compile(
    r"\s+(?:Inc|Corp|Corporation|Holdings|Ltd|Limited|LLC|SA|S\.A|AG|GmbH|Group|Co|Company|plc|PLC|NV|BV|"
    r"Bancorp|Fund|Bank|Partners|Industries|Technologies|Systems|International)\b"
)
# "My name is My E Lundberg": an initial and a capitalised word go on after the first word
INITIAL_FOLLOWS = re.compile(r" [A-Z]\.? [A-Z][^\W\d_]+")
# "the Johnsen novel", "a Turgeon concert", "the Kowalski family": a name used as an adjective
NAMED_THING_AFTER = re.compile(
    r"\s+(?:novels?|books?|films?|movies?|songs?|albums?|concerts?|famil(?:y|ies)|household|twins|kids|children)\b"
)
# "Hilmija's address", "Dan's phone number": what a person has, not a business
PERSONAL_POSSESSION = re.compile(
    r"(?:['\u2019]s)?\s+(?:(?:home|new|old|e-?mail|mailing|billing|shipping|delivery|cell|mobile)\s+)?"
    r"(?:address|phone|number|e-?mail|birthday)\b",
    re.IGNORECASE,
)


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


class NameEvidence:
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
            word = words[0]
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

    def _name_like(self, word: str) -> bool:
        """A word that could be a name on its own: a known name no everyday word, or a rare word."""
        if word in self.core_firsts:
            return self.zipf(word) < NER_FIRST_ZIPF  # "Thomas had given ...", "Paul had given ..."
        known = word in self.firsts or word in self.any_lasts
        return self.zipf(word) < (COMMON_ZIPF if known else RARE_ZIPF)

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

    def _ordinary(self, word: str) -> bool:
        """A word too common to be named after an introduction ("call me Back", "my friend Loved it")."""
        return word not in self.firsts and (word in STOP_WORDS or self.zipf(word) >= VERY_COMMON_ZIPF)

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
