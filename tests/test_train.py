"""The LoRA training stage (issue 14) on CPU: a tiny Llama built locally, trained on the sample version.

The model is random and tiny (about 200,000 parameters), so these tests show the
mechanics (data, masking, training, early stopping, saving, reloading, lineage),
not the quality a real base model reaches.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from etl.cli import app
from etl.store import Store
from tests.conftest import SAMPLE
from train.config import MixtureSource, TrainConfig
from train.data import IGNORE, encode, ensure_chat_template
from train.trainer import load_tokenizer, train_adapter

DATASET = "healthy-bites"
REALTEXT = Path(__file__).parent / "data" / "realtext" / "taskmaster4_coffee_dev.jsonl"

# small and fast: every test below trains for seconds on two cores
FAST = dict(batch_size=8, max_seq_length=192, logging_steps=5, max_eval_examples=24, sentiment_eval_examples=16)


@pytest.fixture(scope="session")
def store(sample_run) -> Path:
    return Path(sample_run.store_dir)


@pytest.fixture(scope="session")
def tiny_model(store, tmp_path_factory) -> Path:
    from train.scaffold import build_random_model

    texts = [m["content"] for chat in Store(store, DATASET).examples()["messages"].to_list() for m in chat]
    return build_random_model(tmp_path_factory.mktemp("tiny") / "model", texts, vocab_size=1000)


@pytest.fixture(scope="session")
def trained(store, tiny_model, tmp_path_factory):
    """One LoRA run on two tasks of the sample version, shared by the tests that only read it."""
    config = TrainConfig(
        **FAST,
        max_steps=40,
        eval_steps=20,
        learning_rate=3e-3,
        mixture=[MixtureSource(dataset=DATASET, tasks=["menu_qa", "review_sentiment"])],
    )
    out = tmp_path_factory.mktemp("adapter") / "out"
    return train_adapter(config, str(tiny_model), out, store, progress=False), out


def test_training_lowers_the_loss_and_the_manifest_names_the_exact_version(trained, store):
    run, out = trained
    manifest = json.loads((out / "training_manifest.json").read_text())
    assert manifest["train_loss"]["last"] < manifest["train_loss"]["first"]
    assert manifest["metrics"]["menu_qa"]["eval_loss"] < manifest["eval_loss_before"]
    published = Store(store, DATASET)
    (source,) = manifest["sources"]
    assert source["dataset"] == DATASET
    assert source["version"] == published.latest()
    assert source["fingerprint"] == published.manifest()["fingerprint"]
    assert source["tasks"] == ["menu_qa", "review_sentiment"]
    # LoRA trains a sliver of the model, and the manifest says how much
    params = manifest["parameters"]
    assert 0 < params["trainable"] < params["total"] / 2
    assert manifest["device"] == "cpu" and manifest["precision"] == "fp32"
    assert manifest["tokens_per_second"] > 0 and manifest["peak_memory"]["bytes"] > 0
    sentiment = manifest["metrics"]["review_sentiment"]
    assert 0 <= sentiment["accuracy"] <= 1 and 0 <= sentiment["macro_f1"] <= 1
    assert sentiment["label_examples"] == 16
    assert manifest["hyperparameters"]["lora"]["r"] == 16


def test_the_adapter_folder_has_a_model_card_from_its_manifest_not_peft_template(trained, store):
    """Issue 51: peft's README was its unfilled template; the card names the dataset, version,
    fingerprint and tasks, the settings and the figures, copied from the manifest."""
    _, out = trained
    manifest = json.loads((out / "training_manifest.json").read_text())
    card = (out / "README.md").read_text()
    assert "More Information Needed" not in card
    (source,) = manifest["sources"]
    for fact in (source["version"], source["fingerprint"][:16], "menu_qa, review_sentiment", "r=16"):
        assert fact in card, fact
    assert f"{manifest['steps']} steps" in card and "PeftModel.from_pretrained" in card
    loss = math.floor(manifest["train_loss"]["last"] * 1000) / 1000
    assert f"last {loss:.3f}" in card


def test_the_output_holds_adapter_files_only_and_reloads_to_the_same_outputs(trained, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run, out = trained
    names = {p.name for p in out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= names
    assert "model.safetensors" not in names and ".checkpoints" not in names
    probe = torch.tensor([[5, 17, 42, 99, 7, 300, 12, 64]])
    run.model.eval()
    with torch.no_grad():
        trained_logits = run.model(input_ids=probe).logits
        base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
        base_logits = base(input_ids=probe).logits
        reloaded = PeftModel.from_pretrained(base, str(out)).eval()
        reloaded_logits = reloaded(input_ids=probe).logits
    assert torch.allclose(reloaded_logits, trained_logits, atol=1e-5)
    assert not torch.allclose(base_logits, trained_logits, atol=1e-3)  # the adapter did change the model


def test_the_loss_is_masked_to_the_assistant_turns(tiny_model):
    tokenizer = load_tokenizer(str(tiny_model))
    assert ensure_chat_template(tokenizer) == "fallback"  # the tiny tokenizer has none of its own
    chat = [
        {"role": "system", "content": "You are the Healthy Bites assistant."},
        {"role": "user", "content": "Is the Tuscan Chicken Bowl gluten free?"},
        {"role": "assistant", "content": "Yes, it is."},
        {"role": "user", "content": "And the price?"},
        {"role": "assistant", "content": "It costs $12.50."},
    ]
    ids, labels = encode(chat, tokenizer)
    learned = tokenizer.decode([t for t in labels if t != IGNORE])
    assert learned == "Yes, it is.</s>It costs $12.50.</s>"
    assert len(ids) == len(labels)


def test_a_mixture_of_two_weighted_sources_is_recorded_source_by_source(store, tiny_model, tmp_path):
    general = tmp_path / "general"
    general.mkdir()
    rows = [json.loads(line) for line in REALTEXT.read_text().splitlines()[:120]]
    chats = [
        {"messages": [{"role": u["speaker"], "content": u["text"]} for u in r["utterances"]]}
        for r in rows
        if r["utterances"] and r["utterances"][-1]["speaker"] == "assistant"
    ]
    (general / "train.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats[:-20]))
    (general / "validation.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats[-20:]))
    config = TrainConfig(
        **FAST,
        max_steps=6,
        eval_steps=6,
        early_stopping_patience=None,
        mixture=[
            MixtureSource(dataset=f"{DATASET}@v1", tasks=["recommendation"], weight=3),
            MixtureSource(path=str(general), weight=1, name="coffee-dialogs"),
        ],
    )
    manifest = train_adapter(config, str(tiny_model), tmp_path / "out", store, progress=False).manifest
    business, coffee = manifest["sources"]
    assert (
        business["version"] == "v1" and business["fingerprint"] == Store(store, DATASET).manifest("v1")["fingerprint"]
    )
    assert coffee["name"] == "coffee-dialogs" and coffee["path"] == str(general.resolve())
    assert (business["weight"], coffee["weight"]) == (3, 1)
    total = business["train_available"] + coffee["train_available"]
    assert business["train_drawn"] + coffee["train_drawn"] == total
    # the draw follows the weights, not the sizes: the floor or ceiling of the weighted share
    # (largest remainders; on a tie such as 220.5 the first source takes the ceiling)
    share = total * 3 / 4
    assert math.floor(share) <= business["train_drawn"] <= math.ceil(share)
    assert set(manifest["metrics"]) == {"recommendation", "coffee_dialogs"}


def test_early_stopping_stops_a_run_whose_eval_loss_rises(store, tiny_model, tmp_path):
    # a learning rate far too high: eval loss falls once, then climbs
    config = TrainConfig(
        **{**FAST, "max_seq_length": 128, "sentiment_eval_examples": 0},
        max_steps=80,
        eval_steps=5,
        learning_rate=0.5,
        lr_scheduler="constant",
        warmup_ratio=0,
        early_stopping_patience=2,
        mixture=[MixtureSource(dataset=DATASET, tasks=["menu_qa"])],
    )
    manifest = train_adapter(config, str(tiny_model), tmp_path / "out", store, progress=False).manifest
    history = [e["eval_loss"] for e in manifest["eval_history"]]
    assert manifest["stopped_early"] and manifest["steps"] < 80
    best = min(range(len(history)), key=history.__getitem__)
    assert len(history) - 1 - best == 2  # stopped after exactly `patience` evaluations without a new best
    assert all(later > history[best] for later in history[best + 1 :])
    assert manifest["best_checkpoint_step"] == manifest["eval_history"][best]["step"]


def test_etl_train_on_the_cli_and_merge(store, tiny_model, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("max_steps: 4\neval_steps: 4\nbatch_size: 4\nmax_seq_length: 128\nsentiment_eval_examples: 0\n")
    out = tmp_path / "adapter"
    runner = CliRunner()
    args = ["train", "--dataset", DATASET, "--tasks", "policy_qa", "--base-model", str(tiny_model)]
    # --config is the pipeline YAML in every command: a training YAML there is named, with its flag
    wrong = runner.invoke(app, [*args, "--out", str(out), "--config", str(config), "--store", str(store)])
    assert wrong.exit_code != 0 and "pass it as --train-config" in wrong.output
    result = runner.invoke(
        app, [*args, "--out", str(out), "--train-config", str(config), "--store", str(store), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "steps 4/4" in result.output and "policy_qa" in result.output
    merged = tmp_path / "merged"
    result = runner.invoke(app, ["train", "merge", "--adapter", str(out), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    probe = torch.tensor([[3, 14, 15, 92, 65]])
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model)), str(out)).eval()
        plain = AutoModelForCausalLM.from_pretrained(str(merged)).eval()
        assert torch.allclose(adapted(input_ids=probe).logits, plain(input_ids=probe).logits, atol=1e-4)
    assert not (merged / "adapter_config.json").exists()


@pytest.mark.parametrize(
    "change, fix",
    [
        ({"--dataset": f"{DATASET}@v99"}, "versions"),
        ({"--tasks": "menu_qa,haiku"}, "Pass --tasks"),
        ({"--base-model": "/nowhere/model"}, "Pass --base-model"),
    ],
)
def test_a_wrong_version_task_or_base_model_is_one_line_naming_the_fix(store, tiny_model, tmp_path, change, fix):
    options = {"--dataset": DATASET, "--tasks": "menu_qa", "--base-model": str(tiny_model), **change}
    args = ["train", *[x for kv in options.items() for x in kv], "--out", str(tmp_path / "o"), "--store", str(store)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert fix in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_etl_eval_scores_every_task_of_the_eval_split_with_counts_and_no_text(trained, store, tiny_model, tmp_path):
    """Issue 38: with --set split the model answers the sample version's eval split, every task
    is scored with its count and 95% interval, and the manifest holds no customer text."""
    runner = CliRunner()
    common = ["--dataset", f"{DATASET}@v1", "--model", str(tiny_model), "--config", str(SAMPLE / "pipeline.yaml")]
    common += ["--store", str(store), "--max-new-tokens", "8", "--limit", "6", "--set", "split", "--quiet"]
    base = runner.invoke(app, ["eval", *common, "--out", str(tmp_path / "base")])
    assert base.exit_code == 0, base.output
    manifest = json.loads((tmp_path / "base" / "eval_manifest.json").read_text())
    version = Store(store, DATASET).manifest("v1")
    assert (manifest["version"], manifest["fingerprint"]) == ("v1", version["fingerprint"])
    assert set(manifest["tasks"]) == set(Store(store, DATASET).examples("v1")["task"])
    for task, figures in manifest["tasks"].items():
        main = figures[figures["main_metric"]]
        assert figures["examples"] == main["n"] == len(figures["example_ids"]) and 0 < main["n"] <= 6, task
        assert main["low"] <= main["value"] <= main["high"], task
    assert manifest["tasks"]["review_sentiment"]["confusion"]["labels"][-1] == "other"
    assert manifest["adapter"] is None and manifest["eval_set"]["source"] == "split"
    text = (tmp_path / "base" / "eval_manifest.json").read_text()
    examples = Store(store, DATASET).examples("v1")
    assert not any(
        m["content"] in text for chat in examples["messages"].to_list() for m in chat if len(m["content"]) > 20
    )


def test_etl_eval_answers_the_frozen_set_with_the_base_and_the_adapter_in_one_command(trained, store, tiny_model):
    """Issue 49: one command, the base model then the adapter on the same frozen questions and
    reply tasks, both scored, the paired difference per task, one manifest and one page."""
    _, adapter = trained
    runner = CliRunner()
    common = ["--dataset", f"{DATASET}@v1", "--model", str(tiny_model), "--config", str(SAMPLE / "pipeline.yaml")]
    result = runner.invoke(
        app,
        ["eval", *common, "--store", str(store), "--adapter", str(adapter), "--max-new-tokens", "8", "--limit", "5"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((adapter / "eval_manifest.json").read_text())
    frozen = manifest["eval_set"]["frozen"]
    record = json.loads((store / DATASET / "frozen_eval" / "frozen_eval.json").read_text())
    assert frozen["fingerprint"] == record["fingerprint"] and frozen["rephrasings_of_this_version"] == 0
    assert set(manifest["tasks"]) == set(manifest["base"]) >= {"menu_qa", "recommendation", "review_sentiment"}
    for task in ("menu_qa", "recommendation", "review_sentiment"):
        ids = manifest["tasks"][task]["example_ids"]
        assert ids == manifest["base"][task]["example_ids"] and all(i.startswith("frozen-") for i in ids)
        difference = manifest["difference"][task]
        assert difference["low"] <= difference["value"] <= difference["high"] and difference["n"] == 5
    assert set(manifest["tasks"]["menu_qa"]["by_style"]) <= {"exact", "lower", "partial", "misspelt", "described"}
    assert manifest["seconds"]["base"]["menu_qa"] > 0 and manifest["seconds"]["adapter"]["menu_qa"] > 0
    assert "_per_item" not in json.dumps(manifest)
    # the version's eval preference pairs, scored by both models' log-probabilities
    pairs = Store(store, DATASET).extra("preference", "v1").filter(pl.col("split") == "eval").height
    preference = manifest["preference"]
    assert preference["pairs"] == pairs > 0 and set(preference["prefers_chosen"]) == {"base", "adapter"}
    assert preference["prefers_chosen"]["base"]["n"] == pairs and preference["implicit_reward"]["against"] == "base"
    assert "preference pairs" in result.output
    page = (adapter / "eval.html").read_text()
    assert "base against adapter" in page and "sampled answers" in page and "<script" not in page
    # the page shows questions and answers: none matches a personal-data pattern of the published suite
    import html
    import re

    from etl.catalog import load_catalog
    from etl.config import load_config
    from etl.stages.validate.stage import business_contacts
    from train.evaluate import published_leak_patterns

    settings = load_config(SAMPLE / "pipeline.yaml")
    shown = html.unescape(re.sub(r"<[^>]+>", " ", page))
    # as the published gate does: the business's own store addresses and phones are its to show
    catalog = load_catalog(settings.catalog_file("menu"), settings.catalog_file("stores"))
    for contact in sorted(business_contacts(settings, catalog), key=len, reverse=True):
        shown = shown.replace(contact, " ")
    assert not [p for p in published_leak_patterns(settings) if re.search(p, shown)]
    reply = Store(store, DATASET).examples("v1").filter(pl.col("task") == "order_support")
    assert "frozen-" not in json.dumps(manifest["tasks"]["order_support"]["example_ids"])
    assert set(manifest["tasks"]["order_support"]["example_ids"]) <= set(reply["id"].to_list())


def test_training_continues_an_adapter_and_records_the_chain(trained, store, tiny_model, tmp_path):
    """Issue 49: `--from` goes on from the adapter's weights (the eval loss before training is the
    adapter's best), and the manifest names the adapter and the data it was trained on."""
    first, adapter = trained
    config = TrainConfig(
        **FAST,
        max_steps=4,
        eval_steps=100,
        early_stopping_patience=None,
        learning_rate=3e-3,
        mixture=[MixtureSource(dataset=DATASET, tasks=["menu_qa", "review_sentiment"])],
    )
    run = train_adapter(config, str(tiny_model), tmp_path / "next", store, progress=False, from_adapter=adapter)
    chain = run.manifest["chain"]
    assert len(chain) == 1 and chain[0]["adapter"] == str(adapter) and chain[0]["steps"] == first.manifest["steps"]
    assert chain[0]["sources"][0]["fingerprint"] == first.manifest["sources"][0]["fingerprint"]
    best = min(e["eval_loss"] for e in first.manifest["eval_history"])
    assert run.manifest["eval_loss_before"] == pytest.approx(best, abs=1e-4)
    fresh = train_adapter(config, str(tiny_model), tmp_path / "fresh", store, progress=False)
    assert fresh.manifest["chain"] == [] and fresh.manifest["eval_loss_before"] > best + 0.1
    runner = CliRunner()
    common = ["train", "--dataset", DATASET, "--tasks", "menu_qa", "--store", str(store), "--quiet"]
    nothing = runner.invoke(
        app, [*common, "--from", str(tmp_path), "--base-model", str(tiny_model), "--out", str(tmp_path / "x")]
    )
    assert nothing.exit_code == 2 and "no adapter_config.json" in nothing.output


