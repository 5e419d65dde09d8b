"""Reading and keeping the store: `etl versions`, `show`, `validate`, `diff`, `gc`, `pin`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from etl.cli.common import ConfigOption, JsonOption, StoreOption, console, open_version, store_root
from etl.config import load_config
from etl.errors import ConfigError, QualityGateError, StoreAccessError
from etl.store import Store

VersionArgument = Annotated[
    str, typer.Argument(metavar="DATASET[@VERSION]", help="e.g. healthy-bites@v2; latest when no version.")
]


def versions(
    dataset: Annotated[str | None, typer.Argument(help="Dataset name; all datasets when left out.")] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List published versions: created, examples, fingerprint, parent."""
    root = store_root(store, config)
    names = [dataset] if dataset else sorted(p.name for p in root.iterdir() if p.is_dir())
    rows = [row for name in names for row in _version_rows(Store(root, name))]
    if as_json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        console.print(f"no published versions in {root}")
    else:
        console.print(_versions_table(rows))


def _version_rows(target: Store) -> list[dict]:
    latest = target.latest()
    rows = []
    for version in target.versions():
        manifest = target.manifest(version)
        rows.append(
            {
                "dataset": target.dataset,
                "version": version,
                "latest": version == latest,
                "created_at": manifest["created_at"],
                "examples": sum(sum(splits.values()) for splits in manifest["counts"]["examples"].values()),
                "fingerprint": manifest["fingerprint"],
                "parent": manifest["parent"],
            }
        )
    return rows


