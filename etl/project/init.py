"""`etl init DIR`: a first pipeline.yaml for a folder of a company's own exports.

Each file's source kind and column mapping are guessed from its name, its
header and its first rows (never more than `ROWS_LOOKED_AT`): a CSV with a
role and a conversation column is a chat log of one message a row, one with
question and answer columns an FAQ, any other a review export; a JSONL whose
objects hold a list of messages is a chat log; Markdown with `###` questions
is an FAQ; a .txt with a `Call-ID:` header a call transcript. Every guess
init is not sure of is written as a comment marked UNSURE next to the key,
and so is each file it could not place. What it writes holds column names,
formats and the few category values of ratings and roles, never a text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from etl.project.formats import Guess, guess_csv, guess_jsonl
from etl.stages.ingest.common import decode_file
from etl.stages.ingest.faqs import SHAPES, question_of

UNSURE = "UNSURE"

KINDS = ("reviews", "chats", "faqs", "calls")


def guess_folder(folder: Path) -> list[Guess]:
    """A guess for every export in the folder (hidden files, stores and configs left out)."""
    guesses = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(p.startswith(".") or p in ("store", "store-work") for p in relative.parts):
            continue
        if path.suffix.lower() in (".yaml", ".yml"):
            guesses += _catalog(path, relative.as_posix())
            continue
        if path.suffix.lower() == ".parquet":
            continue
        guesses.append(guess_file(path, relative.as_posix()))
    return guesses


def _catalog(path: Path, name: str) -> list[Guess]:
    """The business's own menu (`dishes:`) or stores (`stores:`) YAML, in the sample's format."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(doc, dict):
        return []
    kind = "menu" if "dishes" in doc else "stores" if "stores" in doc else None
    return [Guess(name, f"catalog.{kind}", {"path": name}, why=f"the {kind} catalog")] if kind else []


def guess_file(path: Path, name: str) -> Guess:
    suffix = path.suffix.lower()
    text = decode_file(path).text
    if suffix == ".csv":
        return guess_csv(text, name)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return guess_jsonl(text, name)
    if suffix in (".md", ".markdown"):
        questions = sum(question_of(line) is not None for line in text.splitlines())
        if questions:
            return Guess(name, "faqs", {"path": name}, why=f"Markdown with {questions} questions")
        return Guess(name, None, why=f"Markdown with no question: an FAQ is read when it has {SHAPES}")
    if suffix == ".txt" and re.search(r"(?mi)^call-id\s*:", text):
        return Guess(name, "calls", {"path": name}, why="a call transcript (Call-ID header)")
    return Guess(name, None, why="no source kind reads this file (CSV, JSONL, Markdown FAQ, call transcript)")


# ------------------------------------------------------------------ CSV


# ------------------------------------------------------------------ JSON Lines


# ------------------------------------------------------------------ values


# ------------------------------------------------------------------ business identifiers

# An identifier a business prints: letters, an optional dash, digits ("HB-592914", "HBR-2231-0042")
IDENTIFIER = re.compile(r"\b([A-Z]{1,5})(-?)(\d{3,10})((?:-\d{3,6})?)\b")
CUES = {
    "order_number_patterns": re.compile(r"\b(?:order|confirmation|ref(?:erence)?|invoice|ticket)\b", re.I),
    "loyalty_number_patterns": re.compile(r"\b(?:rewards?|loyalty|member(?:ship)?|points)\b", re.I),
}
SEEN_AT_LEAST = 2


