"""Catalog-grounded synthesis: every synthesised answer agrees with menu.yaml, train only, seeded, capped."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from etl.catalog import Constraint, load_catalog
from etl.config import SynthesisConfig
from etl.example import EXAMPLE_SCHEMA
from etl.stages.synthesis import SynthesisStage
from etl.stages.synthesis.grounding import Grounding
from etl.text.normalise import normalise
from tests.conftest import SAMPLE

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")


def dish(name: str):
    return CATALOG.by_name[name.lower()]


def originals(questions: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(task, split, customer question) -> original examples."""
    rows = []
    for i, (task, split, question) in enumerate(questions):
        messages = [
            {"role": "system", "content": "You are the assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": "An answer."},
        ]
        rows.append(
            {name: None for name in EXAMPLE_SCHEMA}
            | {
                "id": f"ex{i}",
                "task": task,
                "messages": messages,
                "split": split,
                "source": "faq",
                "record_id": f"r{i}",
            }
        )
    return pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)


def synthesise(frame: pl.DataFrame, **config) -> tuple[pl.DataFrame, SynthesisStage]:
    stage = SynthesisStage(SynthesisConfig(**config), CATALOG, "You are {business}.", ["menu_qa", "recommendation"])
    return stage.apply(frame, lambda n: None).kept, stage


ORIGINALS = originals(
    [("menu_qa", "train", f"How much is the {d.name}?") for d in CATALOG.dishes[:5]]
    + [
        ("menu_qa", "eval", "how much does the Keto Salmon Caesar cost"),
        ("recommendation", "train", "any keto meals?"),
    ]
    + [("menu_qa", "train", f"Tell me about your meal number {i}.") for i in range(40)]
)


# ------------------------------------------------------------------ the reader of answers


RIGHT = [
    ("How much is the Paleo Power Bowl?", "The Paleo Power Bowl is $14.95.", "menu_qa"),
    ("Does the Keto Salmon Caesar contain dairy?", "Yes, the Keto Salmon Caesar contains dairy.", "menu_qa"),
    (
        "Is the Vegan Buddha Bowl keto?",
        "No, the Vegan Buddha Bowl isn't keto. For a keto meal, try the Keto Salmon Caesar.",
        "menu_qa",
    ),
    ("Is the Keto Chicken Alfredo Zoodles dairy-free?", "No, they aren't dairy-free.", "menu_qa"),
    (
        "Which has more protein, the Paleo Power Bowl or the Vegan Buddha Bowl?",
        "The Paleo Power Bowl has more protein (42g) than the Vegan Buddha Bowl (19g).",
        "menu_qa",
    ),
    (
        "any vegan meals? I have a peanut allergy",
        "Try the Vegan Buddha Bowl. It's vegan and free of peanuts.",
        "recommendation",
    ),
]
WRONG = [
    # a price, calories, protein of the wrong dish
    ("How much is the Paleo Power Bowl?", "The Paleo Power Bowl is $13.95.", "menu_qa"),
    (
        "How many calories in the Paleo Power Bowl?",
        "The Paleo Power Bowl has 640 calories and 42g of protein.",
        "menu_qa",
    ),
    ("protein in the Paleo Power Bowl?", "The Paleo Power Bowl has 590 calories and 48g of protein.", "menu_qa"),
    # an allergen missed, one added, a "none" that is not so
    ("Does the Keto Salmon Caesar contain dairy?", "No, the Keto Salmon Caesar doesn't contain dairy.", "menu_qa"),
    ("Does the Paleo Power Bowl contain soy?", "The Paleo Power Bowl contains soy.", "menu_qa"),
    (
        "allergens in the Keto Salmon Caesar?",
        "The Keto Salmon Caesar contains none of the major allergens listed on our menu.",
        "menu_qa",
    ),
    # a yes that should be a no, a tag it does not carry, a dairy-free dish with dairy
    ("Is the Vegan Buddha Bowl keto?", "Yes, it's a great choice.", "menu_qa"),
    ("Is the Vegan Buddha Bowl keto?", "The Vegan Buddha Bowl is keto.", "menu_qa"),
    ("Is the Keto Chicken Alfredo Zoodles dairy-free?", "The Keto Chicken Alfredo Zoodles are dairy-free.", "menu_qa"),
    # the comparison turned round
    (
        "Which has more protein, the Paleo Power Bowl or the Vegan Buddha Bowl?",
        "The Vegan Buddha Bowl has more protein (19g) than the Paleo Power Bowl (42g).",
        "menu_qa",
    ),
    (
        "Which is cheaper, the Paleo Power Bowl or the Vegan Buddha Bowl?",
        "The Paleo Power Bowl is cheaper than the Vegan Buddha Bowl.",
        "menu_qa",
    ),
    # ingredients and descriptions of another dish, a number from nowhere, the asked dish never named
    ("What's in the Paleo Power Bowl?", "The Paleo Power Bowl is made with steak, kale and rice.", "menu_qa"),
    (
        "Tell me about the Paleo Power Bowl.",
        f"The Paleo Power Bowl: {dish('Vegan Buddha Bowl').description}",
        "menu_qa",
    ),
    ("How big is the Paleo Power Bowl?", "The Paleo Power Bowl weighs 450 grams.", "menu_qa"),
    ("How much is the Paleo Power Bowl?", "The Vegan Buddha Bowl is $12.95.", "menu_qa"),
    # a recommendation that breaks the need, a "none fits" when one does, no dish at all
    ("any vegan meals? I have a peanut allergy", "Try the Thai Peanut Noodle Bowl.", "recommendation"),
    ("Can you recommend something keto?", "I'd recommend the Vegan Buddha Bowl.", "recommendation"),
    ("Can you recommend something keto?", "Sorry, none of our meals is keto right now.", "recommendation"),
    ("Can you recommend something keto?", "Our chef loves everything.", "recommendation"),
]


