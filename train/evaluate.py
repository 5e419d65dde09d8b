"""`etl eval`: the base model and an adapter answer the same eval set, task by task, and
train/metrics.py scores both; one manifest of figures and one HTML page.

The eval set (`source="frozen"`, the default): the dataset's frozen questions for menu_qa,
recommendation and review_sentiment (train/frozen_eval.py, written once and named by
fingerprint), and the version's eval split for the reply tasks (order_support, policy_qa,
customer_service: real conversations, de-identified). `source="split"` answers the version's
eval split for every task, as before the frozen set.

Prompts are the version's: each task's system prompt from the manifest's prompt library, and,
for the tasks the version was grounded for (`grounding="auto"`), the catalog entries of the
question found by the same retrieval the ground stage ran; `grounding="on"`/`"off"` overrides,
so one model can be measured closed book and grounded.

Greedy and batched, so the same model, adapter, precision and set always give the same
figures. Every figure carries its count and 95% interval, and adapter minus base a paired 95%
interval. The manifest holds figures, ids and counts, never text; the HTML page shows sampled
answers, and only de-identified or catalog text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from etl.catalog import Catalog, load_catalog
from etl.config import PipelineConfig
from etl.errors import ConfigError
from etl.example import TASKS
from etl.stages.validate.gx_suites import default_suites_dir, leak_patterns, load_suite
from etl.store import Store
from etl.text.menu_retrieval import MenuRetriever, base_prompt, card, ground_prompt
from train import frozen_eval
from train.metrics import (
    MAIN_METRIC,
    MenuReader,
    frozen_recommendation_fits,
    macro_f1_difference,
    paired_difference,
    score_frozen,
    score_general,
    score_menu_qa,
    score_recommendation,
    score_replies,
    score_sentiment,
    sentiment_label,
    share,
)

EVAL_MANIFEST = "eval_manifest.json"
EVAL_PAGE = "eval.html"
REPLY_TASKS = ("order_support", "policy_qa", "customer_service")
FROZEN_TASKS = ("menu_qa", "recommendation", "review_sentiment")
GROUNDABLE = ("menu_qa", "recommendation")
SENTIMENT_TOKENS = 8  # a label is one word
SAMPLES_SHOWN = 10

Progress = Callable[[str, int], Callable[[int], None]]


def no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


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


# ------------------------------------------------------------------ the set


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


# ------------------------------------------------------------------ scoring


def published_leak_patterns(config: PipelineConfig) -> list[str]:
    """The personal-data patterns of the published suite the pipeline gates versions with."""
    suites = Path(config.resolve(config.validate_.suites_dir)) if config.validate_.suites_dir else default_suites_dir()
    return leak_patterns(load_suite(suites / "published.json"))


def score_task(
    task: str, items: list[EvalItem], answers: list[str], reader: MenuReader, config: PipelineConfig, leaks: list[str]
) -> dict:
    """One task's figures, by the metric that task is judged on; `_per_item` (dropped before the
    manifest is written) keeps each answer's outcome for paired differences."""
    if task == "general":
        return score_general(answers, [i.reference for i in items])
    if task == "review_sentiment":
        figures = score_sentiment(answers, [i.label for i in items])
        return figures | {"_per_item": [sentiment_label(a) for a in answers]}
    if items and items[0].frozen is not None:
        figures = score_frozen(task, [i.frozen for i in items], answers, reader)
        correct = figures.pop("correct")
        return figures | {"_per_item": correct}
    questions = [i.question for i in items]
    if task == "menu_qa":
        return score_menu_qa(questions, answers, reader)
    if task == "recommendation":
        return score_recommendation(questions, answers, reader)
    prompts = ["\n".join(m["content"] for m in i.prompt) for i in items]
    figures = score_replies(
        answers, [i.reference for i in items], prompts, leaks, config.deidentify.order_number_patterns
    )
    return figures