def business_identifiers(folder: Path, guesses: list[Guess]) -> dict[str, list[str]]:
    """Patterns for the order and loyalty numbers the exports hold: each identifier shape seen at
    least twice within 40 characters after its cue ("order HB-592914"), as a regex. Without
    them de-identification does not look for such numbers, and a published version keeps them."""
    shapes: dict[str, dict[str, int]] = {key: {} for key in CUES}
    for guess in guesses:
        if guess.kind not in KINDS:
            continue
        text = decode_file(folder / guess.file).text
        for match in IDENTIFIER.finditer(text):
            # the cue in the same line, before the number (a row's id opens its line, a cue
            # at the end of the row above it is another row's)
            before = text[max(0, match.start() - 40) : match.start()].rsplit("\n", 1)[-1]
            for key, cue in CUES.items():
                if cue.search(before):
                    prefix, dash, digits, tail = match.groups()
                    shape = (
                        rf"\b{prefix}{dash}\d{{{len(digits)}}}" + (rf"-\d{{{len(tail) - 1}}}" if tail else "") + r"\b"
                    )
                    shapes[key][shape] = shapes[key].get(shape, 0) + 1
    return {key: sorted(s for s, n in found.items() if n >= SEEN_AT_LEAST) for key, found in shapes.items()}


# ------------------------------------------------------------------ the YAML


def render(guesses: list[Guess], dataset: str, folder: str, identifiers: dict[str, list[str]] | None = None) -> str:
    """A commented pipeline.yaml: one source entry per placed file, UNSURE notes beside the keys."""
    placed = [g for g in guesses if g.kind in KINDS]
    out = [
        f"# Written by `etl init` from {len(guesses)} file(s) in {folder}/.",
        f"# Check every line marked {UNSURE}, then read every file without publishing:",
        "#   etl run --config pipeline.yaml --dry-run",
        f"dataset: {dataset}",
        "store: store",
        "",
        "sources:",
    ]
    for kind in KINDS:
        mine = [g for g in placed if g.kind == kind]
        if mine:
            out.append(f"  {kind}:")
            for guess in mine:
                out += _entry(guess)
    for guess in (g for g in guesses if not g.kind):
        out.append(f"  # not read: {guess.file} ({guess.why})")
    out += [
        "",
        "# the business's own facts: dishes, prices, allergens, stores (format: the sample's menu.yaml)",
        "catalog:",
    ]
    for part in ("menu", "stores"):
        found = next((g for g in guesses if g.kind == f"catalog.{part}"), None)
        if found:
            out.append(f"  {part}: {json.dumps(found.file)}")
        elif part == "menu":
            out.append(f'  menu: "menu.yaml"  # {UNSURE}: no menu YAML (dishes:) found here; examples need one')
    out += [
        "",
        "deidentify:",
        "  mode: surrogate",
        "  # pseudonyms are keyed: export ETL_PII_KEY (a long random secret) before `etl run`",
    ]
    for key in CUES:
        found = (identifiers or {}).get(key) or []
        what = key.removesuffix("_patterns").replace("_", " ") + "s"
        if found:
            out.append(f"  {key}: {json.dumps(found)}  # {UNSURE}: {what} seen in the exports; replaced when listed")
        else:
            out.append(f"  # {key}: []  # no {what} seen after a cue; list your format, or they pass unchanged")
    out.append("")
    return "\n".join(out)


def _entry(guess: Guess) -> list[str]:
    lines = [f"    # {guess.why}", f"    - path: {json.dumps(guess.entry['path'])}"]
    for key, value in guess.entry.items():
        if key == "path":
            continue
        note = guess.unsure.get(key)
        if isinstance(value, dict):
            lines.append(f"      {key}:" + (f"  # {UNSURE}: {note}" if note else ""))
            for sub, inner in value.items():
                if isinstance(inner, dict):
                    lines.append(f"        {sub}:")
                    lines += [f"          {json.dumps(k)}: {json.dumps(v)}" for k, v in inner.items()]
                    continue
                sub_note = guess.unsure.get(f"{key}.{sub}")
                lines.append(f"        {sub}: {json.dumps(inner)}" + (f"  # {UNSURE}: {sub_note}" if sub_note else ""))
        else:
            lines.append(f"      {key}: {json.dumps(value)}" + (f"  # {UNSURE}: {note}" if note else ""))
    for key, note in guess.unsure.items():
        if key.split(".")[0] not in guess.entry:
            lines.append(f"      # {UNSURE}: {note}")
    return lines
