"""`fact_changed` pairs: a catalog-grounded answer against the same answer with one protected
fact changed (a price, a calorie count, an allergen, a dish name), so DPO learns that the
facts are what make an answer right. Made up, so marked `synthetic`, train only, and capped
at `preference.fact_changed_share` of a version's train pairs.

Only menu_qa answers of one question (system, user, assistant) that state a catalog fact are
used, never a rewritten variant of one (it would pair the same answer twice). Which fact is
changed, and to what, is drawn from the example id and `preference.seed`: a rerun makes the
same pairs.
"""

from __future__ import annotations

import re

import polars as pl

from etl.catalog import Catalog
from etl.stages.preference.conversations import pair_id
from etl.text.seeded import seeded_int

PRICE = re.compile(r"\$\d+(?:\.\d{2})?")
CALORIES = re.compile(r"\b(\d{2,4})(\s*(?:calories|kcal|cal)\b)", re.IGNORECASE)


def changed_answers(answer: str, catalog: Catalog) -> list[str]:
    """Every one-fact change of the answer the catalog allows, in a fixed order."""
    changes: list[str] = []
    prices = sorted({catalog.money(d.price) for d in catalog.dishes})
    if (m := PRICE.search(answer)) and (other := [p for p in prices if p != m.group()]):
        changes += [answer[: m.start()] + p + answer[m.end() :] for p in other[:3]]
    calories = sorted({str(d.calories) for d in catalog.dishes})
    if (m := CALORIES.search(answer)) and (other := [c for c in calories if c != m.group(1)]):
        changes += [answer[: m.start(1)] + c + answer[m.end(1) :] for c in other[:3]]
    for start, end, dish in catalog.mentions(answer)[:1]:
        at = catalog.dishes.index(dish)
        others = [d.name for d in catalog.dishes[at + 1 :] + catalog.dishes[:at] if d.name != dish.name]
        changes += [answer[:start] + name + answer[end:] for name in others[:3]]
    lower = answer.lower()
    for allergen in catalog.allergens:
        if m := re.search(rf"\b{re.escape(allergen.lower())}\b", lower):
            absent = [a for a in catalog.allergens if a.lower() not in lower]
            changes += [answer[: m.start()] + a + answer[m.end() :] for a in absent[:3]]
            break
    return [c for c in changes if c != answer]


def fact_changed_pairs(examples: pl.DataFrame, catalog: Catalog, seed: int, limit: int) -> list[dict]:
    """Up to `limit` pairs from the train menu_qa examples, the examples drawn in seeded order."""
    if limit <= 0 or examples.height == 0:
        return []
    single = examples.filter(
        (pl.col("task") == "menu_qa")
        & (pl.col("split") == "train")
        & pl.col("parent_id").is_null()
        & (pl.col("messages").list.len() == 3)
    ).select("id", "messages", "source", "record_id")
    ordered = sorted(single.iter_rows(named=True), key=lambda r: seeded_int(seed, r["id"]))
    pairs: list[dict] = []
    for row in ordered:
        system, user, assistant = row["messages"]
        if (system["role"], user["role"], assistant["role"]) != ("system", "user", "assistant"):
            continue
        changes = changed_answers(assistant["content"], catalog)
        if not changes:
            continue
        rejected = changes[seeded_int(seed, row["id"], "change") % len(changes)]
        prompt = [system, user]
        pairs.append(
            {
                "id": pair_id(prompt, assistant["content"], rejected),
                "prompt": prompt,
                "chosen": [assistant],
                "rejected": [{"role": "assistant", "content": rejected}],
                "source": row["source"],
                "record_id": row["record_id"],
                "pair_kind": "fact_changed",
                "synthetic": True,
                "split": "train",
            }
        )
        if len(pairs) == limit:
            break
    return pairs
