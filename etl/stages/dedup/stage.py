"""Dedup: exact and MinHash near-duplicates of records, within a run and against published versions.

1. Exact: a 64-bit BLAKE2b hash of the normalised text (lower case, every
   run of non-alphanumerics collapsed to one space), computed once per
   distinct text.
2. Near: MinHash LSH on word shingles (etl/stages/dedup/minhash.py), pairs verified
   against the estimated Jaccard similarity.
3. Across versions: the latest version stores, for every record it holds,
   its hash, signature, cluster and its split (train, eval, or null when it
   gave no example)
   (`dedup/index.parquet`). Those records join tonight's graph, so a new
   record that repeats one already published is dropped as
   `duplicate_of_published`, and published clusters keep their ids.

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

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from etl.config import DedupConfig
from etl.stages.dedup.minhash import MinHashLSH, candidate_pairs, band_keys, components, estimated_jaccard, normalise
from etl.records import record_text
from etl.stages.base import Progress, StageResult, drop_frame

INDEX_FILE = "dedup/index.parquet"
INDEX_SCHEMA = pl.Schema(
    {"record_id": pl.Utf8, "exact_hash": pl.UInt64, "signature": pl.List(pl.UInt32), "dup_cluster": pl.Utf8, "split": pl.Utf8, "version": pl.Utf8}
)


def exact_hashes(texts: pl.Series) -> np.ndarray:
    """BLAKE2b-64 of each normalised text (stable across machines and versions)."""
    normal = normalise(texts)
    distinct = normal.unique()
    table = pl.DataFrame(
        {"n": distinct, "h": np.fromiter((int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big") for t in distinct.to_list()), np.uint64, len(distinct))}
    )
    return pl.DataFrame({"n": normal}).join(table, on="n", how="left", maintain_order="left")["h"].to_numpy()


def load_index(version_dir: Path | None) -> pl.DataFrame:
    if version_dir is None or not (version_dir / INDEX_FILE).is_file():
        return INDEX_SCHEMA.to_frame()
    index = pl.read_parquet(version_dir / INDEX_FILE)
    if "eval" in index.columns:  # versions before the split was remembered both ways
        index = index.with_columns(pl.when(pl.col("eval")).then(pl.lit("eval")).otherwise(pl.lit("train")).alias("split")).drop("eval")
    return index.select(list(INDEX_SCHEMA)).cast(dict(INDEX_SCHEMA))


@dataclass
class DedupStage:
    config: DedupConfig
    # what the latest published version holds (empty on a first run)
    published: pl.DataFrame = field(default_factory=INDEX_SCHEMA.to_frame)
    name: str = "dedup"

    def total_work(self, df: pl.DataFrame) -> int:
        return 3

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        texts = record_text(df)
        minhash = MinHashLSH(self.config.threshold, self.config.num_perm, self.config.shingle_size, self.config.shingle, self.config.seed)
        hashes = exact_hashes(texts)
        sig = minhash.signatures(texts)
        progress(1)
        # published records that are not in tonight's input join the graph as extra nodes
        prior = self.published.filter(~pl.col("record_id").is_in(df["record_id"].implode()) & pl.col("signature").is_not_null())
        n_new, n_all = df.height, df.height + prior.height
        all_hashes = np.concatenate([hashes, prior["exact_hash"].to_numpy().astype(np.uint64)])
        all_sig = np.vstack([sig, np.array(prior["signature"].to_list(), dtype=np.uint32).reshape(-1, sig.shape[1])]) if prior.height else sig
        pairs = self._pairs(all_hashes, all_sig, minhash)
        labels = components(n_all, pairs)
        progress(1)
        decided = self._decide(df, prior, texts, hashes, labels, n_new)
        progress(1)
        keep = decided["reason"].is_null()
        kept = df.with_columns(dup_cluster=decided["dup_cluster"]).filter(keep)
        dropped = drop_frame(decided["record_id"].filter(~keep), decided["reason"].filter(~keep), decided["detail"].filter(~keep))
        index = pl.DataFrame(
            {"record_id": kept["record_id"], "exact_hash": hashes[keep.to_numpy()], "signature": pl.Series(sig[keep.to_numpy()].tolist(), dtype=pl.List(pl.UInt32)), "dup_cluster": kept["dup_cluster"]}
        )
        notes = {"clusters_merged": int(decided.filter(~keep)["dup_cluster"].n_unique()), "pairs_verified": int(len(pairs))}
        return StageResult(kept=kept, dropped=dropped, notes=notes, artifacts={"dedup_index": index, "dedup_clusters": decided})

    def _pairs(self, hashes: np.ndarray, sig: np.ndarray, minhash: MinHashLSH) -> np.ndarray:
        edges = []
        if self.config.exact:
            order = np.argsort(hashes, kind="stable")
            same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
            # chain equal hashes: consecutive members of a sorted run are joined
            edges.append(np.column_stack([order[same], order[same + 1]]))
        if self.config.near:
            candidates = candidate_pairs(band_keys(sig, minhash.bands, minhash.rows))
            if len(candidates):
                verified = estimated_jaccard(sig, candidates) >= self.config.threshold
                edges.append(candidates[verified])
        edges = [e for e in edges if len(e)]
        return np.concatenate(edges).astype(np.int64) if edges else np.empty((0, 2), dtype=np.int64)

    def _decide(self, df, prior, texts, hashes, labels, n_new) -> pl.DataFrame:
        """record_id, dup_cluster, reason (null = representative), detail, for tonight's records."""
        rating = df["meta"].struct.field("rating").fill_null(0).cast(pl.Int32)
        published_ids = set(self.published["record_id"].to_list())
        published_cluster = dict(zip(self.published["record_id"], self.published["dup_cluster"]))
        nodes = pl.DataFrame(
            {
                "node": np.arange(len(labels)),
                "label": labels,
                "record_id": pl.concat([df["record_id"], prior["record_id"]]),
                "published": [rid in published_ids for rid in df["record_id"].to_list()] + [True] * prior.height,
                "length": pl.concat([texts.str.len_chars(), pl.Series([0] * prior.height, dtype=pl.UInt32)]),
                "rating": pl.concat([rating, pl.Series([0] * prior.height, dtype=pl.Int32)]),
                "hash": np.concatenate([hashes, prior["exact_hash"].to_numpy().astype(np.uint64)]),
            }
        )
        ranked = nodes.sort(["label", "published", "length", "rating", "record_id"], descending=[False, True, True, True, False])
        heads = ranked.group_by("label", maintain_order=True).first().select(
            "label", pl.col("record_id").alias("head_id"), pl.col("hash").alias("head_hash"), pl.col("published").alias("head_published")
        )
        heads = heads.with_columns(
            pl.col("head_id").replace_strict(published_cluster, default=pl.col("head_id"), return_dtype=pl.Utf8).alias("dup_cluster")
        )
        new = nodes.head(n_new).join(heads, on="label", how="left", maintain_order="left")
        is_head = pl.col("record_id") == pl.col("head_id")
        reason = (
            pl.when(is_head).then(pl.lit(None, dtype=pl.Utf8))
            .when(pl.col("head_published") & ~pl.col("published")).then(pl.lit("duplicate_of_published"))
            .when(pl.col("hash") == pl.col("head_hash")).then(pl.lit("exact_duplicate"))
            .otherwise(pl.lit("near_duplicate"))
        )
        return new.select(
            "record_id",
            "dup_cluster",
            reason.alias("reason"),
            pl.when(is_head).then(pl.lit(None, dtype=pl.Utf8)).otherwise(pl.format("cluster={}", "dup_cluster")).alias("detail"),
        )
