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

A reward file rates one answer, not a conversation (`sources.chats` with
`columns.rated_turn`: `meta.judged_turn`): its judged turn is known, it is a
KTO row whatever it pairs with, and a disliked one pairs first with a liked
answer to the very same conversation, else as a `thumbs_contrast` above; a
rated tool call is no reply to judge (`rated_turn_not_a_reply`).

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
from etl.text.seeded import seeded_fraction

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
    return "eval" if seeded_fraction(seed, record_id) < eval_share else "train"


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


def rated_answers(row: dict) -> list[Answer]:
    """The answers a thumb rates: every answer of a conversation rated as a whole, or the one
    answer a reward file rated (`meta.judged_turn`; none when it was a tool call or answers no
    customer turn)."""
    judged = row["meta"].get("judged_turn")
    answers = answers_of(row)
    return answers if judged is None else [a for a in answers if a.turn == judged]


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
    builder = PairBuilder(sides, config, eval_share, system_prompt, facts, embed)
    rows = rated.sort("record_id").to_dicts()
    builder.like([r for r in rows if r["meta"]["thumbs"] == "up"])
    # two passes: the turns a disliked answer may be contrasted by are known before the liked
    # ones are embedded, so only the liked turns stating the same facts are (at 100,000 records
    # every liked turn was: 23,516 texts for 410 pairs)
    planned = [builder.plan(r) for r in rows if r["meta"]["thumbs"] == "down"]
    builder.asked = {stated for plan in planned for _, stated in plan.contrasts}
    for plan in planned:
        builder.settle(plan)
    return builder.out


@dataclass
class DownPlan:
    """A thumbs-down record after the first pass: what was found without a contrast (agent
    corrections, a liked answer to the very same conversation), the answers a contrast may still
    find (with their customer turn's facts), and the disliked answers when a reward file named
    them (None: a whole conversation's, from what is found)."""

    fields: dict
    found: list
    contrasts: list[tuple[Answer, frozenset[str]]]
    disliked: list[Answer] | None


