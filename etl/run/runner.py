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
the next run reads only new or changed files (etl/run/incremental.py; `full=True`
reads them all).

Run folders hold raw customer text (personal data): they are working files
for the operator, never published, and nothing from them is printed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from etl.config import PipelineConfig
from etl.embeddings import Embedder, VectorCache
from etl.errors import EtlError, InvariantError, StoreAccessError, describe_os_error
from etl.run import incremental
from etl.run.accounts import ProgressHooks, RunSummary, StageReport  # noqa: F401 (re-exported)
from etl.run.executors import LocalExecutor, make_executor
from etl.run.registry import RunContext, build_stages, first_input, prepare_inputs, published_index
from etl.run.work_folder import WorkFolder
from etl.stages.base import DROPPED_SCHEMA, Stage, StageResult, Tally, with_lineage
from etl.store import Store
from etl.version import __version__

logger = logging.getLogger("etl")


def config_hash(config: PipelineConfig) -> str:
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _keep_vectors(cache: VectorCache) -> None:
    """A work folder that cannot take the vectors costs the next run time, not this run its result."""
    try:
        cache.keep()
    except OSError as exc:
        logger.warning(describe_os_error(exc, "cannot keep the sentence vectors in the work folder:"))


def run_pipeline(
    config: PipelineConfig,
    store: str | Path | None = None,
    hooks: ProgressHooks | None = None,
    stages: Callable[[RunContext], list[Stage]] | None = None,
    work: str | Path | None = None,
    full: bool = False,
    start_early: bool = False,
) -> RunSummary:
    """Run every stage (by default the registry's, `etl.run.registry.build_stages`; `stages`
    builds another list from the run's context, ingest first) and publish. Files read by
    an earlier run and unchanged since are taken from the work folder's cache unless
    `full` (or a custom stage list, which may not de-identify as the cache promises).
    `start_early` (the CLI's one-run process) starts the stages' slow loading as the run
    begins (`Stage.prepare`); a long-lived process (tests, a notebook) keeps what it loaded
    in-process between runs instead."""
    hooks = hooks or ProgressHooks()
    # fail fast on a missing source or catalog, before any folder is made
    planned, catalog, key, notices = prepare_inputs(config)
    target = Store(config.store_dir(store), config.dataset)
    work_folder = WorkFolder(config.work_root(target.root, work), config.dataset)
    # the lock is held for the whole run: a second run fails in seconds, not after its work
    with target.lock(config.publish.lock_timeout):
        for notice in notices:
            logger.warning(notice)
        context = _context(config, target, work_folder, planned, catalog, key, notices, full or stages is not None)
        # sentence vectors kept by the last run (not for a run of chosen stages, which keeps no cache);
        # per executor, as Ray's actors may compute other last float bits than this process
        vectors = VectorCache(work_folder.vectors / config.executor if stages is None else None)
        context.embedder = Embedder(vectors, context.executor)
        context.memo = work_folder.memo if stages is None else None
        return _run_stages(stages or build_stages, context, hooks, keeps_cache=stages is None, start_early=start_early)


def _context(config, target: Store, work_folder: WorkFolder, planned, catalog, key, notices, full) -> RunContext:
    """Tonight's run folder and summary, and what the stages are built from."""
    latest = target.latest()
    published, rebuilt = published_index(config, target, latest)
    try:
        work_folder.purge_runs(keep=config.keep_runs - 1)  # retention, counting tonight's
        run_id, run_dir = work_folder.new_run()
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
    return RunContext(
        config=config,
        catalog=catalog,
        key=key,
        store=target,
        planned=planned,
        summary=summary,
        latest=latest,
        previous_manifest=target.manifest(latest) if latest else None,
        published_index=published,
        published_ids=target.example_ids(latest) if latest else set(),
        run_dir=run_dir,
        carry=incremental.plan_carry(config, planned, work_folder.cache, key, full),
        executor=make_executor(config.executor, config.ray),
        full=full,
    )


