"""Letter-like texts, held out from everything the de-identification was tuned on.

What customers send by e-mail or contact form: a greeting, one to three sentences written by
people outside the project (the Yelp review sentences of tests/data/realtext that the exports of
tests/heldout_exports.py do not use, CC BY 4.0, attribution in its README), and a signature
block in one of the shapes people write, with Faker's people of eight locales in it: names that
open the block on their own line, names with a middle initial or a title, job titles, street
addresses, postal codes after the country, phones glued to a word ("805-695-6927-Office"),
e-mails.

`letters(n, seed)` returns `Letter`s: the text, the sentences that must come through unchanged
and the planted values by kind ("name", "address", "postcode", "phone", "email"), so a test or a
bench can count what survives.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from faker import Faker

REALTEXT = Path(__file__).parent / "data" / "realtext"
# locale -> the country as a customer writes it after the town
COUNTRIES = {
    "en_US": "USA",
    "en_GB": "United Kingdom",
    "de_DE": "Germany",
    "fr_FR": "France",
    "nl_NL": "Netherlands",
    "es_ES": "Spain",
    "it_IT": "Italy",
    "en_CA": "Canada",
}
JOBS = ["Bellhop", "Office Manager", "Head of Facilities", "Nurse", "Teacher", "Site Lead", "Accountant"]
CLOSINGS = ["Best regards,", "Kind regards,", "Thanks,", "Sincerely,", "Cheers,", "Many thanks,", "Warmly,"]
GREETINGS = ["Dear Healthy Bites team,", "Hello,", "Hi there,", "To whom it may concern,", "Dear team,"]


@dataclass
class Letter:
    text: str
    body: list[str]
    planted: dict[str, list[str]] = field(default_factory=dict)


def _sentences() -> list[str]:
    """The Yelp sentences heldout_exports.py leaves alone (it takes the first 420)."""
    lines = (REALTEXT / "yelp_labelled.txt").read_text().splitlines()
    return [line.rsplit("\t", 1)[0].strip() for line in lines[420:]]


def _person(rng: random.Random, fake: Faker) -> tuple[str, str]:
    """The name as signed, and the surname a reader would recognise the person by."""
    first, last = fake.first_name(), fake.last_name()
    shape = rng.randrange(4)
    if shape == 0:
        return f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}", last
    if shape == 1:
        return f"{rng.choice(['Dr.', 'Mr.', 'Ms.', 'Mrs.'])} {first} {last}", last
    return f"{first} {last}", last


def _address(rng: random.Random, fake: Faker, country: str) -> tuple[str, str, str]:
    """A one-line postal address (postal code after the country half the time), the street part
    and the postal code."""
    street, town, postcode = fake.street_address().replace("\n", ", "), fake.city(), fake.postcode()
    if rng.random() < 0.5:
        return f"{street}, {town}, {country} {postcode}", street, postcode
    return f"{street}, {postcode} {town}, {country}", street, postcode


def _phone(rng: random.Random, fake: Faker) -> tuple[str, str]:
    phone = fake.phone_number()
    shape = rng.randrange(3)
    if shape == 0:
        return f"{phone}-{rng.choice(['Office', 'Mobile', 'Cell', 'Work'])}", phone
    if shape == 1:
        return f"Tel: {phone}", phone
    return f"{phone} (mobile)", phone


def _signature(rng: random.Random, fake: Faker, country: str, planted: dict[str, list[str]]) -> str:
    signed, surname = _person(rng, fake)
    address, street, postcode = _address(rng, fake, country)
    phone_line, phone = _phone(rng, fake)
    email = fake.email()
    job = rng.choice(JOBS)
    planted["name"] = [surname]
    planted["email"] = [email]
    shape = rng.randrange(5)
    if shape == 0:  # the block the issue found: name alone, blank lines, "Personal Info:"
        block = f"{signed}\n\n{job}\n\nPersonal Info: {address}\n{phone_line}"
    elif shape == 1:
        block = f"{signed}\n{job}, {fake.company()}\n{address}\n{phone_line}\n{email}"
    elif shape == 2:
        block = f"-- \n{signed} | {job} | {phone_line} | {email}"
    elif shape == 3:
        block = f"{signed}\n{address}\n{phone_line}"
        email = ""
    else:
        block = f"Sent by {signed} ({email})\nAddress: {address}\n{phone_line}"
    planted["address"] = [street]
    planted["postcode"] = [postcode]
    planted["phone"] = [phone]
    if not email:
        planted.pop("email")
    return block


def letters(n: int = 512, seed: int = 29) -> list[Letter]:
    rng = random.Random(seed)
    fakers = []
    for i, locale in enumerate(COUNTRIES):
        fake = Faker(locale)
        fake.seed_instance(seed + i)
        fakers.append((fake, COUNTRIES[locale]))
    sentences = _sentences()
    out = []
    for i in range(n):
        fake, country = fakers[i % len(fakers)]
        body = rng.sample(sentences, rng.randint(1, 3))
        planted: dict[str, list[str]] = {}
        signature = _signature(rng, fake, country, planted)
        text = f"{rng.choice(GREETINGS)}\n\n{' '.join(body)}\n\n{rng.choice(CLOSINGS)}\n{signature}"
        out.append(Letter(text, body, planted))
    return out


# Twenty values of every kind, each planted in one review the way customers write it (issue 50's
# hostile set, our own version): (the review's text, the value that must not be published).
PLANTED_VALUES = [
    ("Text me at 0151 23456789 when the new menu drops.", "0151 23456789"),
    ("Call 470.555.0148 if the driver cannot find the gate.", "470.555.0148"),
    ("My mobile is +44 7700 900461, ring before six.", "+44 7700 900461"),
    ("Reach me on 805-695-6927-Office during the day.", "805-695-6927"),
    ("this was ordered by bartholomew fennimore for the whole office", "fennimore"),
    ("Ask for Quentin R. Abernathy at the front desk.", "Abernathy"),
    ("My profile is https://www.linkedin.com/in/ophelia-vantassel-4412 if you need it.", "vantassel"),
    ("I was born 03/14/1987 so I get the birthday discount.", "03/14/1987"),
    ("dob 11/02/1979, card on file.", "11/02/1979"),
    ("Refund it to IBAN GB33 BUKB 2020 1555 5555 55 please.", "GB33 BUKB 2020 1555 5555 55"),
    ("The refund goes to DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
    ("I paid with card 4716 2210 9988 1234 and got charged twice.", "4716 2210 9988 1234"),
    ("My social is 536-22-8726 for the catering invoice.", "536-22-8726"),
    ("Email me at wren.halloway.77@example.org about the order.", "wren.halloway.77@example.org"),
    ("Deliver to 77 Quillfeather Lane, Apt 4B, Springfield, IL 62704.", "Quillfeather"),
    ("Ship it to Hauptstrasse 12, 10115 Berlin, Germany please.", "Hauptstrasse 12"),
    ("Leave it at 14 Dunmore Road, Leeds, United Kingdom LS6 2QE.", "LS6 2QE"),
    ("My account number is 40182277 for the refund.", "40182277"),
    ("The order came from IP 203.0.113.77 apparently.", "203.0.113.77"),
    (
        "Loved it.\n\nBest regards,\nMireille van der Stoep\nPersonal Info: Keizersgracht 221, 1016 DV Amsterdam, Netherlands",
        "Stoep",
    ),
]


def survivors(letter: Letter, published: str) -> dict[str, list[str]]:
    """The planted values of `letter` still in its published text, by kind. A phone counts
    when its digits are there in any grouping; a surname when it is there more often than
    in the letter's own sentences (a surrogate may happen to share it: counted all the same)."""
    found: dict[str, list[str]] = {}
    digits = re.sub(r"\D", "", published)
    for kind, values in letter.planted.items():
        for value in values:
            if kind == "name":
                word = re.compile(rf"\b{re.escape(value)}\b", re.IGNORECASE)
                there = len(word.findall(published)) > len(word.findall(" ".join(letter.body)))
            elif kind == "phone":
                there = value in published or re.sub(r"\D", "", value) in digits
            elif kind == "postcode":
                there = re.search(rf"(?<!\w){re.escape(value)}(?!\w)", published) is not None
            else:
                there = value in published
            if there:
                found.setdefault(kind, []).append(value)
    return found


def write_planted_reviews(folder: Path) -> Path:
    """PLANTED_VALUES as a reviews export in the sample's columns, one value per review."""
    path = folder / "reviews_planted.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["review_id", "created_at", "customer_name", "customer_email", "rating", "item", "store", "text"]
        )
        for i, (text, _) in enumerate(PLANTED_VALUES):
            writer.writerow([f"R99{i:05d}", "2026-11-20T10:00:00+00:00", "", "", 4, "", "Midtown", text])
    return path
