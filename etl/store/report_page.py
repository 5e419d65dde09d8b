"""quality/report.html: one page a person would rather look at than read logs.

The funnel of rows through every stage with its drop reasons, the personal
data found by type, the sizes of duplicate clusters, the length of the
customer's and the assistant's side per task, and the share of train that is
variants (per method) and synthesised (per intent), with the quality suites'
outcome and a link to GX's Data Docs. Charts are matplotlib PNGs inlined in
the page, so it is one static file that opens anywhere, offline. It shows
counts and lengths only, never a customer's text.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import polars as pl

KEPT, DROPPED, ACCENT = "#3a7d44", "#c0504d", "#4f6d9a"


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _figure(height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8.5, height))
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def funnel_chart(stages: list) -> str:
    figure, axes = _figure(0.42 * len(stages) + 0.8)
    labels = [f"{s.stage} ({s.unit})" for s in stages][::-1]
    kept = [s.kept for s in stages][::-1]
    dropped = [s.dropped for s in stages][::-1]
    # augment and synthesize hand on more than they were given: the examples they add
    added = [max(s.handed_on - s.kept, 0) if s.unit == "examples" else 0 for s in stages][::-1]
    axes.barh(labels, kept, color=KEPT, label="kept")
    axes.barh(labels, dropped, left=kept, color=DROPPED, label="dropped")
    axes.barh(labels, added, left=[k + d for k, d in zip(kept, dropped)], color=ACCENT, label="added")
    for y, (k, d, a) in enumerate(zip(kept, dropped, added)):
        note = (f"  (-{d:,})" if d else "") + (f"  (+{a:,} added)" if a else "")
        axes.text(k + d + a, y, f" {k:,}{note}", va="center", fontsize=8)
    axes.set_xlabel("rows, in each stage's unit")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _png(figure)


def bar_chart(items: dict[str, int], xlabel: str, color: str = ACCENT) -> str:
    figure, axes = _figure(0.35 * max(len(items), 1) + 0.8)
    names, values = list(items)[::-1], list(items.values())[::-1]
    axes.barh(names, values, color=color)
    for y, value in enumerate(values):
        axes.text(value, y, f" {value:,}", va="center", fontsize=8)
    axes.set_xlabel(xlabel)
    return _png(figure)


def length_chart(examples: pl.DataFrame) -> str:
    words = examples.select(
        "task",
        customer=_side_words("user"),
        assistant=_side_words("assistant"),
    )
    tasks = sorted(set(words["task"]))
    figure, axes = _figure(0.5 * len(tasks) + 1)
    for offset, side, color in ((-0.18, "customer", ACCENT), (0.18, "assistant", KEPT)):
        data = [words.filter(pl.col("task") == t)[side].to_list() for t in tasks]
        parts = axes.boxplot(
            data,
            positions=[i + offset for i in range(len(tasks))],
            widths=0.3,
            orientation="horizontal",
            patch_artist=True,
            showfliers=False,
        )
        for box in parts["boxes"]:
            box.set_facecolor(color)
        axes.plot([], [], color=color, linewidth=6, label=f"{side} side")
    axes.set_yticks(range(len(tasks)), tasks)
    axes.set_xscale("log")
    axes.set_xlabel("words per example (box: quartiles, whiskers: 1.5 IQR; log scale)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _png(figure)


def _side_words(role: str) -> pl.Expr:
    return (
        pl.col("messages")
        .list.eval(pl.element().filter(pl.element().struct.field("role") == role).struct.field("content"))
        .list.join(" ")
        .str.split(" ")
        .list.len()
    )


def share_chart(examples: pl.DataFrame, augmentation: dict, synthesis: dict) -> tuple[str, list[list[str]]]:
    """Per task: the share of train that is original, each method's variants, synthesised examples."""
    train = dict(examples.filter(pl.col("split") == "train").group_by("task").len().iter_rows())
    parts: dict[str, dict[str, int]] = {}
    for task, methods in (augmentation.get("variants") or {}).items():
        for method, n in methods.items():
            parts.setdefault(task, {})[f"variant: {method}"] = n
    for task, intents in (synthesis.get("examples") or {}).items():
        parts.setdefault(task, {})["synthesised"] = sum(intents.values())
    tasks = sorted(train)
    kinds = sorted({k for p in parts.values() for k in p})
    figure, axes = _figure(0.42 * len(tasks) + 1.2)
    left = [0.0] * len(tasks)
    colours = __import__("matplotlib").colormaps["tab20"]
    rows = []
    for index, kind in enumerate(["original"] + kinds):
        shares = []
        for task in tasks:
            made = parts.get(task, {})
            n = train[task] - sum(made.values()) if kind == "original" else made.get(kind, 0)
            shares.append(n / train[task] if train[task] else 0)
        axes.barh(tasks, shares, left=left, color="#cccccc" if kind == "original" else colours(index), label=kind)
        left = [a + b for a, b in zip(left, shares)]
    for task in tasks:
        made = parts.get(task, {})
        rows.append(
            [task, f"{train[task]:,}", f"{sum(made.values()):,}", f"{sum(made.values()) / train[task]:.1%}"]
            + [", ".join(f"{k} {v:,}" for k, v in sorted(made.items())) or "-"]
        )
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of the task's train examples")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    return _png(figure), rows


