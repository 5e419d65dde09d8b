"""Ingest: one reader per source kind, all producing the canonical record (etl.records)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.config import FileSource, PipelineConfig
from etl.errors import SourceError
from etl.records import quarantine_frame, records_frame
from etl.stages.base import Progress, Stage, StageResult, Tally
from etl.stages.ingest.calls import read_calls
from etl.stages.ingest.chats import read_chats
from etl.stages.ingest.common import ReadResult, SourceMapping
from etl.stages.ingest.faqs import read_faqs
from etl.stages.ingest.reviews import read_reviews

READERS: dict[str, Callable[[Path, str], ReadResult]] = {
    "reviews": read_reviews,
    "chats": read_chats,
    "faqs": read_faqs,
    "calls": read_calls,
}

# the kinds whose export's columns and values the config can map (sources.<kind>.columns)
MAPPED_KINDS = ("reviews", "chats")

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
    return plan_sources(config)[0]


def plan_sources(config: PipelineConfig) -> tuple[list[tuple[str, Path, str]], dict[Path, SourceMapping]]:
    """The planned inputs and each one's mapping, every source pattern globbed once."""
    base = config.base_dir.resolve()
    planned, mappings = [], {}
    for kind in READERS:
        by_key: dict[str, SourceMapping] = {}
        for path, (key, spec) in config.source_entries(kind).items():
            planned.append((kind, path, _relative_name(path, base)))
            if key not in by_key:
                by_key[key] = source_mapping(config, key, spec)
            mappings[path] = by_key[key]
    return planned, mappings


def ingest(
    config: PipelineConfig,
    on_file: Callable[[], None] | None = None,
    files: list[tuple[str, Path, str]] | None = None,
    carried: pl.DataFrame | None = None,
) -> IngestOutput:
    """Read `files` (by default every configured one); `carried` records (etl/run/incremental.py)
    join them in the order of the configured files, as if read again."""
    records, quarantined, rows_in, errors = [], [], 0, []
    sources: dict[str, dict] = {}
    planned, mappings = plan_sources(config)
    for kind, path, name in planned if files is None else files:
        result = _read(kind, path, name, mappings.get(path) or _first_mapping(config, kind))
        records.extend(result.records)
        quarantined.extend(result.quarantine)
        rows_in += result.units
        _tally(sources.setdefault(kind, _empty_tally()), name, result)
        if result.file_error:
            errors.append({"file": name, "kind": kind, **result.file_error})
        if on_file:
            on_file()
    frame = records_frame(records)
    if carried is not None and carried.height:
        per_file = dict(carried.group_by("source_file").len().iter_rows())
        for kind, _, name in planned:
            if name in per_file:
                tally = sources.setdefault(kind, _empty_tally())
                tally["records"] += per_file[name]
                tally["carried"] = tally.get("carried", 0) + per_file[name]
        rows_in += carried.height  # a carried record counts as one row
        order = {name: i for i, (_, _, name) in enumerate(planned)}
        frame = (
            pl.concat([frame, carried.select(frame.columns).cast(frame.schema)])
            .with_columns(pl.col("source_file").replace_strict(order, default=len(order)).alias("_file_order"))
            .sort("_file_order", maintain_order=True)
            .drop("_file_order")
        )
    errors += _silent_kinds(sources, errors)
    return IngestOutput(frame, quarantine_frame(quarantined), rows_in, sources, errors)


def _first_mapping(config: PipelineConfig, kind: str) -> SourceMapping:
    """A planned file gone since planning: read with the kind's first entry, and reported unreadable."""
    return source_mapping(config, *config.sources.specs(kind)[0])


def source_mapping(config: PipelineConfig, key: str, spec: FileSource) -> SourceMapping:
    """How the config entry `key` says its export maps onto our fields, with each mapping's line."""
    prefix = f"{key}.columns."
    lines = {name[len(prefix) :]: line for name, line in config.mapping_lines.items() if name.startswith(prefix)}
    return SourceMapping(key, spec, lines)


def _read(kind: str, path: Path, name: str, source: SourceMapping) -> ReadResult:
    try:
        if kind in MAPPED_KINDS:
            return READERS[kind](path, name, source)
        return READERS[kind](path, name)
    except OSError as exc:  # gone since planning, no permission, a device error
        result = ReadResult(SOURCE_OF[kind], name)
        result.fail_file(
            "unreadable",
            f"cannot read the file: {exc.strerror or exc}",
            "check the file exists and this user may read it",
        )
        return result


