"""Split: deterministic train/eval assignment per task, by duplicate cluster.

A cluster's split depends only on the seed and the cluster id:

    bucket(cluster) = first 8 bytes of sha256(f"{seed}:{cluster}") / 2**64   in [0, 1)
    split = "eval" if bucket < eval_share else "train"

so every example of a cluster lands in the same split, in every task and in
every nightly run. On top of that, a record or cluster that was in eval in
the previous version is forced into eval (the version's dedup index says
which), so an eval example never becomes a train example later. A task with
at least two clusters gets at least one eval and one train cluster (first
version only: later versions never move a cluster out of eval).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from etl.config import SplitConfig
from etl.stage import Progress, StageResult, drop_frame


def cluster_buckets(clusters: list[str], seed: int) -> list[float]:
    return [int.from_bytes(hashlib.sha256(f"{seed}:{c}".encode()).digest()[:8], "big") / 2**64 for c in clusters]


@dataclass
class SplitStage:
    config: SplitConfig
    # record ids and clusters that were in eval in an earlier version: they stay in eval
    forced_eval: set[str] = field(default_factory=set)
    name: str = "split"

    def total_work(self, df: pl.DataFrame) -> int:
        return df.height

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        split = assign_splits(df, self.config.eval_share, self.config.seed, self.forced_eval)
        progress(df.height)
        none = pl.Series([], dtype=pl.Utf8)
        forced = int(df.filter(pl.col("record_id").is_in(list(self.forced_eval)) | pl.col("dup_cluster").is_in(list(self.forced_eval))).height)
        return StageResult(kept=split, dropped=drop_frame(none, none, none), notes={"kept_in_eval_from_earlier_versions": forced})


def assign_splits(examples: pl.DataFrame, eval_share: float, seed: int, forced_eval: set[str] | None = None) -> pl.DataFrame:
    """Split per cluster; a cluster holding a record or cluster id in `forced_eval` goes to eval whole."""
    clusters = examples.select("dup_cluster").unique()
    clusters = clusters.with_columns(pl.Series("bucket", cluster_buckets(clusters["dup_cluster"].to_list(), seed), dtype=pl.Float64))
    with_bucket = examples.join(clusters, on="dup_cluster", how="left", maintain_order="left")
    split = pl.when(pl.col("bucket") < eval_share).then(pl.lit("eval")).otherwise(pl.lit("train"))
    with_bucket = with_bucket.with_columns(split.alias("split"))
    if forced_eval:
        forced = list(forced_eval)
        sticky = with_bucket.filter(pl.col("record_id").is_in(forced) | pl.col("dup_cluster").is_in(forced))["dup_cluster"].unique().implode()
        with_bucket = with_bucket.with_columns(
            pl.when(pl.col("dup_cluster").is_in(sticky)).then(pl.lit("eval")).otherwise(pl.col("split")).alias("split")
        )
        return with_bucket.drop("bucket")
    return _at_least_one_of_each(with_bucket).drop("bucket")


def _at_least_one_of_each(frame: pl.DataFrame) -> pl.DataFrame:
    """Tiny tasks: move the lowest-bucket cluster to eval, or the highest to train, if a split is empty."""
    fixes = []
    for (task,), part in frame.group_by(["task"], maintain_order=True):
        if part["dup_cluster"].n_unique() < 2:
            continue
        if not (part["split"] == "eval").any():
            fixes.append((task, part.sort("bucket")["dup_cluster"][0], "eval"))
        elif not (part["split"] == "train").any():
            fixes.append((task, part.sort("bucket", descending=True)["dup_cluster"][0], "train"))
    for _task, cluster, split in fixes:
        # the whole cluster moves, in every task, so clusters never straddle splits
        frame = frame.with_columns(pl.when(pl.col("dup_cluster") == cluster).then(pl.lit(split)).otherwise(pl.col("split")).alias("split"))
    return frame
