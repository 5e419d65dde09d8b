"""Validate: the Great Expectations gate before publishing.

Runs the three suites of `expectations/` (etl/stages/validate/gx_suites.py): `ingest` on the
ingest stage's output and `deidentified` on the de-identify stage's (both read back from the
run folder, where the runner wrote them), `published` on the examples about to be published
(texts an earlier run's suite passed are not scanned again: clean_texts.py). A failing suite
whose severity is `fail` stops the run before the publish stage: nothing is published,
`latest` does not move, and the error names each failed expectation with up to three failing
values, already de-identified and with any leak pattern starred out (exit 7). A failing `warn`
suite publishes and says so in the run's notices. The results and GX's Data Docs are written
to the run folder's `quality/`; the publish stage copies them into the version.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from etl.catalog import Catalog
from etl.config import PipelineConfig, ValidateConfig
from etl.errors import ConfigError, QualityGateError, StoreAccessError
from etl.stages.base import Progress, Stage, StageResult
from etl.stages.validate import gx_suites
from etl.stages.validate.clean_texts import CleanTexts

# the suite parameters and the business's own contacts the gate ran with, kept in the version
GATE_FILE = "gate.json"


def business_contacts(config: PipelineConfig, catalog: Catalog) -> list[str]:
    """What the business publishes on purpose: its stores' addresses and phones, its own contacts."""
    values = list(config.deidentify.business_contacts)
    for store in catalog.stores:
        values += [store.address, store.full_address] + ([store.phone] if store.phone else [])
    return [v for v in values if v]


def suite_parameters(config: PipelineConfig, tasks: list[str]) -> dict:
    bounds = config.validate_.bounds
    return {
        **bounds.model_dump(),
        "tasks": tasks,
        "max_variant_share": config.augment.max_share,
        "max_synthesised_share": config.synthesis.max_share,
    }


