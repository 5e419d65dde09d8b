"""The frozen, held-out eval set: written once per dataset, fingerprinted, kept across versions.

Two evaluations compare only on the same questions, so the set is not drawn from a version: it
is written once (`etl eval freeze`, or the first `etl eval` of a dataset) into
`<store>/<dataset>/frozen_eval/` and every later evaluation reads it and names its fingerprint.
It holds no customer text: questions written here from the catalog, and real labelled review
sentences from a public corpus.

- menu_qa: price, calories, protein, ingredients, allergen and diet yes/no questions about each
  dish, and comparisons of two, in phrasings synthesis never uses, naming the dish the ways
  customers do: in full, in lower case, in part ("the paleo bowl"), misspelt ("the Paleo Powr
  Bowl") and described by what is in it ("the steak one with chimichurri"). Each question keeps
  its canonical twin (the same words, the dish named in full) for the answer reader, and what a
  right answer must state.
- recommendation: a diet, an allergy, both, a calorie ceiling or a protein floor, in phrasings of
  its own; each request's constraints are kept and at least one dish fits them.
- review_sentiment: review sentences with the sentiment people gave them (UCI Sentiment
  Labelled Sentences, Yelp part, CC BY 4.0; packaged in train/data/), those in the version's
  train split left out.

Written only where no train question of the version it is frozen against is a rephrasing of it
(synthesis's own test: the same embedding model, cosine at `synthesis.eval_rephrase_threshold`
or more with a train question of the same task); how many were set aside is in its record.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import polars as pl

from etl.catalog import Catalog
from etl.embeddings import Embedder
from etl.errors import ConfigError
from train.frozen_questions import SEED, FrozenItem, menu_items, normal_review, recommendation_items, sentiment_items

FOLDER = "frozen_eval"
QUESTIONS = "questions.parquet"
RECORD = "frozen_eval.json"
GENERATOR = "frozen_eval/1"  # names this code in the record; bump when the questions it writes change


# ------------------------------------------------------------------ naming a dish as customers do


# ------------------------------------------------------------------ the questions


# ------------------------------------------------------------------ writing and reading


def items_frame(items: list[FrozenItem]) -> pl.DataFrame:
    rows = [asdict(i) | {"expected": json.dumps(i.expected, sort_keys=True)} for i in items]
    schema = {
        "id": pl.Utf8,
        "task": pl.Utf8,
        "intent": pl.Utf8,
        "style": pl.Utf8,
        "question": pl.Utf8,
        "canonical": pl.Utf8,
        "dishes": pl.List(pl.Utf8),
        "expected": pl.Utf8,
        "label": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema).unique("id", keep="first", maintain_order=True).sort("task", "id")


def fingerprint(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for row in frame.iter_rows():
        digest.update(json.dumps(row, sort_keys=True, default=list).encode() + b"\n")
    return digest.hexdigest()


def folder(store_root: Path, dataset: str) -> Path:
    return Path(store_root) / dataset / FOLDER


def load(store_root: Path, dataset: str) -> tuple[list[FrozenItem], dict] | None:
    """The dataset's frozen set and its record, or None when none was written."""
    where = folder(store_root, dataset)
    if not (where / RECORD).is_file():
        return None
    frame = pl.read_parquet(where / QUESTIONS)
    record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    if fingerprint(frame) != record["fingerprint"]:
        raise ConfigError(
            f"{where / QUESTIONS} does not match its recorded fingerprint: the frozen set was changed. "
            "Restore it, or write a new one with `etl eval freeze --new` (evaluations before it no longer compare)."
        )
    items = [FrozenItem(**{**row, "expected": json.loads(row["expected"])}) for row in frame.iter_rows(named=True)]
    return items, record