def test_etl_eval_asks_a_public_set_beside_the_tasks_and_alone(trained, store, tiny_model, tmp_path):
    """Issue 49, domain mixing: `--general` asks a public set's held-out questions (here four of
    the SQuAD copy bench/data/squad holds) with both models, scored by answer containment with
    intervals and a paired difference; `--tasks general` asks only it."""
    _, adapter = trained
    squad = tmp_path / "squad"
    squad.mkdir()
    lines = (Path(__file__).parent.parent / "bench/data/squad/eval.jsonl").read_text().splitlines()
    (squad / "train.jsonl").write_text("\n".join(lines[4:6]) + "\n")
    (squad / "eval.jsonl").write_text("\n".join(lines[:4]) + "\n")
    common = ["--dataset", f"{DATASET}@v1", "--model", str(tiny_model), "--config", str(SAMPLE / "pipeline.yaml")]
    out = tmp_path / "general-only"
    args = ["eval", *common, "--store", str(store), "--adapter", str(adapter), "--max-new-tokens", "4"]
    result = CliRunner().invoke(app, [*args, "--general", str(squad), "--tasks", "general", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "eval_manifest.json").read_text())
    assert set(manifest["tasks"]) == set(manifest["base"]) == {"general"}
    general = manifest["tasks"]["general"]
    assert general["main_metric"] == "answer_contained" and general["answer_contained"]["n"] == 4
    # datasets names a file called eval.jsonl the test split
    assert manifest["eval_set"]["general"]["questions"] == 4 and manifest["eval_set"]["general"]["split"] == "test"
    assert manifest["difference"]["general"]["n"] == 4
    refused = CliRunner().invoke(app, [*args, "--tasks", "general", "--out", str(out)])
    assert refused.exit_code != 0 and "--general" in refused.output


