"""Ground: the catalog entries each question is about, in its example's system prompt.

For the tasks `format.grounding.tasks` names (menu_qa and recommendation, typically), every
example's system prompt gets the catalog entries its customer's last question is about, found
by etl/text/menu_retrieval.py: the same retrieval `etl eval` runs at answer time, so a model
trained on a grounded version learns to answer from the entries it will be given, never from a
list the data had and the chatbot will not. It runs after augmentation and synthesis, so a
variant with a typo in the dish's name is grounded the way a customer's typo would be.

No example is dropped: an example whose question names no dish and states no need keeps its
prompt as it was (counted as `without_entries`). The published prompt library (the manifest's
`prompts`) records each task's prompt without entries.
"""

from __future__ import annotations

import polars as pl

from etl.catalog import Catalog
from etl.config import GroundingConfig
from etl.stages.base import Progress, Stage, StageResult
from etl.text.menu_retrieval import MenuRetriever, ground_prompt

RETRIEVER = "menu_retrieval/1"  # names the retrieval code in the manifest; bump when it changes


class GroundStage(Stage):
    name = "ground"
    unit = "examples"
    id_column = "id"

    def __init__(self, config: GroundingConfig, catalog: Catalog) -> None:
        self.config, self.catalog = config, catalog
        self.retriever = MenuRetriever(catalog, config.max_entries)
        self.entries: dict[str, int] = {}  # entries written, per task
        self.grounded: dict[str, int] = {}  # examples given at least one entry, per task
        self.without: dict[str, int] = {}  # examples of a grounded task left without entries

    def total_work(self, frame: pl.DataFrame) -> int:
        return max(frame.filter(pl.col("task").is_in(self.config.tasks)).height, 1)

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        chosen = frame.filter(pl.col("task").is_in(self.config.tasks))
        rows = chosen.select("id", "task", "messages").to_dicts()
        questions = [_last_user_text(row["messages"]) for row in rows]
        found = self.retriever.retrieve_many(questions)
        grounded = []
        for row, dishes in zip(rows, found):
            task = row["task"]
            self.entries[task] = self.entries.get(task, 0) + len(dishes)
            counter = self.grounded if dishes else self.without
            counter[task] = counter.get(task, 0) + 1
            messages = row["messages"]
            system = ground_prompt(messages[0]["content"], dishes, self.catalog)
            grounded.append([{**messages[0], "content": system}, *messages[1:]])
        progress(len(rows))
        if rows:
            replaced = pl.DataFrame(
                {"id": [r["id"] for r in rows], "grounded_messages": grounded},
                schema={"id": pl.Utf8, "grounded_messages": frame.schema["messages"]},
            )
            frame = (
                frame.join(replaced, on="id", how="left", maintain_order="left")
                .with_columns(pl.coalesce("grounded_messages", "messages").alias("messages"))
                .drop("grounded_messages")
            )
        counts = {"grounded": sum(self.grounded.values()), "without_entries": sum(self.without.values())}
        return StageResult(
            kept=frame,
            dropped=pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8}),
            counts=counts,
        )

    def summary_fields(self) -> dict:
        return {"grounding": self.record()}

    def record(self) -> dict:
        """What the manifest says of the grounding: settings, retrieval code and counts per task."""
        return {
            "tasks": list(self.config.tasks),
            "max_entries": self.config.max_entries,
            "retriever": RETRIEVER,
            "grounded": dict(sorted(self.grounded.items())),
            "without_entries": dict(sorted(self.without.items())),
            "entries": dict(sorted(self.entries.items())),
        }


def _last_user_text(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
