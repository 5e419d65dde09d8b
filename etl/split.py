"""Split: deterministic train/eval assignment per task, by duplicate cluster.

A cluster's split depends only on the seed and the cluster id:

    bucket(cluster) = first 8 bytes of sha256(f"{seed}:{cluster}") / 2**64   in [0, 1)
    split = "eval" if bucket < eval_share else "train"

so every example of a cluster lands in the same split, in every task and in
every nightly run (an eval cluster of an earlier run stays eval). A task with
at least two clusters always gets at least one eval and one train cluster.
"""

from __future__ import annotations

import hashlib

import polars as pl


def cluster_buckets(clusters: list[str], seed: int) -> list[float]:
    return [int.from_bytes(hashlib.sha256(f"{seed}:{c}".encode()).digest()[:8], "big") / 2**64 for c in clusters]


def assign_splits(examples: pl.DataFrame, eval_share: float, seed: int) -> pl.DataFrame:
    clusters = examples.select("dup_cluster").unique()
    clusters = clusters.with_columns(pl.Series("bucket", cluster_buckets(clusters["dup_cluster"].to_list(), seed), dtype=pl.Float64))
    with_bucket = examples.join(clusters, on="dup_cluster", how="left", maintain_order="left")
    split = pl.when(pl.col("bucket") < eval_share).then(pl.lit("eval")).otherwise(pl.lit("train"))
    with_bucket = with_bucket.with_columns(split.alias("split"))
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
    for task, cluster, split in fixes:
        # the whole cluster moves, in every task, so clusters never straddle splits
        frame = frame.with_columns(pl.when(pl.col("dup_cluster") == cluster).then(pl.lit(split)).otherwise(pl.col("split")).alias("split"))
    return frame
