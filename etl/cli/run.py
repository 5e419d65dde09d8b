"""`etl run` (with --dry-run) and `etl purge-runs`: the nightly job and its work folder."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from etl.cli.common import Interrupted, Process, console, errors
from etl.config import PipelineConfig, load_config
from etl.errors import NOTHING_NEW, ConfigError, EtlError, StoreAccessError

FULL_BELOW_BYTES = 1 << 20
PROBLEMS_SHOWN = 10

PipelineOption = Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML.")]
WorkOption = Annotated[
    Path | None, typer.Option(help="Work folder for run folders; overrides `work_dir:` (default: <store>-work).")
]


def run(
    config: PipelineOption = Path("sample_data/pipeline.yaml"),
    store: Annotated[Path | None, typer.Option(help="Store folder; overrides `store:` in the config.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the run summary as JSON to this file ('-' for stdout).")
    ] = None,
    work: WorkOption = None,
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
    _set_up_logging(log_format == "json")
    # a scheduler's SIGTERM (a timeout, a cancelled task) ends the run like Ctrl-C: one line, exit 130
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    pipeline = load_config(config)
    if dry_run:
        _dry_run(pipeline)
        return
    _check_json_target(json_out)
    summary, exit_code = _publish(pipeline, store, work, full, log_format == "json")
    if json_out is not None:
        _write_json(json_out, summary.to_json())
    if exit_code:
        raise typer.Exit(exit_code)


def _set_up_logging(json_logs: bool) -> None:
    from rich.logging import RichHandler

    from etl.run.summary import JsonFormatter

    if json_logs:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=errors, show_path=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)


def _publish(pipeline: PipelineConfig, store: Path | None, work: Path | None, full: bool, json_logs: bool):
    """The run itself, its summary printed; (summary, exit code). On Ctrl-C, says whether a version
    was published; on a library's error with no errno while the store's device is full (polars
    writing to a full disk says "transport error"), says that instead."""
    from etl.run.runner import run_pipeline
    from etl.run.summary import JsonLog, RichProgress, print_summary
    from etl.store import Store

    target = Store(pipeline.store_dir(store), pipeline.dataset)
    pipeline.work_root(target.root, work)  # a work folder inside the store is refused before any work
    before = target.latest()
    try:
        with JsonLog() if json_logs else RichProgress(console) as hooks:
            summary = run_pipeline(
                pipeline, store=store, hooks=hooks, work=work, full=full, start_early=Process.one_command
            )
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_state(target, before)) from None
    except Exception as exc:
        if isinstance(exc, OSError | EtlError) or (full_device := _full_device(target.root)) is None:
            raise
        raise StoreAccessError(
            f"no space left on the device holding {full_device}. Free space there, or point --store elsewhere."
        ) from None
    exit_code = 0 if not summary.publish or summary.publish["published"] else NOTHING_NEW
    if json_logs:
        hooks.run_end(summary, exit_code)
    else:
        quarantine = pl.read_parquet(Path(summary.run_dir) / "quarantine.parquet")
        lines = [f"{r['source_file']}:{r['source_line']}  {r['error_code']}" for r in quarantine.iter_rows(named=True)]
        print_summary(console, summary, lines)
    return summary, exit_code


def _full_device(root: Path) -> Path | None:
    """The store folder when its device has less than 1 MiB free."""
    folder = Path(root).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return folder if shutil.disk_usage(folder).free < FULL_BELOW_BYTES else None
    except OSError:
        return None


def _interrupted_state(target, before: str | None) -> str:
    after = target.latest()
    if after != before:
        return f"stopped after publishing {target.dataset} {after}; it is complete and latest points to it."
    return f"nothing was published; latest is still {before or 'unset'}."


def _dry_run(pipeline: PipelineConfig) -> None:
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


def purge_runs(
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
            help="Also remove the incremental cache, the kept sentence vectors and what stages kept "
            "(the next run reads, embeds and computes everything).",
        ),
    ] = False,
) -> None:
    """Remove run folders (raw text, quarantine, dropped rows) of the config's dataset, all but the newest KEEP."""
    from etl.run.work_folder import WorkFolder

    pipeline = load_config(config)
    folder = WorkFolder(pipeline.work_root(pipeline.store_dir(store), work), pipeline.dataset)
    before = len(folder.run_folders())
    removed = folder.purge_runs(keep)
    console.print(f"removed {len(removed)} of {before} run folder(s) of {pipeline.dataset} in {folder.runs}")
    if not cache:
        return
    if folder.purge_cache():
        console.print(f"removed the incremental cache {folder.cache}; the next run reads every input file")
    if folder.purge_vectors():
        console.print(f"removed the kept sentence vectors {folder.vectors}; the next run embeds every text")
    if folder.purge_memo():
        console.print(f"removed what stages kept {folder.memo}; the next run computes everything")
