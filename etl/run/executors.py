"""Executors: where a stage's work runs.

`local` (the default) runs every stage in this process, with the worker
processes a stage starts itself (de-identification uses every core).

`ray` runs the per-record stages (`Stage.per_record`: clean and de-identify,
whose outcome for a row depends on that row alone) as Ray Data `map_batches`
over Arrow batches: each Ray worker builds the stage once (models load once
per worker), and applies the very same `Stage.apply` to each batch it is
given. Batches keep their order (`preserve_order`), and a per-record stage
gives each row the same outcome in any batch, so the rows kept, the rows
dropped and the published fingerprint are the local executor's.

Every other stage hands its parallel work over through the stage contract's
`Parallel` (etl/stages/base.py) as pure functions, and this module runs them
without knowing which stage they came from:

- `map_blocks(worker, arguments, table, block)`: `map_batches` over blocks of
  rows on Ray actors, each building `worker(*arguments)` once (sentence
  embeddings for semantic dedup and augmentation's meaning check; nlpaug's
  rewriting, seeded by the parent and the method);
- `group_by(rows, key, aggregate)`: Ray's groupby shuffle, every row of a key
  value meeting in one partition, `aggregate` run on each partition (dedup's
  exact-hash runs and MinHash band buckets; the split's group-bys).

Ray's groupby uses the pull-based sort shuffle unless `ray.shuffle: hash`. The
rest of the global stages (the graph and its decisions, the neighbour search,
synthesis, the quality gate, publish) run on the driver as they do locally.

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

import polars as pl

from etl.config import ConfigError, RayConfig
from etl.stages.base import Parallel, Progress, Stage, StageResult

# the column that carries a row's partition through Ray's groupby shuffle
PARTITION = "__partition"


class LocalExecutor(Parallel):
    """Every stage here; a stage's parallel work in one call (`Parallel`'s own)."""

    name = "local"

    def run(self, stage: Stage, frame: pl.DataFrame, progress: Progress) -> StageResult:
        stage.setup(frame)
        try:
            return stage.apply(frame, progress)
        finally:
            stage.teardown()

    def close(self) -> None:
        return None


class RayExecutor(Parallel):
    """Per-record stages on Ray Data, a stage's blocks on Ray actors and its group-bys through
    Ray's shuffle; any other work locally."""

    name = "ray"
    distributed = True

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

    def map_blocks(self, worker, arguments: tuple, table, block: int) -> list[dict]:
        """The table's rows through `worker(*arguments)`, built once an actor, in blocks of
        `block` rows, as `map_batches`; the output rows in the table's order."""
        return _on_actors(table, block, worker, arguments)

    def group_by(self, rows: pl.DataFrame, key: str, aggregate) -> pl.DataFrame:
        """The rows shuffled by Ray's groupby into partitions by a hash of `key` (the driver
        hashes, so every row of a key value meets in one partition), `aggregate` run on each
        partition, the partitions' rows concatenated and sorted by key. An `aggregate` that
        groups by key itself gives the local groups."""
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


def _aggregate_partition(partition, aggregate):
    """One partition of a group-by's rows (every row of each of its keys) through `aggregate`."""
    return aggregate(pl.from_arrow(partition).drop(PARTITION)).to_arrow()


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
