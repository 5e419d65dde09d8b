"""Task metrics of a published version: the reference answers read back against the catalog
(what the published data itself gets right), and, with --model, a model's (and adapter's)
answers to the eval split beside the base model's.

    python bench/eval.py                                  # runs the sample, scores its references
    python bench/eval.py --store S --dataset healthy-bites@v1 --model BASE [--adapter DIR] [--limit N]

Prints figures with their counts; never text.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from etl.catalog import load_catalog  # noqa: E402
from etl.config import load_config  # noqa: E402
from etl.store import Store  # noqa: E402
from train.metrics import MenuReader, score_menu_qa, score_recommendation  # noqa: E402


def last(messages: list[dict], role: str) -> str:
    return [m["content"] for m in messages if m["role"] == role][-1]


def references(examples: pl.DataFrame, reader: MenuReader) -> None:
    """The published answers of menu_qa and recommendation, by source, read against the catalog."""
    for task, score, main in (
        ("menu_qa", score_menu_qa, "fact_accuracy"),
        ("recommendation", score_recommendation, "fitting_share"),
    ):
        rows = examples.filter(pl.col("task") == task)
        for source, part in [("all", rows), *sorted(rows.group_by("source"), key=lambda g: g[0][0])]:
            name = source if isinstance(source, str) else source[0]
            chats = part["messages"].to_list()
            figures = score([last(c, "user") for c in chats], [last(c, "assistant") for c in chats], reader)[main]
            wrong = figures["n"] - round(figures["value"] * figures["n"])
            print(
                f"{task:15} {name:8} {main} {figures['value']:.4f} (95% {figures['low']:.4f}-{figures['high']:.4f}), "
                f"{wrong} of {figures['n']} answers contradict the catalog or name no menu dish"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "sample_data" / "pipeline.yaml")
    parser.add_argument("--store", type=Path, help="a store holding the version (default: run the sample)")
    parser.add_argument("--dataset", default="healthy-bites@v1")
    parser.add_argument("--model", help="a base model folder: its answers to the eval split, and the adapter's")
    parser.add_argument("--adapter")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()
    config = load_config(args.config)
    name, _, version = args.dataset.partition("@")
    with tempfile.TemporaryDirectory() as scratch:
        store = args.store
        if store is None:
            from etl.run.runner import run_pipeline

            store = Path(scratch) / "store"
            run_pipeline(config, store=store, work=Path(scratch) / "work")
        reader = MenuReader(load_catalog(config.catalog_file("menu"), config.catalog_file("stores")))
        references(Store(store, name).examples(version or "latest"), reader)
        if args.model:
            from train.evaluate import Answerer, ModelAnswerers, evaluate

            models = ModelAnswerers(args.model, "auto", 16)
            answerers = [Answerer("base", models.answer)]
            if args.adapter:

                def adapted(prompts, tokens, advance):
                    if not getattr(models, "adapted", False):
                        models.with_adapter(args.adapter)
                        models.adapted = True
                    return models.answer(prompts, tokens, advance)

                answerers.append(Answerer("adapter", adapted))
            started = time.perf_counter()
            manifest, _ = evaluate(
                config, store, name, version or None, answerers, None, args.limit, source="split",
                max_new_tokens=args.max_new_tokens,
            )  # fmt: skip
            print(f"base and adapter on the version's eval split ({time.perf_counter() - started:.1f} s)")
            for who, figures_of in (("base", manifest.get("base", manifest["tasks"])), ("last", manifest["tasks"])):
                for task, figures in figures_of.items():
                    main_figure = figures.get(figures["main_metric"])
                    if main_figure:
                        print(
                            f"  {who:5} {task:18} {figures['main_metric']} {main_figure['value']:.4f} n={main_figure['n']}"
                        )


if __name__ == "__main__":
    main()
