"""Dedup: exact and MinHash near-duplicates of records, within a run and against published versions.

1. Exact: a 64-bit BLAKE2b hash of the normalised text (exact.py).
2. Near: MinHash LSH on word shingles (minhash.py), candidate pairs verified
   against the estimated Jaccard similarity.
3. Across versions: the latest version's index (index.py) holds, for every
   record it saw, its hash, signature, cluster and split. Those records join
   tonight's graph, so a new record that repeats one already published is
   dropped as `duplicate_of_published`, and published clusters keep their ids.
   An index made with other MinHash settings is never compared (index.py).

Exact and near pairs are edges of one graph; each connected component is a
cluster. Each cluster keeps one representative, by this rule:

    a record already published (earliest version first), else
    the longest text, then the best rating, then the smallest record id

and every other member is dropped with the reason `exact_duplicate` (same
normalised text as the representative), `near_duplicate`, or
`duplicate_of_published` (the representative is a published record). The
representative's `dup_cluster` is the cluster id: a published cluster's id,
else the representative's record id.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import polars as pl

from etl.config import DedupConfig
from etl.records import record_text
from etl.stages.base import HERE, Filter, Parallel, Progress, Rule
from etl.stages.dedup.exact import exact_hashes, spread_equal_pairs
from etl.stages.dedup.index import INDEX_FILE, INDEX_SCHEMA, load_index
from etl.stages.dedup.minhash import MinHashLSH, spread_pairs
from etl.text.clusters import components

__all__ = ["INDEX_FILE", "DedupStage", "load_index"]


class DedupStage(Filter):
    name = "dedup"

    def __init__(self, config: DedupConfig, published: pl.DataFrame | None = None, parallel: Parallel = HERE) -> None:
        self.config = config
        # where the bucketing runs (an executor's, etl/run/executors.py): same pairs here or on Ray
        self.parallel = parallel
        # what the latest published version holds (empty on a first run), already reconciled
        # with tonight's settings (index.reconcile)
        self.published = published if published is not None else INDEX_SCHEMA.to_frame()
        self.index = INDEX_SCHEMA.to_frame().drop("split", "version")
        self.pairs_verified = 0

    def total_work(self, frame: pl.DataFrame) -> int:
        return 3

    def transform(self, frame: pl.DataFrame, progress: Progress) -> pl.DataFrame:
        """Tonight's records with their exact hash, signature and the decision columns the rules read."""
        texts = record_text(frame)
        minhash = MinHashLSH(
            self.config.threshold,
            self.config.num_perm,
            self.config.shingle_size,
            self.config.shingle,
            self.config.seed,
        )
        hashes = exact_hashes(texts)
        sig = minhash.signatures(texts)
        progress(1)
        # published records that are not in tonight's input join the graph as extra nodes
        prior = self.published.filter(
            ~pl.col("record_id").is_in(frame["record_id"].implode()) & pl.col("signature").is_not_null()
        )
        all_hashes = np.concatenate([hashes, prior["exact_hash"].to_numpy().astype(np.uint64)])
        all_sig = (
            # flattened in one column operation: a list of Python lists would cost a Python int per
            # permutation per published record, every night
            np.vstack([sig, prior["signature"].explode().to_numpy().astype(np.uint32).reshape(-1, sig.shape[1])])
            if prior.height
            else sig
        )
        judged = np.zeros(len(all_hashes), dtype=bool)
        judged[: frame.height] = frame["meta"].struct.field("judged_turn").is_not_null().to_numpy()
        pairs = self._pairs(all_hashes, all_sig, minhash, judged)
        self.pairs_verified = len(pairs)
        labels = components(len(all_hashes), pairs)
        progress(1)
        decided = self._decide(frame, prior, texts, hashes, labels)
        progress(1)
        self.index = pl.DataFrame(
            {
                "record_id": frame["record_id"],
                "exact_hash": hashes,
                "signature": pl.Series(sig.tolist(), dtype=pl.List(pl.UInt32)),
                "dup_cluster": decided["dup_cluster"],
            }
        )
        return frame.with_columns(decided)

    def compute_stats(self, rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select("record_id", "dup_cluster", "is_head", "head_published", "published", "same_hash")

    def rules(self) -> list[Rule]:
        cluster = pl.format("cluster={}", "dup_cluster")
        return [
            Rule(
                ~pl.col("is_head") & pl.col("head_published") & ~pl.col("published"), "duplicate_of_published", cluster
            ),
            Rule(~pl.col("is_head") & pl.col("same_hash"), "exact_duplicate", cluster),
            Rule(~pl.col("is_head"), "near_duplicate", cluster),
        ]

    def counts(self, stats: pl.DataFrame) -> dict[str, int]:
        return {
            "clusters_merged": int(stats.filter(~pl.col("is_head"))["dup_cluster"].n_unique()),
            "pairs_verified": self.pairs_verified,
        }

    def kept_columns(self, frame: pl.DataFrame, rows: pl.DataFrame) -> list[str]:
        return [*frame.columns, "dup_cluster"]

    def apply(self, frame: pl.DataFrame, progress: Progress):
        result = super().apply(frame, progress)
        # the index the version carries: the hash and signature of every record kept
        self.index = self.index.filter(pl.col("record_id").is_in(result.kept["record_id"].implode()))
        return result

    def run_outputs(self) -> dict[str, pl.DataFrame]:
        return {"dedup_index": self.index}

    def _pairs(self, hashes: np.ndarray, sig: np.ndarray, minhash: MinHashLSH, judged: np.ndarray) -> np.ndarray:
        """Exact and near-duplicate edges. Two rated turns of a reward file (`judged`) are near
        duplicates by their shared conversation, not by what was rated: each is its own judgment,
        so only an exact copy of one (the same conversation, the same answer) is a duplicate."""
        edges = []
        if self.config.exact:
            edges.append(spread_equal_pairs(hashes, self.parallel))
        if self.config.near:
            near = minhash.similar_pairs(sig, partial(spread_pairs, parallel=self.parallel))[0]
            if len(near) and judged.any():
                near = near[~(judged[near[:, 0]] & judged[near[:, 1]])]
            edges.append(near)
        edges = [e for e in edges if len(e)]
        return np.concatenate(edges).astype(np.int64) if edges else np.empty((0, 2), dtype=np.int64)

    def _decide(self, df, prior, texts, hashes, labels) -> pl.DataFrame:
        """Per record of tonight: its cluster, whether it represents it, and what the rules read."""
        n_new = df.height
        rating = df["meta"].struct.field("rating").fill_null(0).cast(pl.Int32)
        rated_down = df["meta"].struct.field("thumbs").fill_null("") == "down"
        published_ids = self.published["record_id"].implode()
        nodes = pl.DataFrame(
            {
                "node": np.arange(len(labels)),
                "label": labels,
                "record_id": pl.concat([df["record_id"], prior["record_id"]]),
                "length": pl.concat([texts.str.len_chars(), pl.Series([0] * prior.height, dtype=pl.UInt32)]),
                "rating": pl.concat([rating, pl.Series([0] * prior.height, dtype=pl.Int32)]),
                "rated_down": pl.concat([rated_down, pl.Series([False] * prior.height)]),
                "hash": np.concatenate([hashes, prior["exact_hash"].to_numpy().astype(np.uint64)]),
            }
        ).with_columns(pl.col("record_id").is_in(published_ids).alias("published"))
        # the representative: a published record first, then one no customer rated down (format sets
        # a thumbs-down chat aside, and it would take its cluster's good copies with it), then the
        # longest text, the best rating, the smallest id
        ranked = nodes.sort(
            ["label", "published", "rated_down", "length", "rating", "record_id"],
            descending=[False, True, False, True, True, False],
        )
        heads = (
            ranked.group_by("label", maintain_order=True)
            .first()
            .select(
                "label",
                pl.col("record_id").alias("head_id"),
                pl.col("hash").alias("head_hash"),
                pl.col("published").alias("head_published"),
            )
        )
        published_cluster = dict(zip(self.published["record_id"], self.published["dup_cluster"]))
        heads = heads.with_columns(
            pl.col("head_id")
            .replace_strict(published_cluster, default=pl.col("head_id"), return_dtype=pl.Utf8)
            .alias("dup_cluster")
        )
        new = nodes.head(n_new).join(heads, on="label", how="left", maintain_order="left")
        return new.select(
            "dup_cluster",
            (pl.col("record_id") == pl.col("head_id")).alias("is_head"),
            "head_published",
            "published",
            (pl.col("hash") == pl.col("head_hash")).alias("same_hash"),
        )
