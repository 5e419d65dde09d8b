"""One registry of the pipeline's stages, in run order: the runner builds its stages from
it, and a new stage is added here once (its configuration section in etl/config/, its
tasks, if it builds any, in etl/example.py's TASKS and etl/stages/tasks/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl.catalog import Catalog, load_catalog
from etl.config import PipelineConfig
from etl.embeddings import Embedder
from etl.run.accounts import RunSummary
from etl.run.incremental import CarryPlan
from etl.stages.augment import AugmentStage, augment_memo
from etl.stages.base import HERE, Parallel, Stage
from etl.stages.clean import CleanStage
from etl.stages.dedup import DedupStage
from etl.stages.dedup.index import load_index, reconcile
from etl.stages.dedup.semantic import SemanticDedupStage
from etl.stages.deidentify import DeidentifyStage
from etl.stages.deidentify.surrogates import load_key
from etl.stages.format import FormatStage
from etl.stages.ground import GroundStage
from etl.stages.ingest import IngestStage, plan_files
from etl.stages.preference import PreferenceStage
from etl.stages.publish import PublishStage
from etl.stages.split import SplitStage
from etl.stages.synthesis import SynthesisStage
from etl.stages.validate.stage import ValidateStage
from etl.store import Store


@dataclass
class RunContext:
    """What the stages of one run are built from."""

    config: PipelineConfig
    catalog: Catalog
    key: bytes
    store: Store
    planned: list
    summary: RunSummary  # the publish stage records it in the manifest
    latest: str | None
    previous_manifest: dict | None
    published_index: pl.DataFrame  # reconciled with tonight's dedup settings
    published_ids: set[str]
    run_dir: Path | None = None  # this run's folder (raw text: never published)
    carry: CarryPlan | None = None  # files read tonight, files taken from the cache
    executor: Parallel | None = None  # where per-record stages and dedup bucketing run (etl/run/executors.py)
    embedder: Embedder | None = None  # the run's sentence embeddings, shared by every stage that embeds
    memo: Path | None = None  # where stages keep what they computed for the next run (None: nothing kept)
    full: bool = False  # `etl run --full`: nothing kept is trusted, everything computed again


def _ingest(ctx: RunContext):
    return IngestStage(ctx.config, ctx.previous_manifest, ctx.latest, ctx.carry)


def _clean(ctx: RunContext):
    return CleanStage(ctx.config.clean)


def _deidentify(ctx: RunContext):
    return DeidentifyStage(ctx.config.deidentify, ctx.catalog, ctx.key)


def _dedup(ctx: RunContext):
    return DedupStage(ctx.config.dedup, ctx.published_index, _parallel(ctx))


def _format(ctx: RunContext):
    return FormatStage(ctx.config.format, ctx.catalog)


def _semantic(ctx: RunContext):
    if not ctx.config.dedup.semantic.enabled:
        return None
    return SemanticDedupStage(ctx.config.dedup.semantic, ctx.published_ids, _embedder(ctx), ctx.catalog)


def _parallel(ctx: RunContext) -> Parallel:
    """Where the stages hand their parallel work: the run's executor (Ray actors and shuffles
    under `executor: ray`), or here."""
    return ctx.executor if ctx.executor is not None else HERE


def _embedder(ctx: RunContext) -> Embedder:
    """The run's sentence embeddings (one cache for every stage), the new texts on the
    executor's workers under `executor: ray`."""
    if ctx.embedder is None:
        ctx.embedder = Embedder(parallel=_parallel(ctx))
    return ctx.embedder


def _split(ctx: RunContext):
    known = dict(ctx.published_index.filter(pl.col("split").is_not_null()).select("record_id", "split").iter_rows())
    return SplitStage(ctx.config.split, known, _parallel(ctx).group_by)  # Ray's shuffle under executor: ray


def _augment(ctx: RunContext):
    config = ctx.config
    if not config.augment.enabled:
        return None
    return AugmentStage(
        config.augment,
        ctx.catalog,
        config.dedup.semantic.model,
        base_dir=config.base_dir,
        precision=config.dedup.semantic.precision,
        embedder=_embedder(ctx),
        parallel=_parallel(ctx),
        memo=augment_memo(ctx.memo, config.augment, ctx.catalog, config.base_dir, read=not ctx.full),
    )


