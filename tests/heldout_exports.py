"""A company's own exports, held out from everything the pipeline was tuned on.

Texts written by people outside the project (the Yelp review sentences and the Taskmaster-4
dialogs of tests/data/realtext, CC BY 4.0, attributions in its README) with personal data
planted the way customers write it: names, phones of several countries with extensions,
second address lines, IBANs and account numbers (all from Faker). The files come in shapes
other than the sample's: a reviews CSV saying `comment`, `stars` (out of 10) and `date`
(dd/mm/yyyy), a helpdesk CSV of one message a row, and OpenAI-style `messages` JSONL.

`write_exports(folder)` returns the planted values, so a test can look for each of them in
everything a run writes.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from faker import Faker

REALTEXT = Path(__file__).parent / "data" / "realtext"
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_IN"]


def _people(seed: int) -> list[Faker]:
    fakers = []
    for i, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed + i)
        fakers.append(fake)
    return fakers


def _planted(rng: random.Random, fake: Faker, planted: list[str]) -> str:
    """One sentence of personal data, as a customer adds it to a review or a chat."""
    name, phone = fake.name(), f"{fake.phone_number()} x{rng.randint(10, 9999)}"
    street, second = fake.street_address(), rng.choice(["Apt 4B", "Suite 210", "Flat 3", "Unit 12"])
    iban, account = fake.iban(), str(fake.random_number(digits=8, fix_len=True))
    options = [
        (f"Thanks, {name}.", [name]),
        (f"Call me on {phone} if the driver gets lost.", [phone]),
        (f"Deliver to {street}, {second} please.", [street]),
        (f"Refund it by wire transfer to IBAN {iban}.", [iban]),
        (f"My account number is {account} for the refund.", [account]),
    ]
    text, values = rng.choice(options)
    planted += values
    return text


def _reviews(rng: random.Random, fakers: list[Faker], planted: list[str]) -> list[list[str]]:
    sentences = [line.rsplit("\t", 1) for line in (REALTEXT / "yelp_labelled.txt").read_text().splitlines()]
    rows = [["id", "date", "stars", "comment", "product", "location", "channel"]]
    for i, (text, label) in enumerate(sentences[:420]):
        if i % 3 == 0:
            text = f"{text} {_planted(rng, fakers[i % len(fakers)], planted)}"
        stars = rng.randint(7, 10) if label == "1" else rng.randint(1, 4)
        day = f"{rng.randint(1, 12):02d}/{rng.randint(1, 12):02d}/2026"  # no day above 12: ambiguous on purpose
        rows.append([f"RV-{i:05d}", day, str(stars), text, rng.choice(["Salmon Bowl", ""]), "Midtown", "web"])
    return rows


def _dialogs() -> list[dict]:
    return [json.loads(line) for line in (REALTEXT / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()]


def _with_planted(rng: random.Random, dialog: dict, fake: Faker, planted: list[str], plant: bool) -> list[dict]:
    turns = [dict(t) for t in dialog["utterances"]]
    if plant:
        first_user = next(t for t in turns if t["speaker"] == "user")
        first_user["text"] = f"{first_user['text']} {_planted(rng, fake, planted)}"
    return turns


def write_exports(folder: Path, seed: int = 11) -> list[str]:
    """The three exports under `folder`; returns every planted personal value."""
    rng, fakers, planted = random.Random(seed), _people(seed), []
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "reviews_export.csv").open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(_reviews(rng, fakers, planted))
    dialogs = _dialogs()
    with (folder / "helpdesk_messages.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["ticket", "sent", "author", "body"])
        for i, dialog in enumerate(dialogs[:60]):
            turns = _with_planted(rng, dialog, fakers[i % len(fakers)], planted, i % 2 == 0)
            for j, turn in enumerate(turns):
                author = "requester" if turn["speaker"] == "user" else "staff"
                writer.writerow([f"T-{i:04d}", f"2026-11-{1 + i % 28:02d}T10:{j:02d}:00", author, turn["text"]])
    with (folder / "assistant_logs.jsonl").open("w", encoding="utf-8") as out:
        for i, dialog in enumerate(dialogs[60:120]):
            turns = _with_planted(rng, dialog, fakers[i % len(fakers)], planted, i % 2 == 1)
            messages = [{"role": "system", "content": "You take coffee orders."}] + [
                {"role": t["speaker"], "content": t["text"]} for t in turns
            ]
            out.write(json.dumps({"id": f"conv-{i:04d}", "messages": messages}) + "\n")
    return planted
