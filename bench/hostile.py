"""Personal data on input we never tuned on: held-out letters, and twenty planted values end to end.

    python bench/hostile.py [--letters 512] [--seed 29]

letters   `--letters` letter-like texts from tests/heldout_letters.py (real Yelp sentences as the
          body, CC BY 4.0; a signature block of one of eight locales: names opening the block,
          middle initials, titles, surname particles, postal codes after the country, phones
          glued to a word, e-mails) through the de-identification stage with the default
          config. Prints, by kind, how many planted values survive (goal: 0 phones, e-mails and
          postal codes; names and street lines <= 1%), how many body sentences changed, and
          the stage's seconds.
twenty    tests/heldout_letters.py PLANTED_VALUES, one per review added to a copy of the sample,
          through `etl run` (model stages off): how many reach the published version (goal 0)
          and how many of those reviews de-identification or the gate dropped (goal 0).

Seed 29 is the set the signature rules were written against; any other seed draws other people
and other sentences in the same shapes. Figures are counts, never rounded.
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

from tests.conftest import published_text, without_model_stages  # noqa: E402
from tests.heldout_letters import PLANTED_VALUES, letters, survivors, write_planted_reviews  # noqa: E402


def run_letters(count: int, seed: int) -> None:
    from etl.config import DeidentifyConfig
    from etl.records import make_record, records_frame
    from etl.stages.deidentify import DeidentifyStage

    sent = letters(count, seed)
    records = [
        make_record("review", "letters.csv", i + 2, f"l{i}", [{"role": "user", "text": letter.text}], {})
        for i, letter in enumerate(sent)
    ]
    started = time.perf_counter()
    result = DeidentifyStage(DeidentifyConfig(workers=1), None, b"bench-key-0123456789abcdef012345").apply(
        records_frame(records), lambda n: None
    )
    seconds = time.perf_counter() - started
    out = {r["record_id"]: r["turns"][0]["text"] for r in result.kept.iter_rows(named=True)}
    planted, left = Counter(), Counter()
    bodies = changed = 0
    for letter, record in zip(sent, records):
        text = out.get(record["record_id"], "")
        for kind, values in letter.planted.items():
            planted[kind] += len(values)
        for kind, values in survivors(letter, text).items():
            left[kind] += len(values)
        bodies += len(letter.body)
        changed += sum(sentence not in text for sentence in letter.body)
    print(
        f"letters: {count} (seed {seed}), {result.dropped.height} dropped, stage {seconds:.1f} s (model load included)"
    )
    for kind in ("name", "address", "postcode", "phone", "email"):
        share = 100 * left[kind] / planted[kind] if planted[kind] else 0.0
        print(f"  {kind:<9} survived {left[kind]:>4} of {planted[kind]:>4} = {share:.2f}%")
    print(f"  body sentences changed: {changed} of {bodies} (real names in them are replaced, rightly)")


def run_twenty() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample_data"
        shutil.copytree(ROOT / "sample_data", sample, ignore=shutil.ignore_patterns("store", "store-work"))
        config = without_model_stages(sample / "pipeline.yaml")
        write_planted_reviews(sample)
        store, summary_file = Path(tmp) / "store", Path(tmp) / "summary.json"
        env = {**os.environ, "ETL_PII_KEY": "c" * 64}
        command = [sys.executable, "-m", "etl.cli", "run", "--config", str(config), "--store", str(store)]
        started = time.perf_counter()
        done = subprocess.run([*command, "--json", str(summary_file)], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"etl run exited {done.returncode}")
        published = published_text(store).lower()
        reached = [i for i, (_, value) in enumerate(PLANTED_VALUES) if value.lower() in published]
        run_dir = Path(json.loads(summary_file.read_text())["run_dir"])
        # an example the gate drops names its record, not its file: the planted records by ingest's lineage
        ingested = pl.read_parquet(run_dir / "stages" / "01_ingest.parquet", columns=["record_id", "source_file"])
        planted_ids = ingested.filter(pl.col("source_file") == "reviews_planted.csv")["record_id"].implode()
        dropped = pl.read_parquet(run_dir / "dropped.parquet").filter(
            pl.col("record_id").is_in(planted_ids) & pl.col("stage").is_in(["deidentify", "validate"])
        )
        print(f"twenty planted values, one per review, `etl run` {seconds:.1f} s:")
        print(f"  published: {len(reached)} of {len(PLANTED_VALUES)} (planted values by index: {reached})")
        print(f"  planted reviews dropped by de-identification or the gate: {dropped.height}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letters", type=int, default=512)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--parts", default="letters,twenty")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "letters" in parts:
        run_letters(args.letters, args.seed)
    if "twenty" in parts:
        run_twenty()


if __name__ == "__main__":
    main()
