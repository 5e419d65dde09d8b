"""policy_qa: how the business works (ordering, delivery, payments, subscriptions, store hours).

From FAQs that are not about the menu, and from chat and call questions
about store hours and locations.
"""

from __future__ import annotations

from etl.stages.tasks.common import BuildContext, example, merged_turns, pairs
from etl.stages.tasks.menu_qa import is_menu_faq

TASK = "policy_qa"


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    for record in records:
        if record["source"] == "faq" and not is_menu_faq(record, ctx):
            examples.append(example(ctx, TASK, record, "faq", merged_turns(record)[:2]))
        elif record["source"] in ("chat", "call"):
            for index, user, reply in pairs(merged_turns(record)):
                if ctx.classify(user, reply) == TASK:
                    examples.append(example(ctx, TASK, record, f"pair{index}", [("user", user), ("assistant", reply)]))
    return examples
