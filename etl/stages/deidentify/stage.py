"""Deidentify: find personal data with presidio-analyzer, replace it with presidio-anonymizer.

Speed: presidio's BatchAnalyzerEngine batches only the spaCy step; the
recognizers then run one text at a time in one process. Here the whole
analyzer, recognizers included, runs in one worker process per core, each on
chunks of whole records (so a conversation's pseudonyms are decided in one
place), with spaCy batched (nlp.pipe) and without its parser.

Fail closed: every anonymised turn is scanned again with the pattern
recognizers (no NER); a high-confidence hit that is not one of our own
surrogates drops the record with the reason `pii_residual`.

What the runner sees is counts only: entity counts by type and the ids of
dropped records. No raw value leaves the workers except inside the
anonymised text.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from etl.catalog import Catalog
from etl.config import DeidentifyConfig
from etl.stages.base import Progress, Stage, StageResult, drop_frame

PERSONAL_META = ["customer_name", "customer_email", "customer_phone", "agent_name", "feedback_comment"]
# Below this many turns, starting worker processes costs more than it saves.
PARALLEL_MIN_TURNS = 3000
# Below this many bytes of new input files, a pool started before reading them has one worker
# (a review or a chat turn is 100-300 bytes: about PARALLEL_MIN_TURNS turns)
PARALLEL_MIN_BYTES = 300_000
CHUNK_RECORDS = 100


@dataclass
class WorkerSetup:
    config: DeidentifyConfig
    catalog: Catalog | None
    key: bytes
    extra_first: set[str] = field(default_factory=set)
    extra_last: set[str] = field(default_factory=set)


_worker: _Worker | None = None


class _Worker:
    """Everything one process needs: the analyzer, the anonymizer, the surrogate generator."""

    def __init__(self, setup: WorkerSetup) -> None:
        from presidio_anonymizer import AnonymizerEngine

        from etl.stages.deidentify.surrogates import Surrogates

        self.setup = setup
        self.analyzer = _analyzer_for(setup)
        self.anonymizer = AnonymizerEngine()
        self.surrogates = Surrogates(setup.key)

    def run(
        self, chunk: list[tuple[str, list[str], list[str]]]
    ) -> list[tuple[str, list[str], dict[str, int], list[str]]]:
        """(record_id, turn texts, known values) -> (record_id, new texts, entity counts, residual entity types)."""
        texts = [text for _, turns, _ in chunk for text in turns]
        known = [values for _, turns, values in chunk for _ in turns]
        found = self.analyzer.analyze_batch(texts, known, self.setup.config.batch_size)
        out, position = [], 0
        for record_id, turns, _ in chunk:
            results = found[position : position + len(turns)]
            position += len(turns)
            out.append((record_id, *self._anonymise_record(turns, results)))
        return out

    def _anonymise_record(self, turns: list[str], results) -> tuple[list[str], dict[str, int], list[str]]:
        from presidio_anonymizer.entities import OperatorConfig

        from etl.stages.deidentify.surrogates import Placeholders

        mode = self.setup.config.mode
        placeholders = Placeholders()
        inserted: set[str] = set()

        def replacer(entity: str):
            def replace(value: str) -> str:
                new = (
                    self.surrogates.replace(entity, value)
                    if mode == "surrogate"
                    else placeholders.replace(entity, value)
                )
                inserted.add(new)
                return new

            return replace

        counts: Counter[str] = Counter()
        new_texts = []
        for text, found in zip(turns, results):
            if not found:
                new_texts.append(text)
                continue
            counts.update(r.entity_type for r in found)
            entities = {r.entity_type for r in found}
            if mode == "mask":
                operators = {
                    e: OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 10_000, "from_end": False})
                    for e in entities
                }
            else:
                operators = {e: OperatorConfig("custom", {"lambda": replacer(e)}) for e in entities}
            new_texts.append(self.anonymizer.anonymize(text=text, analyzer_results=found, operators=operators).text)
        residual = []
        threshold = self.setup.config.residual_threshold
        # An unchanged turn went through the same pattern recognizers a moment
        # ago, and every hit at or above score_threshold was replaced: when the
        # residual threshold is not lower, only changed turns can hold a new hit.
        skip_unchanged = threshold >= self.setup.config.score_threshold
        for original, text in zip(turns, new_texts):
            if skip_unchanged and text == original:
                continue
            for hit in self.analyzer.residual(text, threshold):
                value = text[hit.start : hit.end]
                if not any(value in surrogate or surrogate in value for surrogate in inserted):
                    residual.append(hit.entity_type)
        return new_texts, dict(counts), residual


_analyzers: dict[tuple, object] = {}


def _analyzer_for(setup: WorkerSetup):
    """One analyzer per process and configuration (loading spaCy takes seconds); the key is not part of it."""
    from etl.stages.deidentify.engine import build_analyzer

    identity = (
        setup.config.model_dump_json(),
        setup.catalog.model_dump_json() if setup.catalog else None,
        frozenset(setup.extra_first),
        frozenset(setup.extra_last),
    )
    if identity not in _analyzers:
        _analyzers.clear()
        _analyzers[identity] = build_analyzer(setup.config, setup.catalog, (setup.extra_first, setup.extra_last))
    return _analyzers[identity]


def _init_worker(setup: WorkerSetup) -> None:
    global _worker
    _worker = _Worker(setup)


def _run_chunk(chunk):
    return _worker.run(chunk)


class DeidentifyStage(Stage):
    name = "deidentify"
    per_record = True
    cache_role = "keeps"  # the records a night carries are de-identified ones

    def __init__(self, config: DeidentifyConfig, catalog: Catalog | None, key: bytes) -> None:
        self.config, self.catalog, self.key = config, catalog, key
        self.pool: WorkerPool | None = None
        self.finished = False

    def partitioned(self) -> DeidentifyStage:
        # one analyzer in the executor's worker: the executor spreads the batches over cores
        return DeidentifyStage(self.config.model_copy(update={"workers": 1}), self.catalog, self.key)

    def prepare(self, incoming: int) -> None:
        """Start the worker processes as the run begins, when it reads new files: their loading
        (presidio, spaCy, the recognizers: 3-4 s on 2 cores) overlaps reading and cleaning the
        files instead of following it. One worker for a night's few new bytes."""
        if incoming == 0 or self.pool is not None:
            return
        workers = 1 if incoming < PARALLEL_MIN_BYTES else self.config.workers or os.cpu_count() or 1
        self.pool = WorkerPool(WorkerSetup(self.config, self.catalog, self.key), workers, in_process=False)
        self.pool.__enter__().start()

    def setup(self, frame: pl.DataFrame | None = None) -> None:
        """Start the analyzer (spaCy and the recognizers) on its worker processes; a small
        input is analysed in this process, where starting workers would cost more than it saves.
        Workers `prepare` started are kept unless the input needs more of them."""
        n_turns = int(frame["turns"].list.len().sum()) if frame is not None and frame.height else 0
        workers = (
            1 if frame is not None and n_turns < PARALLEL_MIN_TURNS else self.config.workers or os.cpu_count() or 1
        )
        self.finished = False
        if self.pool is not None and self.pool.workers >= workers:
            return
        self.teardown()
        if frame is not None and frame.height == 0:
            return  # nothing to analyse: no analyzer loaded
        # known customer and agent names are matched only inside their own record (see
        # etl.stages.deidentify.spans.known_value_hits), never added to a global list: a display name
        # like "Dog Food Lover" must not make "dog food" personal data everywhere
        self.pool = WorkerPool(WorkerSetup(self.config, self.catalog, self.key), workers).__enter__()

    def teardown(self) -> None:
        if self.pool is not None:
            # after Ctrl-C or an error, queued chunks are cancelled instead of awaited
            failed = (KeyboardInterrupt, None, None) if not self.finished else (None, None, None)
            self.pool.__exit__(*failed)
            self.pool = None

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        if df.height == 0:  # every record carried from the cache: nothing to load the analyzer for
            return StageResult(kept=df, dropped=drop_frame(pl.Series([], dtype=pl.Utf8), "pii_residual"))
        chunks = _chunks(df)
        own_pool = self.pool is None
        if own_pool:  # called outside the runner (tests, the API)
            self.setup(df)
        try:
            outputs = []
            for chunk, result in zip(chunks, self.pool.map(chunks)):
                outputs += result
                progress(len(chunk))
            self.finished = True
        finally:
            if own_pool:
                self.teardown()
        by_id = {record_id: (texts, counts, residual) for record_id, texts, counts, residual in outputs}
        records = _with_new_turns(df, by_id)
        residual_ids = [rid for rid, (_, _, residual) in by_id.items() if residual]
        details = [",".join(sorted(set(by_id[rid][2]))) for rid in residual_ids]
        dropped = drop_frame(pl.Series(residual_ids, dtype=pl.Utf8), "pii_residual", pl.Series(details, dtype=pl.Utf8))
        kept = records.filter(~pl.col("record_id").is_in(pl.Series(residual_ids, dtype=pl.Utf8).implode()))
        totals: Counter[str] = Counter()
        for _, counts, _ in by_id.values():
            totals.update(counts)
        return StageResult(
            kept=kept, dropped=dropped, counts={f"found_{entity}": count for entity, count in sorted(totals.items())}
        )


