"""The versioned store: publish, reload, reproducibility, diffs, crash safety and locking."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import etl
from etl.config import load_config
from etl.errors import NOTHING_NEW
from etl.run.runner import run_pipeline
from etl.store import Store, StoreError, fingerprint
from tests.conftest import without_model_stages


@pytest.fixture()
def sample_copy(sample_copy: Path) -> Path:
    """The sample copy without the model stages: these tests are about publishing, and run the pipeline many times."""
    without_model_stages(sample_copy / "pipeline.yaml")
    return sample_copy


def etl_run(config: Path, store: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "etl.cli", "run", "--config", str(config), "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "COLUMNS": "200"},
    )


def assert_store_consistent(store: Store) -> None:
    """Every version is complete and matches its fingerprint; latest names one of them or nothing."""
    for version in store.versions():
        manifest = store.manifest(version)
        assert fingerprint(store.examples(version)) == manifest["fingerprint"]
        assert (store.dir / version / "README.md").is_file()
    folders = sorted(p.name for p in store.dir.glob("v*"))
    assert folders == store.versions(), "a version folder without a manifest is visible"
    pointer = store.dir / "latest"
    if pointer.exists():
        assert pointer.read_text().strip() in store.versions()


def test_published_version_loads_with_plain_datasets_in_a_fresh_interpreter(sample_run):
    folder = Path(sample_run.publish["path"])
    code = (
        "import datasets, json, sys\n"
        f"ds = datasets.load_dataset({str(folder)!r}, 'menu_qa')\n"
        "print(json.dumps({s: sorted(ds[s]['id']) for s in ds}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "HF_DATASETS_OFFLINE": "1"}
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(loaded) == {"train", "eval"} and loaded["train"] and loaded["eval"]
    ours = etl.load(sample_run.dataset, task="menu_qa", store=folder.parents[1])
    assert {s: sorted(ours[s]["id"]) for s in ours} == loaded
    everything = etl.load(sample_run.dataset, store=folder.parents[1])
    assert sum(everything.num_rows.values()) == sum(sum(s.values()) for s in sample_run.examples.values())
    # every task's columns survive loading all tasks together, null where a task has none
    train = everything["train"].to_polars()
    assert {"label", "dish", "constraints"} <= set(train.columns)
    assert train.filter(pl.col("task") == "review_sentiment")["label"].null_count() == 0
    assert train.filter(pl.col("task") == "recommendation")["dish"].null_count() == 0
    assert (
        train.filter(pl.col("task") == "menu_qa")["label"].null_count()
        == train.filter(pl.col("task") == "menu_qa").height
    )
    with pytest.raises(StoreError, match="no task 'nope'"):
        etl.load(sample_run.dataset, task="nope", store=folder.parents[1])


def test_version_files_are_read_only_and_card_declares_each_task(sample_run):
    folder = Path(sample_run.publish["path"])
    for path in folder.rglob("*"):
        assert not path.stat().st_mode & 0o222, path
    card = (folder / "README.md").read_text()
    for task in sample_run.examples:
        assert f"config_name: {task}" in card
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {
        "version",
        "fingerprint",
        "config_hash",
        "inputs",
        "code_version",
        "parent",
        "counts",
        "created_at",
    } <= set(manifest)
    assert all(len(item["sha256"]) == 64 for item in manifest["inputs"])


def test_rerun_publishes_nothing_and_one_changed_review_makes_v2(sample_copy, tmp_path):
    store_dir = tmp_path / "store"
    config = load_config(sample_copy / "pipeline.yaml")
    first = run_pipeline(config, store=store_dir)
    assert first.publish["published"] and first.publish["version"] == "v1"
    memo = next((Path(first.run_dir).parents[1] / "memo" / "card-features").iterdir())
    described = pl.read_parquet(memo).height
    again = run_pipeline(config, store=store_dir)
    assert not again.publish["published"] and again.publish["version"] == "v1"
    # a run that published nothing wrote no card: the card's memo of the last one is kept
    assert described and pl.read_parquet(memo).height == described

    reviews = sample_copy / "reviews.csv"
    text = reviews.read_text(encoding="utf-8")
    assert "Honestly the " in text
    reviews.write_text(text.replace("Honestly the ", "Truly the ", 1), encoding="utf-8")
    second = run_pipeline(config, store=store_dir)
    assert second.publish["published"] and second.publish["version"] == "v2"
    store = Store(store_dir, config.dataset)
    assert store.latest() == "v2" and store.manifest("v2")["parent"] == "v1"

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.cli",
            "diff",
            "healthy-bites@v1",
            "healthy-bites@v2",
            "--store",
            str(store_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)["tasks"]
    assert list(changes) == ["review_sentiment"]
    assert {k: len(v) for k, v in changes["review_sentiment"].items()} == {
        "added": 0,
        "removed": 0,
        "moved": 0,
        "changed": 1,
    }
    changed_id = changes["review_sentiment"]["changed"][0]
    row = store.examples("v2").filter(pl.col("id") == changed_id)
    assert "Truly the " in row["messages"][0][1]["content"]

    # every shard v1 already held byte for byte is shared with it (one file, two names); only
    # the changed review's shard is written anew; all read-only
    shards = sorted(p.relative_to(store.path("v2")) for p in (store.path("v2") / "data").rglob("*.parquet"))
    written = [s for s in shards if not (store.path("v1") / s).samefile(store.path("v2") / s)]
    split = row["split"][0]
    assert written == [Path(f"data/review_sentiment/{split}-00000-of-00001.parquet")]
    vendored = [p.relative_to(store.path("v2")) for p in (store.path("v2") / "quality").rglob("vendor/**/*.js")]
    assert vendored and all((store.path("v1") / p).samefile(store.path("v2") / p) for p in vendored)
    assert not any((store.path("v2") / s).stat().st_mode & 0o222 for s in shards)

    # removing v1 leaves v2 whole: its shared shards are still there, still read-only
    before = store.examples("v2")
    assert store.gc(1)["removed"] == ["v1"]
    assert store.examples("v2").equals(before)
    assert not any((store.path("v2") / s).stat().st_mode & 0o222 for s in shards)


CHECKPOINTS = ["data_written", "card_written", "manifest_written", "renamed", "latest_moved"]


# A process that publishes the examples in argv[1] as the next version of the store in argv[2]
# (with a card, as the publish stage writes one), the first example's reply changed to argv[3]
PUBLISH = """
import sys
import polars as pl
from etl.store import Store
examples = pl.read_parquet(sys.argv[1])
first = examples["messages"][0].to_list()
first[-1]["content"] = sys.argv[3]
examples = pl.concat([examples.head(1).with_columns(pl.Series("messages", [first], examples["messages"].dtype)), examples.slice(1)])
card = lambda folder, version, parent, value: (folder / "README.md").write_text(f"# {version}")
outcome = Store(sys.argv[2], "healthy-bites").publish(examples, card, {"note": "crash test"})
print(outcome.version, outcome.published)
"""


def test_a_crash_at_any_publishing_step_never_leaves_a_partial_version(sample_run, tmp_path):
    """Killed (SIGKILL, as a power cut) at each step of publishing: the store is consistent,
    nothing is visible before the rename, and the next publish finishes the job. The store's
    own publish in a process of its own, on the sample's examples: the steps are the store's,
    whatever ran before them (a whole run killed at the subtlest step is the next test)."""
    examples = tmp_path / "examples.parquet"
    Store(sample_run.store_dir, "healthy-bites").examples("v1").write_parquet(examples)
    store_dir = tmp_path / "store"
    store = Store(store_dir, "healthy-bites")

    def publish(reply: str, **env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", PUBLISH, str(examples), str(store_dir), reply]
        return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)

    for number, checkpoint in enumerate(CHECKPOINTS, start=1):
        before = (store.versions(), store.latest())
        killed = publish(f"round {number}", ETL_CRASH_AT=checkpoint)  # new data each round
        assert killed.returncode == -signal.SIGKILL, (checkpoint, killed.stderr)
        assert_store_consistent(store)
        if checkpoint in ("data_written", "card_written", "manifest_written"):
            assert (store.versions(), store.latest()) == before, checkpoint
        else:  # renamed: the version is whole and visible; latest moves on the next publish
            assert store.versions() == [*before[0], f"v{number}"], checkpoint
        again = publish(f"round {number}")
        assert again.returncode == 0, again.stderr
        # after the rename the version was already complete: the next publish finds its fingerprint
        assert again.stdout.split() == [f"v{number}", str(checkpoint not in ("renamed", "latest_moved"))]
        assert_store_consistent(store)
        assert store.latest() == store.versions()[-1] == f"v{number}"
    assert not list(store_dir.glob("healthy-bites/.tmp-*"))


def test_a_run_killed_after_the_rename_is_finished_by_the_next_run(sample_copy, tmp_path):
    """The whole `etl run` killed once its version is renamed into place but latest has not
    moved: the next run publishes nothing new (exit 8) and moves latest onto it."""
    store_dir = tmp_path / "store"
    store = Store(store_dir, "healthy-bites")
    process = etl_run(sample_copy / "pipeline.yaml", store_dir, ETL_CRASH_AT="renamed")
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert_store_consistent(store)
    assert store.versions() == ["v1"] and store.latest() is None
    process = etl_run(sample_copy / "pipeline.yaml", store_dir)
    _, err = process.communicate(timeout=300)
    assert process.returncode == NOTHING_NEW, err
    assert_store_consistent(store)
    assert store.latest() == "v1"


def test_killed_at_random_moments_the_store_stays_consistent(sample_copy, tmp_path):
    store_dir = tmp_path / "store"
    store = Store(store_dir, "healthy-bites")
    rng = random.Random(5)
    for _ in range(4):
        process = etl_run(sample_copy / "pipeline.yaml", store_dir)
        time.sleep(rng.uniform(0.5, 4.0))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        assert_store_consistent(store)
    process = etl_run(sample_copy / "pipeline.yaml", store_dir)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, NOTHING_NEW), err  # 8 when a killed run had already published
    assert_store_consistent(store)
    assert store.latest() == "v1"


def test_a_second_publisher_fails_clearly_while_the_lock_is_held(sample_copy, tmp_path):
    store_dir = tmp_path / "store"
    store = Store(store_dir, "healthy-bites")
    with store.lock():
        process = etl_run(sample_copy / "pipeline.yaml", store_dir)
        _, err = process.communicate(timeout=300)
    assert process.returncode == 4
    assert "another run is publishing" in err and "publish.lock_timeout" in err
    assert store.versions() == []
    process = etl_run(sample_copy / "pipeline.yaml", store_dir)
    assert process.communicate(timeout=300) and process.returncode == 0
    assert store.versions() == ["v1"]
