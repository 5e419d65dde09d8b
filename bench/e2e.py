"""End-to-end speed on distinct text: the whole `etl run` against a bare NER pass over the same turns.

    python bench/e2e.py [--records 100000] [--seed 7] [--keep DIR] [--templates]

The sample generator repeats its templates, and de-identification reads a
repeated turn once, so a template corpus flatters a run. This benchmark writes
the sample corpus at the scale that gives `--records` raw rows, then makes its
customer turns distinct with real text written by people outside the project
(`tests/data/realtext/`: Yelp review sentences and Taskmaster-4 customer
turns, with their attribution there): each review text and each customer turn
of a chat or call gets one or two seeded real sentences after it. Business text (FAQs,
bot and agent turns) is left as the generator wrote it. `--templates` leaves the
corpus as `etl sample-data` writes it (what a scale-N sample run costs; flattering,
as said, but the same turns go through the NER floor, so the ratio is still fair).

It prints: raw rows and records, the share of distinct customer turns, the
whole run's wall seconds and records/s (an `etl run` subprocess, as a user
runs it), seconds per stage (from the run summary), the peak resident memory
of the run's process tree (the run and its worker processes together, sampled
every 0.2 s), and the seconds a bare spaCy NER pass (the same model, every
core, `nlp.pipe`) takes over the turns the de-identification stage reads: the
floor for a pipeline that must read every word with a NER model. Figures are
truncated, never rounded up.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL = ROOT / "tests" / "data" / "realtext"
SAMPLE_ROWS = 771  # raw rows of the sample corpus at scale 1 (sample_data/README.md)


def floor(value: float, digits: int = 2) -> str:
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:,.{digits}f}"


def real_sentences() -> list[str]:
    yelp = [line.rsplit("\t", 1)[0].strip() for line in (REAL / "yelp_labelled.txt").read_text().splitlines()]
    dialogs = [json.loads(line) for line in (REAL / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()]
    turns = [u["text"].strip() for d in dialogs for u in d["utterances"] if u["speaker"] == "user"]
    return sorted({s for s in yelp + turns if len(s.split()) >= 3})


class Perturber:
    """One or two seeded real sentences after each customer text: the same text twice gets two
    endings. (One ending from a pool of about 5,000 sentences left only 88 % of the customer turns
    distinct at 100,000 records: the templates times the pool repeat at that size.)"""

    def __init__(self, seed: int) -> None:
        self.pool = real_sentences()
        self.rng = random.Random(seed)

    def __call__(self, text: str) -> str:
        if not text.strip():
            return text
        endings = [self.rng.choice(self.pool)] + ([self.rng.choice(self.pool)] if self.rng.random() < 0.5 else [])
        return " ".join([text, *endings])


def perturb_corpus(folder: Path, perturb: Perturber) -> None:
    _perturb_reviews(folder / "reviews.csv", perturb)
    _perturb_chats(folder / "chat_logs.jsonl", perturb)
    for call in sorted((folder / "calls").glob("*.txt")):
        _perturb_call(call, perturb)


def _perturb_reviews(path: Path, perturb: Perturber) -> None:
    # the generator plants malformed rows on purpose: rows that are not well formed stay as they are
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    where = header.index("text")
    out = io.StringIO()
    out.write(lines[0])
    for row in csv.reader(io.StringIO("".join(lines[1:]))):
        if len(row) == len(header):
            row[where] = perturb(row[where])
        csv.writer(out, lineterminator="\n").writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")


def _perturb_chats(path: Path, perturb: Perturber) -> None:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            chat = json.loads(line)
            for message in chat.get("messages", []):
                if (
                    isinstance(message, dict)
                    and message.get("role") == "customer"
                    and isinstance(message.get("text"), str)
                ):
                    message["text"] = perturb(message["text"])
            lines.append(json.dumps(chat, ensure_ascii=False))
        except (json.JSONDecodeError, AttributeError):
            lines.append(line)  # planted broken JSON stays broken
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _perturb_call(path: Path, perturb: Perturber) -> None:
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig", errors="strict") if raw else ""
    lines = []
    for line in text.splitlines():
        head, sep, said = line.partition("CUSTOMER: ")
        lines.append(head + sep + perturb(said) if sep else line)
    body = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8"))


class TreeMemory:
    """Peak resident memory of a process and all its descendants together, sampled."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        import psutil

        self.root, self.every, self.peak = psutil.Process(pid), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
                total = 0
                for process in processes:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_etl(config: Path, store: Path, summary: Path) -> tuple[float, int]:
    command = [sys.executable, "-m", "etl.cli", "run", "--config", str(config), "--store", str(store)]
    command += ["--json", str(summary), "--log-format", "json"]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    _, err = process.communicate()
    seconds = time.perf_counter() - began
    peak = memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"etl run failed ({process.returncode}):\n{err.strip()[-3000:]}")
    return seconds, peak


