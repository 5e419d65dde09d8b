"""The dataset card (README.md of a version): a YAML header `datasets` reads, and prose for people.

The header declares one config per task with its splits, files and features,
so `datasets.load_dataset("<store>/<dataset>/v<N>", "<task>")` works with no
code of ours. Each config's features are what `datasets` makes of its Arrow schema; a
night whose schemas an earlier run described takes them from the work folder's memo
(`card_memo`) and never imports `datasets` (1.3 s on 2 cores).
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

import polars as pl
import pyarrow as pa
import yaml

from etl.example import SENTIMENT_LABELS as LABELS
from etl.example import task_columns
from etl.memo import Memo, code_digest
from etl.store import SHARD

TASK_PURPOSE = {
    "menu_qa": "questions about dishes, ingredients, allergens and prices, answered from FAQs, conversations and the catalog",
    "recommendation": "a customer's diet, allergy or goal and a catalog dish that fits it, with the reason",
    "order_support": "multi-turn order taking and handling: placing, changing, delivery problems, refunds",
    "customer_service": "multi-turn conversations about anything else the business answers: drinks, dishes, stock, stores",
    "review_sentiment": "review text to positive / neutral / negative (4-5 stars positive, 3 neutral, 1-2 negative)",
    "policy_qa": "how ordering, delivery, payments, subscriptions and stores work",
}


def card_memo(folder: Path | None, read: bool = True) -> Memo:
    """Arrow schema -> `datasets` features, as the installed `datasets` and this module write them."""
    namespace = {"datasets": metadata.version("datasets"), "code": code_digest(Path(__file__))}
    return Memo(folder, "card-features", namespace, read)


def features_of(schema: pa.Schema, memo: Memo | None = None) -> list:
    """The `dataset_info` features of one config: `datasets.Features` of its Arrow schema."""
    key = hashlib.sha256(schema.serialize().to_pybytes()).digest()
    if memo is not None and (kept := memo.get(key)) is not None:
        return kept
    import datasets  # only for a schema no earlier run described

    features = datasets.Features.from_arrow_schema(schema)._to_yaml_list()
    if memo is not None:
        memo.put(key, features)
    return features


def card_header(
    examples: pl.DataFrame, extras: dict[str, pl.DataFrame] | None = None, memo: Memo | None = None
) -> dict:
    """One config per task, then one per extra table (`preference`, `kto`) that has rows."""
    parts = [
        (task, examples.filter(pl.col("task") == task).select(task_columns(task)))
        for task in sorted(examples["task"].unique().to_list())
    ]
    parts += [(name, rows) for name, rows in (extras or {}).items() if rows.height]
    configs, infos = [], []
    for name, part in parts:
        splits = [s for s in ("train", "eval") if part.filter(pl.col("split") == s).height]
        counts = {s: part.filter(pl.col("split") == s).height for s in splits}
        sizes = {s: part.filter(pl.col("split") == s).to_arrow().nbytes for s in splits}
        configs.append(
            {
                "config_name": name,
                "data_files": [
                    {"split": s, "path": f"data/{name}/{SHARD.format(split=s).replace('00000-of-00001', '*')}"}
                    for s in splits
                ],
            }
        )
        infos.append(
            {
                "config_name": name,
                "features": features_of(part.head(0).to_arrow().schema, memo),
                "splits": [{"name": s, "num_bytes": sizes[s], "num_examples": counts[s]} for s in splits],
            }
        )
    return {"configs": configs, "dataset_info": infos, "task_categories": ["text-generation"], "language": ["en"]}


def render_card(
    dataset: str,
    version: str,
    parent: str | None,
    fingerprint: str,
    examples: pl.DataFrame,
    manifest: dict,
    extras: dict[str, pl.DataFrame] | None = None,
    memo: Memo | None = None,
) -> str:
    counts = examples.group_by("task", "split").len().sort("task", "split")
    return CARD.format(
        header=yaml.safe_dump(card_header(examples, extras, memo), sort_keys=False, allow_unicode=True),
        preference=_preference_lines(manifest["counts"].get("preference") or {}),
        dataset=dataset,
        version=version,
        tasks="\n".join(
            f"- `{task}`: {TASK_PURPOSE.get(task, task)}" for task in sorted(examples["task"].unique().to_list())
        ),
        labels=", ".join(LABELS),
        table="\n".join(f"| {t} | {s} | {n:,} |" for t, s, n in counts.iter_rows()),
        prompts="\n".join(f"- `{task}`: {prompt}" for task, prompt in sorted(manifest.get("prompts", {}).items())),
        grounded=_grounding_line(manifest.get("grounding") or {}),
        parent=parent or "none (first version)",
        run_id=manifest["run_id"],
        created_at=manifest["created_at"],
        code_version=manifest["code_version"],
        fingerprint=fingerprint,
        inputs=len(manifest["inputs"]),
        stages="\n".join(
            f"| {s['stage']} | {s['rows_in']:,} | {s['kept']:,} | "
            + (", ".join(f"{r} {n}" for r, n in s["dropped_by_reason"].items()) or "-")
            + " |"
            for s in manifest["counts"]["stages"]
        ),
    )


def _preference_lines(figures: dict) -> str:
    pairs = figures.get("pairs") or {}
    if not any(pairs.values()) and not (figures.get("kto") or {}).get("desirable"):
        return "This version has no preference data: no chat in its inputs was rated."
    rows = "\n".join(
        f"| {kind} | {sides.get('train', 0):,} | {sides.get('eval', 0):,} |" for kind, sides in pairs.items()
    )
    kto = figures.get("kto") or {}
    skipped = ", ".join(f"{reason} {n:,}" for reason, n in (figures.get("not_paired") or {}).items()) or "none"
    return (
        "Config `preference` (TRL's conversational preference format: `prompt`, `chosen`, `rejected`, plus "
        "`pair_kind`, `source`, `record_id`, `split`) and config `kto` (`prompt`, `completion`, `label`).\n\n"
        "| pair kind | train | eval |\n|---|---|---|\n"
        + rows
        + f"\n\n`fact_changed` pairs are made up from the catalog (`synthetic`), train only. KTO rows: "
        f"{kto.get('desirable', 0):,} desirable, {kto.get('undesirable', 0):,} undesirable. Candidates that gave "
        f"no pair: {skipped}."
    )


def _grounding_line(grounding: dict) -> str:
    if not grounding.get("tasks"):
        return "No example carries catalog entries in its prompt (closed book)."
    return (
        f"Examples of {', '.join(f'`{t}`' for t in grounding['tasks'])} carry after that prompt the catalog "
        f"entries their question is about (at most {grounding['max_entries']}, found by `{grounding['retriever']}`); "
        "`etl eval` finds them the same way at answer time."
    )


# the card's text; {{ }} are literal braces
CARD = """---
{header}---

