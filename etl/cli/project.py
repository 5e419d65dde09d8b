"""Starting out: `etl init` (a first pipeline.yaml for a folder of exports) and `etl sample-data`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from etl.cli.common import console
from etl.errors import ConfigError, StoreAccessError


def init(
    folder: Annotated[Path, typer.Argument(help="A folder of exports: CSV, JSONL, Markdown FAQs, call transcripts.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing pipeline.yaml there.")] = False,
) -> None:
    """Guess each export's source kind and column mapping and write FOLDER/pipeline.yaml.

    What init is not sure of is marked UNSURE in the file; check those lines, then
    `etl run --config FOLDER/pipeline.yaml --dry-run`."""
    from etl.project.init import KINDS, UNSURE, business_identifiers, guess_folder, render

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


def sample_data(
    out: Annotated[Path, typer.Option(help="Folder to write the raw inputs into.")] = Path("sample_data"),
    scale: Annotated[
        int, typer.Option(min=1, help="Multiplier on the default sizes; 1 writes the checked-in files.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and scale, same files.")] = 7,
) -> None:
    """Write a realistic raw corpus of a meal-prep company (reviews, chats, FAQs, calls, menu, stores)."""
    from etl.project.sample import write_sample_data

    if out.exists() and not out.is_dir():
        raise StoreAccessError(f"--out {out} is a file, not a folder; choose a folder (it is made if missing)")
    counts = write_sample_data(out, scale=scale, seed=seed)
    for name, count in counts.items():
        console.print(f"{name:<16} {count:>8,}")
    console.print(f"written to {out}; run it with: etl run --config {out / 'pipeline.yaml'}")
