"""The contract between a stage and the runner.

A stage is a function of a polars DataFrame that returns the rows it keeps and
the rows it drops, each dropped row with a reason. The runner owns ordering,
timing, progress, writing outputs and the accounting invariant; a stage only
decides. (Shaped after datatrove's filters: keep, or drop with a reason.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

DROPPED_SCHEMA = pl.Schema(
    {
        "record_id": pl.Utf8,
        "source": pl.Utf8,
        "source_file": pl.Utf8,
        "source_line": pl.Int64,
        "stage": pl.Utf8,
        "reason": pl.Utf8,
        # figures behind the decision ("words=1", "detected=es"): never raw text
        "detail": pl.Utf8,
    }
)

Progress = Callable[[int], None]


@dataclass
class StageResult:
    kept: pl.DataFrame
    # record_id, reason, detail (the runner adds stage and lineage columns)
    dropped: pl.DataFrame
    # per-row figures a report can show (data-juicer's compute_stats), optional
    stats: pl.DataFrame | None = None
    # counts that are not row drops, e.g. empty turns removed inside a chat
    notes: dict[str, int] = field(default_factory=dict)
    # a stage that turns records into another unit (format: records -> examples)
    emitted: pl.DataFrame | None = None
    # rows kept aside for later use, by name (written to the run folder)
    set_aside: dict[str, pl.DataFrame] = field(default_factory=dict)
    # frames later steps need (e.g. the dedup index published with the version)
    artifacts: dict[str, pl.DataFrame] = field(default_factory=dict)


class Stage(Protocol):
    name: str

    def total_work(self, df: pl.DataFrame) -> int:
        """Units the progress bar counts for this input."""

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        """Keep or drop every input row; call progress(n) as work is done."""


def drop_frame(record_ids: pl.Series, reasons: pl.Series, details: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"record_id": record_ids, "reason": reasons, "detail": details}).cast(
        {"record_id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8}
    )


def with_lineage(dropped: pl.DataFrame, inputs: pl.DataFrame, stage: str) -> pl.DataFrame:
    """Attach source, file and line of each dropped record, and the stage name."""
    lineage = inputs.select("record_id", "source", "source_file", "source_line")
    return (
        dropped.join(lineage, on="record_id", how="left")
        .with_columns(pl.lit(stage).alias("stage"))
        .select(list(DROPPED_SCHEMA))
        .cast(dict(DROPPED_SCHEMA))
    )
