"""Pairs and rated answers from the chats customers rated (thumbs up or down).

A thumb rates a whole conversation, not one answer, so a thumbs-down chat's
*judged turn* (the answer the customer disliked) has to be found. Two signals
find it, and each gives a pair kind:

1. `agent_correction`: a human agent replied right after a bot answer, in a
   chat rated down: the agent's reply is chosen, the bot's rejected.
2. `thumbs_contrast`: a bot answer in a chat rated down, to a customer turn
   that a chat rated up also had (cosine of sentence embeddings at least
   `preference.similarity`, and the same facts: "vegan" never pairs with
   "vegetarian"), answered differently there: the liked answer is chosen. An
   answer that some chat rated up also gave was not what the customer
   disliked (`answer_also_rated_up`), and neither was an answer to a turn too
   short to compare by ("ok thanks").

Every answer in a chat rated up is a desirable KTO row; every judged turn an
undesirable one. A thumbs-down chat where neither signal finds the judged
turn gives nothing (`judged_turn_not_found`): guessing would teach the model
to avoid good answers.

Sides: an up chat's pairs and rows take the side the split stage gave its
record. A down chat gave no example, so its side is drawn from its id and the
split seed (the eval share of `split`); a thumbs_contrast pair whose two chats
are on different sides is not made (`spans_splits`), so no pair spans splits.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from etl.config import PreferenceConfig
from etl.text.question_facts import QuestionFacts

Embed = Callable[[list[str]], np.ndarray]  # texts -> normalised vectors, one row a text


@dataclass(frozen=True)
class Answer:
    """An answer to a customer turn: the conversation before it, and who wrote it."""

    record_id: str
    source: str
    turn: int
    before: tuple[tuple[str, str], ...]  # (role, text) up to and including the customer turn
    text: str
    by_agent: bool

    @property
    def customer(self) -> str:
        return self.before[-1][1]


@dataclass
class ConversationPairs:
    pairs: list[dict] = field(default_factory=list)
    kto: list[dict] = field(default_factory=list)
    # why a judged candidate gave no pair: reason -> count
    not_paired: Counter = field(default_factory=Counter)
    down_chats: int = 0
    down_chats_paired: int = 0


def side_of(record_id: str, eval_share: float, seed: int) -> str:
    """A record the split stage never placed: eval for a seeded share of ids."""
    draw = int.from_bytes(hashlib.sha256(f"{seed}:{record_id}".encode()).digest()[:8], "big") / 2**64
    return "eval" if draw < eval_share else "train"


def answers_of(row: dict) -> list[Answer]:
    """Each business turn that answers a customer turn directly."""
    turns = [(t["role"], t["text"] or "") for t in row["turns"]]
    agent = set(row["meta"].get("agent_turns") or [])
    return [
        Answer(row["record_id"], row["source"], j, tuple(turns[:j]), turns[j][1], j in agent)
        for j in range(1, len(turns))
        if turns[j][0] == "assistant" and turns[j - 1][0] == "user"
    ]


def agent_corrections(row: dict) -> list[tuple[Answer, str]]:
    """(the bot's answer, the agent's reply that came right after it) in one chat."""
    turns = row["turns"]
    agent = set(row["meta"].get("agent_turns") or [])
    bot_answers = {a.turn: a for a in answers_of(row) if not a.by_agent}
    return [(bot_answers[j - 1], turns[j]["text"]) for j in sorted(agent) if j - 1 in bot_answers]


def build_conversation_pairs(
    rated: pl.DataFrame,
    sides: dict[str, str],
    config: PreferenceConfig,
    eval_share: float,
    system_prompt: str,
    facts: QuestionFacts,
    embed: Embed,
) -> ConversationPairs:
    """Pairs of the first two kinds and the KTO rows, from the rated chats (de-identified)."""
    out = ConversationPairs()
    rows = rated.sort("record_id").to_dicts()
    up = [r for r in rows if r["meta"]["thumbs"] == "up"]
    down = [r for r in rows if r["meta"]["thumbs"] == "down"]
    liked = [a for r in up for a in answers_of(r) if a.text.strip()]
    for a in liked:
        out.kto.append(
            kto_row(a, system_prompt, True, sides.get(a.record_id) or side_of(a.record_id, eval_share, config.seed))
        )

    judged: list[tuple[Answer, str, dict, str]] = []  # (rejected answer, chosen text, pair fields, kind)
    for row in down:
        side = side_of(row["record_id"], eval_share, config.seed)
        corrected = agent_corrections(row)
        for bot, agent_text in corrected:
            judged.append((bot, agent_text, {"record_id": row["record_id"], "split": side}, "agent_correction"))
        taken = {bot.turn for bot, _ in corrected}
        candidates = [a for a in answers_of(row) if not a.by_agent and a.turn not in taken]
        judged += contrasts(candidates, liked, sides, side, config, eval_share, facts, embed, out.not_paired)
        found = {a.record_id for a, *_ in judged}
        out.down_chats += 1
        out.down_chats_paired += row["record_id"] in found
        if row["record_id"] not in found:
            out.not_paired["judged_turn_not_found"] += 1

    for rejected, chosen, fields, kind in judged:
        if rejected.text.strip() == chosen.strip():
            out.not_paired["same_answer"] += 1
            continue
        out.pairs.append(pair_row(rejected, chosen, system_prompt, kind, fields))
        out.kto.append(kto_row(rejected, system_prompt, False, fields["split"]))
    return out


def contrasts(
    candidates: list[Answer],
    liked: list[Answer],
    sides: dict[str, str],
    side: str,
    config: PreferenceConfig,
    eval_share: float,
    facts: QuestionFacts,
    embed: Embed,
    not_paired: Counter,
) -> list[tuple[Answer, str, dict, str]]:
    """thumbs_contrast pairs for one down chat's bot answers: the closest liked answer to the
    same question, stating the same facts, on the same side."""
    liked_texts = {a.text.strip() for a in liked}
    usable = []
    for a in candidates:
        if len(a.customer.split()) < config.min_customer_words:
            not_paired["customer_turn_too_short"] += 1
        elif a.text.strip() in liked_texts:
            not_paired["answer_also_rated_up"] += 1
        else:
            usable.append(a)
    pool = [a for a in liked if len(a.customer.split()) >= config.min_customer_words]
    if not usable or not pool:
        not_paired["no_close_thumbs_up_turn"] += len(usable)
        return []
    vectors = embed([a.customer for a in usable] + [a.customer for a in pool])
    scores = vectors[: len(usable)] @ vectors[len(usable) :].T
    pool_facts = [facts.of(a.customer) for a in pool]
    found = []
    for i, a in enumerate(usable):
        own = facts.of(a.customer)
        order = np.argsort(-scores[i], kind="stable")
        match = next((pool[j] for j in order if scores[i, j] >= config.similarity and pool_facts[j] == own), None)
        if match is None:
            not_paired["no_close_thumbs_up_turn"] += 1
        elif (sides.get(match.record_id) or side_of(match.record_id, eval_share, config.seed)) != side:
            not_paired["spans_splits"] += 1
        else:
            found.append((a, match.text, {"record_id": a.record_id, "split": side}, "thumbs_contrast"))
    return found


def messages(system_prompt: str, before: tuple[tuple[str, str], ...]) -> list[dict]:
    """The system prompt, then the turns; two turns in a row by one side (the bot, then an agent
    stepping in) become one message, as chat templates and the task builders expect."""
    out = [{"role": "system", "content": system_prompt}]
    for role, text in before:
        if out[-1]["role"] == role:
            out[-1] = {"role": role, "content": out[-1]["content"] + "\n" + text}
        else:
            out.append({"role": role, "content": text})
    return out


def pair_id(prompt: list[dict], chosen: str, rejected: str) -> str:
    digest = hashlib.sha256(repr((prompt, chosen, rejected)).encode()).hexdigest()
    return f"pair-{digest[:16]}"


def pair_row(rejected: Answer, chosen: str, system_prompt: str, kind: str, fields: dict) -> dict:
    prompt = messages(system_prompt, rejected.before)
    return {
        "id": pair_id(prompt, chosen, rejected.text),
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected.text}],
        "source": rejected.source,
        "pair_kind": kind,
        "synthetic": False,
        **fields,
    }


def kto_row(answer: Answer, system_prompt: str, label: bool, split: str) -> dict:
    prompt = messages(system_prompt, answer.before)
    digest = hashlib.sha256(repr((prompt, answer.text, label)).encode()).hexdigest()
    return {
        "id": f"kto-{digest[:16]}",
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": answer.text}],
        "label": label,
        "source": answer.source,
        "record_id": answer.record_id,
        "split": split,
    }
