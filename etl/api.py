"""The Python API trainers use: `etl.load("healthy-bites", version="v3", task="menu_qa")`."""

from __future__ import annotations

import os
from pathlib import Path

import datasets

from etl.example import BASE_COLUMNS, TASK_EXTRAS
from etl.store import Store, StoreError


def default_store() -> Path:
    """$ETL_STORE, else ./store (where the sample pipeline publishes when run from the repo root)."""
    return Path(os.environ.get("ETL_STORE", "store"))


def load(
    dataset: str, version: str = "latest", task: str | None = None, store: str | Path | None = None
) -> datasets.DatasetDict:
    """A published version as a `datasets.DatasetDict` of its splits.

    With `task`, that task's config, exactly what `datasets.load_dataset(<version
    folder>, task)` gives. Without, every task's examples per split, with every
    column of every task: the shared ones, and the task-specific ones (`label`,
    `dish`, `constraints`) left null on the rows of tasks that have none.
    """
    target = Store(store or default_store(), dataset)
    folder = target.path(version)
    tasks = sorted(p.name for p in (folder / "data").iterdir() if p.is_dir())
    if task is not None:
        if task not in tasks:
            raise StoreError(f"{dataset} {folder.name} has no task '{task}'; tasks: {', '.join(tasks)}.")
        return datasets.load_dataset(str(folder), task)
    examples = target.examples(folder.name)
    columns = BASE_COLUMNS + [
        c for task_name in tasks for c in TASK_EXTRAS.get(task_name, []) if c in examples.columns
    ]
    ordered = examples.sort("task", "id").select(list(dict.fromkeys(columns)))
    return datasets.DatasetDict(
        {
            split: datasets.Dataset(part.to_arrow())
            for (split,), part in ordered.group_by(["split"], maintain_order=True)
        }
    )