class ValidateStage(Stage):
    name = "validate"
    unit = "examples"
    id_column = "id"

    def __init__(
        self, config: PipelineConfig, catalog: Catalog, summary, run_dir: Path, memo: Path | None = None, read=True
    ) -> None:
        self.config, self.summary, self.run_dir = config, summary, run_dir
        self.allowed = business_contacts(config, catalog)
        # texts each suite's leak patterns passed in an earlier run (CleanTexts), under `memo`
        self.memo_folder, self.read_memo = memo, read
        self.clean_texts: dict[str, CleanTexts] = {}
        self.results: list[gx_suites.SuiteResult] = []
        self.suites: dict = {}
        self.pages: dict[str, str | None] = {}
        # the preference stage, when the run builds pairs (the registry sets it): its pairs are
        # checked by the preference suite, and the ones a per-row rule fails leave the version
        self.preference = None

    def total_work(self, frame: pl.DataFrame) -> int:
        return len(gx_suites.SUITES)  # the preference suite, when it runs, rides on the last step

    def prepare(self, incoming: int) -> None:
        """Great Expectations and the suites loaded as the run begins (2 s on 2 cores): the
        main process would otherwise wait idle while the de-identification workers load."""
        self.setup(None)

    def setup(self, frame: pl.DataFrame | None) -> None:
        if self.suites:
            return  # loaded by `prepare`
        folder = (
            self.config.resolve(self.config.validate_.suites_dir)
            if self.config.validate_.suites_dir
            else gx_suites.default_suites_dir()
        )
        self.suites = {name: gx_suites.load_suite(suite_file(folder, name)) for name in gx_suites.SUITES}
        own = folder / f"{gx_suites.PREFERENCE}.json"
        pairs_suite = own if own.is_file() else gx_suites.default_suites_dir() / f"{gx_suites.PREFERENCE}.json"
        self.suites[gx_suites.PREFERENCE] = gx_suites.load_suite(pairs_suite)
        self.clean_texts = {
            name: CleanTexts(self.memo_folder, name, suite, self.allowed, self.read_memo)
            for name, suite in self.suites.items()
        }

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        parameters = suite_parameters(self.config, list(self.config.format.tasks))
        records = self._output_of("deidentify")
        ingest = self._check("ingest", gx_suites.ingest_batch(self._output_of("ingest")), parameters)
        progress(1)
        leaky = self._check("deidentified", gx_suites.deidentified_batch(records, self.allowed), parameters)
        drops = self._row_drops(leaky, frame["record_id"], frame)
        if droppable(leaky):  # again on what stays (a caught record may have no example: dedup dropped it)
            records = records.filter(~pl.col("record_id").is_in(leaky_ids(leaky)))
            leaky = self._check("deidentified", gx_suites.deidentified_batch(records, self.allowed), parameters)
        progress(1)
        kept = frame.filter(~pl.col("id").is_in(drops["id"].implode()))
        published = self._check("published", gx_suites.published_batch(kept, self.allowed), parameters)
        more = self._row_drops(published, kept["id"], kept)
        if droppable(published):
            drops, kept = pl.concat([drops, more]), kept.filter(~pl.col("id").is_in(more["id"].implode()))
            published = self._check("published", gx_suites.published_batch(kept, self.allowed), parameters)
        progress(1)
        self.results = [ingest, leaky, published] + self._check_pairs(parameters)
        for clean in self.clean_texts.values():
            clean.memo.keep()
        self._write_results()
        self._stop_if_too_many(drops, frame.height, self.results)
        self._report(drops)
        return StageResult(kept=kept, dropped=drops)

    def _check_pairs(self, parameters: dict) -> list[gx_suites.SuiteResult]:
        """The preference suite on the version's pairs; a pair a per-row rule fails is dropped
        from them (counted under `gate:<rule>`), then the suite runs again on the rest."""
        if self.preference is None or self.preference.pairs.height == 0:
            return []
        result = self._check(
            gx_suites.PREFERENCE, gx_suites.preference_batch(self.preference.pairs, self.allowed), parameters
        )
        if droppable(result):
            for rule, ids in result.failing_rows.items():
                self.preference.drop(ids, f"gate:{rule}")
            batch = gx_suites.preference_batch(self.preference.pairs, self.allowed)
            result = self._check(gx_suites.PREFERENCE, batch, parameters)
        return [result]

    def _check(self, name: str, batch: pl.DataFrame, parameters: dict) -> gx_suites.SuiteResult:
        severity = self.config.validate_.severity.get(name, "fail")
        if name in self.clean_texts:
            return self.clean_texts[name].validate(batch, parameters, severity)
        return gx_suites.validate(name, batch, self.suites[name], parameters, severity)

    def reuse(self) -> dict[str, dict[str, int]]:
        counts = [c.memo.counts() for c in self.clean_texts.values()]
        used = {k: sum(c[k] for c in counts) for k in ("reused", "computed")}
        return {"texts": used} if any(used.values()) else {}

    def _row_drops(self, result: gx_suites.SuiteResult, keys: pl.Series, frame: pl.DataFrame) -> pl.DataFrame:
        """The examples a `fail` suite's per-row checks caught (`keys` holds what the suite's ids
        name in `frame`: the record or the example), with the variants made from them, each with its
        rule as the reason. A `warn` suite, or one that fails a check no row drop mends, drops none."""
        if not droppable(result):
            return empty_drops()
        reasons = pl.DataFrame(
            [
                (key, f"gate:{rule}", describe_rule(result, rule))
                for rule, ids in result.failing_rows.items()
                for key in ids
            ],
            schema={"key": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8},
            orient="row",
        ).unique("key", keep="first", maintain_order=True)
        caught = frame.select("id", "parent_id", key=keys).join(reasons, on="key", how="inner")
        variants = frame.select("id", "parent_id").join(
            caught.select(pl.col("id").alias("parent_id"), "reason", "detail"), on="parent_id", how="inner"
        )
        return pl.concat([caught.select(DROP_COLUMNS), variants.select(DROP_COLUMNS)]).unique("id", keep="first")

    def _stop_if_too_many(self, drops: pl.DataFrame, examples: int, results: list[gx_suites.SuiteResult]) -> None:
        blocking = [r for r in results if not r.success and r.severity == "fail"]
        limit = self.config.validate_.max_gate_drop_share
        too_many = examples and drops.height / examples > limit
        if not blocking and not too_many:
            return
        if too_many:
            head = (
                f"quality gate: the per-row checks failed {drops.height:,} of {examples:,} examples "
                f"({drops.height / examples:.2%}), more than validate.max_gate_drop_share ({limit:.2%}) lets go; "
                "so many mean a broken stage, not a few bad rows: nothing published (latest unchanged):\n  "
            )
            lines = [f"{reason}: {n:,} examples" for reason, n in _reason_counts(drops)]
        else:
            head = "quality gate failed, nothing published (latest unchanged):\n  "
            lines = [f.describe() for r in blocking for f in r.failures]
        raise QualityGateError(
            head
            + "\n  ".join(lines)
            + f"\nResults and Data Docs: {self.run_dir / 'quality'}. Fix the data or the pipeline; "
            "a suite can be set to warn under validate.severity."
        )

    def _report(self, drops: pl.DataFrame) -> None:
        if drops.height:
            counts = ", ".join(f"{reason} {n:,}" for reason, n in _reason_counts(drops))
            self.summary.notices.append(
                f"quality gate dropped {drops.height:,} examples its per-row checks failed ({counts}); "
                "their ids are in dropped.parquet"
            )
        for result in (r for r in self.results if not r.success and r.severity == "warn"):
            self.summary.notices.append(
                f"quality suite {result.suite} failed (severity warn, published anyway): "
                + "; ".join(f.describe() for f in result.failures)
            )

    def summary_fields(self) -> dict:
        return {"quality": {r.suite: quality_summary(r) | {"page": self.pages.get(r.suite)} for r in self.results}}

    def _output_of(self, stage: str) -> pl.DataFrame:
        report = next((s for s in self.summary.stages if s.stage == stage), None)
        if report is None:
            raise QualityGateError(f"the {stage} stage did not run, so its suite cannot be validated")
        return pl.read_parquet(report.output)

    def _write_results(self) -> None:
        folder = self.run_dir / "quality"
        (folder / "validations").mkdir(parents=True, exist_ok=True)
        # what `etl validate DATASET@VERSION` needs to re-run the gate exactly, without the config
        gate = {"parameters": suite_parameters(self.config, list(self.config.format.tasks)), "allowed": self.allowed}
        (folder / GATE_FILE).write_text(json.dumps(gate, indent=2, sort_keys=True), encoding="utf-8")
        for result in self.results:
            (folder / "validations" / f"{result.suite}.json").write_text(
                json.dumps(result.result.to_json_dict(), indent=2, default=str), encoding="utf-8"
            )
        if self.config.validate_.data_docs:
            gx_suites.write_data_docs(self.results, self.suites, folder / "data_docs")
            # each suite's result page, relative to quality/: server-rendered, readable offline
            for result in self.results:
                page = next((folder / "data_docs" / "validations" / result.suite).rglob("*.html"), None)
                self.pages[result.suite] = page.relative_to(folder).as_posix() if page else None


