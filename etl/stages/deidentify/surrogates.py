"""Replacement values for detected personal data.

surrogate (default): a realistic fake value of the same kind, derived from an
HMAC-SHA256 of the original under a secret key. The same value gets the same
surrogate in every turn, record and nightly run with the same key; without
the key the mapping cannot be reversed or recomputed. Names are replaced word
by word, so "Jordan" and "Jordan Smith" stay consistent; numbers keep their
format (digits replaced, separators kept; card numbers stay Luhn-valid, so
they still look like cards). E-mails use the reserved example.com/org/net
domains, phone numbers the fictional 555-01xx range, IP addresses the
documentation networks, cards the networks' test prefixes, SSNs the unissued
area 666 and street addresses streets of fiction, so a leak scan (the
`deidentified` expectation suite) can tell a surrogate from a real value.

placeholder: typed tags numbered per conversation, `<PERSON_1>`, `<PHONE_NUMBER_2>`.

mask: the value's characters replaced by `*` (presidio's mask operator).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
from functools import lru_cache
from pathlib import Path

from faker import Faker

from etl.config import ConfigError, DeidentifyConfig

# Public on purpose: it protects nothing, and every run that uses it says so.
DEVELOPMENT_KEY = b"healthy-bites-development-key-not-secret"
# Surrogates must not look like leaks: a scan of a published version can tell them
# from real values because they sit where no real value can.
# E-mail: the domains RFC 2606 reserves for documentation.
FAKE_DOMAINS = ["example.com", "example.org", "example.net"]
# Phones: 555-0100..555-0199, the North American range set aside for fiction.
FICTIONAL_EXCHANGE = "55501"
# IP addresses: the documentation networks of RFC 5737.
DOCUMENTATION_NETWORKS = ["192.0.2", "198.51.100", "203.0.113"]
# Cards: the networks' published test prefixes (Luhn-valid, so they still read as cards).
TEST_CARD_PREFIXES = {"3": "370000", "4": "400000", "5": "555555", "6": "601100"}
# IBANs: check digits 00 (and 01, 99) are never valid (ISO 13616 computes 02..98), so an
# IBAN-shaped surrogate with check digits 00 is no one's account.
INVALID_IBAN_CHECK = "00"
# Account, routing and sort-code numbers have no range set aside: a surrogate opens with 00
# (a routing prefix only the US Treasury uses), which the leak scan takes for a surrogate.
BANK_SURROGATE_PREFIX = "00"
# SSNs: area 666 is never issued.
UNISSUED_SSN_AREA = "666"
# Street addresses: streets of fiction, no one's home.
FICTIONAL_STREETS = [
    "Evergreen Terrace",
    "Wisteria Lane",
    "Privet Drive",
    "Sesame Street",
    "Cherry Tree Lane",
    "Paper Street",
    "Spooner Street",
    "Acacia Avenue",
]


KEY_FILE_FORMAT = re.compile(rb"[0-9A-Fa-f]{32,}")


def load_key(config: DeidentifyConfig, warn=print) -> bytes:
    """The surrogate key from the environment or the key file; the development key only where allowed."""
    value = os.environ.get(config.key_env)
    if value:
        return value.encode()
    if config.key_file:
        path = Path(config.key_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"deidentify.key_file: key file {path} not found. Create it (e.g. `openssl rand -hex 32 > {path}`) outside the store."
            )
        key = path.read_bytes().strip()
        # the documented format, so a path pointing at the wrong file (a password file, a
        # certificate) is refused instead of becoming the key; the content is never echoed
        if not KEY_FILE_FORMAT.fullmatch(key):
            raise ConfigError(
                f"deidentify.key_file: {path} does not hold a key in the expected format (one line of at least "
                f"32 hex digits). Write one with `openssl rand -hex 32 > {path}`, or point key_file at that file."
            )
        return key
    if config.mode != "surrogate":
        return DEVELOPMENT_KEY  # placeholders and masks do not depend on the key
    if config.allow_dev_key:
        warn(
            f"DEVELOPMENT KEY in use for pseudonyms: surrogates are reproducible by anyone. Set ${config.key_env} or deidentify.key_file for real data."
        )
        return DEVELOPMENT_KEY
    raise ConfigError(
        f"deidentify: no surrogate key. Set the environment variable {config.key_env} to a long random secret "
        "(or point deidentify.key_file at a file holding one, outside the store). "
        "For a development run on sample data only, set deidentify.allow_dev_key: true."
    )


@lru_cache(maxsize=1)
def _faker() -> Faker:
    return Faker("en_US")


class Surrogates:
    """Keyed, consistent fake values; one instance per key (cached per original value)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.cache: dict[tuple[str, str], str] = {}

    def _seed(self, kind: str, value: str) -> int:
        digest = hmac.new(self.key, f"{kind}\x1f{value}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def _fake(self, kind: str, value: str) -> Faker:
        fake = _faker()
        fake.seed_instance(self._seed(kind, value))
        return fake

    def replace(self, entity: str, value: str) -> str:
        cached = self.cache.get((entity, value))
        if cached is None:
            cached = self._make(entity, value)
            self.cache[(entity, value)] = cached
        return cached

    def _make(self, entity: str, value: str) -> str:
        if entity == "PERSON":
            return self.person(value)
        if entity == "EMAIL_ADDRESS":
            local = self.person(value.split("@")[0].replace(".", " ").replace("_", " ")).lower().replace(" ", ".")
            local = re.sub(r"[^a-z0-9.]", "", local) or "customer"
            return f"{local}@{self._fake('DOMAIN', value.lower()).random_element(FAKE_DOMAINS)}"
        if entity == "STREET_ADDRESS":
            fake = self._fake("ADDRESS", " ".join(value.lower().split()))
            street = f"{fake.building_number()} {fake.random_element(FICTIONAL_STREETS)}"
            return (
                f"{street}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"
                if re.search(r"\d{5}\s*$", value)
                else street
            )
        if entity == "IP_ADDRESS":
            rng = random.Random(self._seed("IP", value))
            return f"{rng.choice(DOCUMENTATION_NETWORKS)}.{rng.randint(1, 254)}"
        if entity == "CREDIT_CARD":
            return self.card(value)
        if entity == "PHONE_NUMBER":
            return self.phone(value)
        if entity == "SOCIAL_HANDLE":
            name = re.sub(r"[^a-z0-9_]", "", self._fake("HANDLE", value.lower()).user_name().lower())
            if "/" in value:  # a profile link: the site kept, the name in its path replaced
                site = value[: value.rstrip("/").rfind("/") + 1]
                return site + ("@" if value.rstrip("/").split("/")[-1].startswith("@") else "") + (name or "customer")
            return f"@{name or 'customer'}"
        if entity == "IBAN_CODE":
            return self.iban(value)
        if entity == "DATE_OF_BIRTH":
            return self.birth_date(value)
        if entity == "BANK_ACCOUNT":
            masked = self.digits(entity, value)
            it = iter(BANK_SURROGATE_PREFIX)
            return re.sub(r"\d", lambda m: next(it, m.group(0)), masked)
        if entity == "US_SSN":
            masked = self.digits(entity, value)
            return UNISSUED_SSN_AREA + masked[3:] if masked[:3].isdigit() else masked
        # order and loyalty numbers: same shape, other digits
        return self.digits(entity, value)

    def person(self, value: str) -> str:
        words = value.split()
        out = []
        for position, word in enumerate(words):
            table = "FIRST" if position == 0 and len(words) > 0 else "LAST"
            real = word.lower().strip(".,")
            fake = self._fake(f"PERSON_{table}", real)
            draw = fake.first_name if table == "FIRST" else fake.last_name
            name = draw()
            for _ in range(20):  # common names are drawn often: never hand the real one back ("Johnson")
                if name.lower() != real:
                    break
                name = draw()
            if len(word.rstrip(".")) == 1:  # a middle initial stays an initial ("Leif I. Ranheim")
                out.append(name[0].upper() + word[1:])
                continue
            out.append(name.lower() if word.islower() else name.upper() if word.isupper() and len(word) > 1 else name)
        return " ".join(out) if out else value

    def digits(self, kind: str, value: str) -> str:
        digits = re.sub(r"\D", "", value)
        rng = random.Random(self._seed(kind, digits))
        result, first = [], True
        for char in value:
            if char.isdigit():
                # keep phone area codes and SSN areas plausible (never 0 or 1 first)
                result.append(str(rng.randint(2, 9) if first else rng.randint(0, 9)))
                first = False
            else:
                result.append(char)
        return "".join(result)

    def phone(self, value: str) -> str:
        """Same shape, other digits, and the last seven of the number in 555-01xx: a number no one
        has. An extension ("x0163", "ext. 12") keeps its shape with other digits; it is not part
        of the number whose last seven digits must be fictional."""
        number, extension = split_extension(value)
        if extension:
            return self.phone(number) + re.sub(r"\d+", lambda m: self.digits("PHONE_EXT", m.group(0)), extension)
        prefix = INTERNATIONAL_PREFIX.match(value)
        if prefix:  # a country code is no one's: keep it, so "001-..." stays a phone and not a card
            return prefix.group(0) + self.phone(value[prefix.end() :])
        masked = self.digits("PHONE_NUMBER", value)
        digits = [c for c in masked if c.isdigit()]
        if len(digits) < 7:
            return masked
        if len(digits) == 11 and re.sub(r"\D", "", value).startswith("1"):
            digits[0] = "1"  # keep the country code
        digits[-7:-2] = FICTIONAL_EXCHANGE
        original = re.sub(r"\D", "", value)
        if digits[-4:] == list(original[-4:]):
            # a number already in 555-01xx must not keep its real last four: move the last two
            moved = (int(original[-2:]) + 1 + self._seed("PHONE_LAST", original) % 99) % 100
            digits[-2:] = list(f"{moved:02d}")
        it = iter(digits)
        return "".join(next(it) if c.isdigit() else c for c in masked)

    def iban(self, value: str) -> str:
        """Country kept, check digits 00 (never valid), every other character replaced by a keyed
        one of its class: the shape of an IBAN and no one's account."""
        compact = re.sub(r"\s", "", value)
        rng = random.Random(self._seed("IBAN", compact.upper()))
        letters, digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789"
        out, position = [], 0
        for char in value:
            if char.isspace():
                out.append(char)
                continue
            if position < 2:
                out.append(char.upper())
            elif position < 4:
                out.append(INVALID_IBAN_CHECK[position - 2])
            else:
                out.append(rng.choice(digits if char.isdigit() else letters))
            position += 1
        return _digit_runs_open_with_00("".join(out))

    def birth_date(self, value: str) -> str:
        """Another date in the same writing: numbers stay numbers of the same widths (a month
        stays where a month was, at most 12), a month's name stays a name, the year moves."""
        rng = random.Random(self._seed("BIRTH_DATE", " ".join(value.lower().split())))
        month, day, shift = rng.randint(1, 12), rng.randint(1, 28), rng.choice([-6, -5, -4, -3, -2, 2, 3, 4, 5, 6])
        numbers = [m for m in re.finditer(r"\d+", value)]
        named = re.search(r"[A-Za-z]{3,}", value)
        iso = bool(numbers) and len(numbers[0].group(0)) == 4
        day_slot = 2 if iso else 0 if numbers and int(numbers[0].group(0)) > 12 else 1
        parts = []
        for index, match in enumerate(numbers):
            text, width = match.group(0), len(match.group(0))
            if width == 4:
                new = str(int(text) + shift)
            elif named is not None or index == day_slot:
                new = str(day).zfill(width)
            elif index == 2:  # a two-digit year
                new = f"{(int(text) + shift) % 100:02d}"
            else:
                new = str(month).zfill(width)
            parts.append((match.span(), new))
        out = value
        for (start, end), new in reversed(parts):
            out = out[:start] + new + out[end:]
        if named is not None:
            names = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                     "October", "November", "December"]  # fmt: skip
            chosen = names[month - 1]
            word = named.group(0)
            out = out.replace(word, chosen[: len(word)] if len(word) <= 4 else chosen, 1)
        return out

    def card(self, value: str) -> str:
        masked = self.digits("CREDIT_CARD", value)
        digits = [int(c) for c in masked if c.isdigit()]
        if len(digits) < 12:
            return masked
        # keep the network (4 = Visa, 5 = Mastercard...) with its test prefix
        prefix = TEST_CARD_PREFIXES.get(re.sub(r"\D", "", value)[0], "400000")
        digits[: len(prefix)] = [int(c) for c in prefix]
        check = _luhn_check_digit(digits[:-1])
        digits[-1] = check
        it = iter(digits)
        return "".join(str(next(it)) if c.isdigit() else c for c in masked)


