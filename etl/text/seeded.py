"""Seeded draws that depend only on a seed and a key: the same key draws the same number on any
machine, in any order, run after run (the split's placement order, a thumbs-down chat's side,
which fact a fact_changed pair changes)."""

from __future__ import annotations

import hashlib


def seeded_int(seed: int, *keys: str) -> int:
    """A 64-bit number from sha256 of "seed:key1:key2..."."""
    return int.from_bytes(hashlib.sha256(":".join([str(seed), *keys]).encode()).digest()[:8], "big")


def seeded_fraction(seed: int, *keys: str) -> float:
    """A number in [0, 1) from the seed and the keys."""
    return seeded_int(seed, *keys) / 2**64
