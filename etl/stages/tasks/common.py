"""What every task builder shares: the example row, stable ids, turn handling."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from etl.catalog import Catalog, needs_in
from etl.example import EXAMPLE_SCHEMA
from etl.stages.tasks.intents import conversation_intent


@dataclass
class BuildContext:
    catalog: Catalog
    system_prompt: str
    # task -> its own system prompt (format.prompts); a task not in it gets system_prompt
    prompts: dict[str, str] = field(default_factory=dict)
    # counts a report can show that are not examples (e.g. ungrounded recommendations skipped)
    notes: dict[str, int] = field(default_factory=dict)
    # the task builders ask the same questions of the same turns (menu_qa, recommendation and
    # policy_qa each classify every question and answer; order_support and customer_service each
    # read every conversation's intent): answered once a format run (format 16.93 -> 8.59 s at
    # 100,000 records)
    _pairs: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _intents: dict[tuple[str, ...], str] = field(default_factory=dict)

    def note(self, name: str, n: int = 1) -> None:
        self.notes[name] = self.notes.get(name, 0) + n

    def classify(self, user: str, reply: str) -> str | None:
        """classify_pair, once per question and answer."""
        key = (user, reply)
        if key not in self._pairs:
            self._pairs[key] = classify_pair(user, reply, self.catalog)
        return self._pairs[key]

    def intent(self, customer_turns: list[str]) -> str:
        """conversation_intent, once per conversation."""
        key = tuple(customer_turns)
        if key not in self._intents:
            self._intents[key] = conversation_intent(customer_turns)
        return self._intents[key]


def stable_pick(key: str, options: list[Any]) -> Any:
    """A choice that depends only on the key: the same input always builds the same example."""
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return options[digest % len(options)]


def example(
    ctx: BuildContext,
    task: str,
    record: dict,
    key: str,
    turns: list[tuple[str, str]],
    **extras: Any,
) -> dict[str, Any]:
    messages = [{"role": "system", "content": ctx.prompts.get(task, ctx.system_prompt)}] + [
        {"role": r, "content": t} for r, t in turns
    ]
    row = {name: None for name in EXAMPLE_SCHEMA}
    identity = f"{record['record_id']}|{key}"
    row.update(
        id=f"{task}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}",
        task=task,
        messages=messages,
        source=record["source"],
        record_id=record["record_id"],
        dup_cluster=record.get("dup_cluster") or record["record_id"],
    )
    row.update(extras)
    return row


def merged_turns(record: dict) -> list[tuple[str, str]]:
    """Turns with consecutive same-role turns joined: chat templates expect alternating roles."""
    merged: list[tuple[str, str]] = []
    for turn in record["turns"]:
        if merged and merged[-1][0] == turn["role"]:
            merged[-1] = (turn["role"], f"{merged[-1][1]}\n{turn['text']}")
        else:
            merged.append((turn["role"], turn["text"]))
    return merged


def trimmed_dialogue(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """From the first user turn to the last assistant turn: what a model can learn to answer."""
    start = next((i for i, (role, _) in enumerate(turns) if role == "user"), len(turns))
    end = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=-1)
    return turns[start : end + 1] if end > start else []


def pairs(turns: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(index, user text, assistant reply) for every user turn answered by the next turn."""
    return [
        (i, turns[i][1], turns[i + 1][1])
        for i in range(len(turns) - 1)
        if turns[i][0] == "user" and turns[i + 1][0] == "assistant"
    ]


QUESTION = re.compile(r"\?|^(what|what's|whats|how|does|do|is|are|any|can|which)\b", re.IGNORECASE)
STORE_INFO = re.compile(r"\b(open|close|closes|hours|located|location|address of|directions|parking)\b", re.IGNORECASE)


def classify_pair(user: str, reply: str, catalog: Catalog) -> str | None:
    """Which single-turn task a question and its answer can teach, if any.

    menu_qa: a question about a dish the customer names (or misspells and the
    answer names); recommendation: the customer states a need (diet, allergy,
    goal) without naming a dish, and the answer names one; policy_qa: store
    hours and locations.
    """
    question = bool(QUESTION.search(user.strip()))
    if catalog.dishes_in(user):
        return "menu_qa" if question else None
    if needs_in(user) and catalog.dishes_in(reply):
        return "recommendation"
    if question and catalog.dishes_in(reply):
        return "menu_qa"
    if question and STORE_INFO.search(user):
        return "policy_qa"
    return None
