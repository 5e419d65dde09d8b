"""customer_service: every other conversation in which the business serves a customer.

A chat or call that is not about an order (order_support) is still the business
answering a customer in its own voice: questions about drinks and dishes, what is in
stock, store information, small talk handled politely. The whole conversation is one
example, from the first customer turn to the last business turn, consecutive turns of
one speaker joined; every business turn is a target.
"""

from __future__ import annotations

from collections.abc import Callable

from etl.stages.tasks.common import BuildContext, example, merged_turns, trimmed_dialogue

TASK = "customer_service"
MIN_TURNS = 2  # a customer turn and the business answering it


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    return conversation_examples(records, ctx, TASK, lambda intent: intent != "order")


def conversation_examples(
    records: list[dict], ctx: BuildContext, task: str, wanted: Callable[[str], bool]
) -> list[dict]:
    """One example per chat or call whose customer turns have a wanted intent, the whole
    conversation from the first customer turn to the last business turn."""
    examples = []
    for record in records:
        if record["source"] not in ("chat", "call"):
            continue
        dialogue = trimmed_dialogue(merged_turns(record))
        if len(dialogue) >= MIN_TURNS and wanted(ctx.intent([t for r, t in dialogue if r == "user"])):
            examples.append(example(ctx, task, record, "dialogue", dialogue))
    return examples
