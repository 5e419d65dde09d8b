"""How customers write: invented people and their personal data, typos, slang, casing.

Everything here is made up from fixed lists and a seeded `random.Random`, so the
same seed writes the same bytes on every machine and Python version.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST = [
    "Aaliyah",
    "Marcus",
    "Jasmine",
    "Tyler",
    "Keisha",
    "Brandon",
    "Maria",
    "Jordan",
    "Destiny",
    "Kevin",
    "Ashley",
    "DeShawn",
    "Emily",
    "Carlos",
    "Brianna",
    "Michael",
    "Tiffany",
    "Andre",
    "Megan",
    "Luis",
    "Imani",
    "Connor",
    "Priya",
    "Darnell",
    "Hannah",
    "Jamal",
    "Sophie",
    "Terrence",
    "Olivia",
    "Raj",
    "Kayla",
    "Malik",
    "Rachel",
    "Xavier",
    "Lauren",
    "Tremaine",
    "Grace",
    "Dwayne",
    "Natalie",
    "Omar",
    "Chloe",
    "Reggie",
    "Vanessa",
    "Ethan",
    "Monique",
    "Brian",
    "Danielle",
    "Quentin",
    "Samantha",
    "Victor",
]
LAST = [
    "Johnson",
    "Williams",
    "Brown",
    "Jackson",
    "Davis",
    "Harris",
    "Robinson",
    "Walker",
    "Thompson",
    "Martinez",
    "Washington",
    "Coleman",
    "Patel",
    "Nguyen",
    "Freeman",
    "Henderson",
    "Bryant",
    "Simmons",
    "Foster",
    "Gordon",
    "Reed",
    "Ellis",
    "Griffin",
    "Hayes",
    "Sullivan",
    "Okafor",
    "Ramirez",
    "Bennett",
    "Carter",
    "Mitchell",
    "Greene",
    "Porter",
    "Holloway",
    "Kim",
    "Chen",
    "Alvarez",
    "Dixon",
    "Howard",
    "Sanders",
    "Whitfield",
]
STREETS = [
    "Oakdale Road",
    "Briarcliff Road",
    "Moreland Avenue",
    "Glenwood Avenue",
    "Cascade Road",
    "Boulevard",
    "Highland Avenue",
    "Howell Mill Road",
    "Memorial Drive",
    "Ralph David Abernathy Blvd",
    "Lenox Road",
    "Cheshire Bridge Road",
    "North Druid Hills Road",
    "Flat Shoals Avenue",
    "Candler Road",
    "Roswell Road",
    "Piedmont Avenue",
    "Dekalb Avenue",
    "Marietta Street",
    "Ashby Street",
    "Sylvan Road",
    "Hosea L Williams Drive",
    "Euclid Avenue",
    "Lawrenceville Highway",
    "Clairmont Road",
]
UNIT = ["", "", "", " Apt 4B", " Apt 12", " Unit 210", " #3", " Suite 5"]
CITIES = [
    ("Atlanta", "30307"),
    ("Atlanta", "30318"),
    ("Decatur", "30030"),
    ("Atlanta", "30312"),
    ("East Point", "30344"),
    ("Atlanta", "30324"),
    ("Smyrna", "30080"),
    ("Atlanta", "30316"),
]
MAIL = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "icloud.com",
    "hotmail.com",
    "aol.com",
    "comcast.net",
    "bellsouth.net",
]
AREA_CODES = ["404", "678", "470", "770"]
STAFF = ["Dana", "Marcus", "Tasha", "Leon", "Brittany", "Jerome", "Renee", "Curtis"]

SLANG = {
    "to be honest": "tbh",
    "not gonna lie": "ngl",
    "really": "rly",
    "you": "u",
    "your": "ur",
    "please": "pls",
    "thanks": "thx",
    "because": "bc",
    "definitely": "def",
    "probably": "prob",
    "though": "tho",
    "going to": "gonna",
    "want to": "wanna",
    "chicken": "chkn",
    "delicious": "delish",
    "with": "w/",
    "people": "ppl",
    "about": "abt",
}
HAPPY_EMOJI = ["😍", "🔥", "💯", "🙌", "😋", "👍", "🤤", "💪", "🍑"]
UNHAPPY_EMOJI = ["😩", "😡", "🥲", "👎", "🙄"]


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str
    address: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def luhn_card(rng: random.Random) -> str:
    """A 16-digit Visa-style number that passes the Luhn check (as a real card would)."""
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return rng.choice(
        [" ".join(text[i : i + 4] for i in range(0, 16, 4)), "-".join(text[i : i + 4] for i in range(0, 16, 4)), text]
    )


def phone(rng: random.Random) -> str:
    area, exchange, line = rng.choice(AREA_CODES), rng.randrange(201, 989), rng.randrange(1000, 9999)
    if exchange == 555:
        exchange = 556
    style = rng.randrange(4)
    if style == 0:
        return f"({area}) {exchange}-{line}"
    if style == 1:
        return f"{area}-{exchange}-{line}"
    if style == 2:
        return f"{area}.{exchange}.{line}"
    return f"+1 {area} {exchange} {line}"


def street_address(rng: random.Random) -> str:
    number = rng.randrange(12, 4999)
    city, zip_code = rng.choice(CITIES)
    full = rng.random() < 0.5
    base = f"{number} {rng.choice(STREETS)}{rng.choice(UNIT)}"
    return f"{base}, {city}, GA {zip_code}" if full else base


def person(rng: random.Random) -> Person:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    handle = rng.choice(
        [f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}", f"{first}_{last}{rng.randrange(10, 99)}"]
    )
    email = f"{handle.lower()}@{rng.choice(MAIL)}"
    return Person(first, last, email, phone(rng), street_address(rng))


def order_number(rng: random.Random) -> str:
    return f"HB-{rng.randrange(100000, 999999)}"


def loyalty_number(rng: random.Random) -> str:
    return f"HBR-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def casual(text: str, rng: random.Random, typo_rate: float = 0.04, happy: bool = True) -> str:
    """Make a clean sentence read like a customer typed it on a phone."""
    if rng.random() < 0.35:
        for phrase, short in SLANG.items():
            if phrase in text and rng.random() < 0.6:
                text = text.replace(phrase, short)
    words = [typo(w, rng) if rng.random() < typo_rate else w for w in text.split(" ")]
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.25:
        text = text.lower()
    elif roll < 0.30:
        text = text.rstrip(".") + "!!"
    if rng.random() < 0.12:
        text += " " + rng.choice(HAPPY_EMOJI if happy else UNHAPPY_EMOJI) * rng.randrange(1, 3)
    return text


def mojibake(text: str) -> str:
    """What UTF-8 text looks like after a tool read it as Windows-1252."""
    return text.encode("utf-8").decode("cp1252", errors="replace")
