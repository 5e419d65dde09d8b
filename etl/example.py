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


# ------------------------------------------------------------------ preference data (DPO and KTO)

# TRL's conversational preference format: `prompt` (system prompt, then the conversation up to
# the judged turn), `chosen` and `rejected` (one assistant message each); etl/stages/preference/
PAIR_KINDS = ("agent_correction", "thumbs_contrast", "fact_changed")
PAIR_SCHEMA = pl.Schema(
    {
        "id": pl.Utf8,
        "prompt": pl.List(MESSAGE),
        "chosen": pl.List(MESSAGE),
        "rejected": pl.List(MESSAGE),
        "source": pl.Utf8,
        "record_id": pl.Utf8,
        "pair_kind": pl.Utf8,
        "synthetic": pl.Boolean,  # made up from the catalog (fact_changed), never in eval
        "split": pl.Utf8,
    }
)
# TRL's unpaired format for KTO: every rated answer, `label` True when the customer liked it
KTO_SCHEMA = pl.Schema(
    {
        "id": pl.Utf8,
        "prompt": pl.List(MESSAGE),
        "completion": pl.List(MESSAGE),
        "label": pl.Boolean,
        "source": pl.Utf8,
        "record_id": pl.Utf8,
        "split": pl.Utf8,
    }
)
# the configs a version publishes besides its tasks, and their schemas
EXTRA_CONFIGS = {"preference": PAIR_SCHEMA, "kto": KTO_SCHEMA}
