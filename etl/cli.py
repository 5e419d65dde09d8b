"""The `etl` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console

from etl.config import ConfigError, load_config

app = typer.Typer(
    name="etl",
    help="Curated, de-identified, versioned instruction datasets from customer text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="Pipeline YAML.")] = Path("sample_data/pipeline.yaml"),
    store: Annotated[Path | None, typer.Option(help="Store folder; overrides `store:` in the config.")] = None,
) -> None:
    """Run the pipeline on the configured sources and print a table per stage."""
    from etl.report import RichProgress, print_summary
    from etl.runner import InvariantError, run_pipeline

    try:
        pipeline = load_config(config)
        with RichProgress(console) as hooks:
            summary = run_pipeline(pipeline, store=store, hooks=hooks)
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except InvariantError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(3) from None
    quarantine = pl.read_parquet(Path(summary.run_dir) / "quarantine.parquet")
    lines = [f"{r['source_file']}:{r['source_line']}  {r['error_code']}" for r in quarantine.iter_rows(named=True)]
    print_summary(console, summary, lines)


@app.command("sample-data")
def sample_data(
    out: Annotated[Path, typer.Option(help="Folder to write the raw inputs into.")] = Path("sample_data"),
    scale: Annotated[int, typer.Option(min=1, help="Multiplier on the default sizes; 1 writes the checked-in files.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and scale, same files.")] = 7,
) -> None:
    """Write a realistic raw corpus of a meal-prep company (reviews, chats, FAQs, calls, menu, stores)."""
    from etl.sample_data import write_sample_data

    counts = write_sample_data(out, scale=scale, seed=seed)
    for name, count in counts.items():
        console.print(f"{name:<16} {count:>8,}")
    console.print(f"written to {out}")


if __name__ == "__main__":
    app()