class WorkerPool:
    """The analyzer on `workers` processes (in this process when 1, unless not `in_process`),
    chunks in, results out in order."""

    def __init__(self, setup: WorkerSetup, workers: int, in_process: bool = True) -> None:
        self.setup, self.workers, self.pool = setup, workers, None
        self.in_process = in_process and workers == 1

    def __enter__(self) -> WorkerPool:
        if not self.in_process:
            # spawn, not fork: the parent runs polars' thread pool, which fork would copy mid-flight
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_init_pool_worker, initargs=(self.setup,)
            )
        else:
            _init_worker(self.setup)
        return self

    def start(self) -> None:
        """Make the workers start loading now, without waiting for them (the executor starts
        its processes at the first task)."""
        if self.pool is not None:
            for _ in range(self.workers):
                self.pool.submit(_run_chunk, [("warm-up", ["Hello, this is a warm-up text."], [])])

    def warm_up(self) -> None:
        """Make every worker load its models now (benchmarks time the steady state)."""
        if self.pool is not None:
            list(self.pool.map(_run_chunk, [[("warm-up", ["Hello, this is a warm-up text."], [])]] * self.workers * 2))

    def map(self, chunks):
        return self.pool.map(_run_chunk, chunks) if self.pool is not None else map(_run_chunk, chunks)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            # on Ctrl-C or an error, queued chunks are cancelled instead of awaited
            self.pool.shutdown(cancel_futures=exc[0] is not None)


