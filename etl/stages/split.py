"""Split: one train/eval decision per record, stable across runs and versions.

Every example of a record is on the record's side, whatever task built it,
and rephrasings (examples sharing a `dup_cluster`, from semantic dedup) are
kept on one side too. The decision is made once and remembered: each
version's dedup index stores every record's split, and the next run reads it.

1. A record an earlier version placed keeps its side. So a rerun on
   unchanged inputs reproduces every split exactly and publishes nothing
   new, and an eval example never becomes a train example later.
2. New records are grouped into *units*: connected components of the graph
   whose nodes are new records and clusters and whose edges are their
   examples (a cluster of rephrasings can hold examples of several records).
   A unit whose rephrasings of earlier records are all in train goes to
   train with them.
3. The other new units (including any that rephrases an eval record) are
   placed so that each task's eval share approaches `split.eval_share`. They are visited in a seeded pseudo-random order
   (sha256 of the seed and the unit's smallest record id), and a unit goes
   to eval when that brings its tasks' eval shares closer to the target:

       gain(u) = sum over tasks t of u:  (d_t^2 - (d_t - n_ut)^2) / N_t^2
       d_t     = target_t - eval examples of t so far,   target_t = share * N_t
       eval if gain(u) > 0

   n_ut is the unit's number of examples of task t and N_t the task's
   examples. For a unit of one task this is "eval while the deficit exceeds
   half the unit", i.e. rounding to the nearest count, so each task lands
   within about one unit of its target (a plain hash threshold would leave a
   task of 40 examples at 10% +- 4.7%, and drift further as versions grow).
   A task with at least two units gets a target of at least one example, so
   small tasks still have an eval side.
4. Decontamination: a cluster that holds examples on both sides loses the
   examples that are not on the side of its earlier records (eval, if it
   holds earlier records of both sides), dropped with the reason
   `rephrases_other_split`. New data never moves or removes a published
   example; the one exception is two published examples of different sides
   that new data makes rephrasings of each other (new data reshapes the
   semantic clusters), where the train one goes.

A new unit never *follows* eval: one record often yields several examples (a
review: a sentiment example and a recommendation per constraint), so
rephrasings chain many records together, and following eval along the chains
pulls more of each task into eval with every version. Placed by quota, the
unit's few examples that rephrase an eval example are dropped instead.
Earlier records are never merged into units for the same reason."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from etl.config import SplitConfig
from etl.errors import QualityGateError
from etl.stages.base import HERE, Filter, Progress, Rule
from etl.text.clusters import components
from etl.text.seeded import seeded_fraction

DECONTAMINATED = "rephrases_other_split"

# (rows, key, aggregate) -> aggregate's groups of rows: every row of one key value must
# reach the same call of `aggregate`, which groups by that key (and maybe more) itself.
# Here (`Parallel.group_by`), one call over all rows; the Ray executor's shuffles the rows by key over a cluster.
GroupBy = Callable[[pl.DataFrame, str, Callable[[pl.DataFrame], pl.DataFrame]], pl.DataFrame]


class SplitStage(Filter):
    name = "split"
    unit = "examples"
    id_column = "id"

    def __init__(
        self, config: SplitConfig, known: dict[str, str] | None = None, group_by: GroupBy | None = None
    ) -> None:
        self.config = config
        self.group_by = group_by or HERE.group_by  # or an executor's (Ray)
        # record id -> "train" | "eval": where an earlier version placed each record
        self.known = known or {}
        self.record_splits = pl.DataFrame(schema={"record_id": pl.Utf8, "split": pl.Utf8, "dup_cluster": pl.Utf8})
        self.placement: dict[str, int] = {}
        self.without_eval: dict[str, int] = {}

    def transform(self, df: pl.DataFrame, progress: Progress) -> pl.DataFrame:
        split, leaking, self.placement = assign_splits(
            df, self.config.eval_share, self.config.seed, self.known, self.group_by
        )
        progress(df.height)
        # every record's side, decontaminated ones included: the version's index remembers them all
        self.record_splits = split.group_by("record_id").agg(pl.col("split").first(), pl.col("dup_cluster").first())
        self.without_eval = tasks_without_eval(split.filter(~pl.col("id").is_in(leaking.implode())))
        if required := [t for t in self.config.require_eval if t in self.without_eval]:
            raise QualityGateError(
                f"split.require_eval: task(s) {', '.join(required)} have train examples and none in eval; "
                "nothing was published. Add records of those tasks, raise split.eval_share, or drop them from "
                "split.require_eval."
            )
        return split.with_columns(pl.col("id").is_in(leaking.implode()).alias("leaks"))

    def compute_stats(self, rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select("id", "split", "dup_cluster", "leaks")

    def rules(self) -> list[Rule]:
        return [Rule(pl.col("leaks"), DECONTAMINATED, pl.format("dup_cluster={}", "dup_cluster"))]

    def kept_columns(self, frame: pl.DataFrame, rows: pl.DataFrame) -> list[str]:
        return [c for c in rows.columns if c != "leaks"]

    def counts(self, stats: pl.DataFrame) -> dict[str, int]:
        return self.placement

    def run_outputs(self) -> dict[str, pl.DataFrame]:
        return {"record_splits": self.record_splits}

    def summary_fields(self) -> dict:
        return {
            "notices": [
                f"task {task}: {n:,} train example(s) and none in eval, so nothing measures it on this version; "
                "it needs more records (each record goes to one side), or a larger split.eval_share"
                for task, n in self.without_eval.items()
            ]
        }


def tasks_without_eval(examples: pl.DataFrame) -> dict[str, int]:
    """Task -> its train examples, for the tasks that have train examples and no eval one."""
    sides = examples.group_by("task").agg(
        (pl.col("split") == "train").sum().alias("train"), (pl.col("split") == "eval").sum().alias("eval")
    )
    lonely = sides.filter((pl.col("train") > 0) & (pl.col("eval") == 0)).sort("task")
    return dict(zip(lonely["task"].to_list(), lonely["train"].to_list()))


def assign_splits(
    examples: pl.DataFrame,
    eval_share: float,
    seed: int,
    known: dict[str, str] | None = None,
    group_by: GroupBy = HERE.group_by,
) -> tuple[pl.DataFrame, pl.Series, dict[str, int]]:
    """Examples with `split` set; the ids of examples to drop as rephrasings of the other
    side (step 4); notes: records remembered, new units, units that followed earlier records.
    Every group-by over the examples goes through `group_by`; the graph of units, the joins
    and the placement run here."""
    if examples.height == 0:
        return (
            examples.with_columns(pl.lit(None, dtype=pl.Utf8).alias("split")),
            pl.Series("id", [], dtype=pl.Utf8),
            {},
        )
    frame = examples.with_columns(pl.col("dup_cluster").fill_null(pl.col("record_id")))
    known_frame = pl.DataFrame(
        {"record_id": list((known or {}).keys()), "known": list((known or {}).values())},
        schema={"record_id": pl.Utf8, "known": pl.Utf8},
    )
    frame = frame.join(known_frame, on="record_id", how="left", maintain_order="left")
    # the side of the earlier records in each cluster (eval wins if a cluster holds both)
    earlier = frame.filter(pl.col("known").is_not_null()).select("dup_cluster", "known")
    anchors = group_by(earlier, "dup_cluster", _cluster_anchors)
    frame = frame.join(anchors, on="dup_cluster", how="left", maintain_order="left")
    record_unit, units = _new_units(frame, group_by)
    placed = _place_by_quota(units, record_unit, frame, eval_share, seed, group_by)
    by_record = record_unit.join(placed, on="unit", how="left").select("record_id", pl.col("split").alias("placed"))
    result = frame.join(by_record, on="record_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("known", "placed").alias("split")
    )
    sides = group_by(result.select("dup_cluster", "split"), "dup_cluster", _cluster_sides)
    spanning = sides.filter(pl.col("sides") > 1)["dup_cluster"]
    # in a cluster on both sides, what differs from the earlier records' side goes (new
    # data never removes a published example); with no earlier records, train goes
    leaking = result.filter(
        pl.col("dup_cluster").is_in(spanning.implode()), pl.col("split") != pl.coalesce("anchor", pl.lit("eval"))
    )["id"]
    notes = {
        "records_remembered": int(frame.filter(pl.col("known").is_not_null())["record_id"].n_unique()),
        "new_units": units.height,
        "new_units_following_earlier_records": int(units["follows"].is_not_null().sum()),
    }
    return result.select(examples.columns), leaking, notes


def _new_units(frame: pl.DataFrame, group_by: GroupBy) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(record_id -> unit) for the new records, and one row per unit: key (smallest record id)
    and follows ("train" when all the earlier records it rephrases are in train)."""
    new = frame.filter(pl.col("known").is_null()).select("record_id", "dup_cluster", "anchor")
    if new.height == 0:
        return pl.DataFrame(schema={"record_id": pl.Utf8, "unit": pl.Int64}), pl.DataFrame(
            schema={"unit": pl.Int64, "key": pl.Utf8, "follows": pl.Utf8}
        )
    nodes = pl.concat([new["record_id"], new["dup_cluster"]]).unique().sort()
    index = pl.DataFrame({"node": nodes, "i": np.arange(len(nodes), dtype=np.int64)})
    left = (
        new.select(pl.col("record_id").alias("node"))
        .join(index, on="node", how="left", maintain_order="left")["i"]
        .to_numpy()
    )
    right = (
        new.select(pl.col("dup_cluster").alias("node"))
        .join(index, on="node", how="left", maintain_order="left")["i"]
        .to_numpy()
    )
    labels = components(len(nodes), np.column_stack([left, right]))
    new = new.with_columns(pl.Series("unit", labels[left], dtype=pl.Int64))
    units = group_by(new.select("unit", "record_id", "anchor"), "unit", _unit_keys)
    return new.select("record_id", "unit").unique(), units


