"""DPO and KTO on top of an SFT adapter, with TRL (`etl train --method dpo|kto --from SFT`).

The SFT adapter is both the starting policy and the reference: TRL copies it into a frozen
"ref" adapter beside the trained one (LoRA again for the policy), so the reference log-probs
are the SFT model's. The data is a published version's `preference` config (DPO: prompt,
chosen, rejected) or `kto` config (prompt, completion, label), train split; the version's eval
pairs are scored before and after (train/preference_figures.py). KTO's two sides are weighted
so that desirable x weight : undesirable x weight is 1:1 unless the config says otherwise (TRL
advises 1:1 to 4:3; rated data is rarely balanced).

The output folder holds the policy adapter alone, with its tokenizer, model card and
`training_manifest.json` naming the SFT adapter (its `chain`), both datasets' fingerprints and
the figures; `etl eval` and `etl train merge` read it like any adapter.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl.errors import ConfigError, StoreError
from etl.store import Store
from train.config import TrainConfig
from train.data import ensure_chat_template
from train.model_card import model_card
from train.preference_figures import model_logps, preference_figures
from train.trainer import (
    chain_entry,
    device_settings,
    load_model,
    load_tokenizer,
    previous_manifest,
    shared_arguments,
)
from train.training_record import MANIFEST, code_version, json_default, peak_memory

METHODS = ("dpo", "kto")
FIGURES = ("prefers_chosen", "reward_accuracy", "mean_margin")
COLUMNS = {"dpo": ["prompt", "chosen", "rejected"], "kto": ["prompt", "completion", "label"]}


@dataclass
class PreferenceData:
    train: pl.DataFrame  # the method's columns
    eval_pairs: list[dict]  # the version's eval pairs: prompt, chosen, rejected
    lineage: dict


def read_preference(dataset: str, store_root: Path, method: str) -> PreferenceData:
    """The train rows of the version's `preference` (dpo) or `kto` config and its eval pairs."""
    name, _, version = dataset.partition("@")
    store = Store(store_root, name)
    if not store.versions():
        raise StoreError(f"no published dataset '{name}' in store {store_root}; run `etl run` or pass --store.")
    resolved = store.resolve(version or "latest")
    config = "preference" if method == "dpo" else "kto"
    rows = store.extra(config, resolved)
    train = rows.filter(pl.col("split") == "train")
    if train.height == 0:
        raise ConfigError(
            f"{name} {resolved} has no train rows in its `{config}` config: no chat in its inputs was rated "
            "(thumbs) and no grounded menu answer gave a pair. `etl show` lists what the version holds."
        )
    pairs = store.extra("preference", resolved).filter(pl.col("split") == "eval")
    lineage = {
        "dataset": name,
        "version": resolved,
        "fingerprint": store.manifest(resolved)["fingerprint"],
        "config": config,
        "train_rows": train.height,
        "eval_pairs": pairs.height,
    }
    if method == "kto":
        lineage["desirable"] = int(train["label"].sum())
        lineage["undesirable"] = train.height - lineage["desirable"]
    return PreferenceData(train.select(COLUMNS[method]), pairs.select(COLUMNS["dpo"]).to_dicts(), lineage)


