"""Incremental runs: an input file read once is not read again while it is unchanged.

The per-record stages (ingest, clean, de-identify) treat every record on its
own: what they make of a file depends only on its bytes, its name, their
settings, the catalog, the surrogate key and the code. So after a run, each
input file's records as de-identification left them are kept in the work
folder:

    <work>/<dataset>/cache/<stage key>/<sha256 of name and content>.parquet

and the next run takes them from there instead of reading the file again
(`carried`). Only new or changed files are read; a file no longer configured
simply gives no records. The global stages (dedup against the published index,
format, semantic dedup, split, augmentation, synthesis, the quality gate) then
run over carried and new records together, as they would on a full run, so a
new text that repeats a published one is dropped as `duplicate_of_published`,
and `etl run --full` (which reads every file) publishes the same fingerprint.

The cache holds de-identified text of customers, still the operator's working
data: it lives in the owner-only work folder, never in the store, and a run
removes every cache entry it did not use (another stage key, a file gone or
changed).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.config import PipelineConfig
from etl.memo import code_digest
from etl.store import file_sha256
from etl.version import __version__

# the code whose output the cache holds: readers, cleaning, language id, de-identification
# and the name and phrase lexicons it reads, the catalog's loader; an edit to any of it,
# released or not, re-reads every file (tests/test_operations.py checks the list against
# what those stages import)
_CODE = (
    "records.py",
    "catalog.py",
    "stages/ingest",
    "stages/clean.py",
    "stages/deidentify",
    "text/langid.py",
    "text/people.py",
    "text/phrases.py",
    "text/stop_words.py",
    "text/lexicons",
)


def code_hash() -> str:
    root = Path(__file__).resolve().parents[1]  # etl/
    paths = [root / part for part in _CODE]
    # a part moved or renamed would silently leave the hash blind to its edits
    for path in paths:
        if not path.exists():
            raise RuntimeError(f"incremental cache code hash: {path} is gone; update _CODE in {__file__}")
    return hashlib.sha256(f"{__version__}\0{code_digest(*paths, root=root)}".encode()).hexdigest()


def stage_key(config: PipelineConfig, key: bytes) -> str:
    """Everything the per-record stages' output depends on, besides the file itself."""
    catalog = {kind: file_sha256(p) for kind in ("menu", "stores") if (p := config.catalog_file(kind)) is not None}
    settings = {
        "code": code_hash(),
        # how each export's columns and values map onto ours
        "sources": config.sources.model_dump(mode="json"),
        "clean": config.clean.model_dump(mode="json"),
        "deidentify": config.deidentify.model_dump(mode="json"),
        "catalog": catalog,
        # the surrogates depend on the key; its hash says whether it changed, never what it is
        "key": hashlib.sha256(b"etl-cache-key\0" + key).hexdigest(),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def entry_name(name: str, sha256: str) -> str:
    return hashlib.sha256(f"{name}\0{sha256}".encode()).hexdigest()[:32] + ".parquet"


@dataclass
class CarryPlan:
    """Which planned files are read tonight and which come from the cache."""

    folder: Path  # this stage key's cache folder
    read: list[tuple[str, Path, str]] = field(default_factory=list)
    carried: list[tuple[str, Path, str]] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> content hash

    def entry(self, name: str) -> Path:
        return self.folder / entry_name(name, self.sha256[name])

    def carried_records(self) -> pl.DataFrame | None:
        # one lazy plan over every entry: polars reads the files in parallel (a night carries
        # about a thousand at 20x the sample: 0.4 s against 1.1 s read one after the other)
        frames = [pl.scan_parquet(self.entry(name)) for _, _, name in self.carried]
        return pl.concat(frames, how="vertical_relaxed").collect() if frames else None

    def summary(self, carried_records: int) -> dict:
        return {
            "mode": "incremental" if self.carried else "full",
            "files_read": [name for _, _, name in self.read],
            "files_carried": len(self.carried),
            "records_carried": carried_records,
        }


def plan_carry(
    config: PipelineConfig, planned: list[tuple[str, Path, str]], cache: Path, key: bytes, full: bool
) -> CarryPlan:
    """Which of the planned files come from `cache` (the work folder's) and which are read tonight."""
    plan = CarryPlan(cache / stage_key(config, key))
    for kind, path, name in planned:
        plan.sha256[name] = file_sha256(path)
        cached = not full and plan.entry(name).is_file()
        (plan.carried if cached else plan.read).append((kind, path, name))
    return plan


def carried_ids(records: pl.DataFrame, plan: CarryPlan) -> pl.Series | None:
    """The record ids of the carried files among `records` (one list in a Series, for is_in), or
    None when no file was carried."""
    names = [name for _, _, name in plan.carried]
    if not names:
        return None
    return records.filter(pl.col("source_file").is_in(names))["record_id"].implode()


def save(plan: CarryPlan, records: pl.DataFrame, skip: set[str] = frozenset()) -> None:
    """Each file read tonight: its records as de-identification kept them (none is an entry
    too). A file in `skip` (it could not be used) gets no entry: it is read, and its problem
    reported, again next time."""
    plan.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    by_file = records.partition_by("source_file", as_dict=True, maintain_order=True)
    for _, _, name in plan.read:
        if name in skip:
            continue
        target = plan.entry(name)
        partial = target.with_suffix(".partial")
        by_file.get((name,), records.clear()).write_parquet(partial)
        partial.replace(target)  # an entry is whole or absent
    prune(plan)


def prune(plan: CarryPlan) -> None:
    """Remove entries of other stage keys and of files tonight's inputs no longer hold."""
    cache = plan.folder.parent
    for other in cache.iterdir():
        if other != plan.folder:
            shutil.rmtree(other) if other.is_dir() else other.unlink()
    used = {entry_name(name, sha) for name, sha in plan.sha256.items()}
    for entry in plan.folder.iterdir():
        if entry.name not in used:
            entry.unlink()