def _init_pool_worker(setup: WorkerSetup) -> None:
    # Ctrl-C reaches the whole process group: the parent decides what to do (and says
    # so in one line); a worker that raised KeyboardInterrupt too would print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    if not model_needs_torch(setup.config.spacy_model):
        _without_torch()
    _init_worker(setup)


# what presidio and thinc import only if they can: presidio's optional Hugging Face engine and
# thinc's PyTorch layers, neither used by a spaCy model without transformers
TORCH_MODULES = ("torch", "transformers")


def _without_torch() -> None:
    """A worker process that never imports torch and transformers: presidio imports both when
    they are installed (for an NER engine this stage does not use), which cost each worker 3.7 s
    before its first record and 321 MiB (574 against 253 MiB resident). A module set to None in
    sys.modules raises ImportError on import, which both libraries take as "not installed"."""
    for name in TORCH_MODULES:
        sys.modules.setdefault(name, None)


def model_needs_torch(model: str) -> bool:
    """Whether a spaCy model needs torch (a transformer pipeline: its package requires
    spacy-transformers or spacy-curated-transformers). True when it cannot be told."""
    import json
    from importlib import metadata
    from pathlib import Path

    meta = Path(model) / "meta.json"
    try:
        if meta.is_file():
            requirements = json.loads(meta.read_text(encoding="utf-8")).get("requirements", [])
        else:
            distributions = metadata.packages_distributions().get(model, [])
            if not distributions:
                return True
            requirements = metadata.requires(distributions[0]) or []
    except (OSError, ValueError, metadata.PackageNotFoundError):
        return True
    return any("transformers" in requirement or "torch" in requirement for requirement in requirements)


def _exit_with_parent() -> None:
    """A worker whose parent was killed (a scheduler's SIGKILL) would wait forever holding
    its models in memory: a daemon thread ends it when the parent is gone. It waits on the
    parent's sentinel (ready once the parent has died), not on the parent's pid read now: a
    parent killed while this worker was still importing would otherwise leave it waiting on
    its new parent, init, forever (and holding the run's stderr open)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _chunks(df: pl.DataFrame) -> list[list[tuple[str, list[str], list[str]]]]:
    meta = df["meta"].struct.unnest()
    known_columns = [
        c for c in ("customer_name", "customer_email", "customer_phone", "agent_name") if c in meta.columns
    ]
    rows = []
    for record_id, turns, *known in zip(df["record_id"], df["turns"].to_list(), *(meta[c] for c in known_columns)):
        rows.append((record_id, [t["text"] for t in turns], [v for v in known if v]))
    return [rows[i : i + CHUNK_RECORDS] for i in range(0, len(rows), CHUNK_RECORDS)]


def _with_new_turns(df: pl.DataFrame, by_id: dict) -> pl.DataFrame:
    new_turns = []
    for record_id, turns in zip(df["record_id"], df["turns"].to_list()):
        texts = by_id[record_id][0]
        new_turns.append([{"role": t["role"], "text": text} for t, text in zip(turns, texts)])
    meta = df["meta"].struct.unnest().with_columns([pl.lit(None, dtype=pl.Utf8).alias(c) for c in PERSONAL_META])
    return df.with_columns(
        pl.Series("turns", new_turns, dtype=df.schema["turns"]),
        meta.select(list(df.schema["meta"].to_schema())).to_struct("meta").cast(df.schema["meta"]),
    )
