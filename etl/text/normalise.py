"""The one normal form texts are compared in (exact and near-duplicate dedup, augmentation's
"unchanged" check, synthesis's duplicate-of-original check): lower case, every run of
characters that are not letters or digits one space."""

from __future__ import annotations

import polars as pl


def normalise(texts: pl.Series) -> pl.Series:
    """Lower case; every run of characters that are not letters or digits becomes one space."""
    return texts.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
