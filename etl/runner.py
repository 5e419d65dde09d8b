"""The pipeline runner: ordering, timing, progress, outputs, counts and the accounting invariant.

    rows in = rows kept + rows dropped (each with a stage and a reason)

Every stage, ingest and publish included, goes through one loop (`_run_stage`):
set up, apply, tear down, then the same tally, checks and outputs for each. A
stage counts in its own unit (raw rows, records, examples) and hands the next
stage its kept rows; format turns records into examples.

Each run writes a folder `<work>/<dataset>/runs/<run_id>/` (owner-only; `<work>`
is `work_dir`, by default `<store>-work` beside the store, never inside it):

    stages/NN_<stage>.parquet        what the stage kept (the next stage's input)
    stages/NN_<stage>.stats.parquet  per-row figures behind its decisions, if any
    dropped.parquet                  every dropped row: stage, unit, ids, reason, detail, lineage
    quarantine.parquet               malformed raw input: file, line, error, raw text
    set_aside/, dedup_index.parquet, record_splits.parquet   what stages leave for later
    summary.json                     counts per stage, invariant, timings

and `<work>/<dataset>/cache/` keeps each input file's de-identified records, so
the next run reads only new or changed files (etl/incremental.py; `full=True`
reads them all).

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
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from etl import __version__, incremental
from etl.catalog import load_catalog
from etl.config import PipelineConfig
from etl.errors import EtlError, InvariantError, StoreAccessError, describe_os_error
from etl.executors import LocalExecutor, make_executor
from etl.registry import RunContext, build_stages
from etl.stages.base import DROPPED_SCHEMA, Stage, StageResult, Tally, with_lineage
from etl.stages.dedup.index import load_index, reconcile
from etl.stages.dedup.semantic import forget_vectors, keep_vectors, vector_counts, vectors_not_kept
from etl.stages.dedup.vector_store import VECTORS
from etl.stages.deidentify.surrogates import load_key
from etl.stages.ingest import IngestStage, plan_files
from etl.store import Store

logger = logging.getLogger("etl")


@dataclass
class StageReport:
    stage: str
    unit: str
    rows_in: int
    kept: int
    dropped: int
    dropped_by_reason: dict[str, int]
    seconds: float
    # what the next stage receives, in `produces` units when the stage changes the unit
    handed_on: int = 0
    produces: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    output: str | None = None


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
    # raw rows read; records that gave examples; raw rows and records dropped
    rows_in: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    invariant_holds: bool = False
    invariant_errors: list[str] = field(default_factory=list)
    # one report per stage, in run order, whatever its unit
    stages: list[StageReport] = field(default_factory=list)
    examples_built: int = 0
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    # variants per task and method, rejections by reason (the augment stage)
    augmentation: dict = field(default_factory=dict)
    # examples synthesised from the catalog per task and intent, rejections by reason
    synthesis: dict = field(default_factory=dict)
    # catalog entries put into prompts: settings, retrieval code, examples grounded per task (etl/stages/ground.py)
    grounding: dict = field(default_factory=dict)
    # per quality suite: success, severity, expectations run, failures (etl/stages/validate.py)
    quality: dict = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    # incremental or full; the files read tonight; files and records carried from the cache
    inputs: dict = field(default_factory=dict)
    # distinct texts given sentence vectors: embedded tonight, or kept from the last run
    embeddings: dict = field(default_factory=dict)
    # whole input files that could not be used: {file, kind, code, problem, fix}
    source_errors: list[dict[str, str]] = field(default_factory=list)
    quarantine: dict = field(default_factory=dict)
    publish: dict = field(default_factory=dict)
    # warnings for the operator (e.g. the development key is in use); never a secret or a raw value
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    def absorb(self, fields: dict) -> None:
        """What a stage tells the summary: lists are appended to, anything else is set."""
        for name, value in fields.items():
            if isinstance(value, list):
                getattr(self, name).extend(value)
            else:
                setattr(self, name, value)


class ProgressHooks:
    """What the runner tells a progress display; the default says nothing."""

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def finish(self, stage: str) -> None:
        pass


def config_hash(config: PipelineConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_run_dir(work: Path, dataset: str) -> tuple[str, Path]:
    # microseconds: run ids sort in the order runs started (retention keeps the newest by name)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)
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


def _keep_vectors() -> None:
    """A work folder that cannot take the vectors costs the next run time, not this run its result."""
    try:
        keep_vectors()
    except OSError as exc:
        logger.warning(describe_os_error(exc, "cannot keep the sentence vectors in the work folder:"))


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
    stages: Callable[[RunContext], list[Stage]] | None = None,
    work: str | Path | None = None,
    full: bool = False,
) -> RunSummary:
    """Run every stage (by default the registry's, `etl.registry.build_stages`; `stages`
    builds another list from the run's context, ingest first) and publish. Files read by
    an earlier run and unchanged since are taken from the work folder's cache unless
    `full` (or a custom stage list, which may not de-identify as the cache promises)."""
    hooks = hooks or ProgressHooks()
    # fail fast on a missing source or catalog, before any folder is made
    planned = plan_files(config)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    notices: list[str] = []
    key = load_key(config.deidentify, warn=notices.append)
    if "ORDER_NUMBER" in config.deidentify.entities and not config.deidentify.order_number_patterns:
        notices.append(
            "deidentify.order_number_patterns is empty, so order numbers are not looked for and are published as "
            "they are; list your format (etl init proposes the ones it sees in the exports)"
        )
    target = Store(config.store_dir(store), config.dataset)
    work_root = config.work_root(target.root, work)
    # the lock is held for the whole run: a second run fails in seconds, not after its work
    with target.lock(config.publish.lock_timeout):
        for notice in notices:
            logger.warning(notice)
        return _run_locked(config, target, work_root, planned, catalog, key, notices, hooks, stages, full)


def _run_locked(
    config, target: Store, work_root: Path, planned, catalog, key, notices, hooks, stages, full
) -> RunSummary:
    latest = target.latest()
    stored = load_index(target.path(latest) if latest else None)
    published, rebuilt = reconcile(stored, config.dedup, latest)
    try:
        purge_runs(work_root, config.dataset, keep=config.keep_runs - 1)  # retention, counting tonight's
        run_id, run_dir = new_run_dir(work_root, config.dataset)
    except OSError as exc:
        raise StoreAccessError(describe_os_error(exc, "cannot write the run folder in the work folder:")) from None
    summary = RunSummary(
        run_id=run_id,
        dataset=config.dataset,
        run_dir=str(run_dir),
        store_dir=str(target.root),
        config_hash=config_hash(config),
        code_version=__version__,
        started_at=_now(),
        notices=notices + ([rebuilt] if rebuilt else []),
    )
    if rebuilt:
        logger.warning(rebuilt)
    context = RunContext(
        config,
        catalog,
        key,
        target,
        planned,
        summary,
        latest,
        target.manifest(latest) if latest else None,
        published,
        target.example_ids(latest) if latest else set(),
        run_dir,
        incremental.plan_carry(config, planned, work_root, key, full or stages is not None),
        make_executor(config.executor, config.ray),
    )
    clock = time.perf_counter()
    frame, dropped = IngestStage.planned_frame(planned), []
    carry, executor = context.carry, context.executor
    # sentence vectors kept by the last run (not for a run of chosen stages, which keeps no cache);
    # per executor, as Ray's actors may compute other last float bits than this process
    forget_vectors(work_root / config.dataset / VECTORS / config.executor if stages is None else None)
    failure: BaseException | None = None
    try:
        carried_ids = None
        for number, stage in enumerate((stages or build_stages)(context), start=1):
            frame = _run_stage(stage, frame, number, run_dir, summary, hooks, dropped, carried_ids, executor)
            if stage.name == "ingest":
                names = [name for _, _, name in carry.carried]
                carried_ids = (
                    frame.filter(pl.col("source_file").is_in(names))["record_id"].implode() if names else None
                )
                summary.inputs = carry.summary(carried_ids.list.len()[0] if names else 0)
            if stage.name == "deidentify" and stages is None:
                fresh = frame if carried_ids is None else frame.filter(~pl.col("record_id").is_in(carried_ids))
                failed = {e["file"] for e in summary.source_errors}
                incremental.save(carry, fresh, skip=failed)
            if summary.invariant_errors:
                break
        _keep_vectors()
    except BaseException as exc:
        failure = exc
        raise
    finally:
        summary.embeddings = vector_counts()
        if not_kept := vectors_not_kept():
            summary.notices.append(
                "sentence vectors not kept for the next run: on this machine a text's vector changes in its last "
                f"bits with the size of the batch it is embedded in, so a kept one could change a decision ({', '.join(not_kept)})"
            )
        executor.close()
        try:
            all_dropped = pl.concat(dropped) if dropped else DROPPED_SCHEMA.to_frame()
            all_dropped.write_parquet(run_dir / "dropped.parquet")
            _total(summary, all_dropped)
            _write_summary(summary, run_dir, clock)
        except Exception:
            # the run's record could not be written (a full disk, usually): when the run failed
            # already, that first error is the one to report, not this one
            if failure is None:
                raise
    if summary.invariant_errors:
        raise InvariantError("accounting invariant broken: " + "; ".join(summary.invariant_errors))
    return summary


def _run_stage(
    stage: Stage,
    frame: pl.DataFrame,
    number: int,
    run_dir: Path,
    summary: RunSummary,
    hooks: ProgressHooks,
    dropped: list,
    carried_ids: pl.Series | None = None,
    executor=None,
) -> pl.DataFrame:
    """The one path every stage takes: set up, apply, tear down; then its tally, checks and outputs.
    Records carried from the cache pass a per-record stage untouched (they went through it
    when their file was read)."""
    clock = time.perf_counter()
    whole, bypass = frame, None
    if stage.per_record and carried_ids is not None:
        carried = pl.col(stage.id_column).is_in(carried_ids)
        frame, bypass = whole.filter(~carried), whole.filter(carried)
    advance = hooks.start(stage.name, stage.total_work(frame))
    try:
        result = (executor or LocalExecutor()).run(stage, frame, advance)
    except EtlError:
        summary.absorb(stage.summary_fields())
        raise
    finally:
        hooks.finish(stage.name)
    tally = stage.tally(frame, result)
    if bypass is not None:
        result, frame, n = _rejoin(whole, result, bypass, stage.id_column), whole, bypass.height
        tally = Tally(tally.rows_in + n, tally.kept + n, tally.dropped, tally.handed_on + n)
    stage_dropped = with_lineage(result.dropped, frame, stage)
    dropped.append(stage_dropped)
    output = run_dir / "stages" / f"{number:02d}_{stage.name}.parquet"
    result.kept.write_parquet(output)
    if result.stats is not None:
        result.stats.write_parquet(output.with_suffix(".stats.parquet"))
    for name, rows in stage.run_outputs().items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        rows.write_parquet(run_dir / f"{name}.parquet")
    report = StageReport(
        stage=stage.name,
        unit=stage.unit,
        rows_in=tally.rows_in,
        kept=tally.kept,
        dropped=tally.dropped,
        dropped_by_reason=_counts(stage_dropped, "reason"),
        seconds=round(time.perf_counter() - clock, 3),
        handed_on=tally.handed_on,
        produces=stage.produces,
        counts=result.counts,
        output=str(output),
    )
    summary.invariant_errors += stage_errors(
        report, summary.stages[-1] if summary.stages else None, stage_dropped, result.kept, stage
    )
    summary.stages.append(report)
    summary.absorb(stage.summary_fields())
    if stage.name == "ingest":
        summary.quarantine["file"] = str(run_dir / "quarantine.parquet")
    return result.kept


def _rejoin(whole: pl.DataFrame, result: StageResult, bypass: pl.DataFrame, id_column: str) -> StageResult:
    """The stage's kept rows and the carried rows it did not see, back in their input order."""
    position = whole.select(id_column).with_row_index("_position")
    kept = (
        pl.concat([result.kept, bypass.select(result.kept.columns)])
        .join(position, on=id_column, how="left")
        .sort("_position")
        .drop("_position")
    )
    return StageResult(kept=kept, dropped=result.dropped, stats=result.stats, counts=result.counts)


def stage_errors(
    report: StageReport, before: StageReport | None, dropped: pl.DataFrame, kept: pl.DataFrame, stage: Stage
) -> list[str]:
    """Every way one stage's counts could fail to add up, as readable sentences (empty when all hold)."""
    unit = report.unit
    errors = []
    if report.rows_in != report.kept + report.dropped:
        errors.append(
            f"stage {report.stage}: {report.rows_in} {unit} in != {report.kept} kept + {report.dropped} dropped"
        )
    if before is not None and report.rows_in != before.handed_on:
        errors.append(
            f"stage {report.stage} got {report.rows_in} {unit} but {before.stage} handed on {before.handed_on}"
        )
    if report.dropped != dropped.height or dropped.filter(pl.col("reason").is_null()).height:
        errors.append(f"stage {report.stage}: some dropped rows have no reason")
    if stage.produces is None and stage.id_column in kept.columns:
        if kept[stage.id_column].n_unique() != kept.height:
            errors.append(f"stage {report.stage}: kept {stage.id_column}s are not unique")
        both = dropped.filter(pl.col("id").is_in(kept[stage.id_column].implode())).height
        if both:
            errors.append(f"stage {report.stage}: {both} {unit} both kept and dropped")
    return errors


def _total(summary: RunSummary, dropped: pl.DataFrame) -> None:
    """The run's totals, from the stage reports: raw rows in, records that gave examples, rows
    and records dropped before the examples, examples built."""
    reports = summary.stages
    if not reports:
        return
    summary.rows_in = reports[0].rows_in
    turned = next((r for r in reports if r.produces == "examples"), None)
    before_examples = reports[: reports.index(turned) + 1] if turned else reports
    summary.rows_kept = turned.kept if turned else reports[-1].kept
    summary.rows_dropped = sum(r.dropped for r in before_examples)
    summary.examples_built = turned.handed_on if turned else 0
    summary.invariant_holds = (
        not summary.invariant_errors and summary.rows_in == summary.rows_kept + summary.rows_dropped
    )
    if summary.rows_in != summary.rows_kept + summary.rows_dropped and not summary.invariant_errors:
        summary.invariant_errors.append(
            f"run: {summary.rows_in} in != {summary.rows_kept} kept + {summary.rows_dropped} dropped"
        )


def _write_summary(summary: RunSummary, run_dir: Path, clock: float) -> None:
    summary.finished_at = _now()
    summary.seconds = round(time.perf_counter() - clock, 3)
    (run_dir / "summary.json").write_text(summary.to_json(), encoding="utf-8")


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.height == 0:
        return {}
    counted = frame.group_by(column).len().sort(["len", column], descending=[True, False])
    return {str(k): int(v) for k, v in counted.iter_rows()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
