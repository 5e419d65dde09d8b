"""The Ray executor (issue 15): the per-record stages as Ray Data map_batches on a local Ray
instance the run starts, publishing what the local executor publishes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl.config import ConfigError, load_config
from etl.run.runner import run_pipeline
from etl.store import Store
from tests.conftest import SAMPLE

ray = pytest.importorskip("ray", reason="the ray extra is part of the test extra; CI installs it")


def test_the_ray_executor_publishes_the_local_executors_fingerprint(sample_run, tmp_path):
    config = load_config(SAMPLE / "pipeline.yaml").model_copy(
        update={"executor": "ray", "ray": {"num_cpus": 2, "batch_size": 97}}
    )
    config = config.model_validate(config.model_dump(by_alias=True) | {"base_dir": config.base_dir})
    summary = run_pipeline(config, store=tmp_path / "store", work=tmp_path / "work")

    assert summary.publish["published"]
    assert summary.publish["fingerprint"] == sample_run.publish["fingerprint"]
    assert not ray.is_initialized()  # the instance the run started is stopped with it
    # same rows kept and dropped, stage by stage, batch boundaries notwithstanding
    for ours, local in zip(summary.stages, sample_run.stages, strict=True):
        assert (ours.stage, ours.rows_in, ours.kept, ours.dropped_by_reason) == (
            local.stage,
            local.rows_in,
            local.kept,
            local.dropped_by_reason,
        )
    by_stage = {r.stage: r for r in summary.stages}
    assert by_stage["deidentify"].counts == {r.stage: r for r in sample_run.stages}["deidentify"].counts
    dropped = pl.read_parquet(Path(summary.run_dir) / "dropped.parquet")
    assert dropped.height == summary.rows_dropped + sum(r.dropped for r in summary.stages if r.unit == "examples")
    ours_v1 = Store(tmp_path / "store", config.dataset).examples("v1").sort("id")
    local_v1 = Store(sample_run.store_dir, config.dataset).examples("v1").sort("id")
    assert ours_v1.equals(local_v1)


def test_executor_is_checked_against_its_choices(tmp_path):
    text = (SAMPLE / "pipeline.yaml").read_text(encoding="utf-8") + "\nexecutor: spark\n"
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "pipeline.yaml")
    assert "executor" in str(error.value) and "ray" in str(error.value)


@pytest.fixture(scope="module")
def ray_executor():
    """One Ray instance for the tests below (each start costs seconds): the pipeline test above
    runs first and checks that a run's own instance is stopped with it."""
    from etl.config import RayConfig
    from etl.run.executors import RayExecutor

    executor = RayExecutor(RayConfig(num_cpus=2))
    yield executor
    executor.close()


def test_rays_groupby_bucketing_finds_the_local_pairs(ray_executor):
    from functools import partial

    import numpy as np

    from etl.stages.dedup.exact import equal_hash_pairs, spread_equal_pairs
    from etl.stages.dedup.minhash import MinHashLSH, candidate_pairs, spread_pairs

    rng = np.random.default_rng(3)
    # keys with pairs, small buckets and one bucket larger than the star limit (64)
    keys = rng.integers(0, 40, size=(500, 6)).astype(np.uint64)
    keys[:90, 2] = 7
    hashes = rng.integers(0, 120, size=500).astype(np.uint64)
    texts = [f"order {i % 37} of the keto salmon bowl with extra greens" for i in range(200)]
    import polars as pl

    minhash = MinHashLSH(0.7, 64, 3, "word", 1)
    sig = minhash.signatures(pl.Series(texts))
    assert np.array_equal(spread_pairs(keys, ray_executor), candidate_pairs(keys))
    local_exact = equal_hash_pairs(hashes)
    assert np.array_equal(spread_equal_pairs(hashes, ray_executor), np.unique(np.sort(local_exact, axis=1), axis=0))
    ours, _ = minhash.similar_pairs(sig, partial(spread_pairs, parallel=ray_executor))
    assert len(ours) and np.array_equal(ours, minhash.similar_pairs(sig)[0])