def retrieval_figures(task: str, items: list[EvalItem], catalog: Catalog) -> dict | None:
    """For grounded frozen questions: the share whose entries hold the dish asked about
    (menu_qa), or hold a dish fitting the request (recommendation)."""
    if task not in GROUNDABLE or not items or items[0].frozen is None or not any(i.entries for i in items):
        return None
    reader = MenuReader(catalog)
    if task == "menu_qa":
        hits = sum(set(i.frozen.dishes) <= set(i.entries) for i in items)
    else:
        by_id = {d.id: d for d in catalog.dishes}
        hits = sum(
            any(frozen_recommendation_fits(i.frozen, f"the {by_id[d].name}", reader) for d in i.entries) for i in items
        )
    return {
        "recall": share(hits, len(items)).as_dict(),
        "entries_per_question": sum(len(i.entries) for i in items) / len(items),
    }


def difference(task: str, base: dict, adapter: dict, items: list[EvalItem]) -> dict | None:
    """Adapter minus base on the task's main metric, paired over the same questions."""
    metric = MAIN_METRIC[task]
    before, after = base.get("_per_item"), adapter.get("_per_item")
    if before is None or after is None:
        return None
    if task == "review_sentiment":
        figure = macro_f1_difference([i.label for i in items], after, before)
    else:
        figure = paired_difference([float(x) for x in after], [float(x) for x in before])
    return {"metric": metric, **figure.as_dict()}


# ------------------------------------------------------------------ the evaluation


@dataclass
class Answerer:
    """A model that answers prompts: `answer(prompts, max_new_tokens, progress) -> replies`."""

    name: str  # "base" or "adapter"
    answer: Callable[[list[list[dict]], int, Callable[[int], None]], list[str]]


def evaluate(
    config: PipelineConfig,
    store_root: Path,
    dataset: str,
    version: str | None,
    answerers: list[Answerer],
    tasks: list[str] | None = None,
    limit: int | None = None,
    described: dict | None = None,
    source: str = "frozen",
    grounding: str = "auto",
    max_new_tokens: int = 96,
    progress: Progress = no_progress,
    general: Path | None = None,
) -> tuple[dict, dict]:
    """(manifest, answers): figures for each answerer on one eval set; the answers (text, for the
    page) per answerer and task. The manifest's `tasks` are the last answerer's (the adapter's,
    when there is one): what `etl promote` compares."""
    store = Store(store_root, dataset)
    version = store.resolve(version or "latest")
    manifest = store.manifest(version)
    if "general" in (tasks or []) and general is None:
        raise ConfigError("task general is the public set --general PATH names: pass --general too.")
    set_tasks = [t for t in tasks if t != "general"] if tasks else None
    if tasks and not set_tasks:  # only the general check was asked for
        eval_set = EvalSet({}, {"source": "general only"})
    else:
        eval_set = build_eval_set(config, store, version, set_tasks, limit, source, grounding)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    reader = MenuReader(catalog)
    items = eval_set.items
    if general is not None:
        items["general"], eval_set.description["general"] = general_items(general, limit)
    leaks = published_leak_patterns(config) if any(items.get(t) for t in REPLY_TASKS) else []
    results: dict[str, dict] = {}
    answers: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, dict[str, float]] = {}
    for answerer in answerers:
        results[answerer.name], answers[answerer.name], seconds[answerer.name] = {}, {}, {}
        for task, task_items in items.items():
            if not task_items:
                results[answerer.name][task] = {"examples": 0, "main_metric": MAIN_METRIC[task]}
                continue
            started = time.perf_counter()
            tokens = SENTIMENT_TOKENS if task == "review_sentiment" else max_new_tokens
            advance = progress(f"{answerer.name}: {task}", len(task_items))
            replies = answerer.answer([i.prompt for i in task_items], tokens, advance)
            seconds[answerer.name][task] = round(time.perf_counter() - started, 3)
            answers[answerer.name][task] = replies
            results[answerer.name][task] = {
                "examples": len(task_items),
                "example_ids": [i.example_id for i in task_items],
                "main_metric": MAIN_METRIC[task],
                **score_task(task, task_items, replies, reader, config, leaks),
            }
    last = answerers[-1].name
    out = {
        **(described or {}),
        "dataset": dataset,
        "version": version,
        "fingerprint": manifest["fingerprint"],
        "eval_set": eval_set.description,
        "tasks": _public(results[last]),
        "seconds": seconds,
    }
    retrieval = {t: f for t, i in items.items() if (f := retrieval_figures(t, i, catalog))}
    if retrieval:
        out["retrieval"] = retrieval
    if len(answerers) > 1:
        first = answerers[0].name
        out[first] = _public(results[first])
        out["difference"] = {
            task: d
            for task, task_items in items.items()
            if task_items and (d := difference(task, results[first][task], results[last][task], task_items))
        }
    return out, {"answers": answers, "items": items, "catalog": catalog, "results": results}


