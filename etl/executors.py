"""Executors: where a stage's work runs.

`local` (the default) runs every stage in this process, with the worker
processes a stage starts itself (de-identification uses every core).

`ray` runs the per-record stages (`Stage.per_record`: clean and de-identify,
whose outcome for a row depends on that row alone) as Ray Data `map_batches`
over Arrow batches: each Ray worker builds the stage once (models load once
per worker), and applies the very same `Stage.apply` to each batch it is
given. Batches keep their order (`preserve_order`), and a per-record stage
gives each row the same outcome in any batch, so the rows kept, the rows
dropped and the published fingerprint are the local executor's. Dedup's
bucketing goes through Ray's groupby: exact hashes shuffled into partitions
by value, MinHash band keys grouped by band, each group paired by the local
code, so the same pairs come back. Sentence embeddings (semantic dedup,
augmentation's meaning check) run as `map_batches` over blocks of texts on
Ray actors that load the model once each; the vectors join the driver's
cache, and each text's vector is the one the local executor computes up to
the last float bits (a batch's make-up moves them). Augmentation's rewriting
(nlpaug on a parent's customer turns, seeded by the parent and the method)
runs the same way on actors that build the augmenters once each; the
driver judges the variants and fills each task's share as locally. The
split's group-bys (`etl.stages.split.GroupBy`) go through Ray's groupby: rows
shuffled into partitions by a hash of the key, each partition grouped by the
local code; the split's graph and placement stay on the driver. Ray's groupby
uses the pull-based sort shuffle unless `ray.shuffle: hash`. The rest of the
global stages (the graph and its decisions, the neighbour search, synthesis,
the quality gate, publish) run on the driver as they do locally.

With `ray.address` unset, a Ray instance is started on this machine for the
run and stopped after it; `ray.address: auto` joins the cluster this machine
is a node of, `ray://<head>:10001` a remote one (every node needs this
package installed, the same version, and the surrogate key travels to the
workers with the stage).
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter

import numpy as np
import polars as pl

from etl.config import ConfigError, RayConfig
from etl.stages.base import Progress, Stage, StageResult
from etl.stages.dedup.exact import equal_hash_pairs
from etl.stages.dedup.minhash import candidate_pairs
from etl.stages.split import group_here

# texts an embedding block holds on Ray; below RAY_EMBED_MIN new texts, starting a Ray
# dataset costs more than embedding them on the driver
EMBED_BLOCK = 512
RAY_EMBED_MIN = 64
# augmentation jobs (a parent and a method) a rewriting block holds, and the fewest worth Ray
REWRITE_BLOCK = 256
RAY_REWRITE_MIN = 64
# the column that carries a row's partition through Ray's groupby shuffle
PARTITION = "__partition"


class LocalExecutor:
    name = "local"

    def run(self, stage: Stage, frame: pl.DataFrame, progress: Progress) -> StageResult:
        stage.setup(frame)
        try:
            return stage.apply(frame, progress)
        finally:
            stage.teardown()

    @staticmethod
    def equal_hash_pairs(hashes: np.ndarray) -> np.ndarray:
        return equal_hash_pairs(hashes)

    @staticmethod
    def candidate_pairs(keys: np.ndarray) -> np.ndarray:
        return candidate_pairs(keys)

    @staticmethod
    def embed(texts: list[str], model: str | None, batch_size: int, precision: str) -> np.ndarray:
        from etl.stages.dedup.semantic import embed

        return embed(texts, model, batch_size, precision)

    @staticmethod
    def rewrite(stage, jobs: list[tuple[str, list[str], str]]) -> list[list[str]]:
        from etl.stages.augment import rewrite_here

        return rewrite_here(stage, jobs)

    group_by = staticmethod(group_here)  # the split's group-bys: one call over all rows

    def close(self) -> None:
        return None


class RayExecutor:
    """Per-record stages on Ray Data; any other stage locally."""

    name = "ray"

    def __init__(self, config: RayConfig) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "executor: ray needs Ray: install the `ray` extra (pip install 'healthy-bites-curator[ray]'), "
                "or set executor: local."
            ) from None
        self.config = config
        self.started = not ray.is_initialized()
        if self.started:
            # the driver's own log setup stays; Ray's dashboard is not needed for a batch job
            options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if config.address is None:
                options["num_cpus"] = config.num_cpus or os.cpu_count() or 1
            ray.init(address=config.address, **options)
        from ray.data.context import DataContext, ShuffleStrategy

        strategy = {"sort": ShuffleStrategy.SORT_SHUFFLE_PULL_BASED, "hash": ShuffleStrategy.HASH_SHUFFLE}
        # the runner draws each stage's bar; a Ray session the caller started gets its own
        # settings back on close
        settings = {"shuffle_strategy": strategy[config.shuffle], "enable_progress_bars": False}
        context = DataContext.get_current()
        self.caller_settings = {name: getattr(context, name) for name in settings}
        for name, value in settings.items():
            setattr(context, name, value)
        self.local = LocalExecutor()

    def run(self, stage: Stage, frame: pl.DataFrame, progress: Progress) -> StageResult:
        if not stage.per_record or frame.height == 0:
            return self.local.run(stage, frame, progress)
        results = _on_actors(frame.to_arrow(), self.config.batch_size, _StageOnBatch, (stage.partitioned(),))
        progress(frame.height)
        return _merge(results, frame)

    def equal_hash_pairs(self, hashes: np.ndarray) -> np.ndarray:
        """Exact duplicates: rows shuffled by hash into partitions (equal hashes meet in one),
        each partition chained in record order, as `equal_hash_pairs` chains them."""
        import pyarrow as pa

        if len(hashes) < 2:
            return equal_hash_pairs(hashes)
        table = pa.table(
            {"part": hashes % np.uint64(self._partitions()), "doc": np.arange(len(hashes)), "key": hashes}
        )
        return self._grouped(table, "part", _equal_pairs_of_group)

    def candidate_pairs(self, keys: np.ndarray) -> np.ndarray:
        """MinHash LSH buckets: the (band, record, key) rows grouped by band on Ray, each band
        bucketed where it lands, by the same code as locally (`candidate_pairs`)."""
        import pyarrow as pa

        n_docs, bands = keys.shape
        if n_docs < 2:
            return candidate_pairs(keys)
        table = pa.table(
            {
                "band": np.repeat(np.arange(bands), n_docs),
                "doc": np.tile(np.arange(n_docs), bands),
                "key": keys.T.reshape(-1),
            }
        )
        return self._grouped(table, "band", _candidate_pairs_of_group)

    def embed(self, texts: list[str], model: str | None, batch_size: int, precision: str) -> np.ndarray:
        """Sentence embeddings, the texts this process has no vector for embedded on Ray actors
        (each loads the model once) in blocks of EMBED_BLOCK, in order; the vectors join this
        process's cache, where the stages after it (meaning check, synthesis) find them."""
        from etl.stages.dedup import semantic

        fresh = semantic.unknown_texts(texts, model, precision)
        if len(fresh) >= RAY_EMBED_MIN:
            import pyarrow as pa

            table = pa.table({"text": pa.array(fresh, pa.string())})
            rows = _on_actors(table, EMBED_BLOCK, _Embedder, (model, batch_size, precision))
            vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
            semantic.remember_vectors(fresh, vectors, model, precision)
        return semantic.embed(texts, model, batch_size, precision)

    def rewrite(self, stage, jobs: list[tuple[str, list[str], str]]) -> list[list[str]]:
        """Augmentation's rewriting, (parent id, user texts, method) -> texts, as `map_batches`
        over blocks of REWRITE_BLOCK jobs on Ray actors that build the augmenters once each. Each
        job is seeded by its parent and method, so the texts are the local executor's."""
        if len(jobs) < RAY_REWRITE_MIN:
            return self.local.rewrite(stage, jobs)
        import pyarrow as pa

        table = pa.table(
            {
                "parent_id": pa.array([j[0] for j in jobs], pa.string()),
                "texts": pa.array([j[1] for j in jobs], pa.list_(pa.string())),
                "method": pa.array([j[2] for j in jobs], pa.string()),
            }
        )
        return [list(r["texts"]) for r in _on_actors(table, REWRITE_BLOCK, _Rewriter, (stage.for_workers(),))]

    def group_by(self, rows: pl.DataFrame, key: str, aggregate) -> pl.DataFrame:
        """The split's group-bys (`etl.stages.split.GroupBy`): the rows shuffled by Ray's groupby
        into partitions by a hash of `key` (the driver hashes, so every row of a key value meets
        in one partition), `aggregate` run on each partition, the partitions' groups concatenated
        and sorted by key. `aggregate` groups by key itself, so the groups are the local ones."""
        if rows.height == 0:
            return aggregate(rows)
        import ray
        import ray.data

        partitions = self._partitions()
        table = rows.with_columns((pl.col(key).hash(seed=0) % partitions).alias(PARTITION)).to_arrow()
        grouped = (
            ray.data.from_arrow(table)
            .groupby(PARTITION, num_partitions=partitions)
            .map_groups(_aggregate_partition, fn_args=(aggregate,), batch_format="pyarrow")
        )
        parts = [pl.from_arrow(t) for t in ray.get(grouped.to_arrow_refs()) if t.num_rows]
        schema = aggregate(rows.clear()).schema  # the local result's columns and types
        if not parts:
            return pl.DataFrame(schema=schema)
        return pl.concat(parts, how="vertical_relaxed").select(list(schema)).cast(schema).sort(key)

    def _partitions(self) -> int:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def _grouped(self, table, column: str, pairs_of_group) -> np.ndarray:
        import ray.data

        rows = ray.data.from_arrow(table).groupby(column).map_groups(pairs_of_group, batch_format="numpy").take_all()
        if not rows:
            return np.empty((0, 2), dtype=np.int64)
        both = np.array([(r["a"], r["b"]) for r in rows], dtype=np.int64)
        return np.unique(both, axis=0)

    def close(self) -> None:
        from ray.data.context import DataContext

        context = DataContext.get_current()
        for name, value in self.caller_settings.items():
            setattr(context, name, value)
        if self.started:
            import ray

            ray.shutdown()