def _run_stages(
    build: Callable[[RunContext], list[Stage]],
    context: RunContext,
    hooks: ProgressHooks,
    keeps_cache: bool,
    start_early: bool = False,
) -> RunSummary:
    """The stage loop, then the run's record (dropped rows, totals, summary.json) whatever happened."""
    summary, run_dir, carry = context.summary, context.run_dir, context.carry
    clock = time.perf_counter()
    frame, dropped, carried_ids = first_input(context.planned), [], None
    failure: BaseException | None = None
    stages: list[Stage] = []
    try:
        stages = build(context)
        # under Ray the per-record stages run on its actors: nothing to start here
        if start_early and not context.executor.distributed:
            incoming = sum(path.stat().st_size for _, path, _ in carry.read) if carry else 0
            for stage in stages:
                stage.prepare(incoming)
        for number, stage in enumerate(stages, start=1):
            vectors = context.embedder.cache.counts()
            frame = _run_stage(stage, frame, number, run_dir, summary, hooks, dropped, carried_ids, context.executor)
            _count_vectors(summary.stages[-1], vectors, context.embedder.cache.counts())
            # the stage contract's cache roles (etl/stages/base.py), never a stage's name
            if stage.cache_role == "reads":
                carried_ids = incremental.carried_ids(frame, carry)
                summary.inputs = carry.summary(carried_ids.list.len()[0] if carried_ids is not None else 0)
            if stage.cache_role == "keeps" and keeps_cache:
                fresh = frame if carried_ids is None else frame.filter(~pl.col("record_id").is_in(carried_ids))
                incremental.save(carry, fresh, skip={e["file"] for e in summary.source_errors})
            if summary.invariant_errors:
                break
        _keep_vectors(context.embedder.cache)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        for stage in stages:  # what `prepare` started for a stage the run never reached
            stage.teardown()
        _close(summary, context, dropped, clock, failure)
    if summary.invariant_errors:
        raise InvariantError("accounting invariant broken: " + "; ".join(summary.invariant_errors))
    return summary


def _count_vectors(report: StageReport, before: dict[str, int], after: dict[str, int]) -> None:
    """The sentence vectors a stage read from the last run's and embedded, in its reuse."""
    used = {"reused": after["kept"] - before["kept"], "computed": after["embedded"] - before["embedded"]}
    if any(used.values()):
        report.reuse["vectors"] = used


def _close(summary: RunSummary, context: RunContext, dropped: list, clock: float, failure) -> None:
    run_dir, vectors = context.run_dir, context.embedder.cache
    summary.embeddings = vectors.counts()
    if not_kept := vectors.not_kept():
        summary.notices.append(
            "sentence vectors not kept for the next run: on this machine a text's vector changes in its last "
            f"bits with the size of the batch it is embedded in, so a kept one could change a decision ({', '.join(not_kept)})"
        )
    context.executor.close()
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
    output, written = _write_outputs(stage, result, number, run_dir)
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
        reuse=_reuse(stage, frame, bypass),
    )
    summary.invariant_errors += stage_errors(
        report, summary.stages[-1] if summary.stages else None, stage_dropped, result.kept, stage
    )
    summary.stages.append(report)
    summary.absorb(stage.summary_fields())
    for name, path in written.items():
        # a run output the summary describes (the quarantine) says where its rows are
        if isinstance(getattr(summary, name, None), dict):
            getattr(summary, name)["file"] = str(path)
    return result.kept


def _reuse(stage: Stage, frame: pl.DataFrame, bypass: pl.DataFrame | None) -> dict[str, dict[str, int]]:
    """What the stage took from earlier runs: its own figures, and the carried records that
    passed a per-record stage untouched."""
    carried = (
        {stage.unit: {"reused": bypass.height, "computed": frame.height - bypass.height}} if bypass is not None else {}
    )
    return stage.reuse() | carried


def _write_outputs(stage: Stage, result: StageResult, number: int, run_dir: Path) -> tuple[Path, dict[str, Path]]:
    """What the stage kept (the next stage's input), its per-row stats, and its run outputs (the
    quarantine, set-aside rows), in the run folder: (kept file, run output name -> file)."""
    output = run_dir / "stages" / f"{number:02d}_{stage.name}.parquet"
    result.kept.write_parquet(output)
    if result.stats is not None:
        result.stats.write_parquet(output.with_suffix(".stats.parquet"))
    written = {}
    for name, rows in stage.run_outputs().items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        rows.write_parquet(written.setdefault(name, run_dir / f"{name}.parquet"))
    return output, written


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
