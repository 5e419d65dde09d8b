"""LoRA fine-tuning of a causal LM on a published dataset version (peft + transformers' Trainer).

`train_adapter` is what `etl train` runs: read the mixture, tokenise with the
chat template, train (evaluating every `eval_steps`, stopping early when eval
loss stops falling), score each eval task, and write the adapter, the tokenizer
and `training_manifest.json` into the output folder.

The same code runs on one CPU, one GPU or several: under `torchrun` or
`accelerate launch` the Trainer shards batches across processes, and only the
main process writes the outputs.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from etl.errors import ConfigError
from train.config import TrainConfig
from train.data import PadCollator, draw_mixture, encode_all, ensure_chat_template, read_source, sample
from train.model_card import model_card
from train.sentiment import score_sentiment
from train.training_record import (
    MANIFEST,
    StepTimer,
    best_step,
    code_version,
    first_loss,
    json_default,
    last_loss,
    peak_memory,
    read_manifest,
    source_entry,
    step_seconds,
)


@dataclass
class TrainingRun:
    manifest: dict
    model: object  # the trained model (peft-wrapped for LoRA), for callers that go on using it


def train_adapter(
    config: TrainConfig,
    base_model: str,
    out: Path,
    store_root: Path,
    progress: bool = True,
    from_adapter: Path | None = None,
) -> TrainingRun:
    """Train, evaluate and save; returns the manifest that was written and the trained model.
    With `from_adapter`, training continues that adapter (its rank and layers) instead of a new one,
    and the manifest's `chain` lists the adapters before it, oldest first."""
    import transformers

    transformers.set_seed(config.seed)
    if not config.mixture:
        raise ConfigError("nothing to train on: pass --dataset (and --tasks), or list sources under `mixture:`.")
    previous = previous_manifest(from_adapter, config) if from_adapter is not None else None
    sources = [read_source(s, store_root) for s in config.mixture]
    tokenizer = load_tokenizer(base_model)
    template = ensure_chat_template(tokenizer)
    drawn, counts = draw_mixture(sources, config.seed)
    train_set, train_stats = encode_all(drawn, tokenizer, config.max_seq_length)
    if len(train_set) == 0:
        raise ConfigError("no training example has an assistant turn left after truncation; raise max_seq_length.")
    eval_sets = _eval_sets(sources, tokenizer, config)
    device, dtype, precision, checkpointing = device_settings(config)
    model, parameters = _prepared_model(base_model, dtype, config, checkpointing, from_adapter)

    work = out / ".checkpoints"
    trainer = _trainer(model, tokenizer, config, train_set, eval_sets, precision, checkpointing, work, progress)
    start_eval = trainer.evaluate() if eval_sets else {}
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - began
    metrics = _evaluate(trainer, eval_sets, sources, tokenizer, config)

    manifest = {
        "base_model": base_model,
        "method": config.method,
        "chain": _chain(previous, from_adapter),
        "sources": [source_entry(s, n) for s, n in zip(sources, counts)],
        "hyperparameters": config.model_dump(exclude={"mixture"}),
        "code_version": code_version(),
        "device": device,
        "processes": trainer.args.world_size,  # > 1 under torchrun / accelerate launch
        "precision": precision,
        "gradient_checkpointing": checkpointing,
        "chat_template": template,
        "parameters": parameters,
        "data": {"train": asdict(train_stats), "eval_examples": {k: len(v) for k, v in eval_sets.items()}},
        **_how_it_went(trainer, result.training_loss, seconds, device, start_eval),
        "metrics": metrics,
    }
    if trainer.is_world_process_zero():
        _save(trainer, tokenizer, out, manifest)
    shutil.rmtree(work, ignore_errors=True)
    return TrainingRun(manifest, trainer.model)


def _prepared_model(base_model: str, dtype, config: TrainConfig, checkpointing: bool, from_adapter: Path | None):
    """The base model with its adapter (new, or `from_adapter` continued), and its parameter counts."""
    model = load_model(base_model, dtype)
    total = sum(p.numel() for p in model.parameters())
    model = _wrap(model, config, checkpointing, from_adapter)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return model, {"trainable": trainable, "total": total, "trainable_share": trainable / total}


