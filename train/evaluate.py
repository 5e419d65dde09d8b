"""`etl eval`: a model (and an adapter) answers a version's eval split, task by task, and
train/metrics.py scores the answers. Greedy and batched, so the same model, adapter and
version always give the same figures; the manifest names all three and the version's
fingerprint, and every figure carries its sample count and 95% interval.

The answers hold the version's de-identified text only; the manifest holds figures, ids and
counts, never text.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl.catalog import load_catalog
from etl.config import PipelineConfig
from etl.errors import ConfigError
from etl.example import TASKS
from etl.quality import default_suites_dir, leak_patterns, load_suite
from etl.store import Store
from train.metrics import (
    MAIN_METRIC,
    MenuReader,
    score_menu_qa,
    score_recommendation,
    score_replies,
    score_sentiment,
)

EVAL_MANIFEST = "eval_manifest.json"
REPLY_TASKS = ("order_support", "policy_qa", "customer_service")


@dataclass
class EvalItem:
    """One eval example cut at its last assistant turn: what the model sees and must write."""

    example_id: str
    task: str
    prompt: list[dict]
    reference: str
    label: str | None


def eval_items(examples: pl.DataFrame, tasks: list[str], limit: int | None = None) -> dict[str, list[EvalItem]]:
    """Per task, the eval split's examples in id order (the first `limit` of each)."""
    chosen = examples.filter((pl.col("split") == "eval") & pl.col("task").is_in(tasks)).sort("task", "id")
    items: dict[str, list[EvalItem]] = {task: [] for task in tasks}
    for row in chosen.iter_rows(named=True):
        messages = list(row["messages"])
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        if limit is None or len(items[row["task"]]) < limit:
            item = EvalItem(row["id"], row["task"], messages[:last], messages[last]["content"], row.get("label"))
            items[row["task"]].append(item)
    return items


def published_leak_patterns(config: PipelineConfig) -> list[str]:
    """The personal-data patterns of the published suite the pipeline gates versions with."""
    suites = Path(config.resolve(config.validate_.suites_dir)) if config.validate_.suites_dir else default_suites_dir()
    return leak_patterns(load_suite(suites / "published.json"))


def score_task(
    task: str, items: list[EvalItem], answers: list[str], reader: MenuReader, config: PipelineConfig, leaks: list[str]
) -> dict:
    """One task's figures, by the metric that task is judged on."""
    questions = [next(m["content"] for m in reversed(i.prompt) if m["role"] == "user") for i in items]
    if task == "review_sentiment":
        return score_sentiment(answers, [i.label for i in items])
    if task == "menu_qa":
        return score_menu_qa(questions, answers, reader)
    if task == "recommendation":
        return score_recommendation(questions, answers, reader)
    prompts = ["\n".join(m["content"] for m in i.prompt) for i in items]
    return score_replies(
        answers, [i.reference for i in items], prompts, leaks, config.deidentify.order_number_patterns
    )


def evaluate(
    config: PipelineConfig,
    store_root: Path,
    dataset: str,
    version: str | None,
    answer,
    tasks: list[str] | None = None,
    limit: int | None = None,
    described: dict | None = None,
) -> dict:
    """The eval manifest for the answers `answer(prompts) -> replies` gives on a version's
    eval split; `described` names the model and adapter that answered."""
    unknown = sorted(set(tasks or []) - set(TASKS))
    if unknown:
        raise ConfigError(f"unknown task(s) {unknown}; known tasks are {list(TASKS)}")
    store = Store(store_root, dataset)
    version = store.resolve(version or "latest")
    manifest = store.manifest(version)
    examples = store.examples(version)
    items = eval_items(examples, tasks or [t for t in TASKS if t in set(examples["task"])], limit)
    reader = MenuReader(load_catalog(config.catalog_file("menu"), config.catalog_file("stores")))
    leaks = published_leak_patterns(config) if any(items.get(t) for t in REPLY_TASKS) else []  # one suite load
    started = time.perf_counter()
    results = {}
    for task, task_items in items.items():
        if not task_items:
            results[task] = {"examples": 0, "main_metric": MAIN_METRIC[task]}
            continue
        answers = answer([i.prompt for i in task_items])
        results[task] = {
            "examples": len(task_items),
            "example_ids": [i.example_id for i in task_items],
            "main_metric": MAIN_METRIC[task],
            **score_task(task, task_items, answers, reader, config, leaks),
        }
    return {
        **(described or {}),
        "dataset": dataset,
        "version": version,
        "fingerprint": manifest["fingerprint"],
        "split": "eval",
        "tasks": results,
        "seconds": round(time.perf_counter() - started, 3),
    }


def model_answerer(base_model: str, adapter: str | None, max_new_tokens: int, batch_size: int):
    """`answer(prompts) -> replies` for a model folder and an optional adapter, on the GPU if
    there is one; greedy generation (train/generate.py)."""
    import torch

    from train.data import ensure_chat_template
    from train.generate import generate_replies
    from train.trainer import load_model, load_tokenizer

    tokenizer = load_tokenizer(base_model)
    template = ensure_chat_template(tokenizer)
    model = load_model(base_model, torch.float32)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise ConfigError(
                f"--adapter {adapter}: no adapter_config.json there; pass the folder `etl train --out` wrote."
            )
        model = PeftModel.from_pretrained(model, adapter)
    model.to("cuda" if torch.cuda.is_available() else "cpu")

    def answer(prompts: list[list[dict]]) -> list[str]:
        return generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size)

    described = {
        "model": str(base_model),
        "adapter": str(adapter) if adapter else None,
        "chat_template": template,
        "max_new_tokens": max_new_tokens,
        "decoding": "greedy",
    }
    return answer, described


def write_manifest(manifest: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / EVAL_MANIFEST
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # never half a manifest where a promotion reads one
    return path