def _silent_kinds(sources: dict[str, dict], errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """A configured source kind that gave no record at all, with no file to blame (say every
    call transcript is empty), is a source error of its own."""
    blamed = {e["kind"] for e in errors}
    return [
        {
            "file": f"{tally['files']} {kind} file(s)",
            "kind": kind,
            "code": "no_valid_rows",
            "problem": f"none of the {tally['rows']} {kind} units could be read",
            "fix": "check the files are the right export; the quarantine lists each error",
        }
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
    """The file's name relative to the config folder (`base`, resolved), as the config reaches it:
    a symbolic link is named by where it sits, never by the host path it points to, since names
    go into manifests and the store is synced to trainers."""
    return Path(os.path.relpath(os.path.abspath(path), base)).as_posix()


def outside_links(planned: list[tuple[str, Path, str]], base: Path) -> list[str]:
    """The inputs that are symbolic links (or sit in a linked folder) leading out of the config
    folder: read, as the config asks, and said, as nobody might expect it."""
    names = []
    for _, path, name in planned:
        target = Path(path).resolve()
        if target != Path(os.path.abspath(path)) and not target.is_relative_to(base):
            names.append(name)
    return names


class IngestStage(Stage):
    """Reads every configured source file into canonical records. Its input is the planned
    files (kind, path, name); it counts raw rows (lines, objects, calls), and a malformed row
    is quarantined: dropped with its error code as the reason and kept aside with its raw
    text in the run folder. Whole files that cannot be used stop the run (SourceError, exit
    5) unless `on_source_error: skip`, which publishes without them and says so."""

    name = "ingest"
    unit = "raw rows"
    produces = "records"
    cache_role = "reads"  # its records name the file they came from

    def __init__(
        self,
        config: PipelineConfig,
        previous_manifest: dict | None = None,
        previous_version: str | None = None,
        carry=None,
    ) -> None:
        self.config = config
        # etl.run.incremental.CarryPlan: the files to read, and those whose records come from the cache
        self.carry = carry
        self.previous = (previous_manifest or {}).get("counts", {}).get("sources", {})
        self.previous_version = previous_version
        self.output: IngestOutput | None = None
        self.notices: list[str] = []

    @staticmethod
    def planned_frame(planned: list[tuple[str, Path, str]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "kind": [k for k, _, _ in planned],
                "path": [str(p) for _, p, _ in planned],
                "name": [n for _, _, n in planned],
            },
            schema={"kind": pl.Utf8, "path": pl.Utf8, "name": pl.Utf8},
        )

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        carry = self.carry
        self.output = ingest(
            self.config,
            on_file=lambda: progress(1),
            files=carry.read if carry else None,
            carried=carry.carried_records() if carry else None,
        )
        if carry and carry.carried:
            progress(len(carry.carried))
        quarantine = self.output.quarantine
        dropped = quarantine.select(
            pl.lit(None, dtype=pl.Utf8).alias("record_id"),
            "source",
            "source_file",
            "source_line",
            pl.col("error_code").alias("reason"),
            pl.col("error").alias("detail"),
        )
        self.notices = source_falls(
            self.output.sources, self.previous, self.previous_version, self.config.warn_source_fall
        )
        planned = [(k, Path(p), n) for k, p, n in frame.iter_rows()]
        if links := outside_links(planned, self.config.base_dir.resolve()):
            self.notices.append(
                f"{len(links)} input(s) are symbolic links to files outside the config folder, read as configured: "
                + ", ".join(links[:5])
                + (" ..." if len(links) > 5 else "")
            )
        self._gate(self.output.source_errors)
        return StageResult(kept=self.output.records, dropped=dropped)

    def _gate(self, errors: list[dict[str, str]]) -> None:
        if not errors:
            return
        lines = [f"{e['file']}: {e['problem']} [{e['code']}]; {e['fix']}." for e in errors]
        if self.config.on_source_error == "skip":
            self.notices += [f"published without {line} (on_source_error: skip)" for line in lines]
            return
        lines[-1] += " Nothing was published (on_source_error: skip would publish without the file)."
        raise SourceError("\n".join(lines))

    def tally(self, frame: pl.DataFrame, result: StageResult) -> Tally:
        return Tally(self.output.rows_in, result.kept.height, result.dropped.height, result.kept.height)

    def run_outputs(self) -> dict[str, pl.DataFrame]:
        return {"quarantine": self.output.quarantine} if self.output else {}

    def summary_fields(self) -> dict:
        if self.output is None:
            return {}
        quarantine = self.output.quarantine
        counted = (
            quarantine.group_by("error_code").len().sort(["len", "error_code"], descending=[True, False])
            if quarantine.height
            else None
        )
        return {
            "sources": self.output.sources,
            "source_errors": self.output.source_errors,
            "quarantine": {
                "rows": quarantine.height,
                "by_code": {str(k): int(v) for k, v in counted.iter_rows()} if counted is not None else {},
            },
            "notices": self.notices,
        }


def source_falls(sources: dict[str, dict], before: dict[str, int], version: str | None, limit: float) -> list[str]:
    """A notice per source kind whose records fell by more than `limit` against the previous version."""
    notices = []
    for kind, old in before.items():
        new = sources.get(kind, {}).get("records", 0)
        if old and (old - new) / old > limit:
            notices.append(
                f"{kind}: {new:,} records tonight against {old:,} in {version} ({(new - old) / old:+.1%}); is an export missing or cut short?"
            )
    return notices
