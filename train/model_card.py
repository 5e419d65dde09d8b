"""The adapter folder's README.md: a model card written from the training manifest.

peft's `save_pretrained` writes its unfilled template ("[More Information Needed]"); a trainer
who opens the folder should read what the adapter is, what it was trained on (dataset, version,
fingerprint, tasks), with what settings, and what it measured, and how to load and evaluate it.
Figures are copied from the manifest, never recomputed or rounded up.
"""

from __future__ import annotations

import math


def _figure(value) -> str:
    if isinstance(value, float):
        return f"{math.floor(value * 1000) / 1000:.3f}" if not math.isnan(value) else "n/a"
    return str(value)


def _source_lines(manifest: dict) -> list[str]:
    lines = ["| source | version | fingerprint | tasks | weight | train rows drawn |", "|---|---|---|---|---|---|"]
    for source in manifest.get("sources", []):
        version = source.get("version", source.get("path", ""))
        fingerprint = str(source.get("fingerprint", ""))[:16]
        tasks = ", ".join(source.get("tasks", []) or [])
        lines.append(
            f"| {source.get('name', '')} | {version} | {fingerprint} | {tasks} | "
            f"{_figure(source.get('weight', ''))} | {source.get('train_drawn', '')} |"
        )
    return lines


def _metric_lines(metrics: dict, prefix: str = "") -> list[str]:
    """Every number in the manifest's metrics, one line each ("menu_qa fact_accuracy: 0.528")."""
    lines = []
    for key, value in sorted(metrics.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines += _metric_lines(value, f"{name} ")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f"- {name}: {_figure(value)}")
    return lines


def model_card(manifest: dict, folder_name: str) -> str:
    hyper = manifest.get("hyperparameters", {})
    lora = hyper.get("lora", {}) if manifest.get("method") == "lora" else {}
    settings = [
        f"- method: {manifest.get('method')}"
        + (f" (r={lora.get('r')}, alpha={lora.get('alpha')}, modules {lora.get('target_modules')})" if lora else ""),
        f"- epochs {hyper.get('epochs')}, batch {hyper.get('batch_size')}, "
        f"learning rate {hyper.get('learning_rate')}, at most {hyper.get('max_seq_length')} tokens a row",
        f"- {manifest.get('steps')} steps in {_figure(manifest.get('seconds'))} s on {manifest.get('device')}, "
        f"precision {manifest.get('precision')}",
    ]
    loss = manifest.get("train_loss", {})
    chain = manifest.get("chain", [])
    parts = [
        f"# {folder_name}",
        "",
        f"A {manifest.get('method')} adapter for `{manifest.get('base_model')}`, trained by `etl train` "
        f"(code {manifest.get('code_version')}). Every figure here is copied from `training_manifest.json`.",
        "",
        "## Trained on",
        "",
        *_source_lines(manifest),
        "",
    ]
    if chain:
        parts += [
            f"Continues {len(chain)} earlier adapter(s) (`etl train --from`); the manifest's `chain` names them.",
            "",
        ]
    parts += [
        "## Settings",
        "",
        *settings,
        "",
        "## Measured during training",
        "",
        f"- train loss: first {_figure(loss.get('first'))}, last {_figure(loss.get('last'))}",
        *(_metric_lines(manifest.get("metrics") or {}) or ["- no held-out figures (evaluation was off)"]),
        "",
        "These come from the version's eval split inside training. `etl eval` measures the adapter",
        "against its base model on the dataset's frozen eval set, with intervals; use its figures to",
        "choose an adapter.",
        "",
        "## Use",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'base = AutoModelForCausalLM.from_pretrained("{manifest.get("base_model")}")',
        f'model = PeftModel.from_pretrained(base, "{folder_name}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{folder_name}")  # the chat template it was trained with',
        "```",
        "",
    ]
    return "\n".join(parts)
