"""A company's own exports, end to end: `etl init`, `etl run --dry-run`, `etl run`, and what survives.

    python bench/heldout.py [--seed 11]

The exports are tests/heldout_exports.py's: 420 Yelp review sentences in a CSV saying `comment`,
`stars` (out of 10) and `date` (dd/mm/yyyy), 60 Taskmaster-4 dialogs as a one-message-a-row
helpdesk CSV and 60 as OpenAI-style `messages` JSONL, with names, foreign phones with
extensions, second address lines, IBANs and account numbers planted in a third of them. Prints
the lines `etl init` marked UNSURE, the examples published, the rows the gate dropped by reason,
and how many planted values appear in the store, the terminal output or the JSON summary
(goal: 0), with the wall time of each command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import published_text  # noqa: E402
from tests.heldout_exports import write_exports  # noqa: E402


def etl(*args: str, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "etl", *args], capture_output=True, text=True, env=env)
    return done, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    env = {**os.environ, "ETL_PII_KEY": "b" * 64, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "exports"
        planted = write_exports(folder, seed=args.seed)
        for name in ("menu.yaml", "stores.yaml"):
            shutil.copy(ROOT / "sample_data" / name, folder / name)
        init, init_s = etl("init", str(folder), env=env)
        config = folder / "pipeline.yaml"
        unsure = [line.strip() for line in config.read_text().splitlines() if "UNSURE:" in line]
        dry, dry_s = etl("run", "--config", str(config), "--dry-run", env=env)
        summary_file = Path(tmp) / "summary.json"
        run, run_s = etl("run", "--config", str(config), "--json", str(summary_file), env=env)
        print(f"etl init: exit {init.returncode}, {init_s:.2f} s; lines marked UNSURE: {len(unsure)}")
        for line in unsure:
            print(f"  {line.split('#')[0].strip()}  # {line.split('UNSURE:')[1].strip()}")
        print(f"etl run --dry-run: exit {dry.returncode}, {dry_s:.2f} s")
        print(f"etl run: exit {run.returncode}, {run_s:.2f} s")
        if run.returncode != 0:
            print(run.stderr[-2000:])
            return
        summary = json.loads(summary_file.read_text())
        examples = sum(sum(s.values()) for s in summary["examples"].values())
        dropped = pl.read_parquet(Path(summary["run_dir"]) / "dropped.parquet").filter(pl.col("stage") == "validate")
        store = published_text(folder / "store")  # parquet decoded: its compressed pages hide text
        shown = run.stdout + run.stderr + summary_file.read_text()
        print(f"records in: {summary['rows_in']:,}; examples published: {examples:,}")
        print(f"gate drops: {dict(Counter(dropped['reason'])) or 'none'}")
        print(f"planted personal values: {len(planted)}")
        print(f"  found in the store: {sum(v in store for v in planted)} (goal 0)")
        print(f"  found in the output and summary: {sum(v in shown for v in planted)} (goal 0)")


if __name__ == "__main__":
    main()
