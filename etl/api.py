"""The Python API trainers use: `etl.load("healthy-bites", version="v3", task="menu_qa")`."""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from etl.store import Store, StoreError
from etl.tasks.common import BASE_COLUMNS


def default_store() -> Path:
    """$ETL_STORE, else ./store (where the sample pipeline publishes when run from the repo root)."""
    return Path(os.environ.get("ETL_STORE", "store"))


def load(dataset: str, version: str = "latest", task: str | None = None, store: str | Path | None = None) -> datasets.DatasetDict:
    """A published version as a `datasets.DatasetDict` of its splits.

    With `task`, that task's config, exactly what `datasets.load_dataset(<version
    folder>, task)` gives. Without, every task's examples per split, with the
    columns all tasks share (the `task` column tells them apart).
    """
    folder = Store(store or default_store(), dataset).path(version)
    tasks = sorted(p.name for p in (folder / "data").iterdir() if p.is_dir())
    if task is not None:
        if task not in tasks:
            raise StoreError(f"{dataset} {folder.name} has no task '{task}'; tasks: {', '.join(tasks)}.")
        return datasets.load_dataset(str(folder), task)
    per_split: dict[str, list[datasets.Dataset]] = {}
    for name in tasks:
        for split, part in datasets.load_dataset(str(folder), name).items():
            per_split.setdefault(split, []).append(part.select_columns(BASE_COLUMNS))
    return datasets.DatasetDict({split: datasets.concatenate_datasets(parts) for split, parts in per_split.items()})
