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
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from etl.catalog import Catalog, load_catalog
from etl.config import PipelineConfig
from etl.errors import ConfigError
from etl.stages.validate.gx_suites import default_suites_dir, leak_patterns, load_suite
from etl.store import Store
from etl.text.menu_retrieval import card
from train.eval_set import GROUNDABLE, EvalItem, EvalSet, build_eval_set, general_items
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
from train.preference_figures import preference_figures

EVAL_MANIFEST = "eval_manifest.json"
EVAL_PAGE = "eval.html"
REPLY_TASKS = ("order_support", "policy_qa", "customer_service")
SENTIMENT_TOKENS = 8  # a label is one word
SAMPLES_SHOWN = 10

Progress = Callable[[str, int], Callable[[int], None]]


def no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


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
    # pairs -> {"chosen": [log p], "rejected": [log p]} (train/preference_figures.py); None: not scored
    score: Callable[[list[dict]], dict[str, list[float]]] | None = None


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
    eval_set = _eval_set(config, store, version, tasks, limit, source, grounding, general)
    catalog = load_catalog(config.catalog_file("menu"), config.catalog_file("stores"))
    items = eval_set.items
    leaks = published_leak_patterns(config) if any(items.get(t) for t in REPLY_TASKS) else []
    results: dict[str, dict] = {}
    answers: dict[str, dict[str, list[str]]] = {}
    seconds: dict[str, dict[str, float]] = {}
    reader = MenuReader(catalog)
    for answerer in answerers:
        results[answerer.name], answers[answerer.name], seconds[answerer.name] = {}, {}, {}
        for task, task_items in items.items():
            if not task_items:
                results[answerer.name][task] = {"examples": 0, "main_metric": MAIN_METRIC[task]}
                continue
            replies, seconds[answerer.name][task] = _answer_task(answerer, task, task_items, max_new_tokens, progress)
            answers[answerer.name][task] = replies
            results[answerer.name][task] = {
                "examples": len(task_items),
                "example_ids": [i.example_id for i in task_items],
                "main_metric": MAIN_METRIC[task],
                **score_task(task, task_items, replies, reader, config, leaks),
            }
    out = {
        **(described or {}),
        "dataset": dataset,
        "version": version,
        "fingerprint": manifest["fingerprint"],
        "eval_set": eval_set.description,
        "tasks": _public(results[answerers[-1].name]),
        "seconds": seconds,
    }
    retrieval = {t: f for t, i in items.items() if (f := retrieval_figures(t, i, catalog))}
    if retrieval:
        out["retrieval"] = retrieval
    if len(answerers) > 1:
        out |= _compared(items, results, answerers[0].name, answerers[-1].name)
    if preference := _preference_figures(store, version, answerers):
        out["preference"] = preference
    return out, {"answers": answers, "items": items, "catalog": catalog, "results": results}


def _preference_figures(store: Store, version: str, answerers: list[Answerer]) -> dict | None:
    """On the version's eval preference pairs: the share each answerer gives the chosen answer
    the higher log-probability, and the last answerer's implicit reward (accuracy, mean margin)
    against the first (the base model: a DPO adapter's own reference, its SFT adapter, is in
    its training manifest)."""
    scored = [a for a in answerers if a.score is not None]
    pairs = store.extra("preference", version).filter(pl.col("split") == "eval")
    if not scored or pairs.height == 0:
        return None
    rows = pairs.select("prompt", "chosen", "rejected").to_dicts()
    logps = {a.name: a.score(rows) for a in scored}
    figures = {name: preference_figures(lp, lp, 1.0)["prefers_chosen"] for name, lp in logps.items()}
    out = {"pairs": pairs.height, "prefers_chosen": figures}
    if len(scored) > 1:
        first, last = scored[0].name, scored[-1].name
        against = preference_figures(logps[last], logps[first], 1.0)
        out["implicit_reward"] = {
            "of": last,
            "against": first,
            "beta": 1.0,
            **{k: against[k] for k in ("reward_accuracy", "mean_margin")},
        }
    return out


def _compared(items: dict, results: dict, first: str, last: str) -> dict:
    """The first answerer's figures (the base model's) and each task's paired difference."""
    return {
        first: _public(results[first]),
        "difference": {
            task: d
            for task, task_items in items.items()
            if task_items and (d := difference(task, results[first][task], results[last][task], task_items))
        },
    }


def _eval_set(config, store, version, tasks, limit, source, grounding, general) -> EvalSet:
    """The questions asked: the frozen set (or the version's eval split), and the public set
    `general` names when there is one (task `general`)."""
    if "general" in (tasks or []) and general is None:
        raise ConfigError("task general is the public set --general PATH names: pass --general too.")
    set_tasks = [t for t in tasks if t != "general"] if tasks else None
    if tasks and not set_tasks:  # only the general check was asked for
        eval_set = EvalSet({}, {"source": "general only"})
    else:
        eval_set = build_eval_set(config, store, version, set_tasks, limit, source, grounding)
    if general is not None:
        eval_set.items["general"], eval_set.description["general"] = general_items(general, limit)
    return eval_set


def _answer_task(answerer, task, task_items, max_new_tokens, progress) -> tuple[list[str], float]:
    """One answerer's replies to one task's questions, and the seconds they took."""
    started = time.perf_counter()
    tokens = SENTIMENT_TOKENS if task == "review_sentiment" else max_new_tokens
    advance = progress(f"{answerer.name}: {task}", len(task_items))
    replies = answerer.answer([i.prompt for i in task_items], tokens, advance)
    return replies, round(time.perf_counter() - started, 3)


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

    def score(self, pairs: list[dict]) -> dict[str, list[float]]:
        from train.preference_figures import model_logps

        return model_logps(self.model, self.tokenizer, pairs, max_length=1024)

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