DROP_COLUMNS = ["id", "reason", "detail"]


def droppable(result: gx_suites.SuiteResult) -> bool:
    """A `fail` suite whose only failures are per-row checks: dropping those rows mends it."""
    return result.severity == "fail" and not result.blocking and bool(result.failing_rows)


def empty_drops() -> pl.DataFrame:
    return pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8})


def leaky_ids(result: gx_suites.SuiteResult) -> pl.Series:
    return pl.Series([i for ids in result.failing_rows.values() for i in ids], dtype=pl.Utf8).implode()


def describe_rule(result: gx_suites.SuiteResult, rule: str) -> str:
    """Where a dropped row failed, in words that hold no value of it: suite, expectation, column."""
    failure = next(f for f in result.failures if f.rule == rule)
    return f"{failure.suite}: {failure.expectation} on `{failure.column}`"


def _reason_counts(drops: pl.DataFrame) -> list[tuple[str, int]]:
    counts = drops.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return list(counts.iter_rows())


def quality_summary(result: gx_suites.SuiteResult) -> dict:
    return {
        "success": result.success,
        "severity": result.severity,
        "expectations": result.evaluated,
        "failed": [f.describe() for f in result.failures],
    }


def suite_file(folder: Path, name: str) -> Path:
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ConfigError(
            f"validate.suites_dir: suite file {path} not found; the folder must hold {', '.join(gx_suites.SUITES)} "
            "(.json), as the project's expectations/ does."
        )
    return path


# What each suite reads outside a run, and the shape it reads it in: a hand-edited file may lack one.
TEXT, LIST = "text", "list"
READS = {
    "ingest": {"record_id": TEXT, "source": TEXT, "source_file": TEXT, "turns": LIST},
    "deidentified": {"record_id": TEXT, "turns": LIST},
    "published": {"id": TEXT, "task": TEXT, "split": TEXT, "messages": LIST},
}
FIELDS = {"turns": ("text",), "messages": ("role", "content")}


def shape_problems(frame: pl.DataFrame, suite_name: str) -> list[str]:
    """Why a frame cannot be checked by a suite at all (a missing column, a list stored as text)."""
    problems = []
    for column, kind in READS[suite_name].items():
        if column not in frame.columns:
            problems.append(f"column `{column}` is missing")
            continue
        dtype = frame.schema[column]
        if kind == TEXT and dtype not in (pl.Utf8, pl.Null):
            problems.append(f"column `{column}` is {_named(dtype)}, not text")
        elif kind == LIST and not _is_list_of(dtype, FIELDS[column]):
            problems.append(f"column `{column}` is {_named(dtype)}, not a list of {{{', '.join(FIELDS[column])}}}")
    return problems


