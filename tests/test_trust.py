"""Runs you can trust: reruns are a fixed point, splits stay stable and near their share as
versions grow, a broken source fails loudly, and every user error is one line and an exit code."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from etl.config import load_config
from etl.project.sample import write_sample_data
from etl.run.runner import run_pipeline
from etl.stages.ingest import ingest
from etl.store import Store
from tests.conftest import SAMPLE, without_model_stages


def etl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "etl.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def assert_one_line_error(done: subprocess.CompletedProcess, code: int, *words: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


def records_on_both_sides(examples: pl.DataFrame) -> int:
    return examples.group_by("record_id").agg(pl.col("split").n_unique().alias("n")).filter(pl.col("n") > 1).height


def eval_shares(examples: pl.DataFrame, minimum: int = 40) -> dict[str, float]:
    """Eval share of each task's originals: variants and synthesised examples join train after the split."""
    per_task = (
        examples.filter(pl.col("augmentation").is_null())
        .group_by("task")
        .agg(pl.len().alias("n"), (pl.col("split") == "eval").mean().alias("share"))
    )
    return {task: share for task, n, share in per_task.iter_rows() if n >= minimum}


# ------------------------------------------------------------------ stable splits


def test_three_unchanged_runs_publish_one_version_and_two_fresh_stores_agree(tmp_path):
    config = load_config(SAMPLE / "pipeline.yaml")  # the real default: semantic dedup on
    runs = [run_pipeline(config, store=tmp_path / "a") for _ in range(3)]
    assert [r.publish["version"] for r in runs] == ["v1", "v1", "v1"]
    assert [r.publish["published"] for r in runs] == [True, False, False]
    other = run_pipeline(config, store=tmp_path / "b")
    assert other.publish["fingerprint"] == runs[0].publish["fingerprint"]
    store = Store(tmp_path / "a", config.dataset)
    assert store.versions() == ["v1"]
    examples = store.examples("v1")
    assert records_on_both_sides(examples) == 0
    spans = examples.group_by("dup_cluster").agg(pl.col("split").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert spans.height == 0
    for task, share in eval_shares(examples).items():
        assert abs(share - config.split.eval_share) <= 0.05, (task, share)


def grow(sample: Path, seed: int) -> None:
    """New reviews and chat logs from another seed of the generator, as new files."""
    extra = sample.parent / f"extra{seed}"
    write_sample_data(extra, scale=1, seed=seed)
    (sample / f"reviews_night{seed}.csv").write_bytes((extra / "reviews.csv").read_bytes())
    (sample / f"chat_logs_night{seed}.jsonl").write_bytes((extra / "chat_logs.jsonl").read_bytes())


def test_splits_are_stable_and_near_the_eval_share_as_versions_grow(sample_copy, tmp_path):
    config_file = sample_copy / "pipeline.yaml"
    config_file.write_text(config_file.read_text().replace("chats: chat_logs.jsonl", "chats: chat_logs*.jsonl"))
    config = load_config(config_file)
    store = Store(tmp_path / "store", config.dataset)
    versions = []
    for night in (None, 8, 9):
        if night is not None:
            grow(sample_copy, night)
        summary = run_pipeline(config, store=store.root)
        assert summary.publish["published"], night
        versions.append(store.examples(summary.publish["version"]))
    sizes = [v.height for v in versions]
    assert sizes[0] < sizes[1] < sizes[2]
    for number, examples in enumerate(versions, start=1):
        assert records_on_both_sides(examples) == 0, number
        shares = eval_shares(examples)
        assert {"menu_qa", "order_support", "recommendation", "review_sentiment"} <= set(shares)
        for task, share in shares.items():
            assert abs(share - config.split.eval_share) <= 0.05, (number, task, share)
    # an eval example never comes back as train, and a train example stays train
    for before, after in zip(versions, versions[1:]):
        joined = before.select("id", "split").join(after.select("id", pl.col("split").alias("later")), on="id")
        assert joined.filter(pl.col("split") != pl.col("later")).height == 0
    # and the grown input is a fixed point too
    again = run_pipeline(config, store=store.root)
    assert not again.publish["published"] and again.publish["version"] == "v3"


def test_diff_lists_examples_that_changed_split_as_moves(tmp_path):
    from etl.example import EXAMPLE_SCHEMA
    from etl.store.diff import diff_versions

    def examples(splits: list[str]) -> pl.DataFrame:
        rows = [
            {
                **{k: None for k in EXAMPLE_SCHEMA},
                "id": f"menu_qa-{i}",
                "task": "menu_qa",
                "split": split,
                "source": "faq",
                "record_id": f"faq-{i}",
                "dup_cluster": f"faq-{i}",
                "messages": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": "yes"}],
            }
            for i, split in enumerate(splits)
        ]
        return pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)

    store = Store(tmp_path, "d")
    store.publish(examples(["train", "train", "eval"]), lambda *a: None, {"counts": {"examples": {}}})
    store.publish(examples(["train", "eval", "eval"]), lambda *a: None, {"counts": {"examples": {}}})
    changes = diff_versions(store, "v1", "v2")
    assert changes == {
        "menu_qa": {
            "added": [],
            "removed": [],
            "moved": [{"id": "menu_qa-1", "from": "train", "to": "eval"}],
            "changed": [],
        }
    }


