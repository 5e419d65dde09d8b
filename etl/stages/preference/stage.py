"""Preference: the version's `preference` pairs (DPO) and `kto` rows, from the chats customers
rated and from the catalog (etl/stages/preference/conversations.py, facts_changed.py).

The examples pass through unchanged: this stage adds two tables beside them. It reads the
rated chats the format stage saw (de-identified and deduplicated, the thumbs-down ones included:
format set those aside for this) and each record's side from the split stage, which the
registry hands it as two callables, so it imports neither stage.

Pairs are deduplicated on (prompt, chosen, rejected), capped per kind
(`preference.max_pairs`), and every candidate that gave no pair is counted with its reason;
the counts go into the run summary, the manifest and the report. The validate stage checks the
pairs with the `preference` suite and may drop some (`drop`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial

import polars as pl

from etl.catalog import Catalog
from etl.config import PreferenceConfig
from etl.embeddings import Embedder
from etl.example import KTO_SCHEMA, PAIR_KINDS, PAIR_SCHEMA
from etl.stages.base import Progress, Stage, StageResult
from etl.stages.preference.conversations import build_conversation_pairs
from etl.stages.preference.facts_changed import fact_changed_pairs
from etl.text.question_facts import QuestionFacts


class PreferenceStage(Stage):
    name = "preference"
    unit = "examples"
    id_column = "id"

    def __init__(
        self,
        config: PreferenceConfig,
        catalog: Catalog,
        system_prompt: str,
        eval_share: float,
        rated: Callable[[], pl.DataFrame],
        record_splits: Callable[[], pl.DataFrame],
        embedder: Embedder,
        model: str | None,
        precision: str = "auto",
    ) -> None:
        self.config, self.catalog, self.system_prompt, self.eval_share = config, catalog, system_prompt, eval_share
        self.rated, self.record_splits = rated, record_splits
        self.embed = partial(embedder, model_name=model, batch_size=64, precision=precision)
        self.pairs = PAIR_SCHEMA.to_frame()
        self.kto = KTO_SCHEMA.to_frame()
        self.figures: dict = {}

    def total_work(self, frame: pl.DataFrame) -> int:
        return 2

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        splits = self.record_splits()
        sides = dict(splits.select("record_id", "split").drop_nulls().iter_rows()) if splits.height else {}
        built = build_conversation_pairs(
            self.rated(),
            sides,
            self.config,
            self.eval_share,
            self.system_prompt,
            QuestionFacts(self.catalog),
            self.embed,
        )
        progress(1)
        real = unique_capped(frame_of(built.pairs, PAIR_SCHEMA), self.config.max_pairs, built.not_paired)
        share = self.config.fact_changed_share
        room = int(share / (1 - share) * real.filter(pl.col("split") == "train").height) if share < 1 else 10**9
        made_up = frame_of(fact_changed_pairs(frame, self.catalog, self.config.seed, room), PAIR_SCHEMA)
        made_up = unique_capped(made_up, self.config.max_pairs, built.not_paired)
        self.pairs = pl.concat([real, made_up]).unique("id", keep="first").sort("id")
        self.kto = frame_of(built.kto, KTO_SCHEMA).unique("id", keep="first").sort("id")
        self.figures = {
            "rated_down_chats": built.down_chats,
            "rated_down_chats_paired": built.down_chats_paired,
            "not_paired": {reason: n for reason, n in sorted(built.not_paired.items()) if n},
        }
        progress(1)
        return StageResult(
            kept=frame, dropped=pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8})
        )

    def drop(self, ids: list[str], reason: str) -> None:
        """Pairs the quality gate failed leave the version, counted under their rule."""
        if not ids:
            return
        self.pairs = self.pairs.filter(~pl.col("id").is_in(ids))
        not_paired = self.figures.setdefault("not_paired", {})
        not_paired[reason] = not_paired.get(reason, 0) + len(ids)

    def summary_fields(self) -> dict:
        return {"preference": preference_counts(self.pairs, self.kto) | self.figures}


def frame_of(rows: list[dict], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else schema.to_frame()


def unique_capped(pairs: pl.DataFrame, caps: dict[str, int], not_paired: Counter) -> pl.DataFrame:
    """One pair per (prompt, chosen, rejected), at most the kind's cap, the rest counted."""
    unique = pairs.unique("id", keep="first").sort("id")
    not_paired["duplicate_pair"] += pairs.height - unique.height
    kept = []
    for kind, part in unique.group_by("pair_kind", maintain_order=True):
        cap = caps.get(kind[0], part.height)
        not_paired["over_cap"] += max(0, part.height - cap)
        kept.append(part.head(cap))
    return pl.concat(kept).sort("id") if kept else unique


def preference_counts(pairs: pl.DataFrame, kto: pl.DataFrame) -> dict:
    """{pairs: {kind: {split: n}}, kto: {desirable, undesirable, ratio}}: the manifest's figures."""
    by_kind = {kind: {} for kind in PAIR_KINDS}
    for kind, split, n in pairs.group_by("pair_kind", "split").len().sort("pair_kind", "split").iter_rows():
        by_kind.setdefault(kind, {})[split] = int(n)
    desirable = int(kto["label"].sum()) if kto.height else 0
    undesirable = kto.height - desirable
    return {
        "pairs": by_kind,
        "kto": {
            "desirable": desirable,
            "undesirable": undesirable,
            # TRL's KTO advice: weight the two sides so this lands between 1:1 and 4:3
            "ratio": round(desirable / undesirable, 2) if undesirable else None,
        },
    }
