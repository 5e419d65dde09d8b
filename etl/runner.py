"""The pipeline runner: ordering, timing, progress, outputs, counts and the accounting invariant.

    rows in = rows kept + rows dropped (each with a stage and a reason)

Each run writes a folder `<work>/<dataset>/runs/<run_id>/` (owner-only; `<work>`
is `work_dir`, by default `<store>-work` beside the store, never inside it):

    stages/NN_<stage>.parquet        what the stage kept (the next stage's input)
    stages/NN_<stage>.stats.parquet  per-row figures behind its decisions, if any
    dropped.parquet                  every dropped row: stage, reason, detail, lineage
    quarantine.parquet               malformed raw input: file, line, error, raw text
    summary.json                     counts per stage, invariant, timings

Run folders hold raw customer text (personal data): they are working files
for the operator, never published, and nothing from them is printed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from etl import __version__
from etl.card import render_card
from etl.catalog import Catalog, load_catalog
from etl.stages.clean import CleanStage
from etl.stages.dedup import INDEX_FILE, DedupStage, load_index
from etl.errors import InvariantError, SourceError, StoreAccessError, describe_os_error
from etl.stages.deidentify import DeidentifyStage
from etl.config import PipelineConfig
from etl.stages.format import FormatStage
from etl.stages.ingest import ingest, plan_files
from etl.stages.dedup.semantic import SemanticDedupStage
from etl.stages.split import SplitStage
from etl.stages.base import DROPPED_SCHEMA, Stage, with_lineage
from etl.stages.deidentify.surrogates import load_key
from etl.store import PublishOutcome, Store, file_sha256

logger = logging.getLogger("etl")


@dataclass
class StageReport:
    stage: str
    rows_in: int
    kept: int
    dropped: int
    dropped_by_reason: dict[str, int]
    seconds: float
    notes: dict[str, int] = field(default_factory=dict)
    output: str | None = None
    unit: str = "records"


@dataclass
class RunSummary:
    run_id: str
    dataset: str
    run_dir: str
    store_dir: str
    config_hash: str
    code_version: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    rows_in: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    invariant_holds: bool = False
    invariant_errors: list[str] = field(default_factory=list)
    stages: list[StageReport] = field(default_factory=list)
    # stages after format count examples, not records
    example_stages: list[StageReport] = field(default_factory=list)
    examples_built: int = 0
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    # whole input files that could not be used: {file, kind, code, problem, fix}
    source_errors: list[dict[str, str]] = field(default_factory=list)
    quarantine: dict = field(default_factory=dict)
    publish: dict = field(default_factory=dict)
    # warnings for the operator (e.g. the development key is in use); never a secret or a raw value
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)


class ProgressHooks:
    """What the runner tells a progress display; the default says nothing."""

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def finish(self, stage: str) -> None:
        pass


def default_stages(config: PipelineConfig, catalog: Catalog, key: bytes, published: pl.DataFrame) -> list[Stage]:
    """The record stages after ingest, in order; the last one (format) emits examples."""
    menu = config.catalog_file("menu")
    return [
        CleanStage(config.clean),
        DeidentifyStage(config.deidentify, catalog, key),
        DedupStage(config.dedup, published),
        FormatStage(config.format, catalog, menu.name if menu else "menu.yaml"),
    ]


def example_stages(config: PipelineConfig, published: pl.DataFrame, published_ids: set[str]) -> list[Stage]:
    """The stages between format and publish; they count examples."""
    known = dict(published.filter(pl.col("split").is_not_null()).select("record_id", "split").iter_rows())
    stages: list[Stage] = [SemanticDedupStage(config.dedup.semantic, published_ids)] if config.dedup.semantic.enabled else []
    return stages + [SplitStage(config.split, known)]


def config_hash(config: PipelineConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_run_dir(work: Path, dataset: str) -> tuple[str, Path]:
    # microseconds: run ids sort in the order runs started (retention keeps the newest by name)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)
    run_dir = work / dataset / "runs" / run_id
    for folder in (work, work / dataset, run_dir.parent, run_dir, run_dir / "stages"):
        if folder == run_dir or not folder.exists():
            folder.mkdir(mode=0o700, parents=True, exist_ok=False)
            folder.chmod(0o700)  # owner-only whatever the umask (only folders made here: never a shared /tmp)
    return run_id, run_dir


def run_folders(work: Path, dataset: str) -> list[Path]:
    """A dataset's run folders, oldest first (run ids start with their UTC time)."""
    runs = work / dataset / "runs"
    return sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []


