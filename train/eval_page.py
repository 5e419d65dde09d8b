"""One static HTML page of an evaluation: per task, base against adapter with 95% intervals and
the paired difference, the menu questions by how they name their dish, the retrieval's recall,
the sentiment confusion matrices, the seconds each took, and ten sampled answers per task beside
what a right answer states and the catalog's facts. Every text is escaped; the questions are the
frozen set's (written from the catalog) or the version's de-identified conversations."""

from __future__ import annotations

from html import escape

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#1a7f37;font-weight:600}.down{color:#cf222e;font-weight:600}.flat{color:#57606a}
.ok{color:#1a7f37}.bad{color:#cf222e}.small{color:#57606a;font-size:12px}
.answer{white-space:pre-wrap;max-width:360px}
"""


def _figure(figure: dict | None) -> str:
    if not figure or figure.get("n", 0) == 0:
        return "<td class='num'>-</td>"
    return (
        f"<td class='num'>{figure['value']:.3f}<br><span class='small'>"
        f"{figure['low']:.3f}-{figure['high']:.3f}, n={figure['n']}</span></td>"
    )


def _difference(diff: dict | None) -> str:
    if not diff:
        return "<td class='num'>-</td>"
    kind = "up" if diff["low"] > 0 else "down" if diff["high"] < 0 else "flat"
    return (
        f"<td class='num {kind}'>{diff['value']:+.3f}<br><span class='small'>"
        f"{diff['low']:+.3f} to {diff['high']:+.3f}</span></td>"
    )


def render(manifest: dict, samples: dict[str, list[dict]]) -> str:
    names = ["base", "adapter"] if "base" in manifest else ["model"]
    figures = {"base": manifest.get("base", {}), "adapter": manifest["tasks"], "model": manifest["tasks"]}
    seconds = manifest.get("seconds", {})
    timing = {"base": seconds.get("base", {}), "adapter": seconds.get("adapter", {}), "model": seconds.get("base", {})}
    eval_set = manifest.get("eval_set", {})
    frozen = eval_set.get("frozen") or {}
    grounding = eval_set.get("grounding", {})
    parts = [
        "<!doctype html><meta charset='utf-8'><title>etl eval</title>",
        f"<style>{STYLE}</style>",
        f"<h1>{escape(manifest['dataset'])} {escape(manifest['version'])}: "
        f"{'base against adapter' if len(names) > 1 else 'one model'}</h1>",
        "<p class='small'>"
        + "<br>".join(
            escape(line)
            for line in [
                f"version fingerprint {manifest['fingerprint'][:16]}; frozen set "
                + (f"{frozen['fingerprint'][:16]} ({frozen['generator']})" if frozen else "not used"),
                f"model {manifest.get('model')}; adapter {manifest.get('adapter') or 'none'}; "
                f"precision {manifest.get('precision')}; {manifest.get('decoding', 'greedy')} decoding",
                f"grounding {grounding.get('mode')}: catalog entries in the prompt for "
                + (", ".join(grounding.get("tasks") or []) or "no task (closed book)"),
                f"replies from {eval_set.get('replies_from', 'the version eval split')}; "
                f"rephrasings of this version's train questions in the frozen set: "
                f"{frozen.get('rephrasings_of_this_version', '-')}",
            ]
        )
        + "</p>",
        "<h2>Per task</h2>",
        _task_table(manifest, names, figures, timing),
    ]
    parts += _styles(manifest, names, figures)
    parts += _retrieval(manifest)
    parts += _confusions(names, figures)
    parts += _samples(samples, names)
    return "\n".join(parts) + "\n"


def _task_table(manifest, names, figures, timing) -> str:
    head = "<tr><th>task</th><th>metric</th>" + "".join(f"<th>{n}</th>" for n in names)
    head += "<th>adapter - base (paired)</th>" if len(names) > 1 else ""
    head += "".join(f"<th>seconds ({n})</th>" for n in names) + "</tr>"
    rows = [head]
    for task, task_figures in manifest["tasks"].items():
        metric = task_figures["main_metric"]
        row = f"<tr><td>{escape(task)}</td><td>{escape(metric)}</td>"
        row += "".join(_figure(figures[n].get(task, {}).get(metric)) for n in names)
        if len(names) > 1:
            row += _difference(manifest.get("difference", {}).get(task))
        row += "".join(f"<td class='num'>{timing[n].get(task, 0):.1f}</td>" for n in names)
        rows.append(row + "</tr>")
    invented = [
        (t, {n: figures[n].get(t, {}).get("invented_dish_share") for n in names})
        for t in manifest["tasks"]
        if "invented_dish_share" in manifest["tasks"][t]
    ]
    for task, by_name in invented:
        row = f"<tr><td>{escape(task)}</td><td>invented_dish_share (lower is better)</td>"
        row += "".join(_figure(by_name[n]) for n in names)
        row += "<td></td>" if len(names) > 1 else ""
        rows.append(row + "<td></td>" * len(names) + "</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _styles(manifest, names, figures) -> list[str]:
    parts = []
    for task in ("menu_qa", "recommendation"):
        styles = manifest["tasks"].get(task, {}).get("by_style") or {}
        intents = manifest["tasks"].get(task, {}).get("by_intent") or {}
        for title, key, groups in (
            ("how the question names its dish", "by_style", styles),
            ("what it asks", "by_intent", intents),
        ):
            if len(groups) < 2:
                continue
            parts.append(f"<h2>{escape(task)}: by {title}</h2>")
            rows = ["<tr><th>group</th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"]
            for group in groups:
                cells = "".join(_figure(figures[n].get(task, {}).get(key, {}).get(group)) for n in names)
                rows.append(f"<tr><td>{escape(group)}</td>{cells}</tr>")
            parts.append("<table>" + "".join(rows) + "</table>")
    return parts


def _retrieval(manifest) -> list[str]:
    retrieval = manifest.get("retrieval") or {}
    if not retrieval:
        return []
    rows = ["<tr><th>task</th><th>recall of the right entries</th><th>entries per question</th></tr>"]
    for task, figures in retrieval.items():
        rows.append(
            f"<tr><td>{escape(task)}</td>{_figure(figures['recall'])}"
            f"<td class='num'>{figures['entries_per_question']:.2f}</td></tr>"
        )
    return ["<h2>Retrieval (grounded questions)</h2>", "<table>" + "".join(rows) + "</table>"]


def _confusions(names, figures) -> list[str]:
    parts = []
    for name in names:
        confusion = figures[name].get("review_sentiment", {}).get("confusion")
        if not confusion or not confusion.get("matrix"):
            continue
        labels = confusion["labels"]
        rows = ["<tr><th>reference \\ answer</th>" + "".join(f"<th>{escape(x)}</th>" for x in labels) + "</tr>"]
        for label, counts in zip(labels, confusion["matrix"]):
            rows.append(
                f"<tr><th>{escape(label)}</th>" + "".join(f"<td class='num'>{c}</td>" for c in counts) + "</tr>"
            )
        parts += [f"<h2>review_sentiment: confusion ({escape(name)})</h2>", "<table>" + "".join(rows) + "</table>"]
    return parts


def _samples(samples: dict[str, list[dict]], names: list[str]) -> list[str]:
    parts = []
    for task, rows in samples.items():
        parts.append(f"<h2>{escape(task)}: {len(rows)} sampled answers</h2>")
        head = "<tr><th>question</th><th>right answer states</th><th>catalog facts / entries given</th>"
        head += "".join(f"<th>{escape(n)}</th>" for n in names) + "</tr>"
        body = [head]
        for row in rows:
            style = f"<br><span class='small'>{escape(row['style'])}</span>" if row.get("style") else ""
            facts = "<br>".join(escape(f) for f in row["facts"])
            if row["entries"]:
                facts += (
                    "<br><span class='small'>entries in the prompt: " + escape(", ".join(row["entries"])) + "</span>"
                )
            cells = ""
            for name in names:
                key = name if name in row["answers"] else next(iter(row["answers"]))
                text, outcome = row["answers"][key]
                mark = _mark(outcome, row["reference"])
                cells += f"<td class='answer'>{mark}{escape(text)}</td>"
            body.append(
                f"<tr><td class='answer'>{escape(row['question'])}{style}</td>"
                f"<td class='answer'>{escape(row['reference'])}</td><td class='answer small'>{facts}</td>{cells}</tr>"
            )
        parts.append("<table>" + "".join(body) + "</table>")
    return parts


def _mark(outcome, reference: str) -> str:
    if isinstance(outcome, bool):
        return "<span class='ok'>right</span><br>" if outcome else "<span class='bad'>wrong</span><br>"
    if isinstance(outcome, str):  # a sentiment label
        right = outcome == reference
        return f"<span class='{'ok' if right else 'bad'}'>{escape(outcome)}</span><br>"
    if isinstance(outcome, float):
        return f"<span class='small'>chrF {outcome:.2f}</span><br>"
    return ""
