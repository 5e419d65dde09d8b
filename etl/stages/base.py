"""The contract between a stage and the runner.

A stage reads a polars DataFrame of one unit (raw rows, records or examples)
and returns the rows it keeps and the rows it drops, each dropped row with a
reason. The runner owns ordering, timing, progress, writing outputs and the
accounting invariant, for every stage through one loop; a stage only decides.

Stages that judge rows subclass `Filter`: they declare per-row figures
(`compute_stats`) and rules (condition over the figures, reason, detail), and
the base builds kept, dropped and stats, as datatrove's filter base and
data-juicer's ops (`compute_stats` then `process`) do. Models load in `setup`,
which the runner calls once, before the clock for the stage's work starts.

Where the work runs is the executor's business (etl/run/executors.py), and the
contract says how a stage hands it over without the executor knowing the stage:
a `per_record` stage is split into batches whole; any other stage hands its
parallel work to a `Parallel` as pure functions (a worker built once a process,
applied to blocks of rows; an aggregate applied to groups of rows that share a
key). `Parallel` itself runs them here, in one call; the Ray executor spreads
the same functions over a cluster. A new stage gets Ray by calling these two,
without a line in etl/run/executors.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import polars as pl

Progress = Callable[[int], None]

# One schema for every dropped row of a run, whatever its stage and unit.
DROPPED_SCHEMA = pl.Schema(
    {
        "stage": pl.Utf8,
        "unit": pl.Utf8,  # raw rows, records or examples
        "id": pl.Utf8,  # the dropped row's own id (record id or example id; null for a raw row)
        "record_id": pl.Utf8,  # the record it came from
        "source": pl.Utf8,
        "source_file": pl.Utf8,
        "source_line": pl.Int64,
        "reason": pl.Utf8,
        # figures behind the decision ("words=1", "detected=es"): never raw text
        "detail": pl.Utf8,
    }
)
LINEAGE = ["record_id", "source", "source_file", "source_line"]


@dataclass
class StageResult:
    # the rows handed to the next stage
    kept: pl.DataFrame
    # the stage's id column, reason, detail (the runner adds stage, unit and lineage)
    dropped: pl.DataFrame
    # per-row figures behind the decisions (data-juicer's compute_stats), for reports
    stats: pl.DataFrame | None = None
    # figures about the work that are not row drops ("empty_turns_removed")
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """How a stage's work counts: rows_in = kept + dropped, in the stage's unit;
    handed_on is what the next stage receives (kept, unless the unit changes)."""

    rows_in: int
    kept: int
    dropped: int
    handed_on: int


class Stage(ABC):
    name: ClassVar[str]
    # what the stage reads, keeps and drops, and the column that names one of them
    unit: ClassVar[str] = "records"
    id_column: ClassVar[str] = "record_id"
    # the unit it hands on, when it turns one unit into another (format: records -> examples)
    produces: ClassVar[str | None] = None
    # True when each row's outcome depends on that row alone (clean, de-identify): records
    # carried from an earlier run (etl/run/incremental.py) pass such a stage untouched, and an
    # executor may run it on any partition of the rows
    per_record: ClassVar[bool] = False
    # the stage's part in the incremental cache (etl/run/incremental.py), which the runner
    # plays by role, never by stage name: "reads" is the stage whose kept rows name their
    # input file (after it the runner tells carried records from tonight's); "keeps" the
    # last per-record stage, whose kept records the cache stores for the next night
    cache_role: ClassVar[str | None] = None

    def setup(self, frame: pl.DataFrame) -> None:
        """Load models and other expensive state, sized to the input if need be; called once, before `apply`."""
        return None  # optional: most stages need nothing loaded

    def partitioned(self) -> Stage:
        """This stage as one of many copies, each given a part of the rows (etl/run/executors.py):
        a stage that starts its own worker processes returns a copy that does not."""
        return self

    def total_work(self, frame: pl.DataFrame) -> int:
        """Units the progress bar counts for this input."""
        return frame.height

    @abstractmethod
    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        """Keep or drop every input row; call progress(n) as work is done."""

    def tally(self, frame: pl.DataFrame, result: StageResult) -> Tally:
        return Tally(frame.height, result.kept.height, result.dropped.height, result.kept.height)

    def prepare(self, incoming: int) -> None:
        """Called as the run begins (by a one-run process: the CLI), before any stage runs, with
        the bytes of the input files the run reads (0: every record comes from the cache): start
        loading what the stage needs whatever its input (worker processes, models) in the
        background, so that it overlaps the stages before this one. `teardown` releases it."""
        return None  # optional

    def teardown(self) -> None:
        """Release what `setup` took (worker processes); called even when `apply` fails."""
        return None  # optional

    def run_outputs(self) -> dict[str, pl.DataFrame]:
        """Frames the stage leaves in the run folder, by file name (after `apply`)."""
        return {}

    def summary_fields(self) -> dict:
        """What the stage tells the run summary beyond its counts (lists are appended)."""
        return {}

    def reuse(self) -> dict[str, dict[str, int]]:
        """What the stage took from earlier runs and what it computed, by what it counts
        ({"rewrites": {"reused": 1862, "computed": 12}}), after `apply`."""
        return {}


class Parallel:
    """Where a stage's parallel work runs: here, in this process, in one call (this class), or
    an executor's (etl/run/executors.py: Ray). Each function handed over is pure, so the rows that
    come back are the same wherever it ran."""

    name: ClassVar[str] = "local"
    # True when the work leaves this process: worth it only above a few hundred rows, and a
    # stage keeps its one-call path here (the same floats, bit for bit, as before executors)
    distributed: ClassVar[bool] = False

    def map_blocks(self, worker: Callable[..., Callable], arguments: tuple, table, block: int) -> list[dict]:
        """The rows `worker(*arguments)` returns for the rows of `table` (a pyarrow Table), in
        order. The worker is built once a process and called with blocks of up to `block` rows
        (here: once, with the whole table); it returns a pyarrow Table per block."""
        return worker(*arguments)(table).to_pylist()

    def group_by(
        self, rows: pl.DataFrame, key: str, aggregate: Callable[[pl.DataFrame], pl.DataFrame]
    ) -> pl.DataFrame:
        """`aggregate`'s rows for `rows`, every row of one `key` value reaching the same call
        (here: one call over all rows; spread, each partition's call sorted by key)."""
        return aggregate(rows)


HERE = Parallel()


@dataclass(frozen=True)
class Rule:
    """Drop a row where `condition` (an expression over the stage's stats) holds."""

    condition: pl.Expr
    reason: str
    detail: pl.Expr = field(default_factory=lambda: pl.lit(None, dtype=pl.Utf8))


class Filter(Stage):
    """A stage that judges rows: transform, compute figures, apply rules in order (the first that holds is the reason)."""

    def transform(self, frame: pl.DataFrame, progress: Progress) -> pl.DataFrame:
        """The rows after the stage's work (same ids, same order); by default unchanged."""
        return frame

    @abstractmethod
    def compute_stats(self, rows: pl.DataFrame) -> pl.DataFrame:
        """The id column and one column per figure the rules read, a row per input row, in order."""

    @abstractmethod
    def rules(self) -> list[Rule]:
        """The drop rules, in order: the first that holds for a row is its reason."""

    def counts(self, stats: pl.DataFrame) -> dict[str, int]:
        return {}

    def kept_columns(self, frame: pl.DataFrame, rows: pl.DataFrame) -> list[str]:
        """The columns the kept rows carry on (by default the input's)."""
        return frame.columns

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        rows = self.transform(frame, progress)
        stats = self.compute_stats(rows)
        verdict = judge(stats, self.rules(), self.id_column)
        keep = verdict["reason"].is_null()
        kept = rows.filter(keep).select(self.kept_columns(frame, rows))
        dropped = verdict.filter(~keep)
        return StageResult(kept=kept, dropped=dropped, stats=stats, counts=self.counts(stats))


def judge(stats: pl.DataFrame, rules: list[Rule], id_column: str) -> pl.DataFrame:
    """id, reason (null = keep) and detail for every row; the first rule that holds wins."""
    if not rules:
        return stats.select(
            id_column, pl.lit(None, dtype=pl.Utf8).alias("reason"), pl.lit(None, dtype=pl.Utf8).alias("detail")
        )
    reason = pl.when(rules[0].condition).then(pl.lit(rules[0].reason))
    detail = pl.when(rules[0].condition).then(rules[0].detail)
    for rule in rules[1:]:
        reason = reason.when(rule.condition).then(pl.lit(rule.reason))
        detail = detail.when(rule.condition).then(rule.detail)
    return stats.select(
        id_column,
        reason.otherwise(pl.lit(None, dtype=pl.Utf8)).cast(pl.Utf8).alias("reason"),
        detail.otherwise(pl.lit(None, dtype=pl.Utf8)).cast(pl.Utf8).alias("detail"),
    )


def drop_frame(
    ids: pl.Series, reasons: pl.Series | str, details: pl.Series | None = None, id_column: str = "record_id"
) -> pl.DataFrame:
    """The dropped rows of a stage that does not use `Filter`: id, reason, detail."""
    n = len(ids)
    reasons = pl.Series([reasons] * n, dtype=pl.Utf8) if isinstance(reasons, str) else reasons
    details = pl.Series([None] * n, dtype=pl.Utf8) if details is None else details
    return pl.DataFrame({id_column: ids, "reason": reasons, "detail": details}).cast(
        {id_column: pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8}
    )


def with_lineage(dropped: pl.DataFrame, inputs: pl.DataFrame, stage: Stage) -> pl.DataFrame:
    """A stage's dropped rows in the run's one schema: stage, unit, ids and the source lines they came from."""
    key = stage.id_column
    lineage = [c for c in LINEAGE if c in inputs.columns and c != key]
    frame = dropped.join(inputs.select(key, *lineage), on=key, how="left") if lineage else dropped
    frame = frame.rename({key: "id"}) if key != "id" else frame
    if key == "record_id":
        frame = frame.with_columns(pl.col("id").alias("record_id"))
    missing = [
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in DROPPED_SCHEMA.items()
        if name not in frame.columns and name not in ("stage", "unit")
    ]
    return (
        frame.with_columns(*missing, pl.lit(stage.name).alias("stage"), pl.lit(stage.unit).alias("unit"))
        .select(list(DROPPED_SCHEMA))
        .cast(dict(DROPPED_SCHEMA))
    )
