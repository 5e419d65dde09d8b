"""What a night costs against a full run (issue 53's bench): a scaled sample published in full,
then nights of new reviews, each run as the nightly job runs (incremental: only new or changed
files are read), each checked against `etl run --full` on the same inputs.

    python bench/nights.py [--scale 20] [--nights 3] [--share 0.01] [--work DIR]

1. `etl sample-data --scale N` into WORK/corpus; `etl run` publishes v1 (the full run).
2. Each night: new reviews, `share` of the corpus's reviews, taken from another seed's sample
   (`reviews_night<k>.csv`, which the sample's `reviews*.csv` pattern reads); `etl run` (the
   night), then `etl run --full` on the same inputs, which must publish nothing (exit 8: the
   same fingerprint) — the night's version is what a full run gives.

Every run is an `etl run` subprocess as a user runs it; its wall seconds include starting
Python and loading models. Peak memory is the run's process tree (workers included), sampled
every 0.2 s. Stage seconds, and what each run took from earlier runs against what it computed
(records, sentence vectors, rewrites, texts the gate had passed), come from the run's JSON
summary. Figures are truncated.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from e2e import TreeMemory, floor

ROOT = Path(__file__).resolve().parent.parent
NOTHING_NEW = 8


def etl_run(config: Path, summary: Path, *extra: str, expect: tuple[int, ...] = (0,)) -> dict:
    """One `etl run` subprocess: wall seconds, peak memory of its process tree, its summary."""
    command = [sys.executable, "-m", "etl.cli", "run", "--config", str(config), "--json", str(summary), *extra]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    memory = TreeMemory(process.pid)
    _, err = process.communicate()
    seconds = time.perf_counter() - began
    peak = memory.stop()
    if process.returncode not in expect:
        raise SystemExit(f"etl run {' '.join(extra)} exited {process.returncode}:\n{err.strip()[-3000:]}")
    report = json.loads(summary.read_text())
    return {"seconds": seconds, "peak": peak, "exit": process.returncode, "summary": report}


def night_reviews(work: Path, night: int, rows: int, scale: int) -> Path:
    """`rows` reviews from another seed's sample (its header, then its first rows)."""
    other = work / f"night{night}-source"
    shutil.rmtree(other, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.cli",
            "sample-data",
            "--out",
            str(other),
            "--scale",
            str(scale),
            "--seed",
            str(100 + night),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    reader = csv.reader(io.StringIO((other / "reviews.csv").read_text(encoding="utf-8"), newline=""))
    header, *body = list(reader)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body[:rows])
    path = work / "corpus" / f"reviews_night{night}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    shutil.rmtree(other)
    return path


def stage_seconds(report: dict) -> str:
    return ", ".join(f"{s['stage']} {floor(s['seconds'], 1)}" for s in report["stages"] if s["seconds"] >= 0.5)


def reused(report: dict) -> str:
    """What the run took from earlier runs / computed, summed over stages by what they count."""
    totals: dict[str, list[int]] = {}
    for stage in report["stages"]:
        for what, n in (stage.get("reuse") or {}).items():
            if stage["stage"] == "deidentify" and what == "records":
                continue  # the same records as the clean stage's
            total = totals.setdefault(what, [0, 0])
            total[0], total[1] = total[0] + n["reused"], total[1] + n["computed"]
    return ", ".join(f"{what} {r:,}/{c:,}" for what, (r, c) in totals.items()) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.01, help="new reviews a night, as a share of the corpus's")
    parser.add_argument("--work", type=Path, default=Path("/tmp/etl-nights"))
    args = parser.parse_args()
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = work / "corpus"
    subprocess.run(
        [sys.executable, "-m", "etl.cli", "sample-data", "--out", str(corpus), "--scale", str(args.scale)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    config = corpus / "pipeline.yaml"
    reviews = sum(1 for _ in csv.reader(io.StringIO((corpus / "reviews.csv").read_text(encoding="utf-8")))) - 1
    rows = max(1, int(reviews * args.share))
    full = etl_run(config, work / "full.json")
    print(f"scale {args.scale}: {full['summary']['rows_in']:,} raw rows, {reviews:,} reviews; {rows:,} new a night")
    print(
        "| run | wall s | share of the full run | peak MiB | fingerprint | reused / computed | stage seconds >= 0.5 |"
    )
    print("|---|---|---|---|---|---|---|")

    def line(name: str, run: dict) -> None:
        publish = run["summary"]["publish"]
        share = run["seconds"] / full["seconds"]
        print(
            f"| {name} | {floor(run['seconds'], 1)} | {floor(share, 3)} | {run['peak'] // 2**20:,} | "
            f"{publish.get('fingerprint', '')[:12]} (exit {run['exit']}) | {reused(run['summary'])} | "
            f"{stage_seconds(run['summary'])} |",
            flush=True,
        )

    line("full (v1)", full)
    for night in range(1, args.nights + 1):
        night_reviews(work, night, rows, args.scale)
        tonight = etl_run(config, work / f"night{night}.json")
        line(f"night {night}", tonight)
        check = etl_run(config, work / f"night{night}-full.json", "--full", expect=(0, NOTHING_NEW))
        line(f"night {night}, --full", check)
        same = (
            check["exit"] == NOTHING_NEW
            and check["summary"]["publish"]["fingerprint"] == tonight["summary"]["publish"]["fingerprint"]
        )
        print(f"night {night}: --full gives the night's fingerprint: {'yes' if same else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