def purge_runs(work: Path, dataset: str, keep: int) -> list[Path]:
    """Remove all but the newest `keep` run folders; returns what was removed."""
    folders = run_folders(work, dataset)
    removed = folders[: max(len(folders) - keep, 0)]
    for folder in removed:
        shutil.rmtree(folder)
    return removed


def run_pipeline(
    config: PipelineConfig,
    store: str | Path | None = None,
    hooks: ProgressHooks | None = None,
    stages: list[Stage] | None = None,
    work: str | Path | None = None,
) -> RunSummary:
    hooks = hooks or ProgressHooks()
    # fail fast on a missing source or catalog, before any folder is made
    planned = plan_files(config)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    notices: list[str] = []
    key = load_key(config.deidentify, warn=notices.append)
    target = Store(config.store_dir(store), config.dataset)
    work_root = config.work_root(target.root, work)
    # the lock is held for the whole run: a second run fails in seconds, not after its work
    with target.lock(config.publish.lock_timeout):
        for notice in notices:
            logger.warning(notice)
        return _run_locked(config, target, work_root, planned, catalog, key, notices, hooks, stages)


def _run_locked(config, target: Store, work_root: Path, planned, catalog, key, notices, hooks, stages) -> RunSummary:
    latest = target.latest()
    published = load_index(target.path(latest) if latest else None)
    published_ids = target.example_ids(latest) if latest else set()
    try:
        purge_runs(work_root, config.dataset, keep=config.keep_runs - 1)  # retention, counting tonight's
        run_id, run_dir = new_run_dir(work_root, config.dataset)
    except OSError as exc:
        raise StoreAccessError(describe_os_error(exc, "cannot write the run folder in the work folder:")) from None
    summary = RunSummary(run_id=run_id, dataset=config.dataset, run_dir=str(run_dir), store_dir=str(target.root), config_hash=config_hash(config),
                         code_version=__version__, started_at=_now(), notices=notices)
    clock = time.perf_counter()

    frame, dropped = _run_ingest(config, run_dir, summary, hooks, len(planned))
    summary.notices += _source_falls(summary.sources, target.manifest(latest) if latest else None, latest, config.warn_source_fall)
    _gate_source_errors(config, summary, run_dir, clock)
    all_dropped, examples, artifacts = [dropped], None, {}
    for number, stage in enumerate(stages if stages is not None else default_stages(config, catalog, key, published), start=2):
        frame, dropped, result = _run_stage(stage, frame, run_dir, number, summary, hooks)
        all_dropped.append(dropped)
        artifacts.update(result.artifacts)
        if result.emitted is not None:
            examples = result.emitted
            _write_set_aside(result.set_aside, run_dir, summary)

    dropped_all = pl.concat(all_dropped) if all_dropped else DROPPED_SCHEMA.to_frame()
    dropped_all.write_parquet(run_dir / "dropped.parquet")
    summary.rows_kept = frame.height
    summary.rows_dropped = dropped_all.height
    if examples is not None:
        summary.examples_built = examples.height
        examples = _run_example_stages(example_stages(config, published, published_ids), examples, run_dir, summary, hooks, artifacts)
    summary.invariant_errors = check_invariant(summary, frame, dropped_all)
    summary.invariant_holds = not summary.invariant_errors
    if summary.invariant_holds and examples is not None:
        index = _version_index(artifacts.get("dedup_index"), published, artifacts["record_splits"])
        outcome = _run_publish(config, target, examples, index, planned, summary, hooks)
        summary.publish = {"version": outcome.version, "published": outcome.published, "fingerprint": outcome.fingerprint, "path": str(outcome.path)}
    _write_summary(summary, run_dir, clock)
    if summary.invariant_errors:
        raise InvariantError("accounting invariant broken: " + "; ".join(summary.invariant_errors))
    return summary


