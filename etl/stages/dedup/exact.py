"""Exact duplicates: a 64-bit BLAKE2b hash of each normalised text (lower case, every run of
characters that are not letters or digits one space), computed once per distinct text."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from etl.stages.base import HERE, Parallel
from etl.stages.dedup.minhash import pairs_frame, unique_pairs
from etl.text.normalise import normalise


def exact_hashes(texts: pl.Series) -> np.ndarray:
    """BLAKE2b-64 of each normalised text (stable across machines and versions)."""
    normal = normalise(texts)
    distinct = normal.unique()
    digests = (int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big") for t in distinct.to_list())
    table = pl.DataFrame({"n": distinct, "h": np.fromiter(digests, np.uint64, len(distinct))})
    return pl.DataFrame({"n": normal}).join(table, on="n", how="left", maintain_order="left")["h"].to_numpy()


def equal_hash_pairs(hashes: np.ndarray) -> np.ndarray:
    """(k, 2) pairs chaining the members of each run of equal hashes (one component per run)."""
    order = np.argsort(hashes, kind="stable")
    same = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    return np.column_stack([order[same], order[same + 1]])


def spread_equal_pairs(hashes: np.ndarray, parallel: Parallel = HERE) -> np.ndarray:
    """`equal_hash_pairs`, the rows spread where `parallel` runs work: grouped by hash (equal
    hashes meet in one call), each group chained in record order. Here, all rows at once."""
    if not parallel.distributed or len(hashes) < 2:
        return equal_hash_pairs(hashes)
    rows = pl.DataFrame({"doc": np.arange(len(hashes)), "key": hashes})
    return unique_pairs(parallel.group_by(rows, "key", _chained_pairs))


def _chained_pairs(rows: pl.DataFrame) -> pl.DataFrame:
    rows = rows.sort("doc")  # a group arrives in no set order
    keys = rows["key"].to_numpy()
    pairs = equal_hash_pairs(keys)
    return pairs_frame(rows["doc"].to_numpy(), pairs).with_columns(pl.Series("key", keys[pairs[:, 0]], pl.UInt64))
