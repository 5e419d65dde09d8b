"""The `etl` command as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE


def etl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "etl.cli", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_run_prints_table_and_never_raw_customer_text(tmp_path):
    result = etl("run", "--config", str(SAMPLE / "pipeline.yaml"), "--store", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # no terminal (cron, CI): one plain line a stage, figures apart from drops, paths never wrapped
    assert "ingest (raw rows): in " in out and re.search(
        r"\n  deidentify: in [\d,]+, kept [\d,]+, dropped 0; figures: .*found_PERSON", out
    )
    version = tmp_path / "healthy-bites" / "v1"
    assert f"at {version} (fingerprint" in out
    assert f"curation report: {version / 'quality' / 'report.html'}\n" in out
    assert "accounting:" in out and "holds" in out
    assert "chat_logs.jsonl:" in out and "invalid_json" in out
    planted = json.loads((SAMPLE / "planted.json").read_text())["pii"]
    leaked = [v for values in planted.values() for v in values if v in out + result.stderr]
    assert leaked == []
    summary = json.loads(
        next(tmp_path.parent.glob(f"{tmp_path.name}-work/healthy-bites/runs/*/summary.json")).read_text()
    )
    assert summary["invariant_holds"]
    raw = "\n".join(json.dumps(summary) for _ in [0])
    assert [v for values in planted.values() for v in values if v in raw] == []


def test_bad_config_exits_2_with_the_key(tmp_path):
    config = tmp_path / "p.yaml"
    config.write_text("dataset: d\nsources:\n  reviews: missing/*.csv\n")
    result = etl("run", "--config", str(config), "--store", str(tmp_path))
    assert result.returncode == 2
    assert "sources.reviews" in result.stderr and "matches no file" in result.stderr
    assert not (tmp_path / "d").exists()  # failed before making a run folder


def test_sample_data_is_reproducible_and_matches_the_checked_in_files(tmp_path):
    result = etl("sample-data", "--out", str(tmp_path / "s"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*") if p.is_file())
    # sample_data/store/ and store-work/ are what the README's first command writes (git ignores
    # both): the suite passes after the main job ran in the same checkout (.ci/run runs it first)
    written_by_a_run = {"store", "store-work"}
    # generator/ is the code that writes the rest (it lives beside what it writes, out of the package)
    not_written = written_by_a_run | {"generator"}
    checked_in = sorted(
        p.relative_to(SAMPLE)
        for p in SAMPLE.rglob("*")
        if p.is_file() and p.relative_to(SAMPLE).parts[0] not in not_written
    )
    assert written == checked_in
    different = [str(p) for p in written if (tmp_path / "s" / p).read_bytes() != (SAMPLE / p).read_bytes()]
    assert different == []


def test_sample_data_sizes_meet_the_brief():
    import csv

    import yaml

    menu = yaml.safe_load((SAMPLE / "menu.yaml").read_text())["dishes"]
    assert len(menu) >= 25
    assert all(
        {"description", "ingredients", "diet_tags", "allergens", "calories", "protein_g", "price"} <= set(d)
        for d in menu
    )
    assert len(yaml.safe_load((SAMPLE / "stores.yaml").read_text())["stores"]) >= 3
    with open(SAMPLE / "reviews.csv", newline="", encoding="utf-8") as handle:
        assert sum(1 for _ in csv.reader(handle)) - 1 >= 400
    assert sum(1 for line in (SAMPLE / "chat_logs.jsonl").read_text().splitlines() if line.strip()) >= 150
    assert (SAMPLE / "faqs.md").read_text(encoding="utf-8-sig").count("\n### ") >= 40
    assert len(list((SAMPLE / "calls").glob("*.txt"))) >= 40


def test_scale_multiplies_the_corpus(tmp_path):
    result = etl("sample-data", "--out", str(tmp_path / "s3"), "--scale", "3")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "s3" / "calls").glob("*.txt"))) == 3 * len(list((SAMPLE / "calls").glob("*.txt")))
    planted = json.loads((tmp_path / "s3" / "planted.json").read_text())
    assert len(planted["malformed"]) == 3 * len(json.loads((SAMPLE / "planted.json").read_text())["malformed"]) - 2


def test_sample_data_writes_a_self_contained_folder(tmp_path):
    from etl.config import load_config

    out = tmp_path / "corpus"
    assert etl("sample-data", "--out", str(out)).returncode == 0
    config = load_config(out / "pipeline.yaml")
    assert config.store_dir() == (out / "store").resolve()  # the store lands inside the folder
    assert all(
        config.resolve(p).resolve().is_relative_to(out.resolve())
        for p in (config.sources.reviews[0].path, config.catalog.menu)
    )


def test_the_terminal_table_keeps_figures_out_of_the_drop_column(sample_run):
    """Issue 51: counts that are not drops (found_PERSON, variants) stood in "dropped by reason";
    they have their own column, and a stage that drops nothing says "-" there."""
    from rich.console import Console

    from etl.run.summary import stage_table

    console = Console(width=400, record=True, force_terminal=True)
    console.print(stage_table(sample_run))
    lines = console.export_text().splitlines()
    header = next([c.strip() for c in line.split("┃")[1:-1]] for line in lines if "┃" in line)
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    body = {r[0]: r for r in rows if r[0]}
    assert header[4:6] == ["dropped by reason", "figures (not drops)"]
    assert body["deidentify"][4] == "-" and "found_PERSON" in body["deidentify"][5]
    assert "variants" in body["augment (examples)"][5] and "variants" not in body["augment (examples)"][4]


def test_the_model_side_without_its_extra_names_what_to_install(monkeypatch):
    """`etl train` and `etl eval` need the `[train]` extra; without it, one line says how to get it."""
    from etl.cli import training
    from etl.errors import ConfigError

    training.require_train_extra("train")  # installed here: no error
    monkeypatch.setattr(training, "TRAIN_EXTRA", ("peft", "no_such_training_library"))
    with pytest.raises(ConfigError) as caught:
        training.require_train_extra("eval")
    assert "etl eval needs the training extra (no_such_training_library not installed)" in str(caught.value)
    assert "'.[train]'" in str(caught.value)


def test_sample_data_without_the_checkouts_generator_says_where_it_lives(monkeypatch, tmp_path):
    """The generator is fixture code in the source checkout, not in the installed package."""
    import sys

    from etl.errors import ConfigError
    from etl.project import sample

    monkeypatch.delitem(sys.modules, sample.MODULE, raising=False)
    monkeypatch.setattr(sample, "GENERATOR", tmp_path / "no-generator")
    with pytest.raises(ConfigError, match=r"ships with the source checkout \(sample_data/generator/\)"):
        sample.load_generator()
    monkeypatch.undo()
    assert sample.write_sample_data(tmp_path / "out", scale=1, seed=7)["reviews"] == 475
