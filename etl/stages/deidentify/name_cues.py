"""The cues around a span that tell a person's name from a word (names.py reads them): word
frequencies below which a word is rare, introductions, sign-offs, roles, titles, the words
before and after a name that is spoken to or about, and what names a thing instead.
Tables and patterns only; the decisions are names.py's."""

from __future__ import annotations

import re

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