# ------------------------------------------------------------------ loud source errors


def drop_column(path: Path, column: str) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    index = rows[0].index(column)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(row[:index] + row[index + 1 :] for row in rows)


def test_a_reviews_file_missing_a_column_stops_the_run_unless_skipped(sample_copy, tmp_path):
    config, store_dir = without_model_stages(sample_copy / "pipeline.yaml"), tmp_path / "store"
    store = Store(store_dir, "healthy-bites")
    first = etl("run", "--config", str(config), "--store", str(store_dir))
    assert first.returncode == 0, first.stderr
    drop_column(sample_copy / "reviews.csv", "rating")

    broken = etl("run", "--config", str(config), "--store", str(store_dir))
    assert broken.returncode == 5, broken.stderr
    message = broken.stderr.strip().splitlines()[-1]
    assert "reviews.csv" in message and "'rating'" in message and "missing_columns" in message
    assert "Nothing was published" in message and "on_source_error: skip" in message
    assert "Traceback" not in broken.stderr
    assert store.versions() == ["v1"] and store.latest() == "v1"
    summary = json.loads(sorted(tmp_path.glob("store-work/healthy-bites/runs/*/summary.json"))[-1].read_text())
    assert summary["source_errors"][0]["file"] == "reviews.csv" and not summary["publish"]

    with open(config, "a", encoding="utf-8") as handle:
        handle.write("\non_source_error: skip\n")
    skipped = etl("run", "--config", str(config), "--store", str(store_dir))
    assert skipped.returncode == 0, skipped.stderr
    assert store.latest() == "v2"
    notices = [line for line in skipped.stdout.splitlines() if line.startswith("notice")]
    assert any("published without reviews.csv" in line and "'rating'" in line for line in notices), notices
    # the fall in review records against v1 is flagged too (only the legacy export is left)
    assert any(line.startswith("notice reviews:") and "against" in line and "v1" in line for line in notices), notices


@pytest.mark.parametrize("kind, file", [("reviews", "reviews.csv"), ("chats", "chat_logs.jsonl"), ("faqs", "faqs.md")])
def test_an_empty_file_is_a_source_error_for_every_kind(sample_copy, kind, file):
    (sample_copy / file).write_bytes(b"")
    result = ingest(load_config(sample_copy / "pipeline.yaml"))
    errors = [e for e in result.source_errors if e["file"] == file]
    assert [e["code"] for e in errors] == ["empty_file"], result.source_errors
    assert errors[0]["kind"] == kind and errors[0]["fix"]
    assert result.quarantine.filter(pl.col("source_file") == file)["error_code"].to_list() == ["empty_file"]


def test_a_source_kind_that_yields_nothing_is_a_source_error(sample_copy):
    # one call transcript is one unit: an empty one is quarantined, and if none is usable the source fails
    for path in (sample_copy / "calls").glob("*.txt"):
        path.write_bytes(b"")
    result = ingest(load_config(sample_copy / "pipeline.yaml"))
    assert [(e["kind"], e["code"]) for e in result.source_errors] == [("calls", "no_valid_rows")]


def test_a_file_of_the_wrong_format_is_a_source_error_and_csv_errors_keep_their_raw_text(sample_copy):
    (sample_copy / "chat_logs.jsonl").write_text("review_id,text\nR1,hello there\nR2,good food\n", encoding="utf-8")
    with open(sample_copy / "reviews.csv", "a", encoding="utf-8") as handle:
        handle.write('R8888888,2026-11-20T10:00:00+00:00,,,5,,,"' + "x" * 140_000 + '"\n')
    result = ingest(load_config(sample_copy / "pipeline.yaml"))
    assert [(e["file"], e["code"]) for e in result.source_errors] == [("chat_logs.jsonl", "no_valid_rows")]
    csv_errors = result.quarantine.filter(pl.col("error_code") == "csv_error")
    assert csv_errors.height == 1 and "R8888888" in csv_errors["raw"][0]


