"""Publish: the examples that came through become the next immutable version of the dataset.

The version holds the examples (a Hugging Face dataset folder per split), the
dataset card, the curation figures and the dedup index (dedup/index.py) with
the MinHash settings that made it; the manifest records the inputs (path and
sha256), the config hash, the code version and every stage's counts. A run
whose examples a version already holds publishes nothing (same fingerprint).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from etl.config import PipelineConfig
from etl.stages.base import Progress, Stage, StageResult
from etl.stages.dedup import DedupStage
from etl.stages.dedup.index import INDEX_FILE, index_params, write_index
from etl.stages.split import SplitStage
from etl.store import PublishOutcome, Store, file_sha256, report_page
from etl.store.card import card_memo, render_card
from etl.text.menu_retrieval import base_prompt


class PublishStage(Stage):
    name = "publish"
    unit = "examples"
    id_column = "id"

    def __init__(
        self,
        config: PipelineConfig,
        store: Store,
        planned,
        summary,
        published_index: pl.DataFrame,
        dedup: DedupStage | None,
        split: SplitStage | None,
        quality_dir: Path | None = None,
        preference=None,  # the preference stage (its pairs and KTO rows), when the run builds them
        memo: Path | None = None,  # the work folder's memo: the card's features by schema
        read_memo: bool = True,
    ) -> None:
        self.preference = preference
        self.card_memo = card_memo(memo, read_memo)
        # the validate stage's results and Data Docs, copied into the version's quality/
        self.quality_dir = quality_dir
        self.config, self.store, self.planned, self.summary = config, store, planned, summary
        self.published_index, self.dedup, self.split = published_index, dedup, split
        self.outcome: PublishOutcome | None = None
        self.examples: dict[str, dict[str, int]] = {}
        self.prompts: dict[str, str] = {}

    def total_work(self, frame: pl.DataFrame) -> int:
        return 1

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        index = None
        if self.dedup is not None and self.split is not None:
            index = version_index(self.dedup.index, self.published_index, self.split.record_splits)
        self.examples = example_counts(frame)
        self.prompts = task_prompts(frame)
        manifest = self.manifest()
        params = index_params(self.config.dedup)

        def write_extras(folder: Path, version: str, parent: str | None, fingerprint: str) -> None:
            (folder / "README.md").write_text(
                render_card(
                    self.config.dataset, version, parent, fingerprint, frame, manifest, self.extras(), self.card_memo
                ),
                encoding="utf-8",
            )
            (folder / "quality").mkdir()
            report = {
                "run_id": self.summary.run_id,
                "stages": manifest["counts"]["stages"],
                "examples": manifest["counts"]["examples"],
                "sources": self.summary.sources,
            }
            (folder / "quality" / "curation_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
            (folder / "quality" / "report.html").write_text(
                report_page.render(self.config.dataset, version, fingerprint, frame, self.summary),
                encoding="utf-8",
            )
            if self.quality_dir is not None and self.quality_dir.is_dir():
                shutil.copytree(self.quality_dir, folder / "quality", dirs_exist_ok=True)
            if index is not None:
                (folder / "dedup").mkdir()
                write_index(index.with_columns(pl.col("version").fill_null(version)), folder / INDEX_FILE, params)

        self.outcome = self.store.publish(
            frame, write_extras, manifest, lock_timeout=self.config.publish.lock_timeout, extras=self.extras()
        )
        if any(self.card_memo.counts().values()):  # a run that published nothing wrote no card: keep the last
            self.card_memo.keep()
        progress(1)
        return StageResult(
            kept=frame, dropped=pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8})
        )

    def extras(self) -> dict[str, pl.DataFrame]:
        """The configs published beside the tasks: `preference` (DPO pairs) and `kto`."""
        if self.preference is None:
            return {}
        return {"preference": self.preference.pairs, "kto": self.preference.kto}

    def manifest(self) -> dict:
        summary = self.summary
        return {
            "config_hash": summary.config_hash,
            "code_version": summary.code_version,
            "run_id": summary.run_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": inputs(self.config, self.planned),
            "dedup_index": index_params(self.config.dedup),
            # the system prompt of each task built: the prompt library this version was made with
            "prompts": self.prompts,
            # the catalog entries put into prompts (etl/stages/ground.py); {} when closed book
            "grounding": summary.grounding,
            "counts": {
                "stages": [asdict(s) | {"output": None} for s in summary.stages],
                "examples": self.examples,
                "set_aside": summary.set_aside,
                "augmentation": summary.augmentation,
                "synthesis": summary.synthesis,
                "preference": summary.preference,
                "quality": summary.quality,
                "quarantined": summary.quarantine.get("rows", 0),
                # records read per source kind: the next run compares against them
                "sources": {kind: tally["records"] for kind, tally in summary.sources.items()},
            },
        }

    def summary_fields(self) -> dict:
        if self.outcome is None:
            return {}
        o = self.outcome
        return {
            "examples": self.examples,
            "publish": {
                "version": o.version,
                "published": o.published,
                "fingerprint": o.fingerprint,
                "path": str(o.path),
            },
        }


def task_prompts(examples: pl.DataFrame) -> dict[str, str]:
    """{task: the system prompt its examples open with} (the business's words, never a customer's),
    without the catalog entries a grounded example adds after it."""
    firsts = examples.sort("id").group_by("task", maintain_order=True).first()
    return {
        task: base_prompt(messages[0]["content"])
        for task, messages in sorted(zip(firsts["task"], firsts["messages"].to_list()))
        if messages and messages[0]["role"] == "system"
    }


def example_counts(examples: pl.DataFrame) -> dict[str, dict[str, int]]:
    """{task: {split: examples}}"""
    counts: dict[str, dict[str, int]] = {}
    for task, split, n in examples.group_by("task", "split").len().sort("task", "split").iter_rows():
        counts.setdefault(task, {})[split] = int(n)
    return counts


def inputs(config: PipelineConfig, planned) -> list[dict]:
    files = [(name, path) for _, path, name in planned]
    for kind in ("menu", "stores"):
        path = config.catalog_file(kind)
        if path is not None:
            files.append((getattr(config.catalog, kind), path))
    return [{"file": name, "sha256": file_sha256(path), "bytes": path.stat().st_size} for name, path in files]


def version_index(tonight: pl.DataFrame, published: pl.DataFrame, record_splits: pl.DataFrame) -> pl.DataFrame:
    """The dedup index a version carries: tonight's records with the side the split stage put
    them on (null when they gave no example), plus the earlier records tonight's input no longer holds."""
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
    synthetic = split_of.filter(
        ~pl.col("record_id").is_in(tonight["record_id"].implode())
        & ~pl.col("record_id").is_in(carried["record_id"].implode())
    ).with_columns(
        pl.lit(None, dtype=pl.UInt64).alias("exact_hash"),
        pl.lit(None, dtype=pl.List(pl.UInt32)).alias("signature"),
        pl.lit(None, dtype=pl.Utf8).alias("version"),
    )
    return pl.concat(
        [current.select(carried.columns), carried, synthetic.select(carried.columns)], how="vertical_relaxed"
    ).sort("record_id")
