"""What a person sees: progress bars while a run works, a table per stage when it ends."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.runner import ProgressHooks, RunSummary


class RichProgress(ProgressHooks):
    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(stage, total=max(total, 1))
        self.tasks[stage] = task
        return lambda n: self.progress.advance(task, n)

    def finish(self, stage: str) -> None:
        task = self.tasks[stage]
        self.progress.update(task, completed=self.progress.tasks[task].total)


class JsonFormatter(logging.Formatter):
    """Log records as the same JSON lines as JsonLog's events."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return json.dumps({"time": when, "event": "log", "level": record.levelname, "text": record.getMessage()})


class JsonLog(ProgressHooks):
    """`etl run --log-format json`: one JSON object a line on stderr, for a scheduler's log store.

    Events: `stage_start` (stage, total units of work), `stage_end` (stage, seconds),
    `notice`, and `run_end` (the counts, what was published, the exit code). Counts and
    names only, never customer text, as everywhere.
    """

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.began: dict[str, float] = {}

    def __enter__(self) -> JsonLog:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def emit(self, event: str, **fields) -> None:
        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        self.began[stage] = time.perf_counter()
        self.emit("stage_start", stage=stage, total=total)
        return lambda n: None

    def finish(self, stage: str) -> None:
        self.emit("stage_end", stage=stage, seconds=round(time.perf_counter() - self.began.pop(stage, 0.0), 3))

    def run_end(self, summary: RunSummary, exit_code: int) -> None:
        for notice in summary.notices:
            self.emit("notice", text=notice)
        self.emit(
            "run_end",
            dataset=summary.dataset,
            run_id=summary.run_id,
            rows_in=summary.rows_in,
            rows_kept=summary.rows_kept,
            rows_dropped=summary.rows_dropped,
            stages=[
                {"stage": r.stage, "unit": r.unit, "in": r.rows_in, "kept": r.kept, "dropped": r.dropped}
                for r in summary.stages
            ],
            publish={k: v for k, v in (summary.publish or {}).items() if k != "path"} or None,
            seconds=summary.seconds,
            exit_code=exit_code,
        )


def stage_table(summary: RunSummary) -> Table:
    table = Table(title=f"run {summary.run_id}: {summary.dataset}", title_justify="left")
    table.add_column("stage")
    table.add_column("in", justify="right")
    table.add_column("kept", justify="right")
    table.add_column("dropped", justify="right")
    table.add_column("dropped by reason")
    table.add_column("seconds", justify="right")
    for report in summary.stages:
        _add_stage_row(table, report)
        if report.produces:  # format: the stages after it count examples
            table.add_row(
                f"[dim]-> {report.produces}[/dim]",
                "",
                f"{report.handed_on:,}",
                "",
                f"[dim]{report.produces} built[/dim]",
                "",
            )
            table.add_section()
    table.add_section()
    table.add_row(
        "total",
        f"{summary.rows_in:,}",
        f"{summary.rows_kept:,}",
        f"{summary.rows_dropped:,}",
        "raw rows and records",
        f"{summary.seconds:.2f}",
    )
    return table


def _add_stage_row(table: Table, report) -> None:
    reasons = ", ".join(f"{reason} {count}" for reason, count in report.dropped_by_reason.items()) or "-"
    counts = ", ".join(f"{name} {count}" for name, count in report.counts.items() if count)
    table.add_row(
        report.stage if report.unit == "records" else f"{report.stage} [dim]({report.unit})[/dim]",
        f"{report.rows_in:,}",
        f"{report.kept:,}",
        f"{report.dropped:,}",
        reasons + (f"\n[dim]{counts}[/dim]" if counts else ""),
        f"{report.seconds:.2f}",
    )


def inputs_line(inputs: dict) -> str:
    """What the run read: "read 1 file (reviews_new.csv); 6 unchanged files carried (1,204 records)"."""
    read = inputs["files_read"]
    line = f"read {len(read)} file(s)" + (f" ({escape(_some(read))})" if read else "")
    if inputs["files_carried"]:
        line += (
            f"; {inputs['files_carried']} unchanged file(s) carried from the work folder's cache"
            f" ({inputs['records_carried']:,} records; etl run --full reads them again)"
        )
    return line


def vectors_line(counts: dict) -> str:
    """ "sentence vectors: 120 texts embedded, 5,301 kept from the last run" """
    line = f"sentence vectors: {counts['embedded']:,} text(s) embedded"
    if counts["kept"]:
        line += f", {counts['kept']:,} kept from the last run (etl purge-runs --cache removes them)"
    return line


def print_summary(console: Console, summary: RunSummary, quarantine_lines: list[str]) -> None:
    console.print(stage_table(summary))
    holds = "[green]holds[/green]" if summary.invariant_holds else "[red]BROKEN[/red]"
    console.print(
        f"accounting: {summary.rows_in:,} in = {summary.rows_kept:,} kept + {summary.rows_dropped:,} dropped: {holds}"
    )
    for notice in summary.notices:
        console.print(f"[yellow]notice[/yellow] {escape(notice)}", highlight=False, soft_wrap=True)
    if summary.inputs:
        console.print(inputs_line(summary.inputs), highlight=False, soft_wrap=True)
    if any(summary.embeddings.values()):
        console.print(vectors_line(summary.embeddings), highlight=False, soft_wrap=True)
    for kind, tally in summary.sources.items():
        for encoding, files in tally["decoded_as"].items():
            console.print(f"[yellow]notice[/yellow] {kind}: {_some(files)} not UTF-8, read as {encoding}")
        if tally["bom_stripped"]:
            console.print(
                f"[yellow]notice[/yellow] {kind}: byte-order mark removed from {_some(tally['bom_stripped'])}"
            )
    if quarantine_lines:
        console.print(
            f"quarantined {len(quarantine_lines)} malformed row(s) (raw text kept in quarantine.parquet, not shown):"
        )
        for line in quarantine_lines[:25]:
            console.print(f"  {line}")
        if len(quarantine_lines) > 25:
            console.print(f"  ... and {len(quarantine_lines) - 25} more")
    if summary.examples:
        tasks = ", ".join(
            f"{task} {sum(splits.values()):,} ({splits.get('train', 0):,}/{splits.get('eval', 0):,})"
            for task, splits in summary.examples.items()
        )
        console.print(f"examples (train/eval): {tasks}")
    if summary.augmentation.get("variants"):
        made = "; ".join(
            f"{task} " + ", ".join(f"{method} {n:,}" for method, n in sorted(methods.items()))
            for task, methods in sorted(summary.augmentation["variants"].items())
        )
        console.print(f"augmented (train only): {made}", soft_wrap=True)
    if summary.synthesis.get("examples"):
        made = "; ".join(
            f"{task} " + ", ".join(f"{intent} {n:,}" for intent, n in sorted(intents.items()))
            for task, intents in sorted(summary.synthesis["examples"].items())
        )
        console.print(f"synthesised from the catalog (train only): {made}", soft_wrap=True)
    for name, count in summary.set_aside.items():
        console.print(f"set aside: {count:,} conversations ({name}) for a later preference dataset")
    if summary.publish:
        p = summary.publish
        if p["published"]:
            console.print(
                f"[green]published[/green] {summary.dataset} {p['version']} at {p['path']} (fingerprint {p['fingerprint'][:12]})"
            )
        else:
            console.print(
                f"nothing new to publish: {p['version']} already holds fingerprint {p['fingerprint'][:12]} ({p['path']})"
            )
    console.print(f"run folder: {summary.run_dir}")


def _some(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more file(s)"