@dataclass
class PairBuilder:
    sides: dict[str, str]
    config: PreferenceConfig
    eval_share: float
    system_prompt: str
    facts: QuestionFacts
    embed: Embed
    out: ConversationPairs = field(default_factory=ConversationPairs)
    liked: list[Answer] = field(default_factory=list)
    liked_texts: set[str] = field(default_factory=set)
    same_prompt: dict[tuple, list[Answer]] = field(default_factory=dict)
    pool: LikedPool | None = None  # made on first use (_pool)
    # the facts of the customer turns a contrast is looked for (None: any facts)
    asked: set[frozenset[str]] | None = None

    def side(self, record_id: str) -> str:
        return self.sides.get(record_id) or side_of(record_id, self.eval_share, self.config.seed)

    def like(self, rows: list[dict]) -> None:
        """Every rated answer of the thumbs-up records: desirable KTO rows, and the chosen side."""
        for row in rows:
            answers = [a for a in rated_answers(row) if a.text.strip()]
            self.out.not_paired["rated_turn_not_a_reply"] += not answers
            self.liked += answers
        for a in self.liked:
            self.out.kto.append(kto_row(a, self.system_prompt, True, self.side(a.record_id)))
            self.same_prompt.setdefault(a.before, []).append(a)
        self.liked_texts = {a.text.strip() for a in self.liked}

    def plan(self, row: dict) -> DownPlan:
        """A thumbs-down record's first pass. A reward file's rated answer is known: an
        undesirable row whatever it pairs with, first with a liked answer to the very same
        conversation, else as a contrast. A conversation rated as a whole: an agent correction
        or a contrast finds the answer that was disliked; without either, nothing is guessed."""
        fields = {"record_id": row["record_id"], "split": self.side(row["record_id"])}
        if row["meta"].get("judged_turn") is None:
            corrected = agent_corrections(row)
            taken = {bot.turn for bot, _ in corrected}
            candidates = [a for a in answers_of(row) if not a.by_agent and a.turn not in taken]
            found = [(bot, agent_text, "agent_correction") for bot, agent_text in corrected]
            return DownPlan(fields, found, self._comparable(candidates), None)
        answers = rated_answers(row)
        if not answers:
            self.out.not_paired["rated_turn_not_a_reply"] += 1
            return DownPlan(fields, [], [], [])
        answer = answers[0]
        partner = next(
            (a for a in self.same_prompt.get(answer.before, []) if a.text.strip() != answer.text.strip()), None
        )
        if partner is not None:
            return DownPlan(fields, [(answer, partner.text, "thumbs_contrast")], [], answers)
        return DownPlan(fields, [], self._comparable([answer]), answers)

    def settle(self, plan: DownPlan) -> None:
        """A thumbs-down record's second pass: its contrasts, its pairs, and its disliked answers
        as undesirable KTO rows."""
        found = plan.found + self._contrasts(plan.contrasts, plan.fields["split"])
        disliked = plan.disliked
        if disliked is None:
            self.out.not_paired["judged_turn_not_found"] += not found
            disliked = list({a.turn: a for a, *_ in found}.values())
        self.out.kto += [kto_row(a, self.system_prompt, False, plan.fields["split"]) for a in disliked]
        self.out.down_chats += 1
        self.out.down_chats_paired += bool(found)
        for rejected, chosen, kind in found:
            if rejected.text.strip() == chosen.strip():
                self.out.not_paired["same_answer"] += 1
            else:
                self.out.pairs.append(pair_row(rejected, chosen, self.system_prompt, kind, plan.fields))

    def _comparable(self, candidates: list[Answer]) -> list[tuple[Answer, frozenset[str]]]:
        """The bot answers a contrast may find, with their customer turn's facts: not one a
        liked chat also gave (not what was disliked), nor one to a turn too short to compare by."""
        out = []
        for a in candidates:
            if len(a.customer.split()) < self.config.min_customer_words:
                self.out.not_paired["customer_turn_too_short"] += 1
            elif a.text.strip() in self.liked_texts:
                self.out.not_paired["answer_also_rated_up"] += 1
            else:
                out.append((a, self.facts.of(a.customer)))
        return out

    def _pool(self) -> LikedPool:
        """The liked answers a disliked one may pair with: made once a run (made per thumbs-down
        chat, the pool's facts made the stage quadratic: 13.5 s of a 93.7 s run at 20x the sample)."""
        if self.pool is None:
            long_enough = [a for a in self.liked if len(a.customer.split()) >= self.config.min_customer_words]
            with_facts = [(a, self.facts.of(a.customer)) for a in long_enough]
            kept = [(a, f) for a, f in with_facts if self.asked is None or f in self.asked]
            vectors = self.embed([a.customer for a, _ in kept]) if kept else np.empty((0, 0), dtype=np.float32)
            self.pool = LikedPool(answers=[a for a, _ in kept], vectors=vectors, facts=[f for _, f in kept])
        return self.pool

    def _contrasts(self, candidates: list[tuple[Answer, frozenset[str]]], side: str) -> list:
        """thumbs_contrast pairs for a down record's bot answers (with their turns' facts): the
        closest liked answer to the same question, stating the same facts, on the same side."""
        if not candidates:
            return []
        not_paired, pool = self.out.not_paired, self._pool()
        # no liked turn states these facts: no match however close, so not embedded
        comparable = [(a, own) for a, own in candidates if own in pool.stated]
        not_paired["no_close_thumbs_up_turn"] += len(candidates) - len(comparable)
        if not comparable:
            return []
        scores = self.embed([a.customer for a, _ in comparable]) @ pool.vectors.T
        found = []
        for i, (a, own) in enumerate(comparable):
            close = np.flatnonzero(scores[i] >= self.config.similarity)
            order = close[np.argsort(-scores[i][close], kind="stable")]
            match = next((pool.answers[j] for j in order if pool.facts[j] == own), None)
            if match is None:
                not_paired["no_close_thumbs_up_turn"] += 1
            elif self.side(match.record_id) != side:
                not_paired["spans_splits"] += 1
            else:
                found.append((a, match.text, "thumbs_contrast"))
        return found


@dataclass
class LikedPool:
    """The liked answers whose customer turn is long enough to compare by and states facts that
    a turn a contrast is looked for states; their turns' vectors and facts."""

    answers: list[Answer]
    vectors: np.ndarray
    facts: list[frozenset[str]]
    stated: set[frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.stated = set(self.facts)


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
