"""Augmentation benchmark: examples per second and rejections per augmenter on the sample corpus.

    python bench/augment.py [--scale 100] [--seed 7] [--per-method 2000]

Writes the sample corpus at `--scale` (`etl sample-data`), runs the pipeline
with augmentation and synthesis off to get the split examples (the augment
stage's input: `stages/*_split.parquet` of the run folder), then times, warm
(nlpaug augmenters and the embedding model loaded first):
  - the augment stage with every method, as configured by default, on all
    split examples: variants/s and candidates judged/s;
  - each method alone, with no cap on the share of variants, on a seeded
    sample of `--per-method` train examples of the configured tasks, each
    tried once: the rejection rate by reason;
  - the synthesis stage on the augmented examples: synthesised examples/s and
    its rejections by reason.
Figures are truncated, never rounded up.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def floor(value: float, digits: int = 1) -> str:
    """A figure cut, not rounded: 22.09 -> "22.0", never "22.1"."""
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:,.{digits}f}"


def percent(part: int, whole: int) -> str:
    return f"{floor(100 * part / whole)}%" if whole else "-"


def split_examples(scale: int, seed: int, folder: Path):
    import polars as pl

    from etl.config import load_config
    from etl.project.sample import write_sample_data
    from etl.run.runner import run_pipeline

    write_sample_data(folder / "data", scale=scale, seed=seed)
    config = load_config(folder / "data" / "pipeline.yaml")
    config.augment.enabled = False
    config.synthesis.enabled = False
    summary = run_pipeline(config, store=folder / "store")
    return pl.read_parquet(next((Path(summary.run_dir) / "stages").glob("*_split.parquet"))), config


def timed(stage, frame):
    stage.setup(frame)
    clock = time.perf_counter()
    result = stage.apply(frame, lambda n: None)
    return result, time.perf_counter() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-method", type=int, default=2000, help="train examples each method alone is tried on")
    args = parser.parse_args()

    import polars as pl

    from etl.catalog import load_catalog
    from etl.config import AUGMENT_DEFAULTS, AugmentConfig, SynthesisConfig
    from etl.embeddings.model import load_model
    from etl.stages.augment import AugmentStage
    from etl.stages.synthesis import SynthesisStage

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clock = time.perf_counter()
        examples, config = split_examples(args.scale, args.seed, folder)
        catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
        print(
            f"sample corpus --scale {args.scale}: {examples.height:,} split examples "
            f"in {floor(time.perf_counter() - clock)} s (pipeline up to the split)"
        )
        tasks = AugmentConfig().tasks
        eligible = examples.filter((pl.col("split") == "train") & pl.col("task").is_in(tasks))
        print(f"train examples of {', '.join(tasks)}: {eligible.height:,}")
        load_model(config.dedup.semantic.model)  # warm

        stage = AugmentStage(AugmentConfig(enabled=True), catalog, config.dedup.semantic.model)
        augmented, seconds = timed(stage, examples)
        tried = sum(stage.rejected.values()) + stage.variants
        print(
            f"augment, all methods (defaults: {AugmentConfig().variants_per_parent} variant per parent, max share "
            f"{AugmentConfig().max_share}): {stage.variants:,} variants of {tried:,} candidates in {floor(seconds, 2)} s "
            f"= {floor(stage.variants / seconds)} variants/s ({floor(tried / seconds)} candidates judged/s)"
        )

        sample = eligible.sample(n=min(args.per_method, eligible.height), seed=args.seed)
        print(f"each method alone on {sample.height:,} train examples (a seeded sample), no cap:")
        print(f"{'method':10} {'tried':>7} {'kept':>7} {'rejected':>9} {'per s':>8}  rejected by reason")
        for method in AUGMENT_DEFAULTS:
            alone = AugmentStage(
                AugmentConfig(enabled=True, methods=[{"method": method}], max_share=0.99),
                catalog,
                config.dedup.semantic.model,
            )
            _, seconds = timed(alone, sample)
            tried = sum(alone.rejected.values()) + alone.variants
            rejected = sum(alone.rejected.values())
            reasons = ", ".join(f"{r} {percent(n, tried)}" for r, n in sorted(alone.rejected.items())) or "-"
            print(
                f"{method:10} {tried:>7,} {alone.variants:>7,} {percent(rejected, tried):>9} "
                f"{floor(tried / seconds):>8}  {reasons}"
            )

        synthesis = SynthesisStage(
            SynthesisConfig(),
            catalog,
            config.format.system_prompt,
            config.format.tasks,
            "menu.yaml",
            config.dedup.semantic.model,
        )
        _, seconds = timed(synthesis, augmented.kept)
        made = sum(sum(i.values()) for i in synthesis.made.values())
        capped = synthesis.considered - made - sum(synthesis.rejected.values())
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(synthesis.rejected.items())) or "none"
        print(
            f"synthesis ({len(catalog.dishes)} dishes, {synthesis.considered:,} candidates): {made:,} examples in "
            f"{floor(seconds, 2)} s = "
            f"{floor(made / seconds)} examples/s; rejected: {reasons}; {capped:,} left out by the cap"
        )
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024:,} MiB")


if __name__ == "__main__":
    main()