def _write_summary(summary: RunSummary, run_dir: Path, clock: float) -> None:
    summary.finished_at = _now()
    summary.seconds = round(time.perf_counter() - clock, 3)
    (run_dir / "summary.json").write_text(summary.to_json(), encoding="utf-8")


def _gate_source_errors(config: PipelineConfig, summary: RunSummary, run_dir: Path, clock: float) -> None:
    """Whole files that cannot be used stop the run before any work (exit 5), unless
    `on_source_error: skip`, which goes on without them and says so."""
    if not summary.source_errors:
        return
    lines = [f"{e['file']}: {e['problem']} [{e['code']}]; {e['fix']}." for e in summary.source_errors]
    if config.on_source_error == "skip":
        summary.notices += [f"published without {line} (on_source_error: skip)" for line in lines]
        return
    _write_summary(summary, run_dir, clock)
    lines[-1] += " Nothing was published (on_source_error: skip would publish without the file)."
    raise SourceError("\n".join(lines))


def _source_falls(sources: dict[str, dict], manifest: dict | None, version: str | None, limit: float) -> list[str]:
    """A notice per source kind whose records fell by more than `limit` against the previous version."""
    before = (manifest or {}).get("counts", {}).get("sources", {})
    notices = []
    for kind, old in before.items():
        new = sources.get(kind, {}).get("records", 0)
        if old and (old - new) / old > limit:
            notices.append(f"{kind}: {new:,} records tonight against {old:,} in {version} ({(new - old) / old:+.1%}); is an export missing or cut short?")
    return notices


def _write_set_aside(set_aside: dict[str, pl.DataFrame], run_dir: Path, summary: RunSummary) -> None:
    for name, rows in set_aside.items():
        (run_dir / "set_aside").mkdir(exist_ok=True)
        rows.write_parquet(run_dir / "set_aside" / f"{name}.parquet")
        summary.set_aside[name] = rows.height


def _run_example_stages(
    stages: list[Stage], examples: pl.DataFrame, run_dir: Path, summary: RunSummary, hooks: ProgressHooks, artifacts: dict
) -> pl.DataFrame:
    """Stages over examples: each keeps or drops examples; drops are written with their lineage."""
    dropped_all = []
    for stage in stages:
        clock = time.perf_counter()
        advance = hooks.start(stage.name, stage.total_work(examples))
        result = stage.apply(examples, advance)
        hooks.finish(stage.name)
        artifacts.update(result.artifacts)
        dropped = (
            result.dropped.rename({"record_id": "id"})
            .join(examples.select("id", "task", "record_id", "source"), on="id", how="left")
            .with_columns(pl.lit(stage.name).alias("stage"))
        )
        dropped_all.append(dropped)
        summary.example_stages.append(
            StageReport(stage.name, examples.height, result.kept.height, dropped.height, _counts(dropped, "reason"),
                        round(time.perf_counter() - clock, 3), notes=result.notes, unit="examples")
        )
        examples = result.kept
    output = run_dir / "stages" / "examples.parquet"
    examples.write_parquet(output)
    summary.example_stages[-1].output = str(output)
    if dropped_all:
        pl.concat(dropped_all, how="diagonal_relaxed").write_parquet(run_dir / "dropped_examples.parquet")
    for task, name, n in examples.group_by("task", "split").len().sort("task", "split").iter_rows():
        summary.examples.setdefault(task, {})[name] = int(n)
    return examples


