"""What a person sees: progress bars while a run works, a table per stage when it ends."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.run.accounts import ProgressHooks, RunSummary


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
    """The stage table for a terminal: drops by reason in one column, the stage's other figures
    (what it found, made or merged: not drops) in the next."""
    table = Table(title=f"run {summary.run_id}: {summary.dataset}", title_justify="left")
    for column, justify in STAGE_COLUMNS:
        table.add_column(column, justify=justify)
    for report in summary.stages:
        table.add_row(*_stage_cells(report))
        if report.produces:  # format: the stages after it count examples
            table.add_row(f"[dim]-> {report.produces}[/dim]", "", f"{report.handed_on:,}", "", "", "", "", "")
            table.add_section()
    table.add_section()
    table.add_row(*_total_cells(summary))
    return table


STAGE_COLUMNS = [
    ("stage", "left"),
    ("in", "right"),
    ("kept", "right"),
    ("dropped", "right"),
    ("dropped by reason", "left"),
    ("figures (not drops)", "left"),
    ("reused / computed", "left"),
    ("seconds", "right"),
]


def _stage_cells(report) -> list[str]:
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in report.dropped_by_reason.items()) or "-"
    figures = ", ".join(f"{name} {count:,}" for name, count in report.counts.items() if count) or "-"
    unit = "" if report.unit == "records" else f" ({report.unit})"
    return [
        f"{report.stage}{unit}",
        f"{report.rows_in:,}",
        f"{report.kept:,}",
        f"{report.dropped:,}",
        reasons,
        figures,
        reuse_cell(report.reuse),
        f"{report.seconds:.2f}",
    ]


def reuse_cell(reuse: dict[str, dict[str, int]]) -> str:
    """ "records 14,641 / 95; vectors 3,886 / 0": taken from earlier runs / computed tonight."""
    return "; ".join(f"{what} {n['reused']:,} / {n['computed']:,}" for what, n in reuse.items()) or "-"


def _total_cells(summary: RunSummary) -> list[str]:
    return [
        "total",
        f"{summary.rows_in:,}",
        f"{summary.rows_kept:,}",
        f"{summary.rows_dropped:,}",
        "raw rows and records",
        "-",
        "-",
        f"{summary.seconds:.2f}",
    ]


def stage_lines(summary: RunSummary) -> list[str]:
    """The stage table as plain lines, for a log (cron, CI: no terminal, any width): one line a
    stage, never wrapped, each figure named, so a line can be read or grepped on its own."""
    lines = [f"run {summary.run_id}: {summary.dataset}"]
    for report in summary.stages:
        stage, rows_in, kept, dropped, reasons, figures, reused, seconds = _stage_cells(report)
        line = f"  {stage}: in {rows_in}, kept {kept}, dropped {dropped}"
        line += f" ({reasons})" if reasons != "-" else ""
        line += f"; figures: {figures}" if figures != "-" else ""
        line += f"; reused / computed: {reused}" if reused != "-" else ""
        lines.append(f"{line}; {seconds} s")
        if report.produces:
            lines.append(f"  -> {report.handed_on:,} {report.produces} built")
    total = _total_cells(summary)
    lines.append(f"  total: in {total[1]}, kept {total[2]}, dropped {total[3]} (raw rows and records); {total[7]} s")
    return lines


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
    if console.is_terminal:
        console.print(stage_table(summary))
    else:
        for line in stage_lines(summary):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    holds = "[green]holds[/green]" if summary.invariant_holds else "[red]BROKEN[/red]"
    console.print(
        f"accounting: {summary.rows_in:,} in = {summary.rows_kept:,} kept + {summary.rows_dropped:,} dropped: {holds}"
    )
    _print_inputs(console, summary)
    _print_quarantine(console, quarantine_lines)
    _print_examples(console, summary)
    if summary.publish:
        _print_published(console, summary)
    console.print(f"run folder: {summary.run_dir}", markup=False, highlight=False, soft_wrap=True)


def _print_inputs(console: Console, summary: RunSummary) -> None:
    """Notices, the files read, the vectors embedded, files not in UTF-8 or with a byte-order mark."""
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


def _print_quarantine(console: Console, quarantine_lines: list[str]) -> None:
    if not quarantine_lines:
        return
    console.print(
        f"quarantined {len(quarantine_lines)} malformed row(s) (raw text kept in quarantine.parquet, not shown):",
        soft_wrap=True,
    )
    for line in quarantine_lines[:25]:
        console.print(f"  {line}")
    if len(quarantine_lines) > 25:
        console.print(f"  ... and {len(quarantine_lines) - 25} more")


def _print_examples(console: Console, summary: RunSummary) -> None:
    """Examples per task and split, what augmentation and synthesis made, what was set aside."""
    if summary.examples:
        tasks = ", ".join(
            f"{task} {sum(splits.values()):,} ({splits.get('train', 0):,}/{splits.get('eval', 0):,})"
            for task, splits in summary.examples.items()
        )
        console.print(f"examples (train/eval): {tasks}", soft_wrap=True)
    made = (
        ("augmented (train only)", summary.augmentation.get("variants")),
        ("synthesised from the catalog (train only)", summary.synthesis.get("examples")),
    )
    for title, per_task in made:
        if per_task:
            line = "; ".join(
                f"{task} " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items()))
                for task, kinds in sorted(per_task.items())
            )
            console.print(f"{title}: {line}", soft_wrap=True)
    for name, count in summary.set_aside.items():
        console.print(f"set aside: {count:,} conversations ({name}) for the preference pairs")


def _print_published(console: Console, summary: RunSummary) -> None:
    p = summary.publish
    if p["published"]:
        console.print(
            f"[green]published[/green] {summary.dataset} {p['version']} at {escape(str(p['path']))} "
            f"(fingerprint {p['fingerprint'][:12]})",
            soft_wrap=True,
        )
    else:
        console.print(
            f"nothing new to publish: {p['version']} already holds fingerprint {p['fingerprint'][:12]} "
            f"({escape(str(p['path']))})",
            soft_wrap=True,
        )
    for line in report_pages(Path(p["path"])):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def report_pages(version: Path) -> list[str]:
    """Where a version's pages are, for a person to open: the curation report and GX's Data Docs."""
    pages = [("curation report", version / "quality" / "report.html")]
    pages.append(("Data Docs", version / "quality" / "data_docs" / "index.html"))
    return [f"{name}: {path}" for name, path in pages if path.is_file()]


def _some(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more file(s)"