def test_rays_embeddings_are_the_local_vectors_and_join_the_drivers_cache(ray_executor):
    import json

    from etl.embeddings import Embedder
    from etl.embeddings.embedder import SPREAD_EMBED_MIN

    dialogs = (Path(__file__).parent / "data" / "realtext" / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()
    turns = [u["text"] for d in map(json.loads, dialogs[:60]) for u in d["utterances"] if u["speaker"] == "user"]
    texts = list(dict.fromkeys(turns))[:150] + turns[:10]  # repeats come back too
    assert len(set(texts)) >= SPREAD_EMBED_MIN
    local = Embedder()(texts, None, 64, "float32")
    spread = Embedder(parallel=ray_executor)
    ours = spread(texts, None, 64, "float32")
    assert spread.unknown(texts, None, "float32") == []  # in the driver's cache now
    assert spread.cache.counts()["embedded"] == len(set(texts))
    assert ours.shape == local.shape and (ours * local).sum(axis=1).min() > 0.99999


def test_rays_rewriting_gives_the_local_variants(ray_executor):
    """Augmentation's nlpaug rewriting on Ray actors: every method, real customer turns, the
    texts the local executor writes (each job seeded by its parent and method)."""
    import json

    from etl.catalog import load_catalog
    from etl.stages.augment import REWRITE_BLOCK, SPREAD_REWRITE_MIN, AugmentStage, rewrite_here, rewrite_jobs

    config = load_config(SAMPLE / "pipeline.yaml")
    stage = AugmentStage(config.augment, load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml"))
    dialogs = (Path(__file__).parent / "data" / "realtext" / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()
    methods = [m.method for m in config.augment.methods]
    jobs = []
    for n, dialog in enumerate(map(json.loads, dialogs[:300])):
        turns = [u["text"] for u in dialog["utterances"] if u["speaker"] == "user"]
        jobs.append((f"dialog-{n}", turns, methods[n % len(methods)]))
    assert len(jobs) >= max(SPREAD_REWRITE_MIN, REWRITE_BLOCK + 1)  # more than one block
    local = rewrite_here(stage, jobs)
    ours = rewrite_jobs(stage, jobs, ray_executor)
    assert ours == local
    assert sum(new != old for new, (_, old, _) in zip(local, jobs)) > len(jobs) // 2  # most were rewritten


def test_rays_groupby_split_places_every_example_where_the_local_split_does(ray_executor):
    """The split's group-bys shuffled by Ray: records with several examples, rephrasings that
    chain records, earlier records on both sides; the same sides, drops and notes as locally."""
    import numpy as np

    from etl.config import RayConfig
    from etl.example import EXAMPLE_SCHEMA
    from etl.run.executors import RayExecutor
    from etl.stages.split import assign_splits

    rng = np.random.default_rng(15)
    tasks = ["menu_qa", "review_sentiment", "recommendation", "order", "store_info"]
    n = 3000
    records = rng.integers(0, 1200, size=n)
    clusters = np.where(rng.random(n) < 0.3, rng.integers(0, 300, size=n), 1000 + np.arange(n))
    examples = (
        pl.DataFrame(
            {
                "id": [f"ex{i}" for i in range(n)],
                "task": [tasks[t] for t in rng.integers(0, len(tasks), size=n)],
                "record_id": [f"rec{r}" for r in records],
                "dup_cluster": [None if c >= 2900 else f"c{c}" for c in clusters],  # some never clustered
            }
        )
        .with_columns(
            pl.lit(None).cast(dtype).alias(k)
            for k, dtype in EXAMPLE_SCHEMA.items()
            if k not in {"id", "task", "record_id", "dup_cluster"}
        )
        .select(list(EXAMPLE_SCHEMA))
    )
    known = {f"rec{r}": ("eval" if r % 5 == 0 else "train") for r in range(0, 1200, 3)}

    from ray.data.context import DataContext

    before = DataContext.get_current().shuffle_strategy
    local = assign_splits(examples, 0.1, 7, known)
    for shuffle in ("sort", "hash"):
        executor = RayExecutor(RayConfig(num_cpus=2, shuffle=shuffle))
        try:
            ours = assign_splits(examples, 0.1, 7, known, executor.group_by)
        finally:
            executor.close()
        assert ours[0].equals(local[0])
        assert sorted(ours[1].to_list()) == sorted(local[1].to_list()) and local[1].len() > 0
        assert ours[2] == local[2]
        assert DataContext.get_current().shuffle_strategy == before  # the caller's strategy back
    assert local[2]["new_units"] > 100 and local[2]["new_units_following_earlier_records"]
    assert set(local[0]["split"]) == {"train", "eval"}
