"""Augmentation with the real nlpaug and the packaged sentence-transformers model, on small examples."""

from __future__ import annotations

import json

import polars as pl
import pytest

from etl.catalog import load_catalog
from etl.config import AugmentConfig
from etl.example import EXAMPLE_SCHEMA
from etl.stages.augment import AugmentStage
from tests.conftest import SAMPLE

REALTEXT = SAMPLE.parent / "tests" / "data" / "realtext"

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")
QUESTIONS = [
    "what's in the Keto Salmon Caesar? i am allergic to eggs",
    "can I get 2 Paleo Power Bowls delivered to the Midtown store by 6:30pm please",
    "how much is the Vegan Buddha Bowl, is it $12.50 or more",
    "i ordered the Keto Salmon Caesar yesterday and it came cold, not hot",
    "do you have a dish without dairy that is under 600 calories",
    "hi, my name is Maria Lopez and I want to cancel order HB-123456",
    "which meal has the most protein, I need at least 40 g",
    "is the Peachtree Power Bowl gluten free? thanks",
]


def examples(split_of=lambda i: "train" if i % 4 else "eval") -> pl.DataFrame:
    rows = []
    for i, question in enumerate(QUESTIONS * 3):
        task = ["menu_qa", "order_support"][i % 2]
        messages = [
            {"role": "system", "content": "You are the assistant."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": f"Answer {i}: the Keto Salmon Caesar costs $13.95."},
        ]
        row = {name: None for name in EXAMPLE_SCHEMA} | {
            "id": f"ex{i:03d}",
            "task": task,
            "messages": messages,
            "split": split_of(i),
            "source": "chat",
            "record_id": f"rec{i}",
        }
        rows.append(row)
    return pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)


def augment(frame: pl.DataFrame, **config) -> tuple[pl.DataFrame, AugmentStage]:
    stage = AugmentStage(AugmentConfig(tasks=["menu_qa", "order_support"], **config), CATALOG)
    result = stage.apply(frame, lambda n: None)
    return result.kept, stage


def test_variants_come_from_train_keep_every_fact_and_the_answers():
    frame = examples()
    out, stage = augment(frame, max_share=0.5, variants_per_parent=2)
    variants = out.filter(pl.col("parent_id").is_not_null())
    assert variants.height > 0 and out.height == frame.height + variants.height
    assert variants.filter(pl.col("split") != "train").height == 0
    parents = {r["id"]: r for r in frame.iter_rows(named=True)}
    for variant in variants.iter_rows(named=True):
        parent = parents[variant["parent_id"]]
        assert (parent["split"], parent["task"]) == ("train", variant["task"])
        before = [m["content"] for m in parent["messages"] if m["role"] == "user"]
        after = [m["content"] for m in variant["messages"] if m["role"] == "user"]
        assert after != before
        assert [stage.facts.of(t) for t in after] == [stage.facts.of(t) for t in before]
        assert [m for m in variant["messages"] if m["role"] != "user"] == [
            m for m in parent["messages"] if m["role"] != "user"
        ]
        assert json.loads(variant["augmentation"])["method"] in {m.method for m in stage.config.methods}
    per_parent = variants.group_by("parent_id").len()["len"]
    assert per_parent.max() <= 2
    for task, n in variants.group_by("task").len().iter_rows():
        originals = frame.filter((pl.col("task") == task) & (pl.col("split") == "train")).height
        assert n / (originals + n) <= 0.5


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    frame = examples()
    first, _ = augment(frame, seed=3)
    second, _ = augment(frame.sample(fraction=1.0, shuffle=True, seed=1), seed=3)
    assert first.equals(second)
    other, _ = augment(frame, seed=4)
    assert not first.equals(other)


