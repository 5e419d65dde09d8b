"""order_support: multi-turn order taking and handling (placing, changing, delivery problems, refunds).

From chats and calls in which the customer places or deals with an order, judged on
the customer's turns by etl.stages.tasks.intents (not by one keyword: "the address of the
restaurant" is not an order). The whole conversation is one example, from the first
customer turn to the last business turn, consecutive turns of one speaker joined.
Conversations about anything else become customer_service examples.
"""

from __future__ import annotations

from etl.stages.tasks.common import BuildContext
from etl.stages.tasks.customer_service import conversation_examples

TASK = "order_support"


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    return conversation_examples(records, ctx, TASK, lambda intent: intent == "order")
