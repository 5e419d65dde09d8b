"""recommendation: a customer's need and a dish that fits it, with the reason.

From chats and calls where the customer states a need (diet, allergy, goal)
and the answer names a dish, kept only when that dish is in the catalog and
fits every stated constraint; and from well-rated reviews, which mark a dish
customers liked: it is recommended for each diet it fits, with the reason
built from the catalog. Each example carries `dish` and `constraints`, so the
grounding can be checked on the published data.
"""

from __future__ import annotations

from etl.catalog import Constraint, Dish, needs_in
from etl.stages.tasks.common import BuildContext, example, merged_turns, pairs, stable_pick

TASK = "recommendation"
WELL_RATED = 4
ASKS = [
    "Can you recommend something {need}?",
    "I'm looking for a {need} meal, what do you suggest?",
    "What's a good {need} option on your menu?",
    "any {need} meals you'd recommend?",
]


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    reviewed: dict[str, dict] = {}
    for record in records:
        if record["source"] in ("chat", "call"):
            examples += _from_dialogue(record, ctx)
        elif record["source"] == "review" and (record["meta"]["rating"] or 0) >= WELL_RATED and record["meta"]["item"]:
            dish = ctx.catalog.by_name.get(record["meta"]["item"].lower())
            if dish is not None:
                # one representative review per dish: the smallest id, so reruns pick the same
                current = reviewed.get(dish.id)
                if current is None or record["record_id"] < current["record_id"]:
                    reviewed[dish.id] = record
    for _, record in sorted(reviewed.items()):
        examples += _from_review(record, ctx.catalog.by_name[record["meta"]["item"].lower()], ctx)
    return examples


def _from_dialogue(record: dict, ctx: BuildContext) -> list[dict]:
    built = []
    for index, user, reply in pairs(merged_turns(record)):
        if ctx.classify(user, reply) != TASK:
            continue
        needs = needs_in(user)
        dish = ctx.catalog.dishes_in(reply)[0]
        if not ctx.catalog.fits(dish, needs):
            ctx.note("recommendation_ungrounded_skipped")
            continue
        built.append(
            example(
                ctx,
                TASK,
                record,
                f"pair{index}",
                [("user", user), ("assistant", reply)],
                dish=dish.name,
                constraints=[str(c) for c in needs],
            )
        )
    return built


def _from_review(record: dict, dish: Dish, ctx: BuildContext) -> list[dict]:
    built = []
    for tag in dish.diet_tags[:3]:
        need = Constraint(kind="diet", value=tag)
        ask = stable_pick(dish.id + tag, ASKS).format(need=tag)
        answer = reason(dish, need)
        built.append(
            example(
                ctx,
                TASK,
                record,
                f"tag:{tag}",
                [("user", ask), ("assistant", answer)],
                dish=dish.name,
                constraints=[str(need)],
            )
        )
    return built


def reason(dish: Dish, need: Constraint) -> str:
    others = [t for t in dish.diet_tags if t != need.value]
    also = f" It's also {', '.join(others)}." if others else ""
    return (
        f"I'd recommend the {dish.name}, one of our best-rated meals: {dish.description} "
        f"It's {need.value}, {dish.calories} calories with {dish.protein_g:g}g of protein, and ${dish.price:.2f}.{also}"
    )