def test_an_augmenter_that_changes_a_fact_or_the_meaning_is_rejected_with_a_reason():
    import nlpaug.augmenter.char as nac

    frame = examples()
    stage = AugmentStage(AugmentConfig(tasks=["menu_qa", "order_support"], methods=[{"method": "keyboard"}]), CATALOG)
    stage.setup(frame)
    # the same nlpaug augmenter with nothing protected and every character at risk
    stage.augmenters["keyboard"] = nac.KeyboardAug(
        aug_char_p=1.0, aug_word_p=1.0, aug_word_max=50, include_numeric=True
    )
    out = stage.apply(frame, lambda n: None)
    assert out.kept.height == frame.height  # nothing corrupt gets through
    assert stage.rejected.get("protected_fact_changed", 0) > 0


# ------------------------------------------------------------------ the sample run


def test_every_variant_in_the_sample_run_keeps_its_parents_facts_and_stays_in_train(sample_run):
    from etl.store import Store

    published = Store(sample_run.store_dir, sample_run.dataset).examples("latest")
    variants = published.filter(pl.col("parent_id").is_not_null())
    assert (
        variants.height > 100
        and published.filter(pl.col("split") == "eval")["parent_id"].null_count()
        == published.filter(pl.col("split") == "eval").height
    )
    facts = AugmentStage(AugmentConfig(), CATALOG).facts
    parents = {r["id"]: r for r in published.filter(pl.col("parent_id").is_null()).iter_rows(named=True)}
    for variant in variants.iter_rows(named=True):  # every one, not a sample
        parent = parents[variant["parent_id"]]
        assert (parent["split"], parent["task"], variant["split"]) == ("train", variant["task"], "train")
        before = [m["content"] for m in parent["messages"] if m["role"] == "user"]
        after = [m["content"] for m in variant["messages"] if m["role"] == "user"]
        assert [facts.of(t) for t in after] == [facts.of(t) for t in before], (before, after)
        assert [m for m in variant["messages"] if m["role"] != "user"] == [
            m for m in parent["messages"] if m["role"] != "user"
        ]
    shares = (
        variants.group_by("task")
        .len()
        .join(published.filter(pl.col("split") == "train").group_by("task").len(), on="task")
    )
    assert (shares["len"] / shares["len_right"] <= 0.3 + 1e-9).all()
    assert sample_run.augmentation["variants"] and "protected_fact_changed" in sample_run.augmentation["rejected"]