# "+44 ", "0049-", "001-": the international prefix and country code before a number.
INTERNATIONAL_PREFIX = re.compile(r"\s*(?:\+|00)\d{1,3}(?=[\s.()-])")
EXTENSION = re.compile(r"(\s*(?:x|ext\.?|extension|#)\s*\d{1,6})\s*$", re.IGNORECASE)


def split_extension(value: str) -> tuple[str, str]:
    """("555-123-4567", " x0163") for "555-123-4567 x0163"; the extension is "" when there is none."""
    match = EXTENSION.search(value)
    if match is None or not re.search(r"\d", value[: match.start()]):
        return value, ""
    return value[: match.start()], value[match.start() :]


# a run of digits, single spaces or dashes between them, that no letter or digit precedes
DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9])\d(?:[\s-]?\d){6,}")


def _digit_runs_open_with_00(surrogate: str) -> str:
    """Each long run of digits in the surrogate opens with 00: a GB IBAN printed in groups of four
    holds 14 digits after its bank code, which the gates would read as a card or an account
    number; no real card or account number opens with 00, so the gates pass such a run by
    construction (expectations/published.json)."""
    return DIGIT_RUN.sub(lambda m: re.sub(r"\d", "0", m.group(0)[:1]) + _second_zero(m.group(0)[1:]), surrogate)


def _second_zero(rest: str) -> str:
    return re.sub(r"\d", "0", rest, count=1)


def _luhn_check_digit(payload: list[int]) -> int:
    total = 0
    for index, digit in enumerate(reversed(payload)):
        doubled = digit * 2 if index % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10


class Placeholders:
    """`<TYPE_n>` tags numbered per conversation: the same value keeps its number."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}

    def replace(self, entity: str, value: str) -> str:
        key = (entity, " ".join(value.lower().split()))
        if key not in self.numbers:
            self.counts[entity] = self.counts.get(entity, 0) + 1
            self.numbers[key] = self.counts[entity]
        return f"<{entity}_{self.numbers[key]}>"
