"""Scaling: does every stage's cost grow with its input, and no faster?

    python bench/scaling.py [--scales 5 20 80] [--seed 7] [--keep DIR]

For each scale it writes `etl sample-data --scale N` with real endings on the
customer text (bench/e2e.py's perturbation, so de-identification and dedup see
distinct text, not the templates repeated), then times, one after the other:

- `etl run --dry-run` (reading only): wall seconds, and per input file;
- `etl run` (a subprocess, as a user runs it): wall seconds and each stage's
  seconds and input rows from the run summary.

Then, per stage, it fits seconds = c * rows**k by least squares on the logs over
all scales and prints the growth exponent k (ingest against its files as well),
with the exponent between the two largest scales beside it (fixed costs such as
model loading pull the fitted k below 1 at small scales; the last step shows
what happens as the input grows). Any exponent above 1.15 is flagged: a stage
whose cost grows faster than its input is a stage a company with ten times the
data cannot run. A stage time under 0.1 s is left out of its stage's fit
(timer and garbage-collector noise move it several-fold), and a stage under
0.5 s at the largest scale is marked too small to fit rather than flagged.

Last, the table of stage seconds at the largest scale beside the bare spaCy NER
pass over the same turns (bench/e2e.py's floor: the least any pipeline that
reads every word with a NER model must spend).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from e2e import Perturber, customer_turns, floor, ner_floor, perturb_corpus, run_etl  # noqa: E402

FLAG = 1.15
# below this many seconds at the largest scale a stage's exponent is timer noise, not growth
MEANINGFUL_SECONDS = 0.5
# below this a single stage time is mostly noise (a garbage-collector pause moves it several-fold)
NOISE_SECONDS = 0.1


def dry_run_seconds(config: Path) -> float:
    command = [sys.executable, "-m", "etl.cli", "run", "--config", str(config), "--dry-run"]
    began = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"etl run --dry-run failed ({done.returncode}):\n{done.stderr.strip()[-3000:]}")
    return seconds


def exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-6)) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def measure(scale: int, seed: int, folder: Path) -> dict:
    from etl.project.sample import write_sample_data

    corpus = folder / f"corpus{scale}"
    write_sample_data(corpus, scale=scale, seed=seed)
    perturb_corpus(corpus, Perturber(seed))
    config = corpus / "pipeline.yaml"
    files = sum(1 for p in corpus.rglob("*") if p.is_file() and p.suffix in (".csv", ".jsonl", ".md", ".txt"))
    files -= 1  # the corpus README
    dry = dry_run_seconds(config)
    summary_file = folder / f"summary{scale}.json"
    seconds, peak = run_etl(config, folder / f"store{scale}", summary_file)
    summary = json.loads(summary_file.read_text())
    print(
        f"scale {scale}: {files:,} files, {summary['rows_in']:,} raw rows; dry-run {floor(dry)} s "
        f"({floor(1000 * dry / files, 3)} ms a file); run {floor(seconds)} s wall, peak {peak / 2**20:,.0f} MiB",
        flush=True,
    )
    return {
        "scale": scale,
        "config": config,
        "files": files,
        "dry": dry,
        "wall": seconds,
        "peak": peak,
        "summary": summary,
    }


def report(runs: list[dict]) -> list[str]:
    stages = [s["stage"] for s in runs[-1]["summary"]["stages"]]
    flagged = []
    print(f"\ngrowth exponent k (seconds ~ rows**k) over scales {', '.join(str(r['scale']) for r in runs)}:")
    print(
        f"  {'stage':<11} {'rows in at each scale':<32} {'seconds at each scale':<30} {'k (fit)':>8} {'k (last)':>9}"
    )
    for name in stages:
        rows = [next(s for s in r["summary"]["stages"] if s["stage"] == name)["rows_in"] for r in runs]
        secs = [next(s for s in r["summary"]["stages"] if s["stage"] == name)["seconds"] for r in runs]
        # a stage's time below NOISE_SECONDS is timer and garbage-collector noise: those scales are left out of its fit
        fitted = [(r, t) for r, t in zip(rows, secs) if t >= NOISE_SECONDS]
        if len(fitted) < 2 or secs[-1] < MEANINGFUL_SECONDS:
            print(f"  {name:<11} {_cells(rows, secs)} {'':>8} {'':>9}  (too small to fit)")
            continue
        if rows[-1] <= rows[0]:
            print(f"  {name:<11} {_cells(rows, secs)} {'':>8} {'':>9}  (input does not grow)")
            continue
        fit = exponent([r for r, _ in fitted], [t for _, t in fitted])
        last = exponent(rows[-2:], secs[-2:])
        note = "  <-- above 1.15" if max(fit, last) > FLAG else ""
        if len(fitted) < len(rows):
            note += f"  (fit over the {len(fitted)} scales above {NOISE_SECONDS} s)"
        if max(fit, last) > FLAG:
            flagged.append(name)
        print(f"  {name:<11} {_cells(rows, secs)} {fit:>8.2f} {last:>9.2f}{note}")
    files = [r["files"] for r in runs]
    ingest = [next(s for s in r["summary"]["stages"] if s["stage"] == "ingest")["seconds"] for r in runs]
    dry = [r["dry"] for r in runs]
    print(f"  ingest against its files ({', '.join(f'{f:,}' for f in files)}): k = {exponent(files, ingest):.2f}")
    print(
        f"  dry-run wall against files: k = {exponent(files, dry):.2f} (fit), {exponent(files[-2:], dry[-2:]):.2f} (last); "
        f"per file at the largest scale {floor(dry[-1] / files[-1] / (dry[0] / files[0]))}x the smallest's"
    )
    wall = [r["wall"] for r in runs]
    raw = [r["summary"]["rows_in"] for r in runs]
    print(
        f"  whole run wall against raw rows: k = {exponent(raw, wall):.2f} (fit), {exponent(raw[-2:], wall[-2:]):.2f} (last)"
    )
    return flagged


def _cells(rows: list[int], secs: list[float]) -> str:
    return f"{', '.join(f'{r:,}' for r in rows):<32} {', '.join(floor(t) for t in secs):<30}"


def floor_table(run: dict) -> None:
    from etl.config import load_config

    summary = run["summary"]
    turns, _ = customer_turns(Path(summary["run_dir"]))
    model = load_config(run["config"]).deidentify.spacy_model
    floor_seconds = ner_floor(turns["text"].to_list(), model)
    print(
        f"\nat scale {run['scale']} ({summary['rows_in']:,} raw rows, {turns.height:,} turns read by de-identification):"
    )
    for stage in summary["stages"]:
        print(f"  {stage['stage']:<11} {floor(stage['seconds']):>9} s")
    print(f"  {'whole run':<11} {floor(run['wall']):>9} s wall (the stages, model loading, process start)")
    print(f"  {'NER floor':<11} {floor(floor_seconds):>9} s (bare {model}, nlp.pipe on every core, same turns)")
    print(f"  whole run / NER floor: {floor(run['wall'] / floor_seconds)}x (goal: 1.2x or less)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[5, 20, 80])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the corpora and stores here instead of a temporary folder")
    parser.add_argument("--no-floor", action="store_true", help="skip the NER floor at the largest scale")
    args = parser.parse_args()
    if len(args.scales) < 2:
        raise SystemExit("give at least two scales")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        runs = [measure(scale, args.seed, folder) for scale in sorted(args.scales)]
        flagged = report(runs)
        if not args.no_floor:
            floor_table(runs[-1])
    print(f"\nstages above k = {FLAG}: {', '.join(flagged) if flagged else 'none'}")
    sys.exit(1 if flagged else 0)


if __name__ == "__main__":
    main()