def test_the_general_check_counts_an_answer_that_states_the_reference():
    from train.metrics import normalise_answer, score_general

    assert normalise_answer("The Normans!") == "normans"
    figures = score_general(
        ["It was the Normans, in France.", "In 1066.", "Nobody knows"], ["Normans", "1066", "10th century"]
    )
    assert figures["_per_item"] == [True, True, False]
    assert figures["answer_contained"]["value"] == 2 / 3 and figures["answer_contained"]["n"] == 3
    # containment is by whole words: "10" is not stated by "1066"
    assert score_general(["In 1066."], ["10"])["_per_item"] == [False]


# ------------------------------------------------------------------ DPO and KTO on top of the SFT adapter


def _held_out_pairs(store: Path):
    """The version's DPO data with a seeded half of its thumbs pairs held out as eval pairs (the
    sample's own eval split holds one or two: too few to see a rate move)."""
    import hashlib

    from train.preference import read_preference

    data = read_preference(DATASET, store, "dpo")
    pairs = Store(store, DATASET).extra("preference").filter(pl.col("split") == "train")
    half = pairs["id"].map_elements(lambda i: hashlib.sha256(i.encode()).digest()[0] % 2 == 0, return_dtype=pl.Boolean)
    held = pairs.filter(half & (pl.col("pair_kind") != "fact_changed"))
    data.train = pairs.filter(~pl.col("id").is_in(held["id"].implode())).select("prompt", "chosen", "rejected")
    data.eval_pairs = held.select("prompt", "chosen", "rejected").to_dicts() + data.eval_pairs
    return data


