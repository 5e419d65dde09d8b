"""The questions an evaluation asks: the dataset's frozen set (train/frozen_eval.py) or a version's
eval split, as items with their prompt and what a right answer holds; a public question set
(`--general`) beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.catalog import Catalog, load_catalog
from etl.config import PipelineConfig
from etl.errors import ConfigError
from etl.example import TASKS
from etl.store import Store
from etl.text.menu_retrieval import MenuRetriever, base_prompt, ground_prompt
from train import frozen_eval

FROZEN_TASKS = ("menu_qa", "recommendation", "review_sentiment")
# the tasks whose prompts may carry catalog entries (format.grounding)
GROUNDABLE = ("menu_qa", "recommendation")


@dataclass
class EvalItem:
    """One question: what the model sees (the prompt up to the turn it writes) and what is right."""

    example_id: str
    task: str
    prompt: list[dict]
    reference: str  # the reference reply, or what a right answer states (frozen questions)
    label: str | None = None
    frozen: frozen_eval.FrozenItem | None = None
    entries: list[str] = field(default_factory=list)  # dish ids put into the prompt

    @property
    def question(self) -> str:
        return next((m["content"] for m in reversed(self.prompt) if m["role"] == "user"), "")


@dataclass
class EvalSet:
    items: dict[str, list[EvalItem]]
    description: dict  # what the manifest says of the set: source, fingerprints, grounding, checks


def split_items(examples: pl.DataFrame, tasks: list[str], limit: int | None = None) -> dict[str, list[EvalItem]]:
    """Per task, the version's eval examples in id order (the first `limit` of each), cut at the last assistant turn."""
    chosen = examples.filter((pl.col("split") == "eval") & pl.col("task").is_in(tasks)).sort("task", "id")
    items: dict[str, list[EvalItem]] = {task: [] for task in tasks}
    for row in chosen.iter_rows(named=True):
        messages = list(row["messages"])
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        if limit is None or len(items[row["task"]]) < limit:
            item = EvalItem(row["id"], row["task"], messages[:last], messages[last]["content"], row.get("label"))
            items[row["task"]].append(item)
    return items


def frozen_items(
    frozen: list[frozen_eval.FrozenItem],
    prompts: dict[str, str],
    catalog: Catalog,
    grounded: list[str],
    max_entries: int,
    tasks: list[str],
    limit: int | None,
) -> dict[str, list[EvalItem]]:
    """The frozen questions of `tasks` as prompts: the task's system prompt, with the question's
    catalog entries for the grounded tasks, then the question."""
    retriever = MenuRetriever(catalog, max_entries)
    out: dict[str, list[EvalItem]] = {}
    for task in tasks:
        chosen = [f for f in frozen if f.task == task][:limit]
        found = retriever.retrieve_many([f.question for f in chosen]) if task in grounded else [[] for _ in chosen]
        items = []
        for item, dishes in zip(chosen, found):
            system = ground_prompt(prompts[task], dishes, catalog)
            prompt = [{"role": "system", "content": system}, {"role": "user", "content": item.question}]
            items.append(
                EvalItem(
                    item.id, task, prompt, _expected_text(item, catalog), item.label, item, [d.id for d in dishes]
                )
            )
        out[task] = items
    return out


def _expected_text(item: frozen_eval.FrozenItem, catalog: Catalog) -> str:
    """What a right answer states, in words, for the page (the catalog's facts, never a customer's)."""
    if item.task == "review_sentiment":
        return item.label or ""
    if item.task == "recommendation":
        return "a menu dish fitting: " + json.dumps(item.expected, sort_keys=True)
    shown = {k: v for k, v in item.expected.items() if k != "winner_mentions"}
    return json.dumps(shown, sort_keys=True)


def build_eval_set(
    config: PipelineConfig,
    store: Store,
    version: str,
    tasks: list[str] | None,
    limit: int | None,
    source: str = "frozen",
    grounding: str = "auto",
) -> EvalSet:
    manifest = store.manifest(version)
    examples = store.examples(version)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    present = set(examples["task"])
    wanted = tasks or [t for t in TASKS if t in present or (source == "frozen" and t in FROZEN_TASKS)]
    unknown = sorted(set(wanted) - set(TASKS))
    if unknown:
        raise ConfigError(f"unknown task(s) {unknown}; known tasks are {list(TASKS)}")
    prompts = {**config.format.prompts_for(catalog.business), **manifest.get("prompts", {})}
    prompts = {task: base_prompt(prompt) for task, prompt in prompts.items()}
    built = manifest.get("grounding") or {}
    grounded = {
        "auto": list(built.get("tasks", [])),
        "on": list(config.format.grounding.tasks or GROUNDABLE),
        "off": [],
    }[grounding]
    max_entries = built.get("max_entries", config.format.grounding.max_entries)
    description: dict = {
        "source": source,
        "grounding": {"mode": grounding, "tasks": grounded, "max_entries": max_entries, "as_built": built or None},
    }
    if source == "split":
        return EvalSet(split_items(examples, wanted, limit), description)
    frozen, record = _frozen(config, catalog, store, version)
    mine = [t for t in wanted if t in FROZEN_TASKS]
    items = frozen_items(frozen, prompts, catalog, grounded, max_entries, mine, limit)
    items |= split_items(examples, [t for t in wanted if t not in FROZEN_TASKS], limit)
    closest = frozen_eval.closest_train(
        [i.frozen for t in mine for i in items[t] if t in GROUNDABLE], examples, config.dedup.semantic
    )
    description["frozen"] = {
        "fingerprint": record["fingerprint"],
        "generator": record["generator"],
        "frozen_against": record["frozen_against"],
        "sizes": record["sizes"],
        "tasks": mine,
        # this version's train questions the frozen set's questions rephrase (checked every time:
        # a later version's train could)
        "rephrasings_of_this_version": sum(v >= config.dedup.semantic.threshold for v in closest),
    }
    description["replies_from"] = f"{store.dataset} {version} eval split"
    return EvalSet(items, description)


def general_items(path: Path, limit: int | None) -> tuple[list[EvalItem], dict]:
    """A public question set on disk (`--general`): a folder or file `datasets.load_dataset`
    reads, with a `messages` column; its eval (or validation, or test) split, each
    conversation cut at its last assistant turn, whose text is the reference."""
    import hashlib

    from train.data import EVAL_SPLITS, load_folder

    loaded = load_folder(path, f"--general {path}", "Pass a folder or file of chat conversations.")
    split = next((s for s in EVAL_SPLITS if s in loaded), None)
    if split is None or "messages" not in loaded[split].column_names:
        raise ConfigError(
            f"--general {path} needs an eval, validation or test split with a `messages` column "
            f"(it has splits {', '.join(loaded)})."
        )
    conversations = list(loaded[split]["messages"])[:limit]
    items = []
    for i, messages in enumerate(conversations):
        last = max(j for j, m in enumerate(messages) if m["role"] == "assistant")
        items.append(EvalItem(f"general-{i}", "general", messages[:last], messages[last]["content"]))
    digest = hashlib.sha256(json.dumps(conversations, sort_keys=True).encode()).hexdigest()
    return items, {"name": path.name, "split": split, "questions": len(items), "fingerprint": digest}


def _frozen(config: PipelineConfig, catalog: Catalog, store: Store, version: str):
    loaded = frozen_eval.load(store.root, store.dataset)
    if loaded is None:
        frozen_eval.freeze(config, catalog, store, version)
        loaded = frozen_eval.load(store.root, store.dataset)
    return loaded
