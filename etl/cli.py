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
    from etl.store import StoreError

    import logging

    from rich.logging import RichHandler

    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=errors, show_path=False)], force=True)
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
    except StoreError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(4) from None
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


StoreOption = Annotated[Path | None, typer.Option("--store", help="Store folder (default: the config's store, $ETL_STORE, or ./store).")]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline YAML whose store to use.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _store_root(store: Path | None, config: Path | None) -> Path:
    from etl.api import default_store

    if store is not None:
        return store
    if config is not None:
        return load_config(config).store_dir()
    return default_store()


def _split_ref(ref: str) -> tuple[str, str]:
    dataset, _, version = ref.partition("@")
    return dataset, version or "latest"


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def versions(
    dataset: Annotated[str | None, typer.Argument(help="Dataset name; all datasets when left out.")] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List published versions: created, examples, fingerprint, parent."""
    import json

    from rich.table import Table

    from etl.store import Store

    root = _store_root(store, config)
    names = [dataset] if dataset else sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    rows = []
    for name in names:
        target = Store(root, name)
        latest = target.latest()
        for version in target.versions():
            manifest = target.manifest(version)
            total = sum(sum(splits.values()) for splits in manifest["counts"]["examples"].values())
            rows.append({"dataset": name, "version": version, "latest": version == latest, "created_at": manifest["created_at"],
                         "examples": total, "fingerprint": manifest["fingerprint"], "parent": manifest["parent"]})
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print(f"no published versions in {root}")
        return
    table = Table()
    for column in ("dataset", "version", "created", "examples", "fingerprint", "parent"):
        table.add_column(column, justify="right" if column == "examples" else "left")
    for row in rows:
        table.add_row(row["dataset"], row["version"] + (" (latest)" if row["latest"] else ""), row["created_at"],
                      f"{row['examples']:,}", row["fingerprint"][:12], row["parent"] or "-")
    console.print(table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(metavar="DATASET[@VERSION]", help="e.g. healthy-bites@v2; latest when no version.")],
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Counts per task and split, lineage and the curation summary of one version."""
    from rich.table import Table

    from etl.store import Store, StoreError

    dataset, version = _split_ref(ref)
    target = Store(_store_root(store, config), dataset)
    try:
        name = target.resolve(version)
        manifest = target.manifest(name)
    except StoreError as exc:
        _fail(str(exc))
    console.print(f"[bold]{dataset} {name}[/bold]{' (latest)' if target.latest() == name else ''}  {target.path(name)}")
    console.print(f"created {manifest['created_at']} by run {manifest['run_id']}, code {manifest['code_version']}")
    console.print(f"parent {manifest['parent'] or '-'}   fingerprint {manifest['fingerprint']}   config {manifest['config_hash'][:12]}")
    console.print(f"inputs: {len(manifest['inputs'])} files, {sum(i['bytes'] for i in manifest['inputs']):,} bytes")
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


@app.command()
def diff(
    a: Annotated[str, typer.Argument(metavar="DATASET@A")],
    b: Annotated[str, typer.Argument(metavar="DATASET@B")],
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    ids: Annotated[int, typer.Option(help="Example ids to list per task and kind.")] = 5,
) -> None:
    """Examples added, removed and changed per task between two versions."""
    import json

    from rich.table import Table

    from etl.diff import diff_versions
    from etl.store import Store, StoreError

    (dataset_a, version_a), (dataset_b, version_b) = _split_ref(a), _split_ref(b)
    if dataset_a != dataset_b:
        _fail(f"both sides must be versions of one dataset, got '{dataset_a}' and '{dataset_b}'")
    target = Store(_store_root(store, config), dataset_a)
    try:
        old, new = target.resolve(version_a), target.resolve(version_b)
        changes = diff_versions(target, old, new)
    except StoreError as exc:
        _fail(str(exc))
    if as_json:
        console.print_json(json.dumps({"dataset": dataset_a, "from": old, "to": new, "tasks": changes}))
        return
    if not changes:
        console.print(f"{dataset_a} {old} and {new} hold the same examples")
        return
    table = Table(title=f"{dataset_a} {old} -> {new}")
    for column in ("task", "added", "removed", "changed", "example ids"):
        table.add_column(column, justify="right" if column in ("added", "removed", "changed") else "left")
    for task, kinds in sorted(changes.items()):
        marks = {"added": "+", "removed": "-", "changed": "~"}
        shown = "\n".join(f"{marks[kind]} {i}" for kind in marks for i in kinds[kind][:ids])
        table.add_row(task, str(len(kinds["added"])), str(len(kinds["removed"])), str(len(kinds["changed"])), shown)
    console.print(table)


if __name__ == "__main__":
    app()