def _version_index(tonight: pl.DataFrame | None, published: pl.DataFrame, record_splits: pl.DataFrame) -> pl.DataFrame | None:
    """The dedup index a version carries: tonight's records with the side the split stage put
    them on (null when they gave no example), plus the earlier records tonight's input no longer holds."""
    if tonight is None:
        return None
    split_of = record_splits.select("record_id", "split", "dup_cluster")
    # a record that gives no example tonight keeps the side an earlier version gave it,
    # so it can never come back on the other side
    earlier = published.select("record_id", pl.col("split").alias("earlier"))
    current = (
        tonight.join(split_of.select("record_id", "split"), on="record_id", how="left")
        .join(earlier, on="record_id", how="left")
        .with_columns(pl.coalesce("split", "earlier").alias("split"), pl.lit(None, dtype=pl.Utf8).alias("version"))
        .drop("earlier")
    )
    carried = (
        published.filter(~pl.col("record_id").is_in(tonight["record_id"].implode()))
        .join(split_of.select("record_id", pl.col("split").alias("tonight")), on="record_id", how="left")
        .with_columns(pl.coalesce("tonight", "split").alias("split"))
        .drop("tonight")
    )
    # examples with no raw record (synthesised from the catalog) remember their split too
    synthetic = (
        split_of.filter(~pl.col("record_id").is_in(tonight["record_id"].implode()) & ~pl.col("record_id").is_in(carried["record_id"].implode()))
        .with_columns(
            pl.lit(None, dtype=pl.UInt64).alias("exact_hash"),
            pl.lit(None, dtype=pl.List(pl.UInt32)).alias("signature"),
            pl.lit(None, dtype=pl.Utf8).alias("version"),
        )
    )
    return pl.concat([current.select(carried.columns), carried, synthetic.select(carried.columns)], how="vertical_relaxed").sort("record_id")