def cluster_sizes(stages: list) -> dict[str, int]:
    """Records per duplicate cluster (2 or more), from the dedup stage's per-record figures."""
    report = next((s for s in stages if s.stage == "dedup"), None)
    stats = Path(report.output).with_suffix(".stats.parquet") if report and report.output else None
    if stats is None or not stats.is_file():
        return {}
    sizes = pl.read_parquet(stats, columns=["dup_cluster"]).group_by("dup_cluster").len().rename({"len": "size"})
    counted = sizes.filter(pl.col("size") > 1).group_by("size").len().sort("size")
    return {f"{size} records": n for size, n in counted.iter_rows()}


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222;padding:0 1em}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:.85em;margin:.8em 0}td,th{border:1px solid #ddd;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}.meta{color:#555}img{max-width:100%}"
)


def render(dataset: str, version: str, fingerprint: str, examples: pl.DataFrame, summary) -> str:
    stages = list(summary.stages)
    # the run's totals are summed after publishing; here they come from the stage reports
    rows_in = stages[0].rows_in if stages else 0
    rows_dropped = sum(s.dropped for s in stages if s.unit != "examples")
    share, share_rows = share_chart(examples, summary.augmentation, summary.synthesis)
    drops = [
        [s.stage, s.unit, f"{s.rows_in:,}", f"{s.kept:,}", f"{s.dropped:,}"]
        + [", ".join(f"{r} {n:,}" for r, n in s.dropped_by_reason.items()) or "-"]
        for s in stages
    ]
    sections = [
        f"<h1>{html.escape(dataset)} {html.escape(version)}: curation report</h1>",
        f"<p class=meta>fingerprint <code>{html.escape(fingerprint)}</code> &middot; run {html.escape(summary.run_id)}"
        f" &middot; {rows_in:,} raw rows in, {rows_in - rows_dropped:,} records kept, {rows_dropped:,} raw rows and"
        f" records dropped (each with a stage and a reason) &middot; {examples.height:,} examples published</p>",
        "<h2>Examples per task</h2>" + _table(["task", "train", "eval"], _per_task(examples)),
        "<h2>Quality gates</h2>" + _quality_section(summary.quality or {}),
        "<h2>Rows through the stages</h2>" + funnel_chart(stages),
        _table(["stage", "unit", "in", "kept", "dropped", "dropped by reason"], drops),
        "<h2>Personal data found and replaced, by type</h2>" + _found_section(stages),
        "<h2>Duplicate clusters</h2>" + _cluster_section(stages),
        "<h2>Length per task</h2>" + length_chart(examples),
        "<h2>Variants and synthesised examples in train</h2>"
        + share
        + _table(["task", "train", "variants and synthesised", "share", "by method"], share_rows),
        "<h2>Preference data</h2>" + _preference_section(summary.preference or {}),
    ]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(dataset)} {html.escape(version)}"
        f" curation report</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def _per_task(examples: pl.DataFrame) -> list[list[str]]:
    counts = examples.group_by("task", "split").len()
    return [
        [
            task,
            f"{counts.filter((pl.col('task') == task) & (pl.col('split') == 'train'))['len'].sum():,}",
            f"{counts.filter((pl.col('task') == task) & (pl.col('split') == 'eval'))['len'].sum():,}",
        ]
        for task in sorted(set(counts["task"]))
    ]


def _quality_section(quality: dict) -> str:
    suites = [
        [
            name,
            "passed" if r["success"] else "FAILED",
            r["severity"],
            str(r["expectations"]),
            "; ".join(r["failed"]) or "-",
        ]
        for name, r in quality.items()
    ]
    # each suite's result page: GX renders it on the server side, so it reads offline too
    pages = " &middot; ".join(
        f'<a href="{html.escape(r["page"])}">{html.escape(name)} results</a>'
        for name, r in quality.items()
        if r.get("page")
    )
    table = _table(["suite", "outcome", "severity", "expectations", "failed"], suites) if suites else "<p>not run</p>"
    return table + f'<p><a href="data_docs/index.html">Great Expectations Data Docs</a> &middot; {pages}</p>'


def _preference_section(figures: dict) -> str:
    """Pairs per kind and side, the KTO balance, and why the other candidates gave no pair."""
    if not figures:
        return "<p>not built (preference.enabled is off)</p>"
    pairs = [
        [kind, f"{sides.get('train', 0):,}", f"{sides.get('eval', 0):,}"] for kind, sides in figures["pairs"].items()
    ]
    kto = figures["kto"]
    ratio = f"{kto['ratio']}:1" if kto.get("ratio") is not None else "-"
    reasons = [[reason, f"{n:,}"] for reason, n in (figures.get("not_paired") or {}).items()]
    return (
        _table(["pair kind", "train", "eval"], pairs)
        + f"<p>{figures.get('rated_down_chats_paired', 0):,} of {figures.get('rated_down_chats', 0):,} thumbs-down "
        f"chats gave a pair &middot; KTO rows: {kto['desirable']:,} desirable, {kto['undesirable']:,} undesirable "
        f"({ratio}; TRL advises weighting to between 1:1 and 4:3)</p>"
        + (_table(["no pair, because", "candidates"], reasons) if reasons else "")
    )


def _found_section(stages: list) -> str:
    found = {
        name.removeprefix("found_"): n
        for s in stages
        if s.stage == "deidentify"
        for name, n in sorted(s.counts.items(), key=lambda item: -item[1])
        if name.startswith("found_")
    }
    return bar_chart(found, "spans replaced") if found else "<p>none found</p>"


def _cluster_section(stages: list) -> str:
    dedup = next((s for s in stages if s.stage == "dedup"), None)
    clusters = cluster_sizes(stages)
    dropped = (
        f"<p>{dedup.dropped_by_reason.get('exact_duplicate', 0):,} exact and "
        f"{dedup.dropped_by_reason.get('near_duplicate', 0):,} near duplicates dropped; clusters by size:</p>"
        if dedup
        else ""
    )
    return dropped + (bar_chart(clusters, "clusters") if clusters else "<p>no cluster of two or more records</p>")
