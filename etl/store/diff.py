"""What changed between two versions, per task (by example id): examples added,
removed, moved between splits, and changed in content."""

from __future__ import annotations

import hashlib
import json

import polars as pl

from etl.store import Store

KINDS = ("added", "removed", "moved", "changed")
# everything an example holds but its id, task and split
CONTENT = [
    "messages",
    "label",
    "dish",
    "constraints",
    "source",
    "record_id",
    "parent_id",
    "augmentation",
    "dup_cluster",
]


def content_hashes(examples: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in CONTENT if c in examples.columns]
    hashes = [
        hashlib.sha256(json.dumps(row, default=str).encode()).hexdigest()
        for row in examples.select(columns).iter_rows()
    ]
    return examples.select("id", "task", "split").with_columns(pl.Series("content", hashes))


def diff_versions(store: Store, a: str, b: str) -> dict[str, dict[str, list]]:
    """{task: {"added": [ids], "removed": [ids], "moved": [{id, from, to}], "changed": [ids]}}
    from version a to version b; an example whose split differs is a move (and, if its
    content differs too, a change as well)."""
    old, new = content_hashes(store.examples(a)), content_hashes(store.examples(b))
    joined = old.join(new, on="id", how="full", suffix="_new", coalesce=True)
    result: dict[str, dict[str, list]] = {}
    for row in joined.sort("id").iter_rows(named=True):
        task = row["task"] or row["task_new"]
        for kind, item in _changes(row):
            result.setdefault(task, {k: [] for k in KINDS})[kind].append(item)
    return result


def _changes(row: dict) -> list[tuple[str, object]]:
    if row["content"] is None:
        return [("added", row["id"])]
    if row["content_new"] is None:
        return [("removed", row["id"])]
    changes: list[tuple[str, object]] = []
    if row["split"] != row["split_new"]:
        changes.append(("moved", {"id": row["id"], "from": row["split"], "to": row["split_new"]}))
    if row["content"] != row["content_new"]:
        changes.append(("changed", row["id"]))
    return changes
