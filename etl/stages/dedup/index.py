"""The cross-version dedup index: what a published version remembers of every record it saw.

`dedup/index.parquet` in each version holds, per record: its exact hash, its
MinHash signature, its duplicate cluster, its split and the version that first
published it. A signature means something only together with the settings that
made it (permutation count and seed, shingle kind and size) and the hashing
code (HASH_SCHEME): the file's Parquet metadata and the version manifest record
them. A run whose settings differ never compares its signatures with the old
ones: it rebuilds (tonight's records get fresh signatures, earlier records
whose text is no longer in the input leave the near-duplicate graph, keeping
their ids, clusters and splits) or, with `dedup.on_index_change: stop`, stops
and says what changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.config import DedupConfig
from etl.errors import ConfigError

INDEX_FILE = "dedup/index.parquet"
INDEX_METADATA_KEY = "etl.dedup_index"
INDEX_SCHEMA = pl.Schema(
    {
        "record_id": pl.Utf8,
        "exact_hash": pl.UInt64,
        "signature": pl.List(pl.UInt32),
        "dup_cluster": pl.Utf8,
        "split": pl.Utf8,
        "version": pl.Utf8,
    }
)
# Bump when the code that turns text into hashes changes (normalisation, word hashing,
# shingle combination, permutations): signatures of two schemes must never meet.
HASH_SCHEME = "exact-blake2b64/words-poly1000003/affine32-v1"


def index_params(config: DedupConfig) -> dict:
    """Everything a stored signature or exact hash depends on."""
    return {
        "hash_scheme": HASH_SCHEME,
        "num_perm": config.num_perm,
        "seed": config.seed,
        "shingle": config.shingle,
        "shingle_size": config.shingle_size,
    }


@dataclass
class PublishedIndex:
    frame: pl.DataFrame = field(default_factory=INDEX_SCHEMA.to_frame)
    # the settings its signatures were made with; None for an index from before they were recorded
    params: dict | None = None

    @property
    def empty(self) -> bool:
        return self.frame.height == 0


def load_index(version_dir: Path | None) -> PublishedIndex:
    path = version_dir / INDEX_FILE if version_dir is not None else None
    if path is None or not path.is_file():
        return PublishedIndex()
    index = pl.read_parquet(path)
    if "eval" in index.columns:  # versions before the split was remembered both ways
        index = index.with_columns(
            pl.when(pl.col("eval")).then(pl.lit("eval")).otherwise(pl.lit("train")).alias("split")
        ).drop("eval")
    stored = pl.read_parquet_metadata(path).get(INDEX_METADATA_KEY)
    return PublishedIndex(
        index.select(list(INDEX_SCHEMA)).cast(dict(INDEX_SCHEMA)), json.loads(stored) if stored else None
    )


def write_index(frame: pl.DataFrame, path: Path, params: dict) -> None:
    frame.select(list(INDEX_SCHEMA)).cast(dict(INDEX_SCHEMA)).write_parquet(
        path, metadata={INDEX_METADATA_KEY: json.dumps(params, sort_keys=True)}
    )


def changes(stored: dict | None, current: dict) -> list[str]:
    """What differs between the settings an index was made with and tonight's, as readable phrases."""
    if stored is None:
        return [
            "the index does not record the settings its signatures were made with (written by an older version of this tool)"
        ]
    return [f"{key} {stored.get(key)!r} -> {value!r}" for key, value in current.items() if stored.get(key) != value]


def reconcile(index: PublishedIndex, config: DedupConfig, version: str | None) -> tuple[pl.DataFrame, str | None]:
    """The published index tonight's run may compare with, and a notice when it had to be rebuilt.

    Same settings: the index as stored. Different settings: with `on_index_change: stop`, a
    ConfigError naming each change and the way out; with `rebuild`, the stored hashes and
    signatures are cleared (tonight's records are hashed afresh by the stage; earlier records
    keep their ids, clusters and splits but can no longer match as duplicates)."""
    if index.empty:
        return index.frame, None
    differences = changes(index.params, index_params(config))
    if not differences:
        return index.frame, None
    what = "; ".join(differences)
    if config.on_index_change == "stop":
        raise ConfigError(
            f"dedup.on_index_change: stop: the dedup index of {version} was made with other settings ({what}). "
            "Its signatures cannot be compared with tonight's. Set dedup back to the old values, or set "
            "dedup.on_index_change: rebuild to rehash tonight's records and publish an index made only with the new settings."
        )
    cleared = index.frame.with_columns(
        pl.lit(None, dtype=pl.UInt64).alias("exact_hash"), pl.lit(None, dtype=pl.List(pl.UInt32)).alias("signature")
    )
    return (
        cleared,
        f"dedup index of {version} rebuilt with the new settings ({what}): {index.frame.height:,} stored signatures discarded",
    )
