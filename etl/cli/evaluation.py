"""`etl eval` (and `eval freeze`): base model and adapter on the same eval set, every task
scored, the version's preference pairs too. Everything here calls into train/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from etl.cli.common import QuietOption, StoreOption, comma_list, console, handled, store_root
from etl.cli.training import require_train_extra
from etl.config import load_config
from etl.errors import ConfigError

eval_app = typer.Typer(
    help="Base model and adapter on the same eval set, every task scored; `etl eval freeze` writes the frozen set.",
    invoke_without_command=True,
    no_args_is_help=True,
)


EVAL_CHOICES = {
    "--set": ("frozen", "split"),
    "--grounding": ("auto", "on", "off"),
    "--precision": ("auto", "bf16", "fp32"),
}


SetOption = Annotated[
    str,
    typer.Option(
        "--set",
        help="frozen: the dataset's frozen set and the version's reply tasks; split: the version's eval split.",
    ),
]


GroundingOption = Annotated[
    str, typer.Option(help="auto: as the version was built; on / off: catalog entries in the prompt or not.")
]


GeneralOption = Annotated[
    Path | None,
    typer.Option(
        help="A public question set on disk (a `messages` column, an eval/validation/test split) asked too: "
        "does the model still answer what it knew?"
    ),
]


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
    store: StoreOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many questions a task.")] = None,
    eval_set: SetOption = "frozen",
    grounding: GroundingOption = "auto",
    general: GeneralOption = None,
    base: Annotated[bool, typer.Option(help="With --adapter, answer with the base model too.")] = True,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the hardware has it), bf16 or fp32.")] = "auto",
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest answer generated (a sentiment label: 8).")] = 96,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts generated together.")] = 32,
    quiet: QuietOption = False,
) -> None:
    """Answer the eval set with the base model and the adapter, score every task with 95% intervals,
    write eval_manifest.json and eval.html."""
    if ctx.invoked_subcommand is not None:
        return
    require_train_extra("eval")
    from train.eval_page import render
    from train.evaluate import EVAL_PAGE, ModelAnswerers, evaluate, sampled_answers, write_manifest

    chosen = {"--set": eval_set, "--grounding": grounding, "--precision": precision}
    _check_eval_options(chosen, dataset, model, config, out, adapter)
    name, _, version = dataset.partition("@")
    settings = load_config(config)
    models = ModelAnswerers(model, precision, batch_size)
    described = {"model": str(model), "adapter": str(adapter) if adapter else None, "chat_template": models.template}
    described |= {"precision": models.precision, "max_new_tokens": max_new_tokens, "decoding": "greedy"}
    with _bars(quiet) as bars:
        manifest, detail = evaluate(
            settings, store_root(store, config), name, version or None, _answerers(models, adapter, base),
            comma_list(tasks), limit, described, eval_set, grounding, max_new_tokens, bars, general,
        )  # fmt: skip
    target = out or adapter
    path = write_manifest(manifest, target)
    (target / EVAL_PAGE).write_text(render(manifest, sampled_answers(detail)), encoding="utf-8")
    _print_eval(manifest)
    console.print(f"{name} {manifest['version']} ({manifest['fingerprint'][:12]}): {path}, {target / EVAL_PAGE}")


def _check_eval_options(chosen: dict, dataset, model, config, out, adapter) -> None:
    for flag, value in chosen.items():
        if value not in EVAL_CHOICES[flag]:
            raise ConfigError(f"{flag} {value}: use one of {', '.join(EVAL_CHOICES[flag])}.")
    if dataset is None or model is None or config is None:
        raise ConfigError("etl eval needs --dataset, --model and --config (the pipeline YAML).")
    if out is None and adapter is None:
        raise ConfigError("etl eval of a base model needs --out (where eval_manifest.json goes).")


def _answerers(models, adapter: Path | None, base: bool) -> list:
    """The base model (unless --no-base with an adapter), then the adapter, loaded on first use."""
    from train.evaluate import Answerer, check_adapter

    answerers = [Answerer("base", models.answer, models.score)] if adapter is None or base else []
    if adapter is None:
        return answerers
    check_adapter(adapter)

    def merged():
        if not getattr(models, "adapted", False):
            models.with_adapter(str(adapter))
            models.adapted = True
        return models

    def adapted(prompts, tokens, advance):
        return merged().answer(prompts, tokens, advance)

    def adapted_score(pairs):
        return merged().score(pairs)

    return [*answerers, Answerer("adapter", adapted, adapted_score)]


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
    if preference := manifest.get("preference"):
        shown = [
            f"{who} {f['value']:.3f} (95% {f['low']:.3f}-{f['high']:.3f})"
            for who, f in preference["prefers_chosen"].items()
        ]
        reward = preference.get("implicit_reward")
        if reward:
            accuracy, margin = reward["reward_accuracy"], reward["mean_margin"]
            shown.append(
                f"{reward['of']} against {reward['against']}: reward accuracy {accuracy['value']:.3f} "
                f"(95% {accuracy['low']:.3f}-{accuracy['high']:.3f}), mean margin {margin['value']:.3f}"
            )
        console.print(f"preference pairs ({preference['pairs']} eval): prefers chosen " + "; ".join(shown))


@eval_app.command("freeze")
@handled
def eval_freeze(
    dataset: Annotated[str, typer.Option(help="DATASET[@VERSION] the set is checked against (default: latest).")],
    config: Annotated[Path, typer.Option(help="Pipeline YAML: the catalog, the store, the rephrasing test.")],
    store: StoreOption = None,
    new: Annotated[bool, typer.Option(help="Replace the set there is (earlier evaluations stop comparing).")] = False,
) -> None:
    """Write the dataset's frozen eval set (once; `etl eval` writes it too when there is none)."""
    from etl.catalog import load_catalog
    from etl.store import Store
    from train import frozen_eval

    name, _, version = dataset.partition("@")
    settings = load_config(config)
    target = Store(store_root(store, config), name)
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
