"""Task metrics checked against known answers (issue 38): a "model" that answers with the
reference scores 1.0, one that swaps a price or names a dish the menu lacks loses exactly
those answers, and promotion keeps the current adapter when a task gets worse."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from etl.catalog import load_catalog
from etl.store import Store
from tests.conftest import SAMPLE
from train.metrics import (
    MenuReader,
    not_worse,
    score_menu_qa,
    score_recommendation,
    score_replies,
    score_sentiment,
    share,
)


@pytest.fixture(scope="module")
def reader() -> MenuReader:
    return MenuReader(load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml"))


def turns(examples: pl.DataFrame, role: str) -> list[str]:
    """Each example's last turn of `role`."""
    return [[m["content"] for m in messages if m["role"] == role][-1] for messages in examples["messages"].to_list()]


@pytest.fixture(scope="module")
def published(sample_run) -> pl.DataFrame:
    return Store(sample_run.store_dir, "healthy-bites").examples("v1")


def grounded(published: pl.DataFrame, task: str) -> pl.DataFrame:
    """The task's examples written from the catalog (every answer read back by synthesis)."""
    rows = published.filter((pl.col("task") == task) & (pl.col("source") == "catalog"))
    assert rows.height > 100
    return rows


def test_the_reference_answers_score_one(published, reader):
    menu = grounded(published, "menu_qa")
    scores = score_menu_qa(turns(menu, "user"), turns(menu, "assistant"), reader)
    assert scores["fact_accuracy"]["value"] == 1.0 and scores["fact_accuracy"]["n"] == menu.height
    assert scores["invented_dish_share"]["value"] == 0.0
    assert scores["fact_accuracy"]["low"] > 0.98  # Wilson's interval on hundreds of answers

    recommendations = grounded(published, "recommendation")
    scores = score_recommendation(turns(recommendations, "user"), turns(recommendations, "assistant"), reader)
    assert scores["fitting_share"]["value"] == 1.0 and scores["invented_dish_share"]["value"] == 0.0

    reviews = published.filter(pl.col("task") == "review_sentiment")
    labels = reviews["label"].to_list()
    scores = score_sentiment(labels, labels)
    assert scores["accuracy"]["value"] == 1.0 and scores["macro_f1"]["value"] == 1.0
    assert scores["accuracy"]["n"] == reviews.height == sum(map(sum, scores["confusion"]["matrix"]))
    assert all(c["f1"] == 1.0 for c in scores["per_class"].values() if c["support"])


def test_a_swapped_price_costs_exactly_the_answers_it_is_in(published, reader):
    menu = grounded(published, "menu_qa")
    questions, answers = turns(menu, "user"), turns(menu, "assistant")
    priced = [i for i, a in enumerate(answers) if "$" in a]
    assert len(priced) >= 20
    swapped = list(answers)
    for i in priced[:20]:  # one dollar more on the first price the answer states
        start = swapped[i].index("$") + 1
        end = start + len(swapped[i][start:].split(".")[0])
        swapped[i] = swapped[i][:start] + str(int(swapped[i][start:end]) + 1) + swapped[i][end:]
    scores = score_menu_qa(questions, swapped, reader)
    assert scores["fact_accuracy"]["value"] == pytest.approx((len(answers) - 20) / len(answers))


def test_a_dish_the_menu_lacks_is_counted(published, reader):
    recommendations = grounded(published, "recommendation")
    questions, answers = turns(recommendations, "user"), turns(recommendations, "assistant")
    made_up = [a + " You could also try our Moonlight Mango Bowl." if i < 10 else a for i, a in enumerate(answers)]
    scores = score_recommendation(questions, made_up, reader)
    assert scores["invented_dish_share"]["value"] == pytest.approx(10 / len(answers))
    assert scores["fitting_share"]["value"] == pytest.approx((len(answers) - 10) / len(answers))
    assert reader.invented_dishes("The Peachtree Power Bowl is $13.95.") == []  # a menu dish is not one


def test_sentiment_answers_that_give_no_label_are_wrong_and_shown_as_other():
    scores = score_sentiment(
        ["Positive.", "negative", "I think it is mixed", "neutral"], ["positive"] * 2 + ["neutral"] * 2
    )
    assert scores["accuracy"]["value"] == 0.5 and scores["accuracy"]["n"] == 4
    assert scores["confusion"]["matrix"][1] == [0, 1, 0, 1]  # neutral: one right, one gave no label
    assert scores["per_class"]["positive"]["recall"] == 0.5


