"""Ingest: one reader per source kind, all producing the canonical record (etl.records)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.config import PipelineConfig
from etl.stages.ingest.calls import read_calls
from etl.stages.ingest.chats import read_chats
from etl.stages.ingest.common import ReadResult
from etl.stages.ingest.faqs import read_faqs
from etl.stages.ingest.reviews import read_reviews
from etl.records import quarantine_frame, records_frame

READERS: dict[str, Callable[[Path, str], ReadResult]] = {
    "reviews": read_reviews,
    "chats": read_chats,
    "faqs": read_faqs,
    "calls": read_calls,
}


# the `source` value each kind's records carry
SOURCE_OF = {"reviews": "review", "chats": "chat", "faqs": "faq", "calls": "call"}


@dataclass
class IngestOutput:
    records: pl.DataFrame
    quarantine: pl.DataFrame
    rows_in: int
    # per source kind: files read, rows, records, quarantined, and the files
    # that needed a notice (not UTF-8, or a byte-order mark)
    sources: dict[str, dict] = field(default_factory=dict)
    # problems with whole files: {file, kind, code, problem, fix}
    source_errors: list[dict[str, str]] = field(default_factory=list)


def plan_files(config: PipelineConfig) -> list[tuple[str, Path, str]]:
    """(kind, path, name relative to the config folder) for every input; fails fast on a missing source."""
    planned = []
    for kind in READERS:
        for path in config.source_files(kind):
            planned.append((kind, path, _relative_name(path, config.base_dir)))
    return planned


def ingest(config: PipelineConfig, on_file: Callable[[], None] | None = None) -> IngestOutput:
    records, quarantined, rows_in, errors = [], [], 0, []
    sources: dict[str, dict] = {}
    for kind, path, name in plan_files(config):
        result = _read(kind, path, name)
        records.extend(result.records)
        quarantined.extend(result.quarantine)
        rows_in += result.units
        _tally(sources.setdefault(kind, _empty_tally()), name, result)
        if result.file_error:
            errors.append({"file": name, "kind": kind, **result.file_error})
        if on_file:
            on_file()
    errors += _silent_kinds(sources, errors)
    return IngestOutput(records_frame(records), quarantine_frame(quarantined), rows_in, sources, errors)


def _read(kind: str, path: Path, name: str) -> ReadResult:
    try:
        return READERS[kind](path, name)
    except OSError as exc:  # gone since planning, no permission, a device error
        result = ReadResult(SOURCE_OF[kind], name)
        result.fail_file("unreadable", f"cannot read the file: {exc.strerror or exc}", "check the file exists and this user may read it")
        return result


def _silent_kinds(sources: dict[str, dict], errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """A configured source kind that gave no record at all, with no file to blame (say every
    call transcript is empty), is a source error of its own."""
    blamed = {e["kind"] for e in errors}
    return [
        {"file": f"{tally['files']} {kind} file(s)", "kind": kind, "code": "no_valid_rows",
         "problem": f"none of the {tally['rows']} {kind} units could be read", "fix": "check the files are the right export; the quarantine lists each error"}
        for kind, tally in sources.items()
        if tally["records"] == 0 and kind not in blamed
    ]


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
