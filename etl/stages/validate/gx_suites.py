"""Great Expectations at the boundary: suites in expectations/, frames turned into what they check, results.

Three suites, each GX 1.x's own JSON in `expectations/` (reviewed in pull
requests: fixed ids, fixed order, saved by `save_suite` so a reload and
re-save is byte-identical):

    ingest        canonical records after ingest: ids unique and present,
                  `source` in the allowed set, every record with a turn, the
                  record count within `validate.bounds`
    deidentified  every turn after de-identification: no e-mail, phone, card,
                  SSN or street address pattern left (surrogates sit in
                  reserved ranges, surrogates.py; the business's own contacts
                  from the catalog and `deidentify.business_contacts` are
                  blanked first: they are published on purpose)
    published     the examples about to be published: `messages` well formed
                  (roles system, user, then alternating, ending on assistant;
                  no empty content; lengths within bounds), ids unique,
                  `split` in {train, eval}, no augmented or synthesised row in
                  eval, augmented and synthesised shares per task under their
                  caps, labels in their set, per-task counts within bounds,
                  and the de-identified patterns again on every message

GX does not read polars: each checkpoint's frame is reduced to the columns
its suite reads (a few derived in polars: the role sequence, content
lengths, per-task shares) and handed over as one pandas batch. Failing values
are shown by value only where the value is not customer text (a split, a role
sequence); in a text column only the failing rows' ids are shown or stored.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SUITES = ("ingest", "deidentified", "published")
# the preference pairs' suite, run when a version has pairs (a suites_dir without it uses ours)
PREFERENCE = "preference"
PACKAGE = Path(__file__).resolve().parents[2]  # etl/
EXAMPLES_SHOWN = 3

log = logging.getLogger("etl")


def default_suites_dir() -> Path:
    """The project's expectations/ folder (beside the etl package in a checkout or editable install)."""
    return PACKAGE.parent / "expectations"


# ------------------------------------------------------------------ suites as reviewed JSON


def load_suite(path: Path):
    import great_expectations as gx

    data = json.loads(path.read_text(encoding="utf-8"))
    return gx.ExpectationSuite(**data)


def suite_json(suite) -> str:
    """The suite as committed: GX's own JSON, its version stamp left out (it changes with upgrades)."""
    data = suite.to_json_dict()
    data["meta"] = {k: v for k, v in (data.get("meta") or {}).items() if k != "great_expectations_version"}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save_suite(suite, path: Path) -> None:
    path.write_text(suite_json(suite), encoding="utf-8")


# ------------------------------------------------------------------ frames at the boundary


def blank(texts: pl.Expr, allowed: list[str]) -> pl.Expr:
    """The business's own published contacts removed before the leak patterns run."""
    for value in sorted(allowed, key=len, reverse=True):
        texts = texts.str.replace_all(value, " ", literal=True)
    return texts


def ingest_batch(records: pl.DataFrame) -> pl.DataFrame:
    return records.select("record_id", "source", "source_file", turns=pl.col("turns").list.len())


def deidentified_batch(records: pl.DataFrame, allowed: list[str]) -> pl.DataFrame:
    turns = records.select("record_id", pl.col("turns").list.eval(pl.element().struct.field("text")).alias("text"))
    return turns.explode("text").drop_nulls("text").with_columns(text=blank(pl.col("text"), allowed))


def published_batch(examples: pl.DataFrame, allowed: list[str]) -> pl.DataFrame:
    contents = pl.col("messages").list.eval(pl.element().struct.field("content"))
    lengths = contents.list.eval(pl.element().str.len_chars())
    augmented = pl.col("parent_id").is_not_null() | pl.col("augmentation").is_not_null()
    variant = pl.col("parent_id").is_not_null()
    synthesised = pl.col("parent_id").is_null() & pl.col("augmentation").is_not_null()
    train = pl.col("split") == "train"
    frame = examples.select(
        "id",
        "task",
        "split",
        label=pl.col("label") if "label" in examples.columns else pl.lit(None, pl.Utf8),
        roles=pl.col("messages").list.eval(pl.element().struct.field("role")).list.join(","),
        shortest_content=lengths.list.min(),
        longest_content=lengths.list.max(),
        text=blank(contents.list.join("\n"), allowed),
        augmented_in_eval=augmented & ~train,
        task_rows=pl.len().over("task"),
        task_variant_share=(variant & train).sum().over("task") / train.sum().over("task").clip(1),
        task_synthesised_share=(synthesised & train).sum().over("task") / train.sum().over("task").clip(1),
    )
    return frame