def _chain(previous: dict | None, from_adapter: Path | None) -> list[dict]:
    """The adapters this one continues, oldest first: what each was trained on."""
    return [*previous.get("chain", []), chain_entry(from_adapter, previous)] if previous else []


def device_settings(config: TrainConfig) -> tuple[str, object, str, bool]:
    """(device, torch dtype of the frozen base, precision name, gradient checkpointing on)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype, precision = _precision(config, device)
    checkpointing = config.gradient_checkpointing == "on" or (
        config.gradient_checkpointing == "auto" and device == "cuda"
    )
    return device, dtype, precision, checkpointing


def _how_it_went(trainer, mean_loss: float, seconds: float, device: str, start_eval: dict) -> dict:
    """The manifest's figures of the training itself: steps, time, speed, memory, losses."""
    state = trainer.state
    return {
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "stopped_early": state.global_step < state.max_steps,
        "seconds": round(seconds, 3),
        "step_seconds": step_seconds(trainer),
        "tokens_per_second": round(state.num_input_tokens_seen / seconds, 1) if seconds else None,
        "peak_memory": peak_memory(device),
        "train_loss": {"first": first_loss(trainer), "last": last_loss(trainer), "mean": mean_loss},
        "eval_loss_before": start_eval.get("eval_loss"),
        "eval_history": [
            {"step": e["step"], "eval_loss": e["eval_loss"]} for e in state.log_history if "eval_loss" in e
        ],
        "best_checkpoint_step": best_step(trainer),
    }


