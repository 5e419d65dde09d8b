"""Grounding (issue 49): the catalog entries a question is about, found the way customers name
dishes, put into the system prompt of the published examples; the manifest and card say so."""

from __future__ import annotations

import json

import polars as pl
import pytest
import yaml

from etl.catalog import load_catalog
from etl.config import GroundingConfig, load_config
from etl.run.runner import run_pipeline
from etl.stages.ground import GroundStage
from etl.text.menu_retrieval import GROUNDING_HEADER, MenuRetriever, base_prompt, card
from tests.conftest import SAMPLE, without_model_stages

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")


def names(question: str) -> list[str]:
    return [d.name for d in MenuRetriever(CATALOG).retrieve(question)]


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("How much is the Paleo Power Bowl?", "Paleo Power Bowl"),
        ("how much is the paleo bowl", "Paleo Power Bowl"),  # in part
        ("whats in the peachtre powr bowl", "Peachtree Power Bowl"),  # misspelt
        ("the steak one with chimichurri, how many calories?", "Paleo Power Bowl"),  # described
        ("calories in the shepherds pie", "Lentil Shepherd's Pie"),
        ("do you have the turkey chili", "Southern Turkey Chili"),
    ],
)
def test_a_dish_is_found_however_the_customer_names_it(question, first):
    assert names(question)[0] == first


def test_a_named_dish_brings_no_lookalikes_and_needs_bring_what_fits():
    assert names("How much is the Paleo Power Bowl?") == ["Paleo Power Bowl"]  # not the Peachtree Power Bowl
    fitting = MenuRetriever(CATALOG).retrieve("something vegan under 500 calories")
    assert fitting and all("vegan" in d.diet_tags and d.calories <= 500 for d in fitting)
    allergy = MenuRetriever(CATALOG).retrieve("I have a sesame allergy. Which meals are safe for me?")
    assert allergy and all("sesame" not in d.allergens for d in allergy)  # not the dishes made with sesame
    assert set(names("Which has more protein, the buddha bowl or the tofu scramble?")) == {
        "Vegan Buddha Bowl",
        "Tofu Scramble Bowl",
    }


def test_everyday_words_are_not_misspelt_dish_names():
    assert names("thanks so much!") == [] and names("where is my order") == []
    assert "Cauliflower Fried Rice" not in names("Ordering for a friend, what is the price of the pesto one?")
    assert "Protein Pancake Stack" not in names("is the steak one good")


def test_the_entry_is_one_line_of_catalog_facts_and_the_prompt_comes_back_without_it():
    bowl = CATALOG.by_name["paleo power bowl"]
    line = card(bowl, CATALOG.money)
    assert line.startswith("Paleo Power Bowl: $14.95; 590 calories; 42 g protein;") and "chimichurri" in line
    prompt, found = MenuRetriever(CATALOG).grounded("You are the assistant.", "how much is the paleo bowl")
    assert found == [bowl] and prompt == "You are the assistant." + GROUNDING_HEADER + "\n- " + line
    assert base_prompt(prompt) == "You are the assistant."


def test_the_stage_grounds_only_its_tasks_and_drops_nothing(sample_run):
    from etl.store import Store

    examples = Store(sample_run.store_dir, "healthy-bites").examples()
    result = GroundStage(GroundingConfig(tasks=["menu_qa", "recommendation"]), CATALOG).apply(examples, lambda n: None)
    assert result.kept.height == examples.height and result.dropped.height == 0
    after = result.kept.sort("id")
    before = examples.sort("id")
    grounded = after.filter(pl.col("task").is_in(["menu_qa", "recommendation"]))
    systems = [m[0]["content"] for m in grounded["messages"].to_list()]
    assert sum(GROUNDING_HEADER in s for s in systems) >= 0.9 * len(systems)
    other = pl.col("task") == "order_support"
    assert after.filter(other)["messages"].to_list() == before.filter(other)["messages"].to_list()
    assert result.counts["grounded"] + result.counts["without_entries"] == grounded.height


def test_a_grounded_version_records_its_grounding_and_prompt_library(sample_copy, tmp_path):
    config_path = without_model_stages(sample_copy / "pipeline.yaml")
    settings = yaml.safe_load(config_path.read_text())
    settings.setdefault("format", {})["grounding"] = {"tasks": ["menu_qa"], "max_entries": 2}
    config_path.write_text(yaml.safe_dump(settings, sort_keys=False))
    summary = run_pipeline(load_config(config_path), store=tmp_path / "store")
    version = tmp_path / "store" / "healthy-bites" / summary.publish["version"]
    manifest = json.loads((version / "manifest.json").read_text())
    grounding = manifest["grounding"]
    assert grounding["tasks"] == ["menu_qa"] and grounding["max_entries"] == 2 and grounding["grounded"]["menu_qa"] > 0
    assert GROUNDING_HEADER not in manifest["prompts"]["menu_qa"]  # the library holds the task's prompt
    menu = pl.read_parquet(next((version / "data" / "menu_qa").glob("*.parquet")))
    assert all(m[0]["content"].count("\n- ") <= 2 for m in menu["messages"].to_list())
    assert "catalog entries their question is about" in (version / "README.md").read_text()
    assert summary.invariant_holds