def test_one_seed_publishes_identical_data_in_another_process(sample_run, tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": "123"}
    command = [
        sys.executable,
        "-m",
        "etl.cli",
        "run",
        "--config",
        str(SAMPLE / "pipeline.yaml"),
        "--store",
        str(tmp_path / "store"),
    ]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    manifest = json.loads(next((tmp_path / "store").glob("*/v1/manifest.json")).read_text())
    assert manifest["fingerprint"] == sample_run.publish["fingerprint"]


def test_off_catalog_drinks_and_flavours_in_real_orders_survive_word_deletion():
    """Taskmaster-4 coffee orders (CC BY 4.0): what the customer orders is a fact even when the
    catalog does not list it; deleting words at a high rate still leaves every drink and flavour."""
    orders = [
        "Hey, can I get a latte with the 2% lactose free milk please",
        "Can I get a vanilla oat milk latte for my friend and me today",
        "I would like a triple cappuccino with almond milk and some caramel",
    ]
    frame = (
        examples()
        .head(len(orders))
        .with_columns(
            pl.Series(
                "messages",
                [[{"role": "user", "content": o}, {"role": "assistant", "content": "Sure."}] for o in orders],
            ),
            pl.lit("train").alias("split"),
        )
    )
    stage = AugmentStage(
        AugmentConfig(
            tasks=["menu_qa", "order_support"],
            methods=[{"method": "delete", "params": {"aug_p": 0.9, "aug_max": 20}}],
            max_share=0.9,
        ),
        CATALOG,
    )
    out = stage.apply(frame, lambda n: None).kept
    variants = out.filter(pl.col("parent_id").is_not_null())
    assert variants.height > 0
    for messages in variants["messages"].to_list():
        text = messages[0]["content"]
        ordered = next(o for o in orders if o.split()[-1] == text.split()[-1] or set(text.split()) <= set(o.split()))
        for word in ("latte", "vanilla", "oat", "cappuccino", "almond", "caramel", "2%"):
            assert (word in ordered.split()) == (word in text.split()), (ordered, text)


def real_customer_turns() -> list[str]:
    """Customer turns of the Taskmaster-4 coffee dialogs (CC BY 4.0, tests/data/realtext/README.md)."""
    dialogs = [json.loads(line) for line in (REALTEXT / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()]
    return [u["text"] for d in dialogs for u in d["utterances"] if u["speaker"] == "user"]


def test_synonym_phrases_come_out_whole_words_on_real_turns():
    """nlpaug's ReservedAug glues a thesaurus phrase into one token ("can I" -> "cannnnnnI") and
    left the glued form in its output wherever it did not replace it: in real orders, at any case,
    and inside other words. Every variant is now words of its parent or of the thesaurus."""
    import random

    import numpy as np

    from etl.stages.augment.augmenters import build_augmenter
    from etl.text.facts import ProtectedFacts
    from etl.text.phrases import thesaurus

    augmenter = build_augmenter("synonyms", {"aug_p": 0.5, "aug_max": 2}, ProtectedFacts(CATALOG))
    vocabulary = {w for group in thesaurus() for phrase in group for w in phrase.split()}
    turns = [t for t in real_customer_turns() if "can I" in t or "Can I" in t or "how much" in t.lower()][:300]
    changed = 0
    for seed, turn in enumerate(turns):
        random.seed(seed)
        np.random.seed(seed)
        variant = augmenter.augment(turn)[0]
        changed += variant != turn
        assert "nnnnn" not in variant, (turn, variant)
        assert set(variant.split()) <= set(turn.split()) | vocabulary, (turn, variant)
    assert len(turns) > 50 and changed > len(turns) // 4  # the phrases are still replaced


def test_facts_moved_into_another_place_or_misspelt_inside_a_compound_are_a_change():
    from etl.text.facts import ProtectedFacts

    facts = ProtectedFacts(CATALOG)
    # a real Taskmaster-4 order: a word swap moved "sugar-free" off the vanilla it was about
    order = "Hello, I'd love to get an oat milk latte with sugar-free vanilla. Yes, its right."
    swapped = "Hello, I'd love to get an oat milk latte with vanilla. sugar-free Yes, its right."
    assert facts.of(order) != facts.of(swapped)
    assert facts.of("a non-fat latte") != facts.of("a nun-fat latte")
    # an everyday compound is no fact: "delivery" may become its synonym "drop-off"
    assert facts.of("can I change the delivery address") == facts.of("can I change the drop-off address")
    # and nlpaug is told to leave a protected compound alone
    import re

    assert re.match(facts.stopwords_regex, "sugar-free,") and not re.match(facts.stopwords_regex, "sugary")


# ------------------------------------------------------------------ augmenters with a model of the user's


def test_word_vectors_from_a_local_file_replace_words_and_keep_every_fact(tmp_path):
    import numpy as np

    # a GloVe text file whose only words are synonym pairs a few hundredths apart: each word's
    # nearest neighbour is its partner, so every replacement is a synonym
    pairs = [("meal", "dish"), ("please", "pls"), ("thanks", "thx"), ("delivered", "brought"), ("cancel", "drop")]
    rng = np.random.default_rng(0)
    lines = []
    for a, b in pairs:
        v = rng.normal(size=20)
        for word in (a, b):
            lines.append(word + " " + " ".join(f"{x:.5f}" for x in v + rng.normal(scale=0.01, size=20)))
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("\n".join(lines) + "\n")
    method = {"method": "word_vectors", "params": {"model_path": str(vectors), "top_k": 1, "aug_p": 0.5}}
    frame = examples()
    out, stage = augment(frame, methods=[method], max_share=0.5)
    variants = out.filter(pl.col("parent_id").is_not_null())
    assert variants.height > 0
    parents = {r["id"]: r for r in frame.iter_rows(named=True)}
    swapped = {w for pair in pairs for w in pair}
    for variant in variants.iter_rows(named=True):
        before = [m["content"] for m in parents[variant["parent_id"]]["messages"] if m["role"] == "user"]
        after = [m["content"] for m in variant["messages"] if m["role"] == "user"]
        assert [stage.facts.of(t) for t in after] == [stage.facts.of(t) for t in before]
        changed = {w for a, b in zip(before, after) for w in set(a.split()) ^ set(b.split())}
        assert changed and changed <= swapped | {w + "," for w in swapped} | {w + "?" for w in swapped}
        assert json.loads(variant["augmentation"])["params"]["model_path"] == str(vectors)


def test_a_masked_language_model_of_the_users_runs_offline_and_its_variants_keep_the_facts(tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    # a tiny random BERT and a WordPiece vocabulary of the test's own text: its guesses are
    # noise, which is what the fact and meaning checks are for
    core = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    core.train_from_iterator(QUESTIONS * 5, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    model_dir = tmp_path / "bert"
    tokenizer = BertTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    tokenizer.save_pretrained(model_dir)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertForMaskedLM(config).save_pretrained(model_dir)
    frame = examples()
    method = {"method": "contextual", "params": {"model_path": str(model_dir), "aug_p": 0.3}}
    out, stage = augment(frame, methods=[method], max_share=0.5, min_similarity=0.0)
    candidates = sum(stage.rejected.values()) + stage.variants
    assert candidates > 0 and stage.rejected.get("unchanged", 0) < candidates  # the model did rewrite turns
    parents = {r["id"]: r for r in frame.iter_rows(named=True)}
    for variant in out.filter(pl.col("parent_id").is_not_null()).iter_rows(named=True):
        before = [m["content"] for m in parents[variant["parent_id"]]["messages"] if m["role"] == "user"]
        after = [m["content"] for m in variant["messages"] if m["role"] == "user"]
        assert [stage.facts.of(t) for t in after] == [stage.facts.of(t) for t in before]


@pytest.mark.parametrize(
    "method, says",
    [
        ({"method": "wordnet"}, "not offered: nlpaug's WordNet"),
        ({"method": "back_translation"}, "not offered: back-translation"),
        ({"method": "contextual"}, "needs params.model_path"),
        ({"method": "thesaurus_of_doom"}, "unknown method"),
    ],
)
def test_an_augmenter_that_cannot_run_here_says_why(method, says):
    with pytest.raises(ValueError, match=says):
        AugmentConfig(methods=[method])


def test_a_configured_model_that_is_missing_is_a_clear_error(tmp_path):
    from etl.errors import ConfigError

    config = AugmentConfig(tasks=["menu_qa"], methods=[{"method": "contextual", "params": {"model_path": "no/bert"}}])
    stage = AugmentStage(config, CATALOG, base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"params.model_path '.*no/bert' does not exist"):
        stage.setup(examples())


def test_meaning_check_embeds_only_what_the_task_can_still_take():
    from etl.stages.augment import SIMILARITY_SLACK, _LazySimilarities

    asked: list[int] = []

    def compute(batch: list[int]) -> list[float]:
        asked.append(len(batch))
        return [1.0 if c % 10 else 0.0 for c in batch]  # every tenth candidate drifts

    lazy = _LazySimilarities(compute, list(range(200)))
    room, taken = 20, 0
    while taken < room:
        taken += lazy.next(room - taken) > 0.5
    # 20 kept of the first 23 (0, 10 and 20 drift); one slice of room + slack held them all
    assert asked == [room + SIMILARITY_SLACK] and lazy.position == 23