def load_tokenizer(base_model: str):
    from transformers import AutoTokenizer

    _check_base_model(base_model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a tokenizer from '{base_model}': {_first_line(exc)}") from None
    if not tokenizer.is_fast:
        raise ConfigError(f"the tokenizer of '{base_model}' is not a fast tokenizer; training needs token offsets.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out of the loss and attention
    return tokenizer


def load_model(base_model: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a causal LM from '{base_model}': {_first_line(exc)}") from None


def _check_base_model(base_model: str) -> None:
    """A path that is not there fails here, in one line, before a hub look-up that cannot succeed offline."""
    if Path(base_model).expanduser().exists():
        return
    hub_id = base_model.count("/") == 1 and not base_model.startswith((".", "/", "~"))  # "org/name"
    if not hub_id or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ConfigError(
            f"base model '{base_model}' does not exist. Pass --base-model with a folder holding a causal LM "
            "(config.json, weights, tokenizer), or a hub id where the hub can be reached."
        )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def _precision(config: TrainConfig, device: str) -> tuple[torch.dtype, str]:
    """bf16 where the GPU has it, fp32 on CPU; an explicit choice wins.

    Only LoRA's frozen base weights are loaded in bf16 (peft keeps the adapters
    in fp32); weights that are trained stay fp32 under mixed precision, since an
    optimizer stepping bf16 weights loses small updates.
    """
    choice = config.precision
    if choice == "auto":
        choice = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if choice == "fp16" and device == "cpu":
        raise ConfigError("precision fp16 needs a GPU; use bf16 or fp32 on CPU (`precision:` in the training config).")
    frozen_bf16 = choice == "bf16" and config.method == "lora"
    return (torch.bfloat16 if frozen_bf16 else torch.float32), choice


def previous_manifest(adapter: Path, config: TrainConfig) -> dict:
    """The training manifest of the adapter a run continues; a folder with no adapter is refused."""
    if not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"--from {adapter}: no adapter_config.json there; pass a folder `etl train --out` wrote.")
    if config.method != "lora":
        raise ConfigError("--from continues a LoRA adapter: `method: full` trains every weight from the base.")
    return read_manifest(adapter)


def chain_entry(adapter: Path, manifest: dict) -> dict:
    return {
        "adapter": str(adapter),
        "base_model": manifest.get("base_model"),
        "sources": [
            {k: s[k] for k in ("name", "dataset", "version", "fingerprint", "path") if k in s}
            for s in manifest.get("sources", [])
        ],
        "steps": manifest.get("steps"),
    }


def base_of(adapter: Path) -> str:
    """The base model an adapter was trained on, from its manifest."""
    return read_manifest(adapter)["base_model"]


def _wrap(model, config: TrainConfig, checkpointing: bool, from_adapter: Path | None = None):
    if checkpointing:
        # transformers 5 calls it activation checkpointing (gradient_checkpointing_* are deprecated aliases)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if config.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )
    if checkpointing:
        model.enable_input_require_grads()  # frozen embeddings: let checkpointed blocks see a grad-requiring input
    if from_adapter is not None:
        from peft import PeftModel

        # its own rank, alpha and layers: the weights go on from where they were
        return PeftModel.from_pretrained(model, str(from_adapter), is_trainable=True)
    return get_peft_model(model, lora)


def _eval_sets(sources, tokenizer, config: TrainConfig) -> dict:
    sets = {}
    for source in sources:
        for name, conversations in source.eval.items():
            chosen = sample(conversations, config.max_eval_examples, config.seed)
            encoded, _ = encode_all(chosen, tokenizer, config.max_seq_length)
            if len(encoded):
                sets[_metric_name(name)] = encoded
    return sets


def _metric_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _trainer(model, tokenizer, config, train_set, eval_sets, precision, checkpointing, work, progress):
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

    evaluate = bool(eval_sets)
    stop_early = evaluate and config.early_stopping_patience is not None
    args = TrainingArguments(
        **shared_arguments(config, precision, work, progress),
        per_device_eval_batch_size=config.batch_size,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.eval_steps,
        # the best adapter so far is kept so early stopping can go back to it
        save_strategy="steps" if stop_early else "no",
        save_steps=config.eval_steps,
        save_total_limit=2 if stop_early else None,
        save_only_model=True,
        load_best_model_at_end=stop_early,
        metric_for_best_model="eval_loss" if stop_early else None,
        greater_is_better=False if stop_early else None,
        fp16=precision == "fp16",
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        include_num_input_tokens_seen="non_padding",
    )
    callbacks = [StepTimer()]
    if stop_early:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    return Trainer(
        model=model,
        args=args,
        data_collator=PadCollator(tokenizer.pad_token_id),
        train_dataset=train_set,
        eval_dataset=_combined(eval_sets) if evaluate else None,
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def shared_arguments(config: TrainConfig, precision: str, work: Path, progress: bool) -> dict:
    """What every trainer here is given from the training config (SFT's Trainer, TRL's DPO and
    KTO trainers): batch, schedule, precision, seeds, logging, where it runs."""
    return dict(
        output_dir=str(work),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        bf16=precision == "bf16",
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def _combined(eval_sets: dict):
    import datasets

    return datasets.concatenate_datasets(list(eval_sets.values()))


def _evaluate(trainer, eval_sets: dict, sources, tokenizer, config: TrainConfig) -> dict:
    """Eval loss and perplexity per task (or folder source), and label accuracy / macro-F1 for sentiment."""
    from transformers import EarlyStoppingCallback

    trainer.remove_callback(EarlyStoppingCallback)  # it watches `eval_loss`; these evaluations are per set
    metrics: dict[str, dict] = {}
    for name, encoded in eval_sets.items():
        loss = trainer.evaluate(eval_dataset=encoded, metric_key_prefix=f"eval_{name}")[f"eval_{name}_loss"]
        metrics[name] = {"eval_loss": loss, "perplexity": math.exp(min(loss, 50.0)), "examples": len(encoded)}
    pairs = [p for s in sources for p in s.sentiment_eval]
    if pairs and config.sentiment_eval_examples:
        chosen = sample(pairs, config.sentiment_eval_examples, config.seed)
        metrics.setdefault("review_sentiment", {}).update(score_sentiment(trainer.model, tokenizer, chosen))
    return metrics


def _save(trainer, tokenizer, out: Path, manifest: dict) -> None:
    """Adapter files only (peft's save), the tokenizer with the template used, the model card, and the manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    # peft wrote its unfilled template; the card says what this adapter is, from the manifest
    (out / "README.md").write_text(model_card(manifest, out.name), encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=json_default) + "\n", encoding="utf-8")