def _place_by_quota(
    units: pl.DataFrame,
    record_unit: pl.DataFrame,
    frame: pl.DataFrame,
    eval_share: float,
    seed: int,
    group_by: GroupBy,
) -> pl.DataFrame:
    """unit -> split: units that follow earlier records take their side, the rest fill each task's eval quota."""
    side = (
        frame.join(record_unit, on="record_id", how="left", maintain_order="left")
        .join(units.select("unit", "follows"), on="unit", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("known", "follows").alias("side"),
            # an earlier record counts as a unit of its own
            pl.coalesce(pl.format("unit:{}", "unit"), "record_id").alias("member"),
        )
    )
    per_task = group_by(side.select("task", "member", "side"), "task", _task_sizes)
    total = {t: n for t, n, _, _ in per_task.iter_rows()}
    target = {t: max(eval_share * n, 1.0 if u >= 2 else 0.0) for t, n, u, _ in per_task.iter_rows()}
    in_eval = {t: e for t, _, _, e in per_task.iter_rows()}
    open_units = units.filter(pl.col("follows").is_null())
    buckets = pl.Series("bucket", [seeded_fraction(seed, k) for k in open_units["key"].to_list()], dtype=pl.Float64)
    open_units = open_units.with_columns(buckets).sort("bucket", "key")
    in_open = side.filter(pl.col("unit").is_in(open_units["unit"].implode())).select("unit", "task")
    # sorted, so a unit's gain sums its tasks in one order in any run
    counts = group_by(in_open, "unit", _unit_task_counts).sort("unit", "task")
    tasks_of = counts.group_by("unit", maintain_order=True).agg("task", "n")
    tasks_of = dict(zip(tasks_of["unit"].to_list(), zip(tasks_of["task"].to_list(), tasks_of["n"].to_list())))
    placed = []
    for unit in open_units["unit"].to_list():
        tasks, sizes = tasks_of[unit]
        gain = sum(
            ((target[t] - in_eval[t]) ** 2 - (target[t] - in_eval[t] - n) ** 2) / total[t] ** 2
            for t, n in zip(tasks, sizes)
        )
        if gain > 0:
            for t, n in zip(tasks, sizes):
                in_eval[t] += n
        placed.append("eval" if gain > 0 else "train")
    chosen = pl.DataFrame({"unit": open_units["unit"], "split": pl.Series(placed, dtype=pl.Utf8)})
    following = units.filter(pl.col("follows").is_not_null()).select("unit", pl.col("follows").alias("split"))
    return pl.concat([following, chosen])