def customer_turns(run_dir: Path):
    import polars as pl

    records = pl.read_parquet(run_dir / "stages" / "02_clean.parquet", columns=["turns"])
    turns = records.explode("turns").unnest("turns")
    return turns, turns.filter(pl.col("role") == "user")["text"]


def ner_floor(texts: list[str], model: str) -> float:
    """A bare NER pass: the same spaCy model, every core, nlp.pipe; timed from the first text in."""
    import spacy

    nlp = spacy.load(model)
    # what de-identification runs of it: token vectors and the entity recogniser
    nlp.select_pipes(enable=[name for name in ("tok2vec", "ner") if name in nlp.pipe_names])
    began = time.perf_counter()
    for _ in nlp.pipe(texts, n_process=os.cpu_count() or 1, batch_size=256):
        pass
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="raw rows to write, at least")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the corpus and store here instead of a temporary folder")
    parser.add_argument(
        "--templates", action="store_true", help="no real endings: the corpus as etl sample-data writes it"
    )
    args = parser.parse_args()

    from etl.config import load_config
    from etl.project.sample import write_sample_data

    scale = math.ceil(args.records / SAMPLE_ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        corpus = folder / "corpus"
        write_sample_data(corpus, scale=scale, seed=args.seed)
        if not args.templates:
            perturb_corpus(corpus, Perturber(args.seed))
        config = corpus / "pipeline.yaml"
        seconds, peak = run_etl(config, folder / "store", folder / "summary.json")
        summary = json.loads((folder / "summary.json").read_text())
        turns, customers = customer_turns(Path(summary["run_dir"]))
        distinct = customers.n_unique() / max(customers.len(), 1)
        model = load_config(config).deidentify.spacy_model
        floor_seconds = ner_floor(turns["text"].to_list(), model)

    records = next(s["rows_in"] for s in summary["stages"] if s["stage"] == "clean")
    endings = "as the generator writes it" if args.templates else "with real endings on customer text"
    print(f"corpus: sample data --scale {scale} {endings}; {summary['rows_in']:,} raw rows")
    print(f"records read by clean: {records:,}; turns de-identification reads: {turns.height:,}")
    print(f"distinct customer turns: {customers.n_unique():,} of {customers.len():,} = {floor(100 * distinct, 1)} %")
    print(
        f"whole etl run: {floor(seconds)} s wall = {floor(records / seconds, 1)} records/s "
        f"({floor(summary['rows_in'] / seconds, 1)} raw rows/s)"
    )
    print("seconds per stage: " + ", ".join(f"{s['stage']} {floor(s['seconds'])}" for s in summary["stages"]))
    print(f"peak memory of the run's process tree: {peak / 2**20:,.0f} MiB (sampled every 0.2 s)")
    print(
        f"bare NER pass ({model}, {os.cpu_count()} processes, nlp.pipe) over the same turns: {floor(floor_seconds)} s"
    )
    print(f"whole run / NER floor: {floor(seconds / floor_seconds)}x (goal: 1.2x or less)")


if __name__ == "__main__":
    main()
