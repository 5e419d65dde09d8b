"""menu_qa: questions about dishes, ingredients, allergens, prices.

From FAQs about the menu, from question/answer pairs in chats and calls that
name a dish, and from questions synthesised from menu.yaml whose answers are
built from the catalog itself, so they are right by construction.
"""

from __future__ import annotations

import re

from etl.catalog import Dish
from etl.stages.tasks.common import BuildContext, classify_pair, example, merged_turns, pairs, stable_pick

TASK = "menu_qa"
MENU_CATEGORY = re.compile(r"menu|nutrition|allerg|diet|ingredient|food", re.IGNORECASE)


def is_menu_faq(record: dict, ctx: BuildContext) -> bool:
    question = record["turns"][0]["text"]
    return bool(MENU_CATEGORY.search(record["meta"]["category"] or "")) or bool(ctx.catalog.dishes_in(question))


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    for record in records:
        if record["source"] == "faq" and is_menu_faq(record, ctx):
            turns = merged_turns(record)
            examples.append(example(ctx, TASK, record, "faq", turns[:2]))
        elif record["source"] in ("chat", "call"):
            for index, user, reply in pairs(merged_turns(record)):
                if classify_pair(user, reply, ctx.catalog) == TASK:
                    examples.append(example(ctx, TASK, record, f"pair{index}", [("user", user), ("assistant", reply)]))
    return examples


def catalog_examples(ctx: BuildContext, source_name: str) -> list[dict]:
    """Questions about every dish, answered from the catalog."""
    examples = []
    for dish in ctx.catalog.dishes:
        record = {"record_id": f"catalog:{source_name}#{dish.id}", "source": "catalog"}
        for kind, (question, answer) in list(dish_questions(dish, ctx.catalog.currency).items())[
            : ctx.questions_per_dish
        ]:
            examples.append(
                example(
                    ctx, TASK, record, kind, [("user", stable_pick(dish.id + kind, question)), ("assistant", answer)]
                )
            )
    return examples


def dish_questions(dish: Dish, currency: str) -> dict[str, tuple[list[str], str]]:
    ingredients = (
        ", ".join(dish.ingredients[:-1]) + f" and {dish.ingredients[-1]}"
        if len(dish.ingredients) > 1
        else dish.ingredients[0]
    )
    allergens = (
        f"The {dish.name} contains {', '.join(dish.allergens)}."
        if dish.allergens
        else f"The {dish.name} contains none of the major allergens listed on our menu."
    )
    price = f"${dish.price:.2f}" if currency == "USD" else f"{dish.price:.2f} {currency}"
    tags = ", ".join(dish.diet_tags) if dish.diet_tags else "no special diet tags"
    return {
        "ingredients": (
            [
                f"What's in the {dish.name}?",
                f"What are the ingredients of the {dish.name}?",
                f"what comes in the {dish.name}",
            ],
            f"The {dish.name} is made with {ingredients}. {dish.description}",
        ),
        "nutrition": (
            [
                f"How many calories are in the {dish.name}?",
                f"What are the macros for the {dish.name}?",
                f"how much protein does the {dish.name} have",
            ],
            f"The {dish.name} has {dish.calories} calories and {dish.protein_g:g}g of protein.",
        ),
        "allergens": (
            [
                f"Does the {dish.name} have any allergens?",
                f"Is the {dish.name} safe if I have food allergies?",
                f"what allergens are in the {dish.name}",
            ],
            allergens,
        ),
        "price": (
            [f"How much is the {dish.name}?", f"What does the {dish.name} cost?", f"price of the {dish.name}?"],
            f"The {dish.name} is {price}.",
        ),
        "diet": (
            [f"What diets does the {dish.name} fit?", f"Is the {dish.name} keto or vegan or anything like that?"],
            f"The {dish.name} is tagged {tags}.",
        ),
    }
