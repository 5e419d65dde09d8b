"""The README's figures for the sample come from a run of the sample, never from memory.

The block between the `sample-run` markers in README.md is rendered from the run
summary; this test fails when the pipeline's output and the README disagree.
To rewrite the block after a change: `.venv/bin/python tests/test_docs.py`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- sample-run:begin[^\n]*-->\n)(.*?)(<!-- sample-run:end -->)", re.DOTALL)


def render(summary) -> str:
    """The README block for a run summary (etl.runner.RunSummary)."""
    lines = [
        "| what | count |",
        "|---|---|",
        f"| raw rows read (records, quarantined rows and empty files) | {summary.rows_in:,} |",
        f"| quarantined at ingest | {summary.quarantine['rows']:,} |",
        f"| records kept to the end | {summary.rows_kept:,} |",
        f"| records dropped, every one with a stage and a reason | {summary.rows_dropped:,} |",
        f"| examples built | {summary.examples_built:,} |",
        f"| variants of train examples (augment) | {sum(sum(m.values()) for m in summary.augmentation.get('variants', {}).values()):,} |",
        f"| examples synthesised from the catalog (train) | {sum(sum(i.values()) for i in summary.synthesis.get('examples', {}).values()):,} |",
        f"| examples published | {sum(sum(s.values()) for s in summary.examples.values()):,} |",
    ]
    for task, splits in sorted(summary.examples.items()):
        total = sum(splits.values())
        lines.append(
            f"| `{task}`: train / eval | {splits.get('train', 0):,} / {splits.get('eval', 0):,} ({splits.get('eval', 0) / total:.1%} eval) |"
        )
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lacks the <!-- sample-run:begin --> ... <!-- sample-run:end --> block"
    return match.group(2)


def test_readme_sample_figures_come_from_the_run(sample_run):
    expected = render(sample_run)
    assert readme_block() == expected, (
        f"README.md's sample figures are stale; run `.venv/bin/python tests/test_docs.py`, or paste:\n{expected}"
    )


def main() -> None:
    import tempfile

    from etl.config import load_config
    from etl.runner import run_pipeline

    with tempfile.TemporaryDirectory() as store:
        summary = run_pipeline(load_config(REPO / "sample_data" / "pipeline.yaml"), store=store)
    text = README.read_text(encoding="utf-8")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + render(summary) + m.group(3), text), encoding="utf-8")
    print(render(summary))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