def _run_publish(config: PipelineConfig, store: Store, examples: pl.DataFrame, index: pl.DataFrame | None, planned, summary: RunSummary, hooks: ProgressHooks) -> PublishOutcome:
    clock = time.perf_counter()
    hooks.start("publish", 1)
    manifest = {
        "config_hash": summary.config_hash,
        "code_version": summary.code_version,
        "run_id": summary.run_id,
        "created_at": _now(),
        "inputs": _inputs(config, planned),
        "counts": {
            "stages": [asdict(s) | {"output": None} for s in summary.stages + summary.example_stages],
            "examples": summary.examples,
            "set_aside": summary.set_aside,
            "quarantined": summary.quarantine.get("rows", 0),
            # records read per source kind: the next run compares against them
            "sources": {kind: tally["records"] for kind, tally in summary.sources.items()},
        },
    }

    def write_extras(folder: Path, version: str, parent: str | None, fingerprint: str) -> None:
        (folder / "README.md").write_text(render_card(config.dataset, version, parent, fingerprint, examples, manifest), encoding="utf-8")
        (folder / "quality").mkdir()
        report = {"run_id": summary.run_id, "stages": manifest["counts"]["stages"], "examples": summary.examples, "sources": summary.sources}
        (folder / "quality" / "curation_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        if index is not None:
            (folder / "dedup").mkdir()
            index.with_columns(pl.col("version").fill_null(version)).write_parquet(folder / INDEX_FILE)

    outcome = store.publish(examples, write_extras, manifest, lock_timeout=config.publish.lock_timeout)
    hooks.finish("publish")
    summary.example_stages.append(
        StageReport("publish", examples.height, examples.height, 0, {}, round(time.perf_counter() - clock, 3), output=str(outcome.path), unit="examples")
    )
    return outcome


def _inputs(config: PipelineConfig, planned) -> list[dict]:
    files = [(name, path) for _, path, name in planned]
    for kind in ("menu", "stores"):
        path = config.catalog_file(kind)
        if path is not None:
            files.append((getattr(config.catalog, kind), path))
    return [{"file": name, "sha256": file_sha256(path), "bytes": path.stat().st_size} for name, path in files]


def _run_ingest(config, run_dir: Path, summary: RunSummary, hooks: ProgressHooks, n_files: int):
    clock = time.perf_counter()
    advance = hooks.start("ingest", n_files)
    result = ingest(config, on_file=lambda: advance(1))
    hooks.finish("ingest")
    quarantine = result.quarantine
    quarantine.write_parquet(run_dir / "quarantine.parquet")
    output = run_dir / "stages" / "01_ingest.parquet"
    result.records.write_parquet(output)
    # A quarantined row is a row dropped by ingest, with its error code as the reason.
    dropped = quarantine.select(
        pl.lit(None, dtype=pl.Utf8).alias("record_id"),
        "source",
        "source_file",
        "source_line",
        pl.lit("ingest").alias("stage"),
        pl.col("error_code").alias("reason"),
        pl.col("error").alias("detail"),
    ).cast(dict(DROPPED_SCHEMA))
    summary.rows_in = result.rows_in
    summary.sources = result.sources
    summary.source_errors = result.source_errors
    summary.quarantine = {
        "rows": quarantine.height,
        "file": str(run_dir / "quarantine.parquet"),
        "by_code": _counts(quarantine, "error_code"),
    }
    summary.stages.append(
        StageReport(
            stage="ingest",
            rows_in=result.rows_in,
            kept=result.records.height,
            dropped=dropped.height,
            dropped_by_reason=_counts(dropped, "reason"),
            seconds=round(time.perf_counter() - clock, 3),
            output=str(output),
        )
    )
    return result.records, dropped


def _run_stage(stage: Stage, frame: pl.DataFrame, run_dir: Path, number: int, summary: RunSummary, hooks: ProgressHooks):
    clock = time.perf_counter()
    advance = hooks.start(stage.name, stage.total_work(frame))
    result = stage.apply(frame, advance)
    hooks.finish(stage.name)
    dropped = with_lineage(result.dropped, frame, stage.name)
    output = run_dir / "stages" / f"{number:02d}_{stage.name}.parquet"
    result.kept.write_parquet(output)
    if result.emitted is not None:
        result.emitted.write_parquet(output.with_suffix(".emitted.parquet"))
    if result.stats is not None:
        result.stats.write_parquet(output.with_suffix(".stats.parquet"))
    summary.stages.append(
        StageReport(
            stage=stage.name,
            rows_in=frame.height,
            kept=result.kept.height,
            dropped=dropped.height,
            dropped_by_reason=_counts(dropped, "reason"),
            seconds=round(time.perf_counter() - clock, 3),
            notes=result.notes,
            output=str(output),
        )
    )
    return result.kept, dropped, result


def check_invariant(summary: RunSummary, final: pl.DataFrame, dropped: pl.DataFrame) -> list[str]:
    """Every way the counts could fail to add up, as readable sentences (empty when all hold)."""
    errors = _chain_errors(summary.stages, "rows") + _chain_errors(summary.example_stages, "examples")
    if summary.rows_in != final.height + dropped.height:
        errors.append(f"run: {summary.rows_in} in != {final.height} kept + {dropped.height} dropped")
    if dropped.filter(pl.col("reason").is_null() | pl.col("stage").is_null()).height:
        errors.append("some dropped rows have no stage or reason")
    if final["record_id"].n_unique() != final.height:
        errors.append("kept record ids are not unique")
    lost = dropped.filter(pl.col("record_id").is_in(final["record_id"].implode()))
    if lost.height:
        errors.append(f"{lost.height} rows are both kept and dropped")
    if summary.example_stages:
        examples_dropped = sum(r.dropped for r in summary.example_stages)
        if summary.examples_built != summary.example_stages[-1].kept + examples_dropped:
            errors.append(f"examples: {summary.examples_built} built != {summary.example_stages[-1].kept} kept + {examples_dropped} dropped")
    return errors


def _chain_errors(reports: list[StageReport], unit: str) -> list[str]:
    """Each stage: in = kept + dropped; each stage's input is the previous stage's output."""
    errors = [
        f"stage {r.stage}: {r.rows_in} {unit} in != {r.kept} kept + {r.dropped} dropped" for r in reports if r.rows_in != r.kept + r.dropped
    ]
    errors += [
        f"stage {after.stage} got {after.rows_in} {unit} but {before.stage} kept {before.kept}"
        for before, after in zip(reports, reports[1:])
        if after.rows_in != before.kept
    ]
    return errors


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.height == 0:
        return {}
    counted = frame.group_by(column).len().sort(["len", column], descending=[True, False])
    return {str(k): int(v) for k, v in counted.iter_rows()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