def preference_batch(pairs: pl.DataFrame, allowed: list[str]) -> pl.DataFrame:
    """One row a preference pair (etl/stages/preference/): what `preference.json` reads."""

    def joined(column: str) -> pl.Expr:
        return pl.col(column).list.eval(pl.element().struct.field("content")).list.join("\n")

    return pairs.select(
        "id",
        "pair_kind",
        "split",
        prompt_roles=pl.col("prompt").list.eval(pl.element().struct.field("role")).list.join(","),
        chosen_chars=joined("chosen").str.strip_chars().str.len_chars(),
        rejected_chars=joined("rejected").str.strip_chars().str.len_chars(),
        chosen_differs=joined("chosen").str.strip_chars() != joined("rejected").str.strip_chars(),
        synthetic_in_eval=pl.col("synthetic") & (pl.col("split") != "train"),
        sides_of_record=pl.col("split").n_unique().over("record_id"),
        text=blank(pl.concat_str([joined("prompt"), joined("chosen"), joined("rejected")], separator="\n"), allowed),
    )


# ------------------------------------------------------------------ validation


# An expectation whose meta says `"on_failure": "drop_row"` judges one row at a time (a leak, a
# malformed chat): the rows it fails can leave the run with a reason while the rest publishes.
DROP_ROW = "drop_row"
# Columns that hold customer text: a failing value there is never shown or stored, only its row's id.
TEXT_COLUMNS = frozenset({"text"})
# GX's failing-value lists: what a result would otherwise carry of the data itself
VALUE_LISTS = ("partial_unexpected_list", "unexpected_list")
COUNT_LISTS = ("partial_unexpected_counts",)
INDEX_LISTS = ("partial_unexpected_index_list", "unexpected_index_list")


@dataclass
class Failure:
    suite: str
    expectation: str
    column: str | None
    observed: str
    # failing values where they are safe to show (a split, a role sequence), else failing row ids
    examples: list[str] = field(default_factory=list)
    # the suite's name for the rule when the expectation judges single rows (drop_row), else None
    rule: str | None = None

    def describe(self) -> str:
        where = f" on `{self.column}`" if self.column else ""
        shown = f"; e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"{self.suite}: {self.expectation}{where} failed ({self.observed}){shown}"


@dataclass
class SuiteResult:
    suite: str
    success: bool
    severity: str  # fail | warn
    evaluated: int
    failures: list[Failure]
    result: object  # the GX ExpectationSuiteValidationResult, no customer text left in it
    # rule -> ids of the rows a drop_row expectation failed (every one, not a sample)
    failing_rows: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Failure]:
        """Failures no row drop can mend: table-level checks, and row checks not marked drop_row."""
        return [f for f in self.failures if f.rule is None]


def id_column(batch: pl.DataFrame) -> str:
    return "id" if "id" in batch.columns else "record_id"


def validate(name: str, batch: pl.DataFrame, suite, parameters: dict, severity: str) -> SuiteResult:
    """Run one suite on one batch (converted once, through Arrow to pandas).

    Each failing value is reported by its row's id (GX's unexpected_index_column_names), every one for
    a drop_row expectation; values of text columns are then removed from the result, so neither a
    message, a stored result nor a Data Docs page carries customer text."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # our own bar counts the suites
    definition = (
        context.data_sources.add_pandas(f"etl_{name}")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
    )
    key = id_column(batch)
    result_format = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [key],
        "return_unexpected_index_query": False,
    }
    result = definition.get_batch(batch_parameters={"dataframe": batch.to_pandas()}).validate(
        suite, expectation_parameters=parameters, result_format=result_format
    )
    failed = [outcome for outcome in result.results if not outcome.success]
    failures = [_failure(name, outcome, key) for outcome in failed]
    failing_rows = {f.rule: _failing_ids(outcome, key) for f, outcome in zip(failures, failed) if f.rule}
    scrub(result, key)
    return SuiteResult(name, bool(result.success), severity, len(result.results), failures, result, failing_rows)


def _quiet_gx() -> None:
    """GX's loggers at ERROR, its own children included (some set a level of their own, and one
    says at INFO where it puts its ephemeral docs): not the operator's business, nor the JSON log's."""
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _failure(suite: str, outcome, key: str) -> Failure:
    config = outcome.expectation_config
    details = outcome.result or {}
    column = config.kwargs.get("column")
    if "unexpected_count" in details:
        observed = f"{details['unexpected_count']:,} of {details.get('element_count', 0):,} values unexpected"
    else:
        observed = f"observed {details.get('observed_value')!r}"
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        observed = f"error: {outcome.exception_info.get('exception_message')}"
    if column in TEXT_COLUMNS:
        shown = [f"{key} {i}" for i in _failing_ids(outcome, key)[:EXAMPLES_SHOWN]]
    else:
        shown = [repr(v) for v in (details.get("partial_unexpected_list") or [])[:EXAMPLES_SHOWN]]
    meta = config.meta or {}
    rule = meta.get("rule") if meta.get("on_failure") == DROP_ROW else None
    return Failure(suite, config.type, column, observed, shown, rule)


def _failing_ids(outcome, key: str) -> list[str]:
    """Ids of the rows an expectation failed, each once, in the batch's order."""
    rows = (outcome.result or {}).get("unexpected_index_list") or []
    return list(dict.fromkeys(str(row[key]) for row in rows if isinstance(row, dict) and row.get(key) is not None))