def _public(results: dict) -> dict:
    """The figures without the per-item outcomes kept for differences."""
    return {task: {k: v for k, v in figures.items() if not k.startswith("_")} for task, figures in results.items()}


# ------------------------------------------------------------------ the model


def compute_precision(choice: str) -> str:
    """auto: bf16 where the CPU or GPU computes it natively (AVX-512 BF16, AMX, CUDA from
    Ampere), fp32 elsewhere: on such a CPU greedy answers come about 1.6x faster, and a 135M
    model's answers are the same words nearly always (both are deterministic on one machine)."""
    if choice != "auto":
        return choice
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


class ModelAnswerers:
    """The base model loaded once: answers as the base, then (after `with_adapter`) with the
    adapter merged into its weights, which generates as fast as the plain model."""

    def __init__(self, base_model: str, precision: str, batch_size: int) -> None:
        import torch

        from train.data import ensure_chat_template
        from train.trainer import load_model, load_tokenizer

        self.precision = compute_precision(precision)
        self.tokenizer = load_tokenizer(base_model)
        self.template = ensure_chat_template(self.tokenizer)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.model = load_model(base_model, dtype).to("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size

    def answer(self, prompts: list[list[dict]], max_new_tokens: int, progress: Callable[[int], None]) -> list[str]:
        from train.generate import generate_replies

        return generate_replies(self.model, self.tokenizer, prompts, max_new_tokens, self.batch_size, progress)

    def with_adapter(self, adapter: str) -> None:
        from peft import PeftModel

        check_adapter(Path(adapter))
        self.model = PeftModel.from_pretrained(self.model, adapter).merge_and_unload()


def check_adapter(folder: Path) -> None:
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(
            f"{folder}: no adapter_config.json there, so no adapter; pass the folder `etl train --out` wrote."
        )


def write_manifest(manifest: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / EVAL_MANIFEST
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)  # never half a manifest where a promotion reads one
    return path


def sampled_answers(detail: dict, seed: int = 0) -> dict[str, list[dict]]:
    """Per task, SAMPLES_SHOWN questions (seeded) with every answerer's answer, right or not, and
    the catalog facts of the dishes asked about: for the page, never for the manifest."""
    import random

    catalog: Catalog = detail["catalog"]
    by_id = {d.id: d for d in catalog.dishes}
    out: dict[str, list[dict]] = {}
    for task, items in detail["items"].items():
        if not items:
            continue
        chosen = sorted(random.Random(f"{seed}:{task}").sample(range(len(items)), min(SAMPLES_SHOWN, len(items))))
        rows = []
        for i in chosen:
            item = items[i]
            facts = [card(by_id[d], catalog.money) for d in (item.frozen.dishes if item.frozen else []) if d in by_id]
            answers = {
                name: (detail["answers"][name][task][i], _outcome(detail["results"][name][task], i))
                for name in detail["answers"]
            }
            rows.append(
                {
                    "id": item.example_id,
                    "question": item.question,
                    "style": item.frozen.style if item.frozen else None,
                    "reference": item.reference,
                    "facts": facts,
                    "entries": [by_id[d].name for d in item.entries if d in by_id],
                    "answers": answers,
                }
            )
        out[task] = rows
    return out


def _outcome(figures: dict, i: int):
    per_item = figures.get("_per_item")
    if per_item is None:
        return None
    return per_item[i]
