"""One registry of the pipeline's stages, in run order, and of the tasks the format stage
builds. The configuration is validated against it (etl/config.py), the runner builds its
stages from it, and a new stage or task is added here once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from etl.catalog import Catalog
    from etl.config import PipelineConfig
    from etl.stages.base import Stage
    from etl.store import Store


@dataclass
class RunContext:
    """What the stages of one run are built from."""

    config: PipelineConfig
    catalog: Catalog
    key: bytes
    store: Store
    planned: list
    summary: object  # etl.runner.RunSummary: the publish stage records it in the manifest
    latest: str | None
    previous_manifest: dict | None
    published_index: pl.DataFrame  # reconciled with tonight's dedup settings
    published_ids: set[str]
    run_dir: Path | None = None  # this run's folder (raw text: never published)
    carry: object = None  # etl.incremental.CarryPlan: files read tonight, files taken from the cache
    executor: object = None  # etl.executors: where per-record stages and dedup bucketing run


def _ingest(ctx: RunContext):
    from etl.stages.ingest import IngestStage

    return IngestStage(ctx.config, ctx.previous_manifest, ctx.latest, ctx.carry)


def _clean(ctx: RunContext):
    from etl.stages.clean import CleanStage

    return CleanStage(ctx.config.clean)


def _deidentify(ctx: RunContext):
    from etl.stages.deidentify import DeidentifyStage

    return DeidentifyStage(ctx.config.deidentify, ctx.catalog, ctx.key)


def _dedup(ctx: RunContext):
    from etl.stages.dedup import DedupStage

    return DedupStage(ctx.config.dedup, ctx.published_index, ctx.executor)


def _format(ctx: RunContext):
    from etl.stages.format import FormatStage

    return FormatStage(ctx.config.format, ctx.catalog)


def _semantic(ctx: RunContext):
    from etl.stages.dedup.semantic import SemanticDedupStage

    if not ctx.config.dedup.semantic.enabled:
        return None
    return SemanticDedupStage(ctx.config.dedup.semantic, ctx.published_ids, _embedder(ctx), ctx.catalog)


def _embedder(ctx: RunContext):
    """The executor's sentence embeddings (on Ray actors under `executor: ray`)."""
    from etl.stages.dedup.semantic import embed

    return ctx.executor.embed if ctx.executor is not None else embed


def _split(ctx: RunContext):
    import polars as pl

    from etl.stages.split import SplitStage

    known = dict(ctx.published_index.filter(pl.col("split").is_not_null()).select("record_id", "split").iter_rows())
    group_by = ctx.executor.group_by if ctx.executor is not None else None  # Ray's shuffle under executor: ray
    return SplitStage(ctx.config.split, known, group_by)


def _augment(ctx: RunContext):
    from etl.stages.augment import AugmentStage

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
        rewriter=ctx.executor.rewrite if ctx.executor is not None else None,
    )


def _synthesize(ctx: RunContext):
    from etl.stages.synthesis import SynthesisStage

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
    )


def _validate(ctx: RunContext):
    from etl.stages.validate import ValidateStage

    if not ctx.config.validate_.enabled:
        return None
    return ValidateStage(ctx.config, ctx.catalog, ctx.summary, ctx.run_dir)


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
    "validate": _validate,
}


def build_stages(ctx: RunContext) -> list[Stage]:
    """Every stage of a run, publish last (it reads the dedup and split stages' outputs)."""
    from etl.stages.publish import PublishStage

    stages = {name: stage for name, factory in STAGES.items() if (stage := factory(ctx)) is not None}
    publish = PublishStage(
        ctx.config,
        ctx.store,
        ctx.planned,
        ctx.summary,
        ctx.published_index,
        stages.get("dedup"),
        stages.get("split"),
        ctx.run_dir / "quality" if ctx.run_dir and "validate" in stages else None,
    )
    return [*stages.values(), publish]


def task_builders() -> dict[str, Callable]:
    """Task name -> builder (records -> examples), in the order format runs them."""
    from etl.stages.tasks import BUILDERS

    return BUILDERS


def task_names() -> tuple[str, ...]:
    return tuple(task_builders())
