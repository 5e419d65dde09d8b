"""Format: canonical records -> chat instruction examples, one builder per task (etl/stages/tasks/).

Record-level accounting: a record is kept when at least one example is built
from it. Conversations whose bot answers a customer rated "down" are not
examples of good answers: they are set aside (written to the run folder; the
preference stage pairs their judged answers) and counted as dropped with the
reason `feedback_down`. Examples whose customer side is shorter than their task's
minimum (`format.min_customer_words`) are not kept; a record left with none is
dropped as `too_short_for_task`. A chat or call in which the business never
answers the customer is dropped as `no_business_reply`; any other record no
builder can use as `no_task_match`.
Examples synthesised from the catalog come after the split (synthesize).
"""

from __future__ import annotations

import polars as pl

from etl.catalog import Catalog
from etl.config import FormatConfig
from etl.example import EXAMPLE_SCHEMA
from etl.stages.base import Progress, Stage, StageResult, Tally, drop_frame
from etl.stages.tasks import BUILDERS
from etl.stages.tasks.common import BuildContext


class FormatStage(Stage):
    """Records in, examples out: it keeps and drops records and hands on the examples built from them."""

    name = "format"
    produces = "examples"

    def __init__(self, config: FormatConfig, catalog: Catalog) -> None:
        self.config, self.catalog = config, catalog
        self.set_aside = pl.DataFrame()
        # every chat a customer rated, up or down: the preference stage's input
        self.rated = pl.DataFrame()
        self.records_used = 0

    def total_work(self, df: pl.DataFrame) -> int:
        return len(self.config.tasks)

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        rated_down = df["meta"].struct.field("thumbs").fill_null("") == "down"
        usable = df.filter(~rated_down)
        business = self.catalog.business
        ctx = BuildContext(
            self.catalog, self.config.system_prompt.format(business=business), self.config.prompts_for(business)
        )
        rows = usable.to_dicts()
        built: list[dict] = []
        for task in self.config.tasks:
            built += BUILDERS[task](rows, ctx)
            progress(1)
        examples = pl.DataFrame(built, schema=EXAMPLE_SCHEMA) if built else EXAMPLE_SCHEMA.to_frame()
        short = too_short(examples, self.config.min_customer_words)
        built_from = examples["record_id"].unique().implode()
        examples = examples.filter(~short)
        used = examples["record_id"].unique().implode()
        unused = usable.filter(~pl.col("record_id").is_in(used))
        only_short = unused["record_id"].is_in(built_from)
        self.records_used = usable.height - unused.height
        self.set_aside = df.filter(rated_down)
        self.rated = df.filter(df["meta"].struct.field("thumbs").is_in(["up", "down"]))
        dropped = pl.concat(
            [
                drop_frame(
                    self.set_aside["record_id"],
                    "feedback_down",
                    pl.Series(["set aside for preference data"] * self.set_aside.height, dtype=pl.Utf8),
                ),
                drop_frame(unused["record_id"], unused_reasons(unused, only_short)),
            ]
        )
        return StageResult(
            kept=examples,
            dropped=dropped,
            counts={"examples": examples.height, "too_short_for_task": int(short.sum()), **ctx.notes},
        )

    def tally(self, frame: pl.DataFrame, result: StageResult) -> Tally:
        """Records: in = used (at least one example built from it) + dropped; the examples are handed on."""
        return Tally(frame.height, self.records_used, result.dropped.height, result.kept.height)

    def run_outputs(self) -> dict[str, pl.DataFrame]:
        return {"set_aside/feedback_down": self.set_aside} if self.set_aside.height else {}

    def summary_fields(self) -> dict:
        return {"set_aside": {"feedback_down": self.set_aside.height}} if self.set_aside.height else {}


def too_short(examples: pl.DataFrame, minimums: dict[str, int]) -> pl.Series:
    """Examples whose customer side has fewer words than their task's minimum. A sentiment
    example wraps the review in an instruction: only the review counts."""
    customer = examples.select(
        task=pl.col("task"),
        text=pl.col("messages")
        .list.eval(pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content"))
        .list.join(" "),
    )
    text = (
        pl.when(pl.col("task") == "review_sentiment")
        .then(pl.col("text").str.extract(r"(?s)Review: (.*)$"))
        .otherwise(pl.col("text"))
    )
    words = text.fill_null("").str.count_matches(r"\w+")
    minimum = pl.col("task").replace_strict(minimums, default=1, return_dtype=pl.Int64)
    return customer.select(words < minimum).to_series()


def unused_reasons(unused: pl.DataFrame, only_short: pl.Series) -> pl.Series:
    """Why a record built no example: every example it gave was too short for its task, a
    conversation with no business reply after a customer turn, or nothing any task can use."""
    roles = unused["turns"].list.eval(pl.element().struct.field("role")).list.join(",")
    unanswered = unused["source"].is_in(["chat", "call"]) & ~roles.str.contains("user,assistant")
    reasons = unanswered.replace_strict({True: "no_business_reply", False: "no_task_match"}, return_dtype=pl.Utf8)
    return pl.select(pl.when(only_short).then(pl.lit("too_short_for_task")).otherwise(reasons)).to_series()
