"""order_support: multi-turn order taking and handling (placing, changing, delivery problems, refunds).

From chats and calls in which the customer places or deals with an order, judged on
the customer's turns by etl.stages.tasks.intents (not by one keyword: "the address of the
restaurant" is not an order). The whole conversation is one example, from the first
customer turn to the last business turn, consecutive turns of one speaker joined.
Conversations about anything else become customer_service examples.
"""

from __future__ import annotations

from etl.stages.tasks.common import BuildContext, example, merged_turns, trimmed_dialogue
from etl.stages.tasks.intents import conversation_intent

TASK = "order_support"
MIN_TURNS = 2  # a customer turn and the business answering it


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    for record in records:
        if record["source"] not in ("chat", "call"):
            continue
        dialogue = trimmed_dialogue(merged_turns(record))
        if len(dialogue) >= MIN_TURNS and conversation_intent([t for r, t in dialogue if r == "user"]) == "order":
            examples.append(example(ctx, TASK, record, "dialogue", dialogue))
    return examples
