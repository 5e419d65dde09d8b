"""Nightly operations (issue 15, part): exit codes a scheduler acts on, JSON logs, retention."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from etl.cli import app
from etl.errors import NOTHING_NEW, StoreError
from etl.store import Store
from tests.conftest import without_model_stages
from tests.test_cli import etl


def test_a_run_logs_json_events_and_a_rerun_exits_8_for_nothing_new(sample_copy, tmp_path):
    # about logging, not the model stages: the run without them (twice, in a subprocess) is half the time
    config, store = str(without_model_stages(sample_copy / "pipeline.yaml")), str(tmp_path / "store")
    first = etl("run", "--config", config, "--store", store, "--log-format", "json")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stderr.splitlines() if line.strip()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert kinds.count("stage_start") == kinds.count("stage_end") >= 8 and kinds[-1] == "run_end"
    end = events[-1]
    assert end["exit_code"] == 0 and end["publish"]["published"] and end["publish"]["version"] == "v1"
    assert end["rows_in"] == end["rows_kept"] + end["rows_dropped"]
    assert first.stdout == ""  # no tables or bars in JSON mode
    planted = json.loads((sample_copy / "planted.json").read_text())["pii"]
    assert [v for values in planted.values() for v in values if v in first.stderr] == []

    again = etl("run", "--config", config, "--store", store, "--log-format", "json")
    assert again.returncode == NOTHING_NEW, again.stderr
    end = json.loads(again.stderr.strip().splitlines()[-1])
    assert end["exit_code"] == NOTHING_NEW and end["publish"] == {
        "version": "v1",
        "fingerprint": end["publish"]["fingerprint"],
        "published": False,
    }


def fake_versions(store: Store, n: int, start: int = 0) -> None:
    """n published versions of one tiny example each, through the real publish path."""
    from etl.example import EXAMPLE_SCHEMA

    for i in range(start, start + n):
        row = {c: None for c in EXAMPLE_SCHEMA} | {
            "id": f"menu_qa-{i}",
            "task": "menu_qa",
            "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}],
            "split": "train",
            "source": "faq",
            "record_id": f"r{i}",
        }
        store.publish(pl.DataFrame([row], schema=EXAMPLE_SCHEMA), lambda *a: None, {"created_at": "now"})


def test_gc_keeps_the_newest_latest_pinned_and_trained_on_versions(tmp_path):
    store = Store(tmp_path / "store", "hb")
    fake_versions(store, 6)
    assert store.pin("v1") == ["v1"]
    adapters = tmp_path / "adapters" / "run7"
    adapters.mkdir(parents=True)
    manifest = {"sources": [{"dataset": "hb", "version": "v3"}, {"dataset": "other", "version": "v2"}]}
    (adapters / "training_manifest.json").write_text(json.dumps(manifest))

    runner = CliRunner()
    args = ["gc", "hb", "--keep", "2", "--manifests", str(tmp_path / "adapters"), "--store", str(store.root)]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "would remove: v2, v4" in dry.output
    assert store.versions() == ["v1", "v2", "v3", "v4", "v5", "v6"]

    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "removed: v2, v4" in done.output and "kept v1: pinned" in done.output
    assert "kept v3: trained on" in done.output and "kept v6: one of the newest 2; latest" in done.output
    assert store.versions() == ["v1", "v3", "v5", "v6"] and store.latest() == "v6"
    assert not list(store.dir.glob(".gc-*"))
    # what is left still loads, and the next publish numbers on from the newest
    assert store.examples("v3")["id"].to_list() == ["menu_qa-2"]
    fake_versions(store, 1, start=6)
    assert store.latest() == "v7"


def test_latest_survives_keep_1_even_when_it_is_not_the_newest(tmp_path):
    store = Store(tmp_path / "store", "hb")
    fake_versions(store, 3)
    store._move_latest("v2")  # e.g. rolled back by hand
    outcome = store.gc(1)
    assert outcome["removed"] == ["v1"] and store.versions() == ["v2", "v3"]


def test_pin_errors_name_the_fix(tmp_path):
    store = Store(tmp_path / "store", "hb")
    fake_versions(store, 2)
    with pytest.raises(StoreError, match="no version v9 .* versions: v1, v2"):
        store.pin("v9")
    with pytest.raises(StoreError, match="v2 is not pinned"):
        store.pin("v2", remove=True)
    result = CliRunner().invoke(app, ["gc", "hb", "--keep", "0", "--store", str(store.root)])
    assert result.exit_code == 2 and "--keep must be 1 or more" in result.output
    assert CliRunner().invoke(app, ["pin", "hb@v2", "--store", str(store.root)]).exit_code == 0
    listed = CliRunner().invoke(app, ["pin", "hb", "--store", str(store.root)])
    assert "pinned: v2" in listed.output
    assert json.loads((Path(store.dir) / "pins.json").read_text()) == {"pinned": ["v2"]}


# ------------------------------------------------------------------ incremental nightly runs

NEW_REVIEWS = [
    "The Thai Peanut Noodle Bowl arrived cold but the flavour was superb, five stars for taste.",
    "Third week of the keto plan and the salmon is still the highlight, portions are generous too.",
]


def first_dtype(config) -> str:
    from etl.embeddings.model import compute_dtype, load_model

    return compute_dtype(config.dedup.semantic.precision, load_model(config.dedup.semantic.model).device.type)


def test_a_second_run_reads_only_the_new_file_and_full_gives_the_same_fingerprint(sample_copy, tmp_path):
    from etl.config import load_config
    from etl.embeddings.model import batch_invariant
    from etl.run.runner import run_pipeline

    config = load_config(sample_copy / "pipeline.yaml")
    store, work = tmp_path / "store", tmp_path / "work"
    first = run_pipeline(config, store=store, work=work)
    assert first.inputs["mode"] == "full" and len(first.inputs["files_read"]) > 10
    assert first.embeddings["embedded"] > 1000 and first.embeddings["kept"] == 0
    vectors = work / config.dataset / "vectors"
    # vectors are kept only where a text's vector is the same in any batch (etl/embeddings/model.py batch_invariant)
    keeps = batch_invariant(config.dedup.semantic.model, first_dtype(config))
    if keeps:
        assert {f.stat().st_mode & 0o777 for f in (vectors, vectors / "local")} == {0o700}  # owner-only
        assert list((vectors / "local").iterdir())
    else:
        assert not (vectors / "local").is_dir() or not list((vectors / "local").iterdir())
    assert any("sentence vectors not kept" in n for n in first.notices) != keeps
    v1 = Store(store, config.dataset).examples("v1")

    # tonight's export: two reviews already published (new ids, same words) and two new ones
    header, *rows = list(csv.reader((sample_copy / "reviews.csv").open(encoding="utf-8")))[:3]
    at = {name: header.index(name) for name in ("review_id", "text")}
    repeated = [
        row[: at["review_id"]] + [row[at["review_id"]] + "-again"] + row[at["review_id"] + 1 :] for row in rows
    ]
    new = []
    for row, (number, text) in zip(rows, enumerate(NEW_REVIEWS)):
        row = list(row)
        row[at["review_id"]], row[at["text"]] = f"N{number}", text
        new.append(row)
    with (sample_copy / "reviews_2026_12.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *repeated, *new])
    second = run_pipeline(config, store=store, work=work)

    assert second.inputs["files_read"] == ["reviews_2026_12.csv"]
    assert second.inputs["files_carried"] == len(first.inputs["files_read"])
    assert second.publish["version"] == "v2" and second.publish["published"]
    # the history's sentence vectors come from the work folder (the new reviews need none)
    if keeps:
        assert second.embeddings == {"embedded": 0, "kept": first.embeddings["embedded"]}
    else:  # embedded again, in the batches a full run uses: the same vectors
        assert second.embeddings == {"embedded": first.embeddings["embedded"], "kept": 0}
    v2 = Store(store, config.dataset).examples("v2")
    assert set(v1["id"]) <= set(v2["id"])  # every earlier example is still there
    added = v2.filter(~pl.col("record_id").is_in(v1["record_id"].implode()) & (pl.col("source") == "review"))
    texts = [next(m["content"] for m in ms if m["role"] == "user") for ms in added["messages"].to_list()]
    # the two new reviews, once each (review_sentiment gets no variants)
    assert sorted(t.split("Review: ")[-1] for t in texts) == sorted(NEW_REVIEWS)
    dropped = pl.read_parquet(Path(second.run_dir) / "dropped.parquet").filter(
        pl.col("source_file") == "reviews_2026_12.csv"
    )
    assert dropped.select("source_line", "reason").sort("source_line").rows() == [
        (2, "duplicate_of_published"),
        (3, "duplicate_of_published"),
    ]
    assert second.invariant_holds
    # each stage says what it took from the last run and what it computed tonight
    reuse = {r.stage: r.reuse for r in second.stages}
    carried = second.inputs["records_carried"]
    assert reuse["clean"]["records"] == {"reused": carried, "computed": 4}
    assert reuse["deidentify"]["records"]["reused"] == carried
    # every train parent's rewrites come from the memo (the new reviews' task gets no variants)
    first_rewrites = next(r.reuse for r in first.stages if r.stage == "augment")["rewrites"]
    assert first_rewrites["reused"] == 0 and first_rewrites["computed"] > 100
    assert reuse["augment"]["rewrites"] == {"reused": first_rewrites["computed"], "computed": 0}
    assert (work / config.dataset / "memo").stat().st_mode & 0o777 == 0o700

    # reading every file again publishes nothing new: the same fingerprint, though --full
    # trusts nothing the last run kept but the vectors (which are bit for bit tonight's)
    full = run_pipeline(config, store=store, work=work, full=True)
    assert full.inputs["mode"] == "full" and "reviews_2026_12.csv" in full.inputs["files_read"]
    assert full.publish == second.publish | {"published": False}
    assert full.embeddings["embedded"] == (0 if keeps else first.embeddings["embedded"])
    assert next(r.reuse for r in full.stages if r.stage == "augment")["rewrites"] == {
        "reused": 0,
        "computed": first_rewrites["computed"],
    }

    # a file taken out of the sources takes its examples with it: v1's data again
    (sample_copy / "reviews_2026_12.csv").unlink()
    after = run_pipeline(config, store=store, work=work)
    assert after.inputs["files_read"] == [] and after.publish["fingerprint"] == first.publish["fingerprint"]
    cache = list((work / config.dataset / "cache").glob("*/*.parquet"))
    assert len(cache) == len(first.inputs["files_read"])  # the removed file's entry is gone

    # the operator can drop the cache (de-identified working data) like the run folders
    done = CliRunner().invoke(
        app,
        ["purge-runs", "--config", str(sample_copy / "pipeline.yaml"), "--work", str(work), "--cache", "--keep", "1"],
    )
    assert done.exit_code == 0, done.output
    assert "removed the incremental cache" in done.output and not (work / config.dataset / "cache").exists()
    assert ("removed the kept sentence vectors" in done.output) == keeps
    assert not (work / config.dataset / "vectors").exists()
    assert "removed what stages kept" in done.output and not (work / config.dataset / "memo").exists()


def test_the_cache_code_hash_covers_every_module_the_per_record_stages_import():
    """Carried records are what the per-record stages made of a file when it was read: an edit
    to any code they run (the name lexicons included) must re-read every file, or a night would
    publish records de-identified by older rules than a full run's."""
    import grimp

    from etl.run import incremental

    graph = grimp.build_graph("etl", cache_dir=None)
    per_record = ("etl.records", "etl.stages.ingest", "etl.stages.clean", "etl.stages.deidentify")
    roots = [m for m in graph.modules if m.startswith(per_record)]
    used = set(roots).union(*(graph.find_upstream_modules(r) for r in roots))
    # settings reach the cache key as values (stage_key), not as code; the rest run nothing
    not_code = ("etl.config", "etl.errors", "etl.example", "etl.stages.base", "etl.version")
    etl_folder = Path(incremental.__file__).resolve().parents[1]
    uncovered = []
    for module in sorted(used):
        if module.startswith(not_code) or module == "etl":
            continue
        file = Path(*module.split(".")[1:])
        covered = any(
            part == str(file) + ".py" or str(file).startswith(part.removesuffix(".py")) for part in incremental._CODE
        )
        if not covered:
            uncovered.append(module)
    assert uncovered == []
    assert all((etl_folder / part).exists() for part in incremental._CODE)
