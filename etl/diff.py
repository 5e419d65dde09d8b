"""What changed between two versions: examples added, removed and changed per task (by example id)."""

from __future__ import annotations

import hashlib
import json

import polars as pl

from etl.store import Store

CONTENT = ["messages", "split", "label", "dish", "constraints", "source", "record_id", "parent_id", "augmentation", "dup_cluster"]


def content_hashes(examples: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in CONTENT if c in examples.columns]
    hashes = [hashlib.sha256(json.dumps(row, default=str).encode()).hexdigest() for row in examples.select(columns).iter_rows()]
    return examples.select("id", "task").with_columns(pl.Series("content", hashes))


def diff_versions(store: Store, a: str, b: str) -> dict[str, dict[str, list[str]]]:
    """{task: {"added": [ids], "removed": [ids], "changed": [ids]}} from version a to version b."""
    old, new = content_hashes(store.examples(a)), content_hashes(store.examples(b))
    joined = old.join(new, on="id", how="full", suffix="_new", coalesce=True)
    result: dict[str, dict[str, list[str]]] = {}
    for row in joined.sort("id").iter_rows(named=True):
        task = row["task"] or row["task_new"]
        if row["content"] is None:
            kind = "added"
        elif row["content_new"] is None:
            kind = "removed"
        elif row["content"] != row["content_new"]:
            kind = "changed"
        else:
            continue
        result.setdefault(task, {"added": [], "removed": [], "changed": []})[kind].append(row["id"])
    return result