def _on_actors(table, block: int, actor, arguments: tuple) -> list[dict]:
    """A table's rows through `actor` (built once a Ray worker from `arguments`) in blocks of
    `block` rows, one block a call, as `map_batches`; the output rows in the table's order."""
    import ray
    import ray.data

    ray.data.DataContext.get_current().execution_options.preserve_order = True
    # one block per call, put in the object store here: no read or repartition task competes
    # with the actors for the CPUs
    blocks = [table.slice(start, block) for start in range(0, table.num_rows, block)]
    workers = max(1, min(int(ray.cluster_resources().get("CPU", 1)), len(blocks)))
    return (
        ray.data.from_arrow(blocks)
        .map_batches(
            actor,
            fn_constructor_args=arguments,
            batch_size=block,
            batch_format="pyarrow",
            zero_copy_batch=True,
            concurrency=workers,
        )
        .take_all()
    )


def make_executor(kind: str, ray_config: RayConfig) -> LocalExecutor | RayExecutor:
    return RayExecutor(ray_config) if kind == "ray" else LocalExecutor()


class _StageOnBatch:
    """One Ray worker's copy of a stage: set up once, applied to each batch. Each batch gives
    one row: the kept rows, dropped rows and per-row figures as Arrow IPC, and the counts."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        stage.setup(pl.DataFrame())

    def __call__(self, batch):
        import pyarrow as pa

        frame = pl.from_arrow(batch)
        result = self.stage.apply(frame, lambda n: None)
        return pa.table(
            {
                "kept": [_ipc(result.kept)],
                "dropped": [_ipc(result.dropped)],
                "stats": [_ipc(result.stats) if result.stats is not None else None],
                "counts": [json.dumps(result.counts)],
            },
            schema=pa.schema(
                [("kept", pa.binary()), ("dropped", pa.binary()), ("stats", pa.binary()), ("counts", pa.string())]
            ),
        )

    def __del__(self) -> None:
        self.stage.teardown()


class _Embedder:
    """One Ray actor's copy of the embedding model: a block of texts in, their vectors out
    (float32 bytes, one row a text, in the block's order)."""

    def __init__(self, model: str | None, batch_size: int, precision: str) -> None:
        from etl.stages.dedup.semantic import load_model

        self.model, self.batch_size, self.precision = model, batch_size, precision
        load_model(model)

    def __call__(self, batch):
        import pyarrow as pa

        from etl.stages.dedup.semantic import embed

        vectors = embed(batch.column("text").to_pylist(), self.model, self.batch_size, self.precision)
        return pa.table({"vector": pa.array([v.tobytes() for v in vectors], pa.binary())})


class _Rewriter:
    """One Ray actor's copy of the augment stage: its augmenters built once, a block of
    (parent id, user texts, method) in, the rewritten texts out, in the block's order."""

    def __init__(self, stage) -> None:
        self.stage = stage
        stage.setup(pl.DataFrame())

    def __call__(self, batch):
        import pyarrow as pa

        jobs = zip(
            batch.column("parent_id").to_pylist(),
            batch.column("texts").to_pylist(),
            batch.column("method").to_pylist(),
        )
        texts = [self.stage.rewrite(parent_id, turns, method) for parent_id, turns, method in jobs]
        return pa.table({"texts": pa.array(texts, pa.list_(pa.string()))})


def _aggregate_partition(partition, aggregate):
    """One partition of a group-by's rows (every row of each of its keys) through `aggregate`."""
    return aggregate(pl.from_arrow(partition).drop(PARTITION)).to_arrow()


def _pairs_frame(docs: np.ndarray, pairs: np.ndarray) -> dict[str, np.ndarray]:
    """Pairs of positions in a group as pairs of record numbers, smaller first."""
    a, b = docs[pairs[:, 0]], docs[pairs[:, 1]]
    return {"a": np.minimum(a, b).astype(np.int64), "b": np.maximum(a, b).astype(np.int64)}


def _equal_pairs_of_group(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.argsort(group["doc"], kind="stable")  # a group arrives in no set order
    docs, keys = group["doc"][order], group["key"][order]
    return _pairs_frame(docs, equal_hash_pairs(keys))


def _candidate_pairs_of_group(group: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.argsort(group["doc"], kind="stable")
    docs, keys = group["doc"][order], group["key"][order]
    return _pairs_frame(docs, candidate_pairs(keys.reshape(-1, 1)))


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def _merge(rows: list[dict], frame: pl.DataFrame) -> StageResult:
    """The batches' results as one, in input order, in the input's schema."""
    kept = pl.concat([pl.read_ipc(io.BytesIO(r["kept"])) for r in rows], how="vertical_relaxed")
    dropped = pl.concat([pl.read_ipc(io.BytesIO(r["dropped"])) for r in rows], how="vertical_relaxed")
    stats = [pl.read_ipc(io.BytesIO(r["stats"])) for r in rows if r["stats"] is not None]
    counts: Counter[str] = Counter()
    for r in rows:
        counts.update(json.loads(r["counts"]))
    schema = {name: dtype for name, dtype in frame.schema.items() if name in kept.columns}
    return StageResult(
        kept=kept.cast(schema),
        dropped=dropped,
        stats=pl.concat(stats, how="vertical_relaxed") if stats else None,
        counts=dict(sorted(counts.items())),
    )
