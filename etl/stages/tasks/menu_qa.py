"""menu_qa: questions about dishes, ingredients, allergens, prices.

From FAQs about the menu and from question/answer pairs in chats and calls
that name a dish. Questions synthesised from menu.yaml come later, into the
train split only (etl/stages/synthesis/).
"""

from __future__ import annotations

import re

from etl.stages.tasks.common import BuildContext, example, merged_turns, pairs

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
                if ctx.classify(user, reply) == TASK:
                    examples.append(example(ctx, TASK, record, f"pair{index}", [("user", user), ("assistant", reply)]))
    return examples