# ------------------------------------------------------------------ no tracebacks for user errors


def test_every_command_gives_one_line_and_its_exit_code_for_a_store_that_is_a_file_or_a_misspelt_config(tmp_path):
    store_file = tmp_path / "store-is-a-file"
    store_file.write_text("not a folder")
    bad_config = tmp_path / "pipeline.yaml"
    bad_config.write_text((SAMPLE / "pipeline.yaml").read_text().replace("  min_words:", "  min_wrds:"))
    commands = [
        ["run", "--config", str(SAMPLE / "pipeline.yaml")],
        ["versions"],
        ["show", "healthy-bites"],
        ["diff", "healthy-bites@v1", "healthy-bites@v2"],
    ]
    for command in commands:
        assert_one_line_error(etl(*command, "--store", str(store_file)), 6, str(store_file), "is a file")
        config_args = [a if a != str(SAMPLE / "pipeline.yaml") else str(bad_config) for a in command]
        if "--config" not in config_args:
            config_args += ["--config", str(bad_config)]
        assert_one_line_error(etl(*config_args), 2, "pipeline.yaml:", "clean.min_wrds")
    assert_one_line_error(etl("sample-data", "--out", str(store_file)), 6, "is a file")
    assert store_file.read_text() == "not a folder"


def test_a_missing_version_a_missing_store_and_a_bad_json_target_are_one_line_each(sample_run, tmp_path):
    store_dir = sample_run.store_dir
    assert_one_line_error(etl("show", "healthy-bites@v9", "--store", store_dir), 2, "no version v9", "versions: v1")
    assert_one_line_error(
        etl("diff", "healthy-bites@v1", "healthy-bites@v7", "--store", store_dir), 2, "no version v7"
    )
    assert_one_line_error(etl("versions", "--store", str(tmp_path / "nowhere")), 2, "does not exist")
    target = tmp_path / "no" / "such" / "folder" / "summary.json"
    assert_one_line_error(
        etl("run", "--config", str(SAMPLE / "pipeline.yaml"), "--store", str(tmp_path / "s"), "--json", str(target)),
        2,
        "--json",
    )
    assert not (tmp_path / "s").exists()  # refused before any work


def test_a_second_run_fails_at_once_while_the_lock_is_held(tmp_path):
    store = Store(tmp_path / "store", "healthy-bites")
    with store.lock():
        done = etl("run", "--config", str(SAMPLE / "pipeline.yaml"), "--store", str(store.root))
    assert_one_line_error(done, 4, "another run is publishing")
    assert not (store.root.parent / "store-work").exists()  # it stopped before reading a single input


def test_ctrl_c_exits_130_and_says_nothing_was_published(tmp_path):
    store_dir = tmp_path / "store"
    process = subprocess.Popen(
        [sys.executable, "-m", "etl.cli", "run", "--config", str(SAMPLE / "pipeline.yaml"), "--store", str(store_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 120
    while (
        not list(tmp_path.glob("store-work/healthy-bites/runs/*/stages/02_clean.parquet"))
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted: nothing was published; latest is still unset." in err
    assert "Traceback" not in err + out
    assert Store(store_dir, "healthy-bites").versions() == []


# ------------------------------------------------------------------ surrogates that cannot be leaks

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?(\d{3})\)?[\s.-]?(\d{3})[\s.-]?(\d{4})(?!\d)")


def test_published_emails_and_phones_are_reserved_or_the_business_own(sample_run):
    store = Store(sample_run.store_dir, sample_run.dataset)
    texts = (
        store.examples("latest")["messages"]
        .list.eval(pl.element().struct.field("content"))
        .explode()
        .drop_nulls()
        .to_list()
    )
    stores = yaml.safe_load((SAMPLE / "stores.yaml").read_text())["stores"]
    business_phones = {re.sub(r"\D", "", s["phone"])[-10:] for s in stores}
    emails = [m for text in texts for m in EMAIL.findall(text)]
    phones = ["".join(m) for text in texts for m in PHONE.findall(text)]
    assert emails and phones, "the sample plants both; the check must see some"
    assert [
        e for e in emails if e.rsplit("@", 1)[1].lower() not in {"example.com", "example.org", "example.net"}
    ] == []
    assert [p for p in phones if p not in business_phones and not p[-7:].startswith("55501")] == []
    planted = json.loads((SAMPLE / "planted.json").read_text())["pii"]
    assert not set(emails) & set(planted["EMAIL_ADDRESS"])
