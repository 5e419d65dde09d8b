"""The runner end to end on the checked-in sample data: outputs, quarantine, the accounting invariant."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from etl.config import load_config
from etl.run.runner import InvariantError, run_pipeline
from etl.stages.base import Stage, StageResult, drop_frame
from etl.stages.clean import CleanStage
from etl.stages.ingest import IngestStage
from tests.conftest import SAMPLE


def test_invariant_holds_and_summary_adds_up(sample_run):
    summary = json.loads((Path(sample_run.run_dir) / "summary.json").read_text())
    assert summary["invariant_holds"] is True and summary["invariant_errors"] == []
    assert summary["rows_in"] == summary["rows_kept"] + summary["rows_dropped"]
    stages = summary["stages"]
    assert [s["stage"] for s in stages] == [
        "ingest",
        "clean",
        "deidentify",
        "dedup",
        "format",
        "semantic",
        "split",
        "augment",
        "synthesize",
        "preference",
        "validate",
        "publish",
    ]
    assert [s["unit"] for s in stages] == ["raw rows"] + ["records"] * 4 + ["examples"] * 7
    for stage in stages:
        assert stage["rows_in"] == stage["kept"] + stage["dropped"]
        assert sum(stage["dropped_by_reason"].values()) == stage["dropped"]
    for before, after in zip(stages, stages[1:]):
        assert after["rows_in"] == before["handed_on"]
    format_ = stages[4]
    assert (
        format_["produces"] == "examples" and format_["handed_on"] == summary["examples_built"] == stages[5]["rows_in"]
    )
    assert stages[-1]["kept"] == sum(sum(splits.values()) for splits in summary["examples"].values())
    augment = stages[7]
    variants = augment["handed_on"] - augment["kept"]
    assert variants == augment["counts"]["variants"] > 0
    synthesize = stages[8]
    synthesised = synthesize["handed_on"] - synthesize["kept"]
    assert synthesised == synthesize["counts"]["synthesised"] > 0
    assert summary["examples_built"] + variants + synthesised == stages[-1]["kept"] + sum(
        s["dropped"] for s in stages[5:]
    )
    dropped = pl.read_parquet(Path(sample_run.run_dir) / "dropped.parquet")
    before_examples = dropped.filter(pl.col("unit") != "examples")
    assert before_examples.height == summary["rows_dropped"]
    assert dropped.height == summary["rows_dropped"] + sum(s["dropped"] for s in stages[5:])
    assert dropped["stage"].null_count() == 0 and dropped["reason"].null_count() == 0


def test_every_planted_malformed_row_is_quarantined_with_file_and_line(sample_run):
    planted = json.loads((SAMPLE / "planted.json").read_text())["malformed"]
    quarantine = pl.read_parquet(Path(sample_run.run_dir) / "quarantine.parquet")
    found = {(r["source_file"], r["source_line"], r["error_code"]) for r in quarantine.iter_rows(named=True)}
    expected = {(m["file"], m["line"], m["error_code"]) for m in planted}
    assert expected == found
    assert len(planted) >= 12


def test_planted_problems_are_dropped_by_clean(sample_run):
    by_reason = sample_run.stages[1].dropped_by_reason
    assert by_reason["language_not_kept"] == 11  # 8 reviews, 2 chats, 1 call planted: exactly those
    assert by_reason["empty"] == 4
    # one-word reviews ("Great", "meh") are sentiment examples now, and "aaaaaaaah so good" is
    # normalised to "aaah so good"; pure symbols and repeated words are still junk
    assert "too_short" not in by_reason and "junk_repetition" not in by_reason
    assert by_reason["junk_symbols"] == 2 and by_reason["repetitive_words"] == 1


def test_stage_outputs_are_written_for_later_stages(sample_run):
    run_dir = Path(sample_run.run_dir)
    ingest = pl.read_parquet(run_dir / "stages" / "01_ingest.parquet")
    clean = pl.read_parquet(run_dir / "stages" / "02_clean.parquet")
    assert ingest.height == sample_run.stages[0].kept and clean.height == sample_run.stages[1].kept
    assert set(clean["source"].unique()) == {"review", "chat", "faq", "call"}
    assert (run_dir / "stages" / "02_clean.stats.parquet").exists()


class LosesARow(Stage):
    """A broken stage: keeps all rows but one and reports no drop."""

    name = "leaky"

    def apply(self, df, progress):
        return StageResult(kept=df.slice(1), dropped=drop_frame(pl.Series([], dtype=pl.Utf8), "unused"))


def test_a_lost_row_breaks_the_run(tmp_path):
    config = load_config(SAMPLE / "pipeline.yaml")
    with pytest.raises(InvariantError, match="leaky"):
        run_pipeline(
            config,
            store=tmp_path,
            stages=lambda ctx: [IngestStage(ctx.config), CleanStage(ctx.config.clean), LosesARow()],
        )
    summary = json.loads(next(tmp_path.parent.glob(f"{tmp_path.name}-work/*/runs/*/summary.json")).read_text())
    assert summary["invariant_holds"] is False
