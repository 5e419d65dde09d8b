"""Real feedback into preference data: Taskmaster-4's 3,228 rated agent turns through the
pipeline, by config mapping alone (no code of ours knows the file).

    python bench/preference_real.py [--work DIR] [--near-dedup on|off]

bench/data/taskmaster4_reward/ (CC BY 4.0; its README names the source) holds one rated turn a
line: `context` (the turns before it, a JSON list written as a string), `generation` (the rated
agent turn: a text reply or an API call) and `reward` (1.0 good, 0.0 bad). The config maps them
as a reward file (`columns.rated_turn`, `values.feedback_rating`, `skip_messages_without_text`);
the run publishes a version whose `preference` and `kto` configs are printed with every reason a
rating gave no pair, from the version's manifest. Near-duplicate dedup is on by default, as a
user's run has it; `--near-dedup off` shows what it costs this file, whose rated turns share
their conversation's earlier turns.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "taskmaster4_reward" / "reward.jsonl.gz"
SAMPLE = ROOT / "sample_data"


def config(folder: Path, near_dedup: bool) -> Path:
    settings = {
        "dataset": "taskmaster4",
        "store": "store",
        "sources": {
            "chats": [
                {
                    "path": "reward.jsonl",
                    "columns": {"messages": "context", "rated_turn": "generation", "feedback_rating": "reward"},
                    "values": {
                        "role": {"agent": "bot", "user": "customer", "api": "system"},
                        "feedback_rating": {"1.0": "up", "0.0": "down"},
                    },
                    "skip_messages_without_text": True,
                }
            ]
        },
        "catalog": {"menu": "menu.yaml", "stores": "stores.yaml"},  # the pipeline needs one; coffee is not on it
        "deidentify": {"allow_dev_key": True},
        "dedup": {"near": near_dedup},
        "augment": {"enabled": False},
        "synthesis": {"enabled": False},
        "preference": {"eval_share": 0.2},
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/etl-taskmaster"))
    parser.add_argument("--near-dedup", choices=("on", "off"), default="on")
    args = parser.parse_args()
    folder = args.work.resolve() / f"near-{args.near_dedup}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with gzip.open(DATA, "rt", encoding="utf-8") as source:
        (folder / "reward.jsonl").write_text(source.read(), encoding="utf-8")
    for name in ("menu.yaml", "stores.yaml"):
        shutil.copy(SAMPLE / name, folder / name)
    path = config(folder, args.near_dedup == "on")
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "etl.cli", "run", "--config", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    print(f"$ etl run --config {path}  ({time.perf_counter() - began:.1f} s, exit {done.returncode})")
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    manifest = json.loads((folder / "store" / "taskmaster4" / "v1" / "manifest.json").read_text())
    counts = manifest["counts"]
    print(
        json.dumps(
            {
                "stages": {
                    s["stage"]: {"in": s["rows_in"], "kept": s["kept"], "dropped": s["dropped_by_reason"]}
                    for s in counts["stages"]
                }
            },
            indent=1,
        )
    )
    print(json.dumps({"quarantined": counts["quarantined"], "set_aside": counts["set_aside"]}))
    print(json.dumps(counts["preference"], indent=1))


if __name__ == "__main__":
    main()
