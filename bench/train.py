"""LoRA against full fine-tuning: the same model, data and steps, each in a fresh process.

    python bench/train.py [--layers 24 --hidden 1024 ...] [--steps 6] [--store DIR] [--base-model DIR]

Builds a Llama-architecture model of a few hundred million parameters from a
config, randomly initialised (nothing downloaded), with a tokenizer trained on
the sample text (or takes `--base-model`, a real model folder such as
`etl models demo` writes), then trains it with `etl train`'s code (`train_adapter`) once
with `method: lora` and once with `method: full`, on the sample version's
menu_qa and recommendation tasks, with no evaluation during training. Each
method runs in its own process so one's memory cannot hide in the other's peak.

Prints, for both and as LoRA / full ratios:
  - trainable parameters;
  - peak memory: on a GPU, torch's peak allocated bytes; on CPU, the process's
    peak resident set, and that peak above the interpreter with every library
    imported before the model is loaded (the CPU figure closest to the GPU's,
    which does not count the CUDA context either), both runs with one allocator
    (jemalloc where installed: see JEMALLOC_PATHS; `--allocator` to choose);
  - all of it with activation checkpointing on in both runs (what `etl train`
    does on a GPU: activations are then small beside the weights) and off in
    both (`--checkpointing`);
  - seconds per step: the median over the steps after the first (the first pays
    for warm-up), and tokens/s (non-padding input tokens over the training time).
Figures are truncated, never rounded up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASET = "healthy-bites"
# On CPU the resident set shows the allocator as much as the tensors: glibc's malloc raises its
# mmap threshold as large blocks are freed, then serves the next steps' large temporaries from a
# heap it keeps, about 0.5 GiB more in the LoRA run here. jemalloc (the allocator PyTorch's CPU
# tuning guide recommends) hands freed memory back and is as fast; glibc with a fixed threshold
# does too, but pays a page fault per large block (LoRA's steps then took 1.2x full's here).
# Both runs of a table always get the same allocator.
JEMALLOC_PATHS = ["/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2"]
MMAP_THRESHOLD = 65536


def allocator_env(choice: str) -> tuple[dict, str]:
    """Environment for the child runs, and how to say it. `auto`: jemalloc where it is installed."""
    env = dict(os.environ)
    jemalloc = next((p for p in JEMALLOC_PATHS if Path(p).exists()), None)
    if choice in ("auto", "jemalloc") and jemalloc:
        env["LD_PRELOAD"] = jemalloc
        return env, f"jemalloc ({jemalloc})"
    if choice == "jemalloc":
        raise SystemExit("no libjemalloc.so.2 here (Debian: apt-get install libjemalloc2); use --allocator glibc")
    if choice == "glibc-fixed":
        env["MALLOC_MMAP_THRESHOLD_"] = str(MMAP_THRESHOLD)
        return env, f"glibc, MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}"
    return env, "glibc, default settings" + (" (no jemalloc installed)" if choice == "auto" else "")


TASKS = ["menu_qa", "recommendation"]


def floor(value: float, digits: int = 3) -> str:
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:,.{digits}f}"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def publish_sample(folder: Path) -> Path:
    from etl.config import load_config
    from etl.run.runner import run_pipeline

    store = folder / "store"
    run_pipeline(load_config(ROOT / "sample_data" / "pipeline.yaml"), store=store, work=folder / "work")
    return store


def build_model(store: Path, folder: Path, sizes: dict) -> Path:
    from etl.store import Store
    from train.scaffold import build_random_model

    texts = [m["content"] for chat in Store(store, DATASET).examples()["messages"].to_list() for m in chat]
    return build_random_model(folder / "model", texts, **sizes)


def child(
    method: str, model: str, store: str, steps: int, batch: int, seq: int, checkpointing: str, result: str
) -> None:
    """One training run; writes its figures as JSON."""
    import torch  # noqa: F401  (every library the run uses, imported before the baseline is read)
    import transformers  # noqa: F401

    from train.config import MixtureSource, TrainConfig
    from train.trainer import train_adapter

    baseline = rss_bytes()
    config = TrainConfig(
        method=method,
        gradient_checkpointing=checkpointing,
        max_steps=steps,
        batch_size=batch,
        max_seq_length=seq,
        learning_rate=1e-4 if method == "lora" else 1e-5,
        eval_steps=10**6,  # no evaluation inside the timed steps
        early_stopping_patience=None,
        sentiment_eval_examples=0,
        max_eval_examples=8,
        logging_steps=1,
        mixture=[MixtureSource(dataset=DATASET, tasks=TASKS)],
    )
    with tempfile.TemporaryDirectory() as out:
        manifest = train_adapter(config, model, Path(out) / "out", Path(store), progress=False).manifest
    manifest["baseline_rss"] = baseline
    Path(result).write_text(json.dumps(manifest))


def run_child(method: str, checkpointing: str, args, model: Path, store: Path, folder: Path) -> dict:
    result = folder / f"{method}-{checkpointing}.json"
    command = [sys.executable, __file__, "--child", method, "--model", str(model), "--store", str(store)]
    for flag, value in [
        ("--steps", args.steps),
        ("--batch", args.batch),
        ("--seq", args.seq),
        ("--checkpointing", checkpointing),
        ("--result", result),
    ]:
        command += [flag, str(value)]
    env, _ = allocator_env(args.allocator)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return json.loads(result.read_text())


def figures(manifest: dict) -> dict:
    steps = manifest["step_seconds"][1:] or manifest["step_seconds"]
    peak = manifest["peak_memory"]
    row = {
        "trainable": manifest["parameters"]["trainable"],
        "total": manifest["parameters"]["total"],
        "peak": peak["bytes"],
        "s_per_step": statistics.median(steps),
        "tokens_s": manifest["tokens_per_second"],
    }
    if peak["kind"] == "process_peak_rss":
        row["peak_above_baseline"] = peak["bytes"] - manifest["baseline_rss"]
    return row


def report(lora: dict, full: dict, device: str) -> None:
    gib = 2**30
    print(f"device: {device}; model: {full['total']:,} parameters")
    print(f"{'':28}{'LoRA':>16}{'full':>16}{'LoRA / full':>14}")
    rows = [
        ("trainable parameters", lambda r: f"{r['trainable']:,}", "trainable"),
        ("peak memory (GiB)" if device == "cuda" else "peak RSS (GiB)", lambda r: floor(r["peak"] / gib), "peak"),
    ]
    if "peak_above_baseline" in full:
        rows.append(
            ("peak above baseline (GiB)", lambda r: floor(r["peak_above_baseline"] / gib), "peak_above_baseline")
        )
    rows += [
        ("seconds per step (median)", lambda r: floor(r["s_per_step"]), "s_per_step"),
        ("tokens/s", lambda r: floor(r["tokens_s"], 1), "tokens_s"),
    ]
    for name, show, key in rows:
        print(f"{name:28}{show(lora):>16}{show(full):>16}{floor(lora[key] / full[key]):>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--intermediate", type=int, default=2816)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument(
        "--checkpointing",
        choices=["on", "off", "both"],
        default="both",
        help="activation checkpointing in both runs (on: what `etl train` does on a GPU); both: a table for each",
    )
    parser.add_argument(
        "--allocator",
        choices=["auto", "jemalloc", "glibc", "glibc-fixed"],
        default="auto",
        help="the CPU allocator of both runs (auto: jemalloc where installed; see JEMALLOC_PATHS)",
    )
    parser.add_argument("--store", type=Path, help="a store holding the sample version (default: publish one)")
    parser.add_argument("--base-model", type=Path, help="a model folder to train instead of a random one")
    parser.add_argument("--child", choices=["lora", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(
            args.child, args.model, str(args.store), args.steps, args.batch, args.seq, args.checkpointing, args.result
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = args.store or publish_sample(folder)
        sizes = dict(
            vocab_size=args.vocab,
            hidden_size=args.hidden,
            layers=args.layers,
            heads=args.heads,
            kv_heads=args.kv_heads,
            intermediate_size=args.intermediate,
        )
        model = args.base_model or build_model(store, folder, sizes)
        print(f"{args.steps} steps, batch {args.batch}, max length {args.seq}, tasks {', '.join(TASKS)}")
        print(f"CPU allocator: {allocator_env(args.allocator)[1]} (both runs)")
        for checkpointing in ["on", "off"] if args.checkpointing == "both" else [args.checkpointing]:
            lora = run_child("lora", checkpointing, args, model, store, folder)
            full = run_child("full", checkpointing, args, model, store, folder)
            print(f"\nactivation checkpointing {checkpointing}, both runs")
            report(figures(lora), figures(full), lora["device"])


if __name__ == "__main__":
    main()
