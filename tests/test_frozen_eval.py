"""The frozen eval set (issue 49): its questions, what a right answer must state, and that no
question is a rephrasing of a train question of the version it was frozen against."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from etl.catalog import load_catalog
from etl.config import load_config
from etl.store import Store
from tests.conftest import SAMPLE
from train import frozen_eval
from train.metrics import MenuReader, frozen_menu_right, frozen_recommendation_fits, score_frozen

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")
READER = MenuReader(CATALOG)
COMPARATIVE = {"protein": "has more protein than", "calories": "has fewer calories than", "price": "is cheaper than"}


def dish(dish_id: str):
    return READER.catalog_dish(dish_id)


def oracle(item) -> str:
    """A right answer, written the way the catalog says it."""
    expected = item.expected
    if item.task == "recommendation":
        from etl.catalog import Constraint
        from etl.text.menu_retrieval import Bounds, fits_request

        needs = [Constraint(kind="diet", value=v) for v in expected.get("diets", [])]
        needs += [Constraint(kind="allergen", value=v) for v in expected.get("allergens", [])]
        bounds = Bounds(expected.get("max_calories"), expected.get("min_protein"))
        fitting = next(d for d in CATALOG.dishes if fits_request(CATALOG, d, needs, bounds))
        return f"I'd recommend the {fitting.name}."
    if "winner" in expected:
        winner = dish(expected["winner"])
        loser = dish(next(d for d in item.dishes if d != winner.id))
        return f"The {winner.name} {COMPARATIVE[expected['attribute']]} the {loser.name}."
    subject = dish(item.dishes[0])
    if "price" in expected:
        return f"The {subject.name} is ${subject.price:.2f}."
    if "calories" in expected:
        return f"It has {subject.calories} calories."
    if "protein_g" in expected:
        return f"It has {subject.protein_g:g} grams of protein."
    if "ingredients" in expected:
        return f"The {subject.name} is made with {', '.join(subject.ingredients)}."
    return "Yes, it does." if expected["yes"] else "No, it doesn't."


def wrong(item) -> str:
    """An answer the catalog contradicts, or that does not say what was asked."""
    expected = item.expected
    if item.task == "recommendation":
        return "I'd recommend the Moonlight Mango Bowl."  # no such dish
    if "winner" in expected:
        loser = dish(next(d for d in item.dishes if d != expected["winner"]))
        return f"The {loser.name} does."
    subject = dish(item.dishes[0])
    if "price" in expected:
        return f"The {subject.name} is ${subject.price + 1:.2f}."
    if "calories" in expected or "protein_g" in expected:
        return "It's a great choice, very filling."
    if "ingredients" in expected:
        return "It's one of our favourites."
    return "No, it doesn't." if expected["yes"] else "Yes, it does."


def test_the_set_is_large_and_names_dishes_the_ways_customers_do():
    menu = frozen_eval.menu_items(CATALOG)
    requests = frozen_eval.recommendation_items(CATALOG)
    assert len(menu) >= 300 and len(requests) >= 300
    styles = Counter(i.style for i in menu)
    assert set(styles) == {"exact", "lower", "partial", "misspelt", "described"} and min(styles.values()) >= 40
    partial = next(i for i in menu if i.style == "partial" and i.dishes == ["paleo-power-bowl"])
    assert "paleo bowl" in partial.question and "Paleo Power Bowl" in partial.canonical
    assert any("the steak one with butternut squash" in i.question for i in menu)  # its first and a unique ingredient
    # written twice, the same set: ids, questions and fingerprint
    again = frozen_eval.items_frame(frozen_eval.menu_items(CATALOG) + requests)
    assert frozen_eval.fingerprint(again) == frozen_eval.fingerprint(frozen_eval.items_frame(menu + requests))


def test_right_answers_pass_and_wrong_ones_fail_on_every_question():
    items = frozen_eval.menu_items(CATALOG) + frozen_eval.recommendation_items(CATALOG)
    for item in items:
        judge = frozen_menu_right if item.task == "menu_qa" else frozen_recommendation_fits
        assert judge(item, oracle(item), READER), (item.question, oracle(item))
        assert not judge(item, wrong(item), READER), (item.question, wrong(item))
    scored = score_frozen("menu_qa", items[:10], [oracle(i) for i in items[:10]], READER)
    assert scored["fact_accuracy"]["value"] == 1.0 and scored["correct"] == [True] * 10


@pytest.fixture(scope="module")
def frozen(sample_run, tmp_path_factory):
    config = load_config(SAMPLE / "pipeline.yaml")
    store = Store(Path(sample_run.store_dir), config.dataset)
    return config, store, frozen_eval.freeze(config, CATALOG, store, store.latest())


def test_no_frozen_question_is_a_rephrasing_of_a_train_question(frozen):
    config, store, record = frozen
    items, loaded = frozen_eval.load(store.root, store.dataset)
    assert loaded == record and record["sizes"]["menu_qa"] >= 300 and record["sizes"]["recommendation"] >= 300
    closest = frozen_eval.closest_train(items, store.examples(store.latest()), config.dedup.semantic)
    assert max(closest) < config.dedup.semantic.threshold
    check = record["rephrasing_check"]
    assert check["candidates"] == len(frozen_eval.menu_items(CATALOG)) + len(frozen_eval.recommendation_items(CATALOG))
    sentiment = [i for i in items if i.task == "review_sentiment"]
    assert len(sentiment) >= 400 and {i.label for i in sentiment} == {"positive", "negative"}


def test_a_changed_frozen_set_is_refused(frozen):
    import polars as pl

    _, store, _ = frozen
    path = frozen_eval.folder(store.root, store.dataset) / frozen_eval.QUESTIONS
    original = pl.read_parquet(path)
    try:
        original.with_columns(pl.col("question").str.replace("Bowl", "Plate")).write_parquet(path)
        with pytest.raises(frozen_eval.ConfigError, match="fingerprint"):
            frozen_eval.load(store.root, store.dataset)
    finally:
        original.write_parquet(path)


def test_an_answer_echoing_the_questions_misspelt_name_invents_no_dish():
    item = next(i for i in frozen_eval.menu_items(CATALOG) if i.style == "misspelt" and "protein_g" in i.expected)
    echoed = item.question.split(" the ", 1)[1].split(" pack")[0].split("?")[0]
    subject = dish(item.dishes[0])
    answer = f"The {echoed.strip()} has {subject.protein_g:g} grams of protein."
    assert READER.invented_dishes(answer, item.question) == []
    assert frozen_menu_right(item, answer, READER)