def test_dpo_on_top_of_the_sft_adapter_raises_reward_accuracy_on_held_out_pairs(trained, store, tmp_path):
    from train.preference import train_preference

    _, sft = trained
    data = _held_out_pairs(store)
    assert len(data.eval_pairs) >= 4 and data.train.height >= 10
    config = TrainConfig(**FAST, max_steps=30, learning_rate=3e-3)
    manifest = train_preference("dpo", config, sft, tmp_path / "dpo", data, progress=False)
    before, after = manifest["preference"]["before"], manifest["preference"]["after"]
    # at step 0 the policy is its reference: every implicit reward is 0, so the accuracy is 0
    assert before["reward_accuracy"]["value"] == 0.0 and before["mean_margin"]["value"] == 0.0
    assert after["reward_accuracy"]["value"] > 0.5 and after["mean_margin"]["value"] > 0
    assert manifest["train_loss"]["last"] < manifest["train_loss"]["first"]
    assert manifest["chain"][-1]["adapter"] == str(sft) and manifest["reference"]["adapter"] == str(sft)
    # the folder holds the policy adapter alone: TRL's frozen reference copy is not saved
    saved = json.loads((tmp_path / "dpo" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] and not (tmp_path / "dpo" / "ref").exists()


def test_etl_train_method_dpo_and_kto_on_the_cli_name_both_datasets(trained, store, tmp_path):
    _, sft = trained
    settings = tmp_path / "train.yaml"
    settings.write_text("max_steps: 4\nbatch_size: 4\nmax_seq_length: 160\nlogging_steps: 1\n")
    for method in ("dpo", "kto"):
        out = tmp_path / method
        result = CliRunner().invoke(
            app,
            [
                "train",
                "--method",
                method,
                "--from",
                str(sft),
                "--dataset",
                DATASET,
                "--out",
                str(out),
                "--store",
                str(store),
                "--train-config",
                str(settings),
                "--quiet",
            ],
        )
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "training_manifest.json").read_text())
        fingerprint = Store(store, DATASET).manifest("latest")["fingerprint"]
        assert manifest["method"] == method and manifest["sources"][0]["fingerprint"] == fingerprint
        assert manifest["reference"]["sources"][0]["fingerprint"] == fingerprint  # the SFT adapter's data
        assert manifest["steps"] == 4
    kto = json.loads((tmp_path / "kto" / "training_manifest.json").read_text())["hyperparameters"]["kto_weights"]
    assert kto["weighted_balance"] == 1.0 and kto["undesirable_weight"] > 1
    result = CliRunner().invoke(app, ["train", "--method", "dpo", "--dataset", DATASET, "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "--from" in result.output