def train_preference(
    method: str, config: TrainConfig, sft_adapter: Path, out: Path, data: PreferenceData, progress: bool = True
) -> dict:
    """Train the policy from the SFT adapter, score the eval pairs before and after, save; the manifest."""
    import transformers
    from peft import PeftModel

    if method not in METHODS:
        raise ConfigError(f"--method {method}: use one of {', '.join(METHODS)}.")
    transformers.set_seed(config.seed)
    if not progress:  # TRL tokenises through datasets, whose bars would print under --quiet
        import datasets

        datasets.disable_progress_bars()
    previous = previous_manifest(sft_adapter, config)
    base_model = previous["base_model"]
    tokenizer = load_tokenizer(str(sft_adapter))
    template = ensure_chat_template(tokenizer)
    device, dtype, precision, _ = device_settings(config)
    model = PeftModel.from_pretrained(load_model(base_model, dtype), str(sft_adapter), is_trainable=True)
    reference = model_logps(model, tokenizer, data.eval_pairs, config.max_seq_length)
    weights = _kto_weights(config, data.lineage) if method == "kto" else {}
    work = out / ".checkpoints"
    trainer = _trainer(method, model, tokenizer, config, data, precision, work, progress, weights)
    began = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - began
    policy = model_logps(trainer.model, tokenizer, data.eval_pairs, config.max_seq_length)
    beta = config.preference.beta
    manifest = {
        "base_model": base_model,
        "method": method,
        "chain": [*previous.get("chain", []), chain_entry(sft_adapter, previous)],
        "reference": {"adapter": str(sft_adapter), "sources": previous.get("sources", [])},
        "sources": [{"name": f"{data.lineage['dataset']}:{data.lineage['config']}", **data.lineage}],
        "hyperparameters": config.model_dump(exclude={"mixture"}) | {"kto_weights": weights or None},
        "code_version": code_version(),
        "device": device,
        "precision": precision,
        "chat_template": template,
        "steps": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "seconds": round(seconds, 3),
        "peak_memory": peak_memory(device),
        "train_loss": {"mean": result.training_loss, **_loss_ends(trainer)},
        "train_rewards": _last_logged(trainer, ("rewards/accuracies", "rewards/margins", "kl")),
        "preference": {
            "eval_pairs": len(data.eval_pairs),
            "before": preference_figures(reference, reference, beta),
            "after": preference_figures(policy, reference, beta),
        },
    }
    manifest["metrics"] = {
        f"eval_pairs_{when}": {k: manifest["preference"][when][k]["value"] for k in FIGURES}
        for when in ("before", "after")
    }
    if trainer.is_world_process_zero():
        _save(trainer.model, tokenizer, out, manifest)
    shutil.rmtree(work, ignore_errors=True)
    return manifest


def _kto_weights(config: TrainConfig, lineage: dict) -> dict:
    """desirable and undesirable weights: the config's, else undesirable = desirable rows /
    undesirable rows, which makes the weighted balance 1:1."""
    settings = config.preference
    desirable, undesirable = lineage["desirable"], lineage["undesirable"]
    if not desirable or not undesirable:
        raise ConfigError(
            f"kto needs rows of both labels; the version's train split has {desirable} desirable and "
            f"{undesirable} undesirable. Use --method dpo, or rate more chats."
        )
    d = settings.desirable_weight if settings.desirable_weight is not None else 1.0
    u = settings.undesirable_weight if settings.undesirable_weight is not None else desirable * d / undesirable
    return {
        "desirable_weight": d,
        "undesirable_weight": round(u, 4),
        "weighted_balance": round(desirable * d / (undesirable * u), 4),
    }


def _trainer(method, model, tokenizer, config: TrainConfig, data, precision, work: Path, progress: bool, weights):
    import datasets

    common = shared_arguments(config, precision, work, progress) | dict(
        beta=config.preference.beta,
        max_length=config.max_seq_length,
        save_strategy="no",
        eval_strategy="no",
    )
    train_set = datasets.Dataset.from_list(data.train.to_dicts())
    if method == "dpo":
        from trl import DPOConfig, DPOTrainer

        args = DPOConfig(**common)
        return DPOTrainer(model=model, args=args, train_dataset=train_set, processing_class=tokenizer)
    from trl import KTOConfig, KTOTrainer

    args = KTOConfig(
        **common, desirable_weight=weights["desirable_weight"], undesirable_weight=weights["undesirable_weight"]
    )
    return KTOTrainer(model=model, args=args, train_dataset=train_set, processing_class=tokenizer)


def _loss_ends(trainer) -> dict:
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return {"first": losses[0] if losses else None, "last": losses[-1] if losses else None}


def _last_logged(trainer, keys: tuple[str, ...]) -> dict:
    logged = [e for e in trainer.state.log_history if any(k in e for k in keys)]
    return {k: logged[-1][k] for k in keys if logged and k in logged[-1]}


def _save(model, tokenizer, out: Path, manifest: dict) -> None:
    """The policy adapter only (TRL's frozen "ref" copy stays behind), tokenizer, card, manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), selected_adapters=["default"])
    tokenizer.save_pretrained(str(out))
    (out / "README.md").write_text(model_card(manifest, out.name), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=json_default) + "\n", encoding="utf-8")