def write(store_root: Path, dataset: str, frame: pl.DataFrame, record: dict) -> dict:
    """Write the set and its record (the record last: a set without one is not a set)."""
    where = folder(store_root, dataset)
    where.mkdir(parents=True, exist_ok=True)
    (where / RECORD).unlink(missing_ok=True)
    partial = where / f".{QUESTIONS}.partial"
    frame.write_parquet(partial)
    partial.replace(where / QUESTIONS)
    record = {**record, "fingerprint": fingerprint(frame)}
    (where / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


# ------------------------------------------------------------------ freezing against a version


def train_questions(examples: pl.DataFrame, task: str) -> list[str]:
    """The customer's last question of each train example of a task."""
    chosen = examples.filter((pl.col("task") == task) & (pl.col("split") == "train"))
    return [
        next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        for messages in chosen["messages"].to_list()
    ]


def closest_train(items: list[FrozenItem], examples: pl.DataFrame, semantic) -> list[float]:
    """Each item's highest cosine with a train question of its task (the semantic dedup model);
    0 for tasks whose questions are not compared (review_sentiment is checked by text)."""
    embed = Embedder()
    closest = [0.0] * len(items)
    for task in ("menu_qa", "recommendation"):
        rows = [i for i, item in enumerate(items) if item.task == task]
        seen = train_questions(examples, task)
        if not rows or not seen:
            continue
        vectors = embed(
            [items[i].question for i in rows] + seen, semantic.model, semantic.batch_size, semantic.precision
        )
        best = (vectors[: len(rows)] @ vectors[len(rows) :].T).max(axis=1)
        for i, value in zip(rows, best):
            closest[i] = float(value)
    return closest


def freeze(config, catalog: Catalog, store, version: str) -> dict:
    """Write the dataset's frozen set, checked against `version`'s train split; returns its record."""
    examples = store.examples(version)
    semantic = config.dedup.semantic
    candidates = menu_items(catalog) + recommendation_items(catalog)
    closest = closest_train(candidates, examples, semantic)
    rephrasing = semantic.threshold
    kept = [item for item, value in zip(candidates, closest) if value < rephrasing]
    reviews = {
        normal_review(m[1]["content"].split("Review: ", 1)[-1])
        for m in examples.filter((pl.col("task") == "review_sentiment") & (pl.col("split") == "train"))[
            "messages"
        ].to_list()
    }
    kept += sentiment_items(reviews)
    frame = items_frame(kept)
    set_aside: dict[str, int] = {}
    for item, value in zip(candidates, closest):
        if value >= rephrasing:
            set_aside[item.task] = set_aside.get(item.task, 0) + 1
    strict = config.synthesis.eval_rephrase_threshold
    manifest = store.manifest(version)
    record = {
        "generator": GENERATOR,
        "seed": SEED,
        "frozen_against": {"dataset": store.dataset, "version": version, "fingerprint": manifest["fingerprint"]},
        "catalog_sha256": _catalog_hash(catalog),
        "sizes": {t: int(n) for t, n in frame.group_by("task").len().sort("task").iter_rows()},
        "styles": {
            f"{t}:{s}": int(n) for t, s, n in frame.group_by("task", "style").len().sort("task", "style").iter_rows()
        },
        "rephrasing_check": {
            "test": "cosine of sentence embeddings with every train question of the same task "
            "(dedup.semantic.model), at dedup.semantic.threshold or more: a rephrasing",
            "model": semantic.model or "packaged all-MiniLM-L6-v2",
            "threshold": rephrasing,
            "candidates": len(candidates),
            "set_aside": set_aside,
            # synthesis's stricter contamination threshold flags nearly every question about the
            # same dish and fact, which this set asks by design: counted, not set aside
            "at_or_above_synthesis_threshold": {
                "threshold": strict,
                "kept_questions": sum(1 for item, v in zip(candidates, closest) if strict <= v < rephrasing),
            },
        },
        "review_sentiment_source": "UCI Sentiment Labelled Sentences, Yelp part (CC BY 4.0), train texts left out",
    }
    return write(store.root, store.dataset, frame, record)


def _catalog_hash(catalog: Catalog) -> str:
    return hashlib.sha256(catalog.model_dump_json().encode()).hexdigest()