# The group-bys, each a pure function of rows that hold every row of each of its groups
# (what `GroupBy` hands them), so they give the same groups wherever they run.


def _cluster_anchors(earlier: pl.DataFrame) -> pl.DataFrame:
    """dup_cluster -> anchor: the side of the cluster's earlier records, eval if it holds both."""
    eval_wins = pl.when((pl.col("known") == "eval").any()).then(pl.lit("eval")).otherwise(pl.lit("train"))
    return earlier.group_by("dup_cluster").agg(eval_wins.alias("anchor"))


def _unit_keys(new: pl.DataFrame) -> pl.DataFrame:
    """unit -> key (its smallest record id) and follows ("train" when every earlier record it
    rephrases is in train). Only train is followed: following eval lets chains of rephrasings
    pull ever more into eval."""
    only_train = (pl.col("anchor") == "train").any() & ~(pl.col("anchor") == "eval").any()
    return new.group_by("unit").agg(
        pl.col("record_id").min().alias("key"),
        pl.when(only_train).then(pl.lit("train")).otherwise(pl.lit(None, dtype=pl.Utf8)).alias("follows"),
    )


def _task_sizes(examples: pl.DataFrame) -> pl.DataFrame:
    """task -> examples, units (earlier records one each), examples already on the eval side."""
    return examples.group_by("task").agg(
        pl.len().alias("total"),
        pl.col("member").n_unique().alias("units"),
        (pl.col("side") == "eval").sum().alias("in_eval"),
    )


def _unit_task_counts(examples: pl.DataFrame) -> pl.DataFrame:
    return examples.group_by("unit", "task").len("n")


def _cluster_sides(examples: pl.DataFrame) -> pl.DataFrame:
    """dup_cluster -> how many sides its examples are on."""
    return examples.group_by("dup_cluster").agg(pl.col("split").n_unique().alias("sides"))