def _synthesize(ctx: RunContext):
    config = ctx.config
    if not config.synthesis.enabled:
        return None
    menu = config.catalog_file("menu")
    return SynthesisStage(
        config.synthesis,
        ctx.catalog,
        config.format.system_prompt,
        config.format.tasks,
        menu.name if menu else "menu.yaml",
        config.dedup.semantic.model,
        config.dedup.semantic.precision,
        config.format.prompts_for(ctx.catalog.business),
        embedder=_embedder(ctx),
    )


def _ground(ctx: RunContext):
    grounding = ctx.config.format.grounding
    return GroundStage(grounding, ctx.catalog) if grounding.tasks else None


def _preference(ctx: RunContext, stages: dict[str, Stage]):
    """Reads the rated chats the format stage saw and the sides the split stage gave, through
    callables: the stage imports neither."""
    config = ctx.config
    if not config.preference.enabled or "format" not in stages:
        return None
    form, split = stages["format"], stages.get("split")
    empty = pl.DataFrame(schema={"record_id": pl.Utf8, "split": pl.Utf8})
    return PreferenceStage(
        config.preference,
        ctx.catalog,
        config.format.prompts_for(ctx.catalog.business)["customer_service"],
        config.preference.eval_share if config.preference.eval_share is not None else config.split.eval_share,
        rated=lambda: form.rated,
        record_splits=lambda: split.record_splits if split is not None else empty,
        embedder=_embedder(ctx),
        model=config.dedup.semantic.model,
        precision=config.dedup.semantic.precision,
    )


def _validate(ctx: RunContext):
    if not ctx.config.validate_.enabled:
        return None
    return ValidateStage(ctx.config, ctx.catalog, ctx.summary, ctx.run_dir, ctx.memo, read=not ctx.full)


# name -> factory (None when the configuration switches the stage off), in run order
STAGES: dict[str, Callable[[RunContext], Stage | None]] = {
    "ingest": _ingest,
    "clean": _clean,
    "deidentify": _deidentify,
    "dedup": _dedup,
    "format": _format,
    "semantic": _semantic,
    "split": _split,
    "augment": _augment,
    "synthesize": _synthesize,
    "ground": _ground,
    "validate": _validate,
}


def build_stages(ctx: RunContext) -> list[Stage]:
    """Every stage of a run, publish last (it reads the dedup and split stages' outputs)."""
    stages = {name: stage for name, factory in STAGES.items() if (stage := factory(ctx)) is not None}
    # preference reads two earlier stages' outputs, and validate checks its pairs: placed before validate
    if (preference := _preference(ctx, stages)) is not None:
        validate = stages.pop("validate", None)
        stages["preference"] = preference
        if validate is not None:
            validate.preference = preference
            stages["validate"] = validate
    publish = PublishStage(
        ctx.config,
        ctx.store,
        ctx.planned,
        ctx.summary,
        ctx.published_index,
        stages.get("dedup"),
        stages.get("split"),
        ctx.run_dir / "quality" if ctx.run_dir and "validate" in stages else None,
        stages.get("preference"),
        ctx.memo,
        read_memo=not ctx.full,
    )
    return [*stages.values(), publish]


# ------------------------------------------------------------------ what the stages need before a run


def prepare_inputs(config: PipelineConfig) -> tuple[list, Catalog, bytes, list[str]]:
    """(planned files, catalog, pseudonym key, notices), before any folder is made: a missing
    source or catalog fails here, in seconds."""
    planned = plan_files(config)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    notices: list[str] = []
    key = load_key(config.deidentify, warn=notices.append)
    if "ORDER_NUMBER" in config.deidentify.entities and not config.deidentify.order_number_patterns:
        notices.append(
            "deidentify.order_number_patterns is empty, so order numbers are not looked for and are published as "
            "they are; list your format (etl init proposes the ones it sees in the exports)"
        )
    return planned, catalog, key, notices


def published_index(config: PipelineConfig, store: Store, latest: str | None) -> tuple[pl.DataFrame, str | None]:
    """The latest version's dedup index, reconciled with tonight's dedup settings, and a notice
    when it had to be rebuilt."""
    return reconcile(load_index(store.path(latest) if latest else None), config.dedup, latest)


def first_input(planned: list) -> pl.DataFrame:
    """What the first stage (ingest) reads: the planned files, one row each."""
    return IngestStage.planned_frame(planned)
