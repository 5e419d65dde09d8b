"""The instruction example every task builds and every version publishes (DESIGN.md,
"Instruction example"): its columns, which extras each task adds, and the tasks there are.

This is the data contract the store, the dataset card, `etl.load` and the task builders
share, so it sits in the core layer: none of them needs to import a stage to read it.
"""

from __future__ import annotations

import polars as pl

# The tasks the format stage builds, in the order it runs them (etl/stages/tasks/ has one
# builder a task; tests/test_layers.py checks the two lists agree).
TASKS = ("menu_qa", "recommendation", "order_support", "review_sentiment", "policy_qa", "customer_service")

# review_sentiment's answers: the star rating's side (etl/stages/tasks/review_sentiment.py)
SENTIMENT_LABELS = ("positive", "neutral", "negative")

MESSAGE = pl.Struct({"role": pl.Utf8, "content": pl.Utf8})

EXAMPLE_SCHEMA = pl.Schema(
    {
        "id": pl.Utf8,
        "task": pl.Utf8,
        "messages": pl.List(MESSAGE),
        "split": pl.Utf8,
        "source": pl.Utf8,
        "record_id": pl.Utf8,
        "parent_id": pl.Utf8,
        "augmentation": pl.Utf8,
        "dup_cluster": pl.Utf8,
        # review_sentiment
        "label": pl.Utf8,
        # recommendation: the dish recommended and the constraints it was checked against
        "dish": pl.Utf8,
        "constraints": pl.List(pl.Utf8),
    }
)
BASE_COLUMNS = ["id", "task", "messages", "split", "source", "record_id", "parent_id", "augmentation", "dup_cluster"]
TASK_EXTRAS = {"review_sentiment": ["label"], "recommendation": ["dish", "constraints"]}


def task_columns(task: str) -> list[str]:
    return BASE_COLUMNS + TASK_EXTRAS.get(task, [])