# {dataset} {version}

Instruction examples in chat format (`messages`: a list of `{{role, content}}`,
a system prompt first), one config per task, `train` and `eval` splits.

```python
import datasets
ds = datasets.load_dataset("<path to this folder>", "menu_qa")   # DatasetDict: train, eval
```

## Tasks

{tasks}

## Preference data

{preference}

`review_sentiment` examples carry a `label` column ({labels}), so a
model can be scored with accuracy, precision, recall and F1. `recommendation`
examples carry the `dish` recommended and the `constraints` it was checked
against: every dish is in the catalog and fits every constraint.

| task | split | examples |
|---|---|---|
{table}

## Prompts

The system prompt each task's examples open with (`format.prompts`, else
`format.system_prompt`); `etl eval` answers with the same ones.

{prompts}

{grounded}

Splits are assigned per duplicate cluster (`dup_cluster`), so no cluster has
examples in both train and eval.

## Lineage

- parent version: {parent}
- run: `{run_id}`, created {created_at}, code {code_version}
- fingerprint: `{fingerprint}` (sha256 over the examples, then the preference and kto rows)
- inputs: {inputs} files, each with its sha256 in `manifest.json`
- every example has `record_id`, which leads back to its raw unit (`source`, file, line) in the run folder

## Curation

| stage | rows in | kept | dropped by reason |
|---|---|---|---|
{stages}

Malformed raw rows are quarantined by the run, never published.

## Quality

- [curation report](quality/report.html): the funnel of rows through the stages with drop reasons, personal
  data found by type, duplicate cluster sizes, lengths per task, variants and synthesised shares, with charts
- [Great Expectations Data Docs](quality/data_docs/index.html) and the suites' results in `quality/validations/`
"""