def scrub(result, key: str) -> None:
    """What GX keeps of failing values, cut down to what may be stored and shown: for a text column
    nothing but the first row ids; for others the partial value lists; never the complete lists."""
    for outcome in result.results:
        details = outcome.result or {}
        text = outcome.expectation_config.kwargs.get("column") in TEXT_COLUMNS
        for name in VALUE_LISTS + COUNT_LISTS:
            if name in details and (text or not name.startswith("partial")):
                details[name] = []
        for name in INDEX_LISTS:
            if name in details:
                rows = details[name] if name.startswith("partial") else []
                details[name] = [{key: row.get(key)} for row in rows if isinstance(row, dict)]


def leak_patterns(suite) -> list[str]:
    """The regexes of the suite's not-match expectations (what the leak scan looks for)."""
    out: list[str] = []
    for expectation in suite.expectations:
        kwargs = expectation.configuration.kwargs
        out += list(kwargs.get("regex_list") or [])
    return out


# ------------------------------------------------------------------ Data Docs


def write_data_docs(results: list[SuiteResult], suites: dict, folder: Path) -> Path:
    """GX's own Data Docs site for these results, under `folder` (index.html at its top)."""
    import shutil
    import tempfile

    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    with tempfile.TemporaryDirectory() as tmp:
        context = gx.get_context(mode="file", project_root_dir=tmp)
        for outcome in results:
            suite = context.suites.add(gx.ExpectationSuite(**json.loads(suite_json(suites[outcome.suite]))))
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                run_id=outcome.result.meta.get("run_id") if outcome.result.meta else None,
                batch_identifier=outcome.suite,
            )
            context.validation_results_store.set(key, outcome.result)
        context.build_data_docs()
        site = Path(tmp) / "gx" / "uncommitted" / "data_docs" / "local_site"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(site, folder)
    make_offline(folder)
    return folder / "index.html"


# Data Docs' CDN files and the local copies that stand in for them (data_docs_assets/README.md beside this file).
ASSETS = Path(__file__).resolve().parent / "data_docs_assets"
VENDORED = {
    "jquery-": "js/jquery.min.js",
    "popper.min.js": "js/popper.min.js",
    "bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    "bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "bootstrap-table-filter-control.min.js": "js/bootstrap-table-filter-control.min.js",
    "bootstrap-table-filter-control.min.css": "css/bootstrap-table-filter-control.min.css",
    "dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    "dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    "font-awesome/": "css/all.min.css",
    "bootstrap-datepicker.min.js": "js/bootstrap-datepicker.min.js",
    "bootstrap-datepicker.min.css": "css/bootstrap-datepicker.min.css",
}
# a page opened from disk has no origin: a script tag asking for CORS (integrity checks) is blocked there
_CORS_ATTRIBUTES = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')
_REMOTE = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>(?:\s*</script>)?')
_LOCAL_STATIC = re.compile(r'\b(src|href)="(?:\./|(?:\.\./)+)?static/')
_REMOTE_LOGO = re.compile(r'src="https://great-expectations-web-assets[^"]*"')


def make_offline(site: Path) -> None:
    """Every page of the site reads its scripts and styles from the site itself.

    A CDN file with a local copy is pointed at it; one without (vega charts,
    a dark theme) is dropped, so a page never waits on the
    network; the logo, fetched remotely with the data context's id in its
    query, is GX's local copy.
    """
    import shutil

    vendor = site / "static" / "vendor"
    shutil.copytree(ASSETS, vendor, ignore=shutil.ignore_patterns("README.md", "licenses"), dirs_exist_ok=True)
    shutil.copytree(ASSETS / "licenses", vendor / "licenses", dirs_exist_ok=True)
    for page in site.rglob("*.html"):
        up = "../" * (len(page.relative_to(site).parts) - 1)
        page.write_text(_localise(page.read_text(encoding="utf-8"), up), encoding="utf-8")


def _localise(html: str, up: str) -> str:
    """One page's remote assets made local; `up` leads from the page to the site's top."""
    html = _REMOTE.sub(lambda m: _local_tag(m, up), html)
    html = _REMOTE_LOGO.sub(f'src="{up}static/images/logo-long.png"', html)
    # GX writes some of its own static paths one folder short on the deeper pages (the favicon)
    return _LOCAL_STATIC.sub(lambda m: f'{m.group(1)}="{up}static/', html)


def _local_tag(match: re.Match, up: str) -> str:
    url = match.group(2)
    local = next((path for marker, path in VENDORED.items() if marker in url), None)
    if local is None:
        return ""
    return _CORS_ATTRIBUTES.sub("", match.group(0).replace(url, f"{up}static/vendor/{local}"))