def test_replies_score_chrf_and_count_leaks_and_invented_order_numbers():
    references = ["Your order HB-123456 ships tomorrow.", "We open at 9am on Sundays."]
    prompts = ["Where is my order HB-123456?", "When do you open on Sunday?"]
    same = score_replies(references, references, prompts, [r"[\w.]+@[\w.]+\.\w+"], [r"\bHB-\d{6}\b"])
    assert same["chrf"]["value"] == 1.0 and same["chrf"]["n"] == 2
    assert same["personal_data_share"]["value"] == 0.0 and same["invented_order_number_share"]["value"] == 0.0
    worse = score_replies(
        ["Your order HB-999999 ships, write to jo@example.com.", "We open at 9am on Sundays."],
        references,
        prompts,
        [r"[\w.]+@[\w.]+\.\w+"],
        [r"\bHB-\d{6}\b"],
    )
    assert worse["chrf"]["value"] < 1.0
    assert worse["personal_data_share"]["value"] == 0.5 and worse["invented_order_number_share"]["value"] == 0.5


def test_wilson_intervals_are_honest_about_small_samples():
    eight = share(8, 8)
    assert eight.value == 1.0 and eight.low < 0.7  # 8 of 8 cannot promise more than about 68%
    assert share(200, 200).low > 0.98
    assert math.isnan(share(0, 0).value)


def test_promotion_keeps_the_current_adapter_when_a_task_falls_beyond_its_interval(published, reader):
    menu = grounded(published, "menu_qa")
    questions, answers = turns(menu, "user"), turns(menu, "assistant")
    current = {"menu_qa": score_menu_qa(questions, answers, reader)}
    degraded = [a.replace("$", "$1") for a in answers]  # every price wrong
    worse = {"menu_qa": score_menu_qa(questions, degraded, reader)}
    promoted, reasons = not_worse(worse, current)
    assert not promoted and reasons and reasons[0].startswith("menu_qa fact_accuracy fell from 1.000")
    assert not_worse(current, worse) == (True, [])  # better is promoted
    assert not_worse(current, current) == (True, [])  # equal is not worse


def test_etl_promote_moves_latest_only_when_the_new_adapter_is_not_worse(tmp_path):
    from typer.testing import CliRunner

    from etl.cli import app

    def evaluated(folder, value: float, fingerprint: str = "f" * 64):
        folder.mkdir()
        figure = share(round(value * 200), 200).as_dict()
        tasks = {"menu_qa": {"main_metric": "fact_accuracy", "example_ids": ["a", "b"], "fact_accuracy": figure}}
        manifest = {"dataset": "healthy-bites", "version": "v1", "fingerprint": fingerprint, "tasks": tasks}
        (folder / "eval_manifest.json").write_text(json.dumps(manifest))
        (folder / "adapter_config.json").write_text("{}")
        return folder

    current, better, worse = (
        evaluated(tmp_path / n, v) for n, v in (("current", 0.5), ("better", 0.75), ("worse", 0.3))
    )
    models, runner = tmp_path / "models", CliRunner()
    first = runner.invoke(app, ["promote", str(current), "--models", str(models)])
    assert first.exit_code == 0 and (models / "latest").read_text().strip() == str(current.resolve())
    kept = runner.invoke(app, ["promote", str(worse), "--models", str(models)])
    assert kept.exit_code == 9, kept.output
    assert "menu_qa fact_accuracy fell from 0.500 (n=200" in kept.output
    assert (models / "latest").read_text().strip() == str(current.resolve())
    promoted = runner.invoke(app, ["promote", str(better), "--models", str(models)])
    assert promoted.exit_code == 0, promoted.output
    assert (models / "latest").read_text().strip() == str(better.resolve())
    elsewhere = evaluated(tmp_path / "elsewhere", 0.9, fingerprint="0" * 64)
    refused = runner.invoke(app, ["promote", str(elsewhere), "--models", str(models)])
    assert refused.exit_code == 2 and "different data" in refused.output
    empty = evaluated(tmp_path / "no-adapter", 0.9)
    (empty / "adapter_config.json").unlink()
    refused = runner.invoke(app, ["promote", str(empty), "--models", str(models)])
    assert refused.exit_code == 2 and "no adapter" in refused.output
    assert (models / "latest").read_text().strip() == str(better.resolve())
