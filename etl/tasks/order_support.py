"""order_support: multi-turn order handling (placing, changing, delivery problems, refunds).

From chats and calls in which the customer deals with an order. The whole
conversation is one example, from the first customer turn to the last
business turn, consecutive turns of one speaker joined.
"""

from __future__ import annotations

from etl.tasks.common import ORDER_HANDLING, BuildContext, example, merged_turns, trimmed_dialogue

TASK = "order_support"
MIN_TURNS = 2  # a customer turn and the business answering it


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    for record in records:
        if record["source"] not in ("chat", "call"):
            continue
        dialogue = trimmed_dialogue(merged_turns(record))
        if len(dialogue) >= MIN_TURNS and any(role == "user" and ORDER_HANDLING.search(text) for role, text in dialogue):
            examples.append(example(ctx, TASK, record, "dialogue", dialogue))
    return examples
