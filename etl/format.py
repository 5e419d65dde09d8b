"""Format: canonical records -> chat instruction examples, one builder per task (etl/tasks/).

Record-level accounting: a record is kept when at least one example is built
from it. Conversations whose bot answers a customer rated "down" are not
examples of good answers: they are set aside (written to the run folder for a
later preference dataset) and counted as dropped with the reason
`feedback_down`. A chat or call in which the business never answers the customer
is dropped as `no_business_reply`; any other record no builder can use as
`no_task_match`.
Examples synthesised from the catalog have no raw record; they are counted
as examples, not as records.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from etl.catalog import Catalog
from etl.config import FormatConfig
from etl.stage import Progress, StageResult, drop_frame
from etl.tasks import BUILDERS
from etl.tasks.common import EXAMPLE_SCHEMA, BuildContext
from etl.tasks.menu_qa import catalog_examples


@dataclass
class FormatStage:
    config: FormatConfig
    catalog: Catalog
    catalog_name: str = "menu.yaml"
    name: str = "format"

    def total_work(self, df: pl.DataFrame) -> int:
        return len(self.config.tasks)

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        rated_down = df["meta"].struct.field("thumbs").fill_null("") == "down"
        usable = df.filter(~rated_down)
        ctx = BuildContext(self.catalog, self.config.system_prompt.format(business=self.catalog.business), self.config.catalog_questions_per_dish)
        rows = usable.to_dicts()
        built: list[dict] = []
        for task in self.config.tasks:
            built += BUILDERS[task](rows, ctx)
            if task == "menu_qa":
                built += catalog_examples(ctx, self.catalog_name)
            progress(1)
        examples = pl.DataFrame(built, schema=EXAMPLE_SCHEMA) if built else EXAMPLE_SCHEMA.to_frame()
        used = examples["record_id"].unique().implode()
        kept = usable.filter(pl.col("record_id").is_in(used))
        unused = usable.filter(~pl.col("record_id").is_in(used))
        set_aside = df.filter(rated_down)
        dropped = pl.concat(
            [
                drop_frame(set_aside["record_id"], pl.Series(["feedback_down"] * set_aside.height), pl.Series(["set aside for preference data"] * set_aside.height)),
                drop_frame(unused["record_id"], unused_reasons(unused), pl.Series([None] * unused.height, dtype=pl.Utf8)),
            ]
        )
        notes = {"examples": examples.height, **ctx.notes}
        return StageResult(kept=kept, dropped=dropped, notes=notes, emitted=examples, set_aside={"feedback_down": set_aside})


def unused_reasons(unused: pl.DataFrame) -> pl.Series:
    """Why a record built no example: a conversation with no business reply after a customer
    turn, or nothing any task can use."""
    roles = unused["turns"].list.eval(pl.element().struct.field("role")).list.join(",")
    replied = roles.str.contains("user,assistant")
    unanswered = unused["source"].is_in(["chat", "call"]) & ~replied
    return unanswered.replace_strict({True: "no_business_reply", False: "no_task_match"}, return_dtype=pl.Utf8)
