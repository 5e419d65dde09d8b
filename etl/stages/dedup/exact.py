"""Exact duplicates: a 64-bit BLAKE2b hash of each normalised text (lower case, every run of
characters that are not letters or digits one space), computed once per distinct text."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from etl.stages.dedup.minhash import normalise


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