def _versions_table(rows: list[dict]) -> Table:
    # fits 80 columns: no side borders, a short date, "*" for latest; names and dates never wrap
    table = Table(box=box.SIMPLE_HEAD, caption="* latest", caption_justify="left")
    table.add_column("dataset", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("examples", justify="right", no_wrap=True)
    table.add_column("fingerprint", overflow="ellipsis", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    for row in rows:
        table.add_row(
            row["dataset"],
            row["version"] + ("*" if row["latest"] else ""),
            row["created_at"][:16].replace("T", " "),
            f"{row['examples']:,}",
            row["fingerprint"][:12],
            row["parent"] or "-",
        )
    return table


def show(ref: VersionArgument, store: StoreOption = None, config: ConfigOption = None) -> None:
    """Counts per task and split, lineage and the curation summary of one version."""
    from etl.run.summary import report_pages

    target, name = open_version(ref, store, config)
    manifest = target.manifest(name)
    counts = manifest["counts"]
    console.print(
        f"[bold]{target.dataset} {name}[/bold]{' (latest)' if target.latest() == name else ''}  {target.path(name)}"
    )
    console.print(f"created {manifest['created_at']} by run {manifest['run_id']}, code {manifest['code_version']}")
    console.print(f"parent {manifest['parent'] or '-'}, config {manifest['config_hash'][:12]}")
    console.print(f"fingerprint {manifest['fingerprint']}", soft_wrap=True)
    console.print(f"inputs: {len(manifest['inputs'])} files, {sum(i['bytes'] for i in manifest['inputs']):,} bytes")
    for line in report_pages(target.path(name)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(_examples_table(counts["examples"]))
    console.print(_curation_table(counts["stages"]))
    if counts.get("set_aside"):
        console.print("set aside: " + ", ".join(f"{k} {v}" for k, v in counts["set_aside"].items()))
    made = (
        ("augmentation", "augmented (train only)", "method", "variants"),
        ("synthesis", "synthesised from the catalog (train only)", "intent", "examples"),
    )
    for key, title, kind, what in made:
        _print_made(counts.get(key) or {}, key, title, kind, what)
    if preference := counts.get("preference"):
        console.print(_pairs_table(preference["pairs"]))
        kto = preference["kto"]
        console.print(f"kto rows: {kto['desirable']:,} desirable, {kto['undesirable']:,} undesirable")
        if preference.get("not_paired"):
            console.print("no pair: " + ", ".join(f"{k} {v}" for k, v in preference["not_paired"].items()))


def _pairs_table(pairs: dict) -> Table:
    table = Table(title="preference pairs")
    for column in ("pair kind", "train", "eval"):
        table.add_column(column, justify="left" if column == "pair kind" else "right")
    for kind, splits in pairs.items():
        table.add_row(kind, f"{splits.get('train', 0):,}", f"{splits.get('eval', 0):,}")
    return table


def _examples_table(examples: dict) -> Table:
    table = Table(title="examples")
    for column in ("task", "train", "eval", "total"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, splits in sorted(examples.items()):
        table.add_row(task, f"{splits.get('train', 0):,}", f"{splits.get('eval', 0):,}", f"{sum(splits.values()):,}")
    return table


def _curation_table(stages: list[dict]) -> Table:
    table = Table(title="curation")
    for column in ("stage", "in", "kept", "dropped by reason"):
        table.add_column(column)
    for stage in stages:
        reasons = ", ".join(f"{r} {n}" for r, n in stage["dropped_by_reason"].items()) or "-"
        table.add_row(stage["stage"], f"{stage['rows_in']:,}", f"{stage['kept']:,}", reasons)
    return table


def _print_made(counts: dict, key: str, title: str, kind: str, what: str) -> None:
    """Examples a stage made (augmentation's variants, synthesis's questions) per task and
    method or intent, and what it rejected; nothing when it made and rejected none."""
    made = counts.get("variants" if key == "augmentation" else "examples") or {}
    if not made and not counts.get("rejected"):
        return
    table = Table(title=title)
    for column in ("task", kind, what):
        table.add_column(column, justify="right" if column == what else "left")
    for task, kinds in sorted(made.items()):
        for name, n in sorted(kinds.items()):
            table.add_row(task, name, f"{n:,}")
    console.print(table)
    rejected = ", ".join(f"{reason} {n:,}" for reason, n in sorted(counts["rejected"].items())) or "none"
    console.print(f"{key} rejected: {rejected}")


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
    from etl.catalog import load_catalog
    from etl.stages.validate import gx_suites
    from etl.stages.validate.stage import check_frame, check_pairs, read_parquet_folder

    if (ref is None) == (data is None):
        raise ConfigError("give either DATASET[@VERSION] or --data PATH (not both).")
    if suite not in gx_suites.SUITES:
        raise ConfigError(f"--suite {suite!r}: choose one of {', '.join(gx_suites.SUITES)}.")
    settings = load_config(config) if config is not None else None
    catalog = (
        load_catalog(settings.catalog_file("menu"), settings.catalog_file("stores"))
        if settings and settings.catalog.menu
        else None
    )
    if data is not None:
        frame, files = read_parquet_folder(data)
        what, gate = f"{data} ({len(files)} file(s), {frame.height:,} rows)", None
    else:
        frame, what, gate = _published(ref, store, config)
        suite = "published"
    results = [(suite, check_frame(frame, suite, settings, catalog, gate))]
    if ref is not None:  # a version's preference pairs, when it has any
        target, name = open_version(ref, store, config)
        if (pairs := target.extra("preference", name)).height:
            results.append((gx_suites.PREFERENCE, check_pairs(pairs, gate)))
    for name, result in results:
        if not result.success:
            raise QualityGateError(
                f"{what}: suite {name} failed:\n  " + "\n  ".join(f.describe() for f in result.failures)
            )
    checked = ", ".join(f"suite {name}, {result.evaluated} expectations" for name, result in results)
    console.print(f"[green]passed[/green] {what}: {checked}", soft_wrap=True)


def _published(ref: str, store: Path | None, config: Path | None):
    """A version's examples, how to name it, and the gate it was published with (or None)."""
    import polars as pl

    from etl.stages.validate.stage import GATE_FILE

    target, name = open_version(ref, store, config)
    try:
        frame = target.examples(name)
    except pl.exceptions.PolarsError as exc:
        raise StoreAccessError(
            f"cannot read {target.dataset} {name}'s data files ({type(exc).__name__}): the version is damaged; "
            "restore the store folder from a backup (published versions are never rewritten)."
        ) from None
    recorded = target.path(name) / "quality" / GATE_FILE
    gate = json.loads(recorded.read_text(encoding="utf-8")) if recorded.is_file() else None
    return frame, f"{target.dataset} {name} ({frame.height:,} examples)", gate


def diff(
    a: Annotated[str, typer.Argument(metavar="DATASET@A")],
    b: Annotated[str, typer.Argument(metavar="DATASET@B")],
    store: StoreOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    ids: Annotated[int, typer.Option(help="Example ids to list per task and kind.")] = 5,
) -> None:
    """Examples added, removed, moved between splits and changed, per task, between two versions."""
    from etl.store.diff import KINDS, diff_versions

    if a.partition("@")[0] != b.partition("@")[0]:
        raise ConfigError(
            f"both sides must be versions of one dataset, got '{a.partition('@')[0]}' and '{b.partition('@')[0]}'"
        )
    target, old = open_version(a, store, config)
    _, new = open_version(b, store, config)
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
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove old versions: never latest, a pinned one, or one a training manifest names."""
    target = Store(store_root(store, config), dataset)
    if not target.versions():
        raise ConfigError(f"dataset '{dataset}' has no published version in {target.root}.")
    outcome = target.gc(keep, manifests or [], dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    console.print(f"{verb}: {', '.join(outcome['removed']) or 'nothing'}")
    for version, why in outcome["kept"]:
        console.print(f"kept {version}: {'; '.join(why)}")


def pin(
    ref: Annotated[str, typer.Argument(help="DATASET@VERSION to pin (DATASET alone lists the pins).")],
    remove: Annotated[bool, typer.Option("--remove", help="Unpin instead.")] = False,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Pin a version so `etl gc` keeps it (a release a model was shipped from, an audit)."""
    dataset, _, version = ref.partition("@")
    target = Store(store_root(store, config), dataset)
    if not version:
        console.print(f"pinned: {', '.join(target.pins()) or 'none'}")
        return
    pinned = target.pin(version, remove=remove)
    console.print(f"{dataset}: pinned {', '.join(pinned) or 'none'}")
