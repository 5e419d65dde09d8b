"""Ingest: one reader per source kind, all producing the canonical record (etl.records)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.config import PipelineConfig
from etl.ingest.calls import read_calls
from etl.ingest.chats import read_chats
from etl.ingest.common import ReadResult
from etl.ingest.faqs import read_faqs
from etl.ingest.reviews import read_reviews
from etl.records import quarantine_frame, records_frame

READERS: dict[str, Callable[[Path, str], ReadResult]] = {
    "reviews": read_reviews,
    "chats": read_chats,
    "faqs": read_faqs,
    "calls": read_calls,
}


@dataclass
class IngestOutput:
    records: pl.DataFrame
    quarantine: pl.DataFrame
    rows_in: int
    # per source kind: files read, rows, records, quarantined, and the files
    # that needed a notice (not UTF-8, or a byte-order mark)
    sources: dict[str, dict] = field(default_factory=dict)


def plan_files(config: PipelineConfig) -> list[tuple[str, Path, str]]:
    """(kind, path, name relative to the config folder) for every input; fails fast on a missing source."""
    planned = []
    for kind in READERS:
        for path in config.source_files(kind):
            planned.append((kind, path, _relative_name(path, config.base_dir)))
    return planned


def ingest(config: PipelineConfig, on_file: Callable[[], None] | None = None) -> IngestOutput:
    records, quarantined, rows_in = [], [], 0
    sources: dict[str, dict] = {}
    for kind, path, name in plan_files(config):
        result = READERS[kind](path, name)
        records.extend(result.records)
        quarantined.extend(result.quarantine)
        rows_in += result.units
        _tally(sources.setdefault(kind, _empty_tally()), name, result)
        if on_file:
            on_file()
    return IngestOutput(records_frame(records), quarantine_frame(quarantined), rows_in, sources)


def _empty_tally() -> dict:
    return {"files": 0, "rows": 0, "records": 0, "quarantined": 0, "decoded_as": {}, "bom_stripped": []}


def _tally(tally: dict, name: str, result: ReadResult) -> None:
    tally["files"] += 1
    tally["rows"] += result.units
    tally["records"] += len(result.records)
    tally["quarantined"] += len(result.quarantine)
    if result.encoding != "utf-8":
        tally["decoded_as"].setdefault(result.encoding, []).append(name)
    if result.had_bom:
        tally["bom_stripped"].append(name)


def _relative_name(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