@pytest.mark.parametrize(("question", "answer", "task"), RIGHT)
def test_the_reader_accepts_answers_that_agree_with_the_catalog(question, answer, task):
    assert Grounding(CATALOG).problems(question, answer, task) == []


@pytest.mark.parametrize(("question", "answer", "task"), WRONG)
def test_the_reader_finds_every_planted_contradiction(question, answer, task):
    assert Grounding(CATALOG).problems(question, answer, task), answer


# ------------------------------------------------------------------ the stage


def user_question(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def test_synthesised_questions_are_new_do_not_rephrase_eval_and_stay_under_the_cap():
    out, stage = synthesise(ORIGINALS, max_share=0.5, phrasings=4)  # every phrasing: the originals are among them
    made = out.filter(pl.col("source") == "catalog")
    assert made.height > 0 and (made["split"] == "train").all() and made["parent_id"].null_count() == made.height
    known = set(normalise(pl.Series([user_question(r) for r in ORIGINALS.iter_rows(named=True)])).to_list())
    asked = normalise(pl.Series([user_question(r) for r in made.iter_rows(named=True)])).to_list()
    assert not known & set(asked) and len(set(asked)) == len(asked)
    assert stage.rejected["duplicate_of_original"] >= 5 and stage.rejected["rephrases_eval"] >= 1
    # nothing made rephrases the eval question
    from etl.embeddings import Embedder

    vectors = Embedder()(["how much does the Keto Salmon Caesar cost", *asked], None, 64)
    assert float(np.max(vectors[1:] @ vectors[0])) < stage.config.eval_rephrase_threshold
    for task, n in made.group_by("task").len().iter_rows():
        train = ORIGINALS.filter((pl.col("task") == task) & (pl.col("split") == "train")).height
        assert n / (train + n) <= 0.5 + 1e-9
    assert "ungrounded" not in stage.rejected


def test_one_seed_gives_the_same_rows_another_seed_others():
    first, _ = synthesise(ORIGINALS)
    again, _ = synthesise(ORIGINALS.sample(fraction=1.0, shuffle=True, seed=3))
    other, _ = synthesise(ORIGINALS, seed=18)
    assert first.equals(again)
    assert not first.equals(other)


def test_an_unknown_intent_is_a_clear_error():
    with pytest.raises(ValueError, match="intents"):
        SynthesisConfig(intents=["ingredients", "wine_pairing"])


# ------------------------------------------------------------------ the sample run, every synthesised example


def independent_check(row: dict) -> None:
    """Per intent, the answer against the catalog, read plainly (not through grounding.py)."""
    intent = json.loads(row["augmentation"])["intent"]
    question, answer = user_question(row), row["messages"][-1]["content"]
    named = CATALOG.dishes_in(question)
    if intent == "price":
        assert re.findall(r"\$\d+(?:\.\d\d)?", answer) == [CATALOG.money(named[0].price)]
    elif intent == "nutrition":
        assert f"{named[0].calories} calories" in answer and f"{named[0].protein_g:g}g of protein" in answer
    elif intent == "ingredients":
        assert all(i in answer for i in named[0].ingredients)
    elif intent == "description":
        assert named[0].description in answer
    elif intent == "allergens":
        if named[0].allergens:
            assert all(a in answer for a in named[0].allergens)
        else:
            assert "none of the major allergens" in answer
    elif intent == "allergen_check":
        asked = next(a for a in CATALOG.allergens if re.search(rf"\b{a}\b", question.replace(named[0].name, "")))
        assert answer.startswith("Yes") == (asked in named[0].allergens)
    elif intent == "diet_fit":
        asked = max((t for t in CATALOG.diet_tags if t in question.replace(named[0].name, "")), key=len)
        assert answer.startswith("Yes") == (asked in named[0].diet_tags)
    elif intent == "comparison":
        attribute = "protein_g" if "protein" in question else "calories" if "calor" in question else "price"
        a, b = named
        first = CATALOG.dishes_in(answer)[0]
        if getattr(a, attribute) != getattr(b, attribute):
            best = (max if attribute == "protein_g" else min)((a, b), key=lambda d: getattr(d, attribute))
            assert first.id == best.id
    elif intent == "nothing_fits":
        needs = [Constraint.parse(c) for c in row["constraints"]]
        assert row["dish"] is None and not any(CATALOG.fits(d, needs) for d in CATALOG.dishes)
    else:  # recommendations
        needs = [Constraint.parse(c) for c in row["constraints"]]
        assert intent in ("diet", "allergy", "diet_and_allergy") and needs
        assert all(CATALOG.fits(d, needs) for d in CATALOG.dishes_in(answer)) and row["dish"] in answer


def test_every_synthesised_answer_in_the_sample_run_agrees_with_the_catalog(sample_run):
    from etl.store import Store

    published = Store(sample_run.store_dir, sample_run.dataset).examples("latest")
    made = published.filter(pl.col("source") == "catalog")
    assert made.height >= 400
    assert (made["split"] == "train").all() and made["parent_id"].null_count() == made.height
    assert "ungrounded" not in sample_run.synthesis["rejected"]
    grounding = Grounding(CATALOG)
    intents: dict[str, set[str]] = {}
    for row in made.iter_rows(named=True):  # every one, not a sample
        augmentation = json.loads(row["augmentation"])
        assert augmentation["method"] == "catalog" and augmentation["seed"] == 17
        assert grounding.problems(user_question(row), row["messages"][-1]["content"], row["task"]) == []
        independent_check(row)
        shape = user_question(row)
        for d in CATALOG.dishes_in(shape):
            shape = shape.replace(d.name, "{dish}")
        intents.setdefault(augmentation["intent"], set()).add(shape)
    # every intent, several phrasings each
    assert {
        "ingredients",
        "allergens",
        "allergen_check",
        "diet_fit",
        "price",
        "nutrition",
        "description",
        "comparison",
    } <= set(intents)
    assert {"diet", "allergy", "diet_and_allergy"} <= set(intents)
    assert all(len(shapes) >= 3 for shapes in intents.values()), {i: len(s) for i, s in intents.items()}