def _named(dtype: pl.DataType) -> str:
    return "text" if dtype == pl.Utf8 else str(dtype)


def _is_list_of(dtype: pl.DataType, fields: tuple[str, ...]) -> bool:
    if dtype == pl.Null:
        return True
    if not isinstance(dtype, pl.List) or not isinstance(dtype.inner, pl.Struct):
        return False
    return set(fields) <= {f.name for f in dtype.inner.fields}


def check_frame(
    frame: pl.DataFrame,
    suite_name: str,
    config: PipelineConfig | None,
    catalog: Catalog | None,
    gate: dict | None = None,
) -> gx_suites.SuiteResult:
    """One suite on a frame outside a run (`etl validate`): examples for `published`, records for the
    others. `gate` (a version's quality/gate.json) gives the parameters and allowed contacts it was
    published with; else the config's; else the defaults and none. A frame the suite cannot read
    (a column missing or of another shape) is a failed gate naming the columns, not a traceback."""
    problems = shape_problems(frame, suite_name)
    if problems:
        raise QualityGateError(
            f"suite {suite_name} cannot check these rows: {'; '.join(problems)}. "
            f"It reads {', '.join(READS[suite_name])}: restore the file from the published version."
        )
    settings = config.validate_ if config else ValidateConfig()
    folder = config.resolve(settings.suites_dir) if config and settings.suites_dir else gx_suites.default_suites_dir()
    suites = {name: gx_suites.load_suite(suite_file(folder, name)) for name in gx_suites.SUITES}
    allowed = business_contacts(config, catalog) if config and catalog else []
    if config is not None:
        parameters = suite_parameters(config, list(config.format.tasks))
    else:
        tasks = sorted(frame["task"].drop_nulls().unique()) if "task" in frame.columns else []
        parameters = {**settings.bounds.model_dump(), "tasks": tasks, "max_variant_share": 1.0}
        parameters["max_synthesised_share"] = 1.0
    if gate is not None:
        # a version from an older release may lack a key: what it lacks takes today's default
        allowed = list(gate.get("allowed") or [])
        parameters = parameters | dict(gate.get("parameters") or {})
    if suite_name == "published":
        batch = gx_suites.published_batch(_with_example_columns(frame), allowed)
    elif suite_name == "deidentified":
        batch = gx_suites.deidentified_batch(frame, allowed)
    else:
        batch = gx_suites.ingest_batch(frame)
    return gx_suites.validate(suite_name, batch, suites[suite_name], parameters, "fail")


def _with_example_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Published task files carry only their own columns: the others are null."""
    for column in ("label", "parent_id", "augmentation"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(column))
    return frame


def read_parquet_folder(data: Path) -> tuple[pl.DataFrame, list[Path]]:
    """Every parquet file under `data` (or the one file), as one frame. A file that is not parquet
    is a one-line error naming it (exit 6); files whose columns cannot be put together, a failed
    gate naming them (exit 7); other files in the folder are not examples and are not read."""
    files = sorted(data.rglob("*.parquet")) if data.is_dir() else [data]
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(f"--data {data}: no parquet files there. Point it at a version's data/ folder or a file.")
    frames = []
    for file in files:
        try:
            frames.append(pl.read_parquet(file))
        except pl.exceptions.PolarsError as exc:
            raise StoreAccessError(
                f"cannot read {file}: not a readable parquet file ({type(exc).__name__}); "
                "restore it from the published version or remove it from the folder."
            ) from None
    try:
        return pl.concat(frames, how="diagonal_relaxed"), files
    except pl.exceptions.PolarsError:
        shapes = "; ".join(
            f"{f.name}: {', '.join(f'{k} {v}' for k, v in frame.schema.items())}" for f, frame in zip(files, frames)
        )
        raise QualityGateError(
            f"--data {data}: the files' columns do not fit together ({shapes}); "
            "a version's data/ files all share one schema."
        ) from None


def check_pairs(pairs: pl.DataFrame, gate: dict | None) -> gx_suites.SuiteResult:
    """The preference suite on a published version's pairs (`etl validate DATASET@VERSION`), with
    the business's own contacts the version was published with."""
    suite = gx_suites.load_suite(gx_suites.default_suites_dir() / f"{gx_suites.PREFERENCE}.json")
    allowed = list((gate or {}).get("allowed") or [])
    return gx_suites.validate(gx_suites.PREFERENCE, gx_suites.preference_batch(pairs, allowed), suite, {}, "fail")
