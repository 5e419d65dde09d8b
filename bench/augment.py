"""Augmentation benchmark: variants per second and rejections per augmenter on the sample corpus.

    python bench/augment.py [--scale 100] [--seed 7]

Writes the sample corpus at `--scale` (`etl sample-data`), runs the pipeline
with augmentation off to get the split examples (the augment stage's input:
`stages/07_split.parquet` of the run folder), then times the augment stage on
them, warm (nlpaug augmenters and the embedding model loaded first):
  - all methods together, as configured by default: variants/s and candidates/s;
  - each method alone, with no cap on the share of variants, so every train
    example of the configured tasks is tried once: the rejection rate by reason.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def split_examples(scale: int, seed: int, folder: Path):
    import polars as pl

    from etl.config import load_config
    from etl.generator import write_sample_data
    from etl.runner import run_pipeline

    write_sample_data(folder / "data", scale=scale, seed=seed)
    config = load_config(folder / "data" / "pipeline.yaml")
    config.augment.enabled = False
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
    args = parser.parse_args()

    import polars as pl

    from etl.catalog import load_catalog
    from etl.config import AUGMENT_DEFAULTS, AugmentConfig
    from etl.stages.augment import AugmentStage
    from etl.stages.dedup.semantic import load_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clock = time.perf_counter()
        examples, config = split_examples(args.scale, args.seed, folder)
        catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
        print(
            f"sample corpus --scale {args.scale}: {examples.height:,} split examples in {time.perf_counter() - clock:.1f} s"
        )
        eligible = examples.filter((pl.col("split") == "train") & pl.col("task").is_in(config.augment.tasks))
        print(f"train examples of {', '.join(config.augment.tasks)}: {eligible.height:,}")
        load_model(config.dedup.semantic.model)  # warm

        stage = AugmentStage(AugmentConfig(enabled=True), catalog, config.dedup.semantic.model)
        result, seconds = timed(stage, examples)
        tried = sum(stage.rejected.values()) + stage.variants
        print(
            f"all methods (defaults: {AugmentConfig().variants_per_parent} variant per parent, max share "
            f"{AugmentConfig().max_share}): {stage.variants:,} variants in {seconds:.2f} s = "
            f"{stage.variants / seconds:,.1f} variants/s ({tried / seconds:,.1f} candidates judged/s)"
        )
        print(f"{'method':10} {'tried':>7} {'kept':>7} {'rejected':>9}  by reason")
        for method in AUGMENT_DEFAULTS:
            alone = AugmentStage(
                AugmentConfig(enabled=True, methods=[{"method": method}], max_share=0.99),
                catalog,
                config.dedup.semantic.model,
            )
            timed(alone, examples)
            tried = sum(alone.rejected.values()) + alone.variants
            rejected = sum(alone.rejected.values())
            reasons = ", ".join(f"{r} {n / tried:.1%}" for r, n in sorted(alone.rejected.items())) or "-"
            print(f"{method:10} {tried:>7,} {alone.variants:>7,} {rejected / max(tried, 1):>9.1%}  {reasons}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024:,} MiB")


if __name__ == "__main__":
    main()
