"""Synthesise: new menu_qa and recommendation examples from the catalog, answers that agree with it, train split only.

Questions a customer asks about the menu, in several phrasings per intent
(ingredients, allergens, one allergen, diet fit, price, calories and
protein, the menu description, comparisons of two dishes), and needs a
customer states (a diet, an allergy, both), with answers written from
menu.yaml (menu_questions.py, recommendations.py). Which phrasings and answer
forms each dish gets, which dishes are compared and which fitting dish is
recommended are seeded choices: one seed, one set of rows.

Every answer is read back by grounding.py, which checks each claim it can
parse (prices, calories, protein, allergens, diet tags, ingredients,
comparisons, yes/no, recommended dishes) against the catalog; an answer it
contradicts is rejected (`ungrounded`), never published. A question equal to
an original example of its task is rejected (`duplicate_of_original`), one
that rephrases an eval example (cosine of sentence embeddings at or above
`synthesis.eval_rephrase_threshold`) is rejected (`rephrases_eval`), so eval stays a
test of questions never seen in training. Per task, at most
`synthesis.max_share` of the train examples are synthesised; when the cap
binds, intents take turns so each keeps its place.

Synthesised examples are train only, with `source` "catalog", `record_id`
naming the catalog entries (`catalog:menu.yaml#keto-salmon-caesar:price:`),
`parent_id` null (they rephrase no example) and `augmentation` saying
{"method": "catalog", "intent", "phrasing", "seed"}.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator

import polars as pl

from etl.catalog import Catalog
from etl.config import SynthesisConfig
from etl.embeddings import EMBED_BATCH, Embedder
from etl.example import EXAMPLE_SCHEMA
from etl.stages.base import Progress, Stage, StageResult, Tally
from etl.stages.synthesis.grounding import Grounding
from etl.stages.synthesis.menu_questions import Candidate, comparisons, dish_questions
from etl.stages.synthesis.recommendations import recommendations
from etl.stages.tasks.common import BuildContext, example
from etl.text.normalise import normalise

TASKS = ("menu_qa", "recommendation")


class SynthesisStage(Stage):
    name = "synthesize"
    unit = "examples"
    id_column = "id"
    produces = "examples"  # the examples it was handed plus the synthesised ones

    def __init__(
        self,
        config: SynthesisConfig,
        catalog: Catalog,
        system_prompt: str,
        tasks: list[str],
        catalog_name: str = "menu.yaml",
        embedding_model: str | None = None,
        precision: str = "auto",
        prompts: dict[str, str] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config, self.catalog, self.catalog_name = config, catalog, catalog_name
        self.embedder = embedder or Embedder()  # the run's, from the registry
        self.context = BuildContext(catalog, system_prompt.format(business=catalog.business), prompts or {})
        self.tasks = [t for t in TASKS if t in tasks]
        self.embedding_model, self.precision = embedding_model, precision
        self.grounding = Grounding(catalog)
        self.made: dict[str, dict[str, int]] = {}
        self.rejected: dict[str, int] = {}
        self.considered = 0  # candidates written before judging and the cap
        self.problems: list[str] = []  # why answers were ungrounded (catalog facts only, never customer text)

    # ------------------------------------------------------------------ seeded choices

    def _hash(self, key: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{self.config.seed}:{key}".encode()).digest()[:8], "big")

    def pick(self, key: str, options: list):
        return options[self._hash(key) % len(options)]

    def sample(self, key: str, n: int, k: int) -> list[int]:
        """k distinct indices of n, a seeded choice."""
        return random.Random(self._hash(key)).sample(range(n), min(k, n))

    # ------------------------------------------------------------------ the stage

    def candidates(self) -> Iterator[Candidate]:
        intents, phrasings = self.config.intents, self.config.phrasings
        if "menu_qa" in self.tasks:
            yield from dish_questions(self.catalog, intents, phrasings, self.pick, self.sample)
            if "comparison" in intents:
                yield from comparisons(
                    self.catalog, self.config.comparisons_per_dish, phrasings, self.pick, self.sample
                )
        if "recommendation" in self.tasks and "recommendation" in intents:
            yield from recommendations(self.catalog, phrasings, self.pick, self.sample)

    def total_work(self, frame: pl.DataFrame) -> int:
        return 1

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        candidates = list(self.candidates())
        self.considered = len(candidates)
        kept = self._judge(frame, candidates)
        rows = self._capped(frame, kept)
        for candidate in rows:
            self.made.setdefault(candidate.task, {}).setdefault(candidate.intent, 0)
            self.made[candidate.task][candidate.intent] += 1
        added = pl.DataFrame([self._row(c) for c in rows], schema=EXAMPLE_SCHEMA).select(frame.columns)
        progress(1)
        counts = {"synthesised": len(rows)} | {f"rejected_{r}": n for r, n in sorted(self.rejected.items())}
        return StageResult(
            kept=pl.concat([frame, added]).sort("task", "id"),
            dropped=pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8}),
            counts=counts,
        )

    def tally(self, frame: pl.DataFrame, result: StageResult) -> Tally:
        """Examples in = examples kept (synthesis drops none); the synthesised ones are handed on too."""
        return Tally(frame.height, frame.height, 0, result.kept.height)

    def summary_fields(self) -> dict:
        return {"synthesis": {"examples": self.made, "rejected": self.rejected}}

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def _judge(self, frame: pl.DataFrame, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates whose answers agree with the catalog and whose questions are new."""
        originals = self._user_texts(frame)
        originals = originals.with_columns(key=normalise(originals["text"]))
        known = set(zip(originals["task"], originals["key"]))
        keys = normalise(pl.Series([c.question for c in candidates], dtype=pl.Utf8)).to_list()
        seen: set[tuple[str, str]] = set()
        grounded = []
        for candidate, key in zip(candidates, keys):
            problems = self.grounding.problems(candidate.question, candidate.answer, candidate.task)
            if problems:
                self._reject("ungrounded")
                self.problems += problems
            elif (candidate.task, key) in known:
                self._reject("duplicate_of_original")
            elif (candidate.task, key) in seen:
                self._reject("duplicate_of_synthesis")
            else:
                seen.add((candidate.task, key))
                grounded.append(candidate)
        # only eval questions of the tasks synthesised, each text once: dialogs and reviews are not embedded
        evals = originals.filter((pl.col("split") == "eval") & pl.col("task").is_in(self.tasks))
        return self._not_rephrasing_eval(evals.unique(["task", "text"], maintain_order=True), grounded)

    def _not_rephrasing_eval(self, evals: pl.DataFrame, candidates: list[Candidate]) -> list[Candidate]:
        tasks = set(evals["task"])
        at_risk = [c for c in candidates if c.task in tasks]
        if not at_risk:
            return candidates
        vectors = self.embedder(
            [c.question for c in at_risk] + evals["text"].to_list(), self.embedding_model, EMBED_BATCH, self.precision
        )
        asked, held_out = vectors[: len(at_risk)], vectors[len(at_risk) :]
        eval_tasks = evals["task"].to_list()
        rephrasing = set()
        for task in tasks:
            rows = [i for i, c in enumerate(at_risk) if c.task == task]
            columns = [j for j, t in enumerate(eval_tasks) if t == task]
            if rows and columns:
                closest = (asked[rows] @ held_out[columns].T).max(axis=1)
                rephrasing |= {rows[i] for i in (closest >= self.config.eval_rephrase_threshold).nonzero()[0]}
        for _ in rephrasing:
            self._reject("rephrases_eval")
        return [c for i, c in enumerate(at_risk) if i not in rephrasing] + [
            c for c in candidates if c.task not in tasks
        ]

    def _user_texts(self, frame: pl.DataFrame) -> pl.DataFrame:
        """task, split and the customer's side of every example handed in."""
        return frame.select(
            "task",
            "split",
            text=pl.col("messages")
            .list.eval(pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content"))
            .list.join("\n"),
        )

    def _capped(self, frame: pl.DataFrame, candidates: list[Candidate]) -> list[Candidate]:
        """Per task at most max_share of its train examples; intents take turns in a seeded order."""
        train = dict(frame.filter(pl.col("split") == "train").group_by("task").len().iter_rows())
        out = []
        for task in self.tasks:
            mine = sorted((c for c in candidates if c.task == task), key=lambda c: self._hash(f"{c.key}:{c.phrasing}"))
            by_intent: dict[str, list[Candidate]] = {}
            for candidate in mine:
                by_intent.setdefault(candidate.intent, []).append(candidate)
            turns = [c for group in _round_robin(list(by_intent.values())) for c in group]
            out += turns[: self._cap(train.get(task, 0), len(turns))]
        return out

    def _cap(self, originals: int, available: int) -> int:
        """synthesised / (originals + synthesised) <= max_share."""
        share = self.config.max_share
        return available if share >= 1 else min(available, int(share * originals / (1 - share)))

    def _row(self, candidate: Candidate) -> dict:
        record = {"record_id": f"catalog:{self.catalog_name}#{candidate.key}", "source": "catalog"}
        row = example(
            self.context,
            candidate.task,
            record,
            f"{candidate.intent}:{candidate.phrasing}",
            [("user", candidate.question), ("assistant", candidate.answer)],
            **candidate.extras,
        )
        augmentation = {
            "method": "catalog",
            "intent": candidate.intent,
            "phrasing": candidate.phrasing,
            "seed": self.config.seed,
        }
        return row | {"split": "train", "augmentation": json.dumps(augmentation, sort_keys=True)}


def _round_robin(groups: list[list[Candidate]]) -> Iterator[list[Candidate]]:
    """One of each group in turn: [a1, b1, c1], [a2, b2], ..."""
    for depth in range(max((len(g) for g in groups), default=0)):
        yield [g[depth] for g in groups if depth < len(g)]
