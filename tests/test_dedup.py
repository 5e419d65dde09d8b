"""Dedup: exact, MinHash near-duplicate and semantic, within a run and across versions."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from etl.config import DedupConfig, SemanticConfig, load_config
from etl.embeddings import Embedder, VectorCache
from etl.records import make_record, record_id, records_frame
from etl.run.runner import run_pipeline
from etl.stages.dedup import DedupStage
from etl.stages.dedup.minhash import MinHashLSH, optimal_bands, shingle
from etl.stages.dedup.semantic import semantic_labels
from etl.store import Store
from tests.conftest import SAMPLE

SOURCE_FILES = {"review": "reviews.csv", "chat": "chat_logs.jsonl", "call": None, "faq": "faqs.md"}


def test_minhash_estimates_jaccard_and_bands_follow_the_threshold():
    minhash = MinHashLSH(threshold=0.7, num_perm=256)
    base = "the keto bowl was amazing and the delivery was fast will order again next week for sure thanks team"
    edited = base.replace("fast", "super fast")
    sig = minhash.signatures(
        pl.Series([base, edited, "a totally different note about refunds and cold food in decatur"])
    )
    words_a, words_b = base.split(), edited.split()
    exact = len(
        {tuple(words_a[i : i + 3]) for i in range(len(words_a) - 2)}
        & {tuple(words_b[i : i + 3]) for i in range(len(words_b) - 2)}
    ) / len(
        {tuple(words_a[i : i + 3]) for i in range(len(words_a) - 2)}
        | {tuple(words_b[i : i + 3]) for i in range(len(words_b) - 2)}
    )
    assert abs((sig[0] == sig[1]).mean() - exact) < 0.1
    assert (sig[0] == sig[2]).mean() < 0.05
    bands, rows = optimal_bands(0.7, 128)
    assert bands * rows <= 128 and abs((1 / bands) ** (1 / rows) - 0.7) < 0.1


def test_signatures_do_not_depend_on_the_batch():
    minhash = MinHashLSH()
    alone = minhash.signatures(pl.Series(["where is my order it was due an hour ago"]))
    mixed = minhash.signatures(pl.Series(["hello", "", "where is my order it was due an hour ago"]))
    assert (alone[0] == mixed[2]).all()
    hashes, doc = shingle(pl.Series(["hi", ""]), 3)
    assert list(doc) == [0]  # a short text still has one shingle, an empty one none


def records(*texts: str, ratings=None) -> pl.DataFrame:
    rows = [
        make_record(
            "review",
            "r.csv",
            i + 2,
            f"R{i}",
            [{"role": "user", "text": t}],
            {"rating": (ratings or [5] * len(texts))[i]},
        )
        for i, t in enumerate(texts)
    ]
    return records_frame(rows)


def test_exact_and_near_duplicates_cluster_and_the_longest_stays():
    text = (
        "Honestly the Paleo Power Bowl is so good. The portion is huge for the price and everything tasted fresh, "
        "not like it sat in a fridge for days. Pickup at the Midtown store was quick and the staff were friendly."
    )
    frame = records(
        text,
        text.upper() + "!!",
        text.replace("so good", "really good") + " Thanks!",
        "Totally unrelated review about a cold delivery in Decatur last week.",
    )
    result = DedupStage(DedupConfig()).apply(frame, lambda n: None)
    assert result.kept["record_id"].to_list() == [
        record_id("review", "r.csv", "R2"),
        record_id("review", "r.csv", "R3"),
    ]
    reasons = dict(zip(result.dropped["record_id"], result.dropped["reason"]))
    assert reasons == {
        record_id("review", "r.csv", "R0"): "near_duplicate",
        record_id("review", "r.csv", "R1"): "near_duplicate",
    }
    assert result.kept["dup_cluster"][0] == record_id("review", "r.csv", "R2")


def test_planted_duplicates_in_the_sample_are_removed(sample_run):
    planted = json.loads((SAMPLE / "planted.json").read_text())["duplicates"]
    clusters = pl.read_parquet(next((Path(sample_run.run_dir) / "stages").glob("*_dedup.parquet")))
    kept = set(clusters["record_id"].to_list())
    dropped = pl.read_parquet(Path(sample_run.run_dir) / "dropped.parquet").filter(pl.col("stage") == "dedup")
    dropped_ids = set(dropped["record_id"].to_list())
    checked = 0
    for pair in planted:
        ids = []
        for native in (pair["copy"], pair["original"]):
            candidates = [record_id(pair["source"], name, native) for name in _files_of(pair["source"], native)]
            ids.append(next(c for c in candidates if c in kept or c in dropped_ids))
        assert not (ids[0] in kept and ids[1] in kept), pair
        checked += 1
    assert checked == len(planted) >= 25


def _files_of(source: str, native: str) -> list[str]:
    if source == "call":
        return [p.relative_to(SAMPLE).as_posix() for p in sorted((SAMPLE / "calls").glob("*.txt"))]
    if source == "review":
        return ["reviews.csv", "reviews_legacy_export.csv"]
    return [SOURCE_FILES[source]]


def test_semantic_dedup_groups_rephrasings_not_different_dishes():
    texts = [
        "What's in the Paleo Power Bowl?",
        "what's in the paleo power bowl??",
        "What's in the Vegan Buddha Bowl?",
        "How do I cancel my subscription?",
        "how do i cancel my subscription",
    ]
    labels = semantic_labels(texts, SemanticConfig(block_size=16), Embedder())
    assert labels[0] == labels[1] and labels[3] == labels[4]
    assert labels[0] != labels[2] and labels[0] != labels[3]


def _sample_question_facts():
    from etl.catalog import load_catalog
    from etl.text.question_facts import QuestionFacts

    return QuestionFacts(load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml"))


def test_semantic_dedup_never_groups_questions_that_ask_for_different_facts():
    """MiniLM scores the vegan and the vegetarian request 0.909, above the 0.90 threshold: without
    the facts they were one cluster of rephrasings, and two of its eleven sample questions kept."""
    texts = [
        "I'm looking for a vegan meal, what do you suggest?",
        "I'm looking for a vegetarian meal, what do you suggest?",
        "can you recommend a vegan lunch?",
        "can you recommend a vegetarian lunch?",
        "what's in the Lemon Herb Chicken & Veggies?",
        "what's in the lemon hrb chicken & veggies?",  # a typo hides a word: still a rephrasing
        "any paleo options this week?",
        "any paleo optionns this week?!!",
    ]
    config = SemanticConfig(block_size=16)
    blind = semantic_labels(texts, config, Embedder())
    assert blind[0] == blind[1] or blind[2] == blind[3]  # what the embeddings alone decide
    labels = semantic_labels(texts, config, Embedder(), facts=_sample_question_facts())
    assert labels[0] != labels[1] and labels[2] != labels[3] and labels[0] != labels[3]
    assert labels[4] == labels[5] and labels[6] == labels[7]


def test_question_facts_tell_days_places_numbers_and_negations_apart():
    from etl.text.question_facts import conflict

    facts = _sample_question_facts().of
    different = [
        ("do you deliver on Sundays?", "do you deliver on Saturdays?"),
        ("what time does the Decatur store close?", "what time does the buckhead store close?"),
        ("recommend something under 500 calories", "recommend something under 700 calories"),
        ("is the Thai Peanut Noodle Bowl gluten free?", "is the Thai Peanut Noodle Bowl vegan?"),
        ("anything without dairy?", "anything with extra cheese?"),
    ]
    same = [
        ("do you deliver on Sundays?", "Do you deliver on sunday"),
        ("what time does the Old Fourth Ward store close?", "what time does the old fourth ward store close"),
        ("how much is the Overnight Oats - Peach Cobbelr", "how much is the overnight oats - peach cobbler"),
        ("any vegan meals you'd recommend?", "I'm looking for a vegan meal, what do you suggest?"),
    ]
    assert [conflict(facts(a), facts(b)) for a, b in different] == [True] * len(different)
    assert [conflict(facts(a), facts(b)) for a, b in same] == [False] * len(same)


def test_a_cluster_that_joins_conflicting_questions_through_a_vague_one_is_split():
    import numpy as np

    from etl.text.question_facts import split_conflicting

    vegan, vegetarian, vague = frozenset({"word:vegan"}), frozenset({"word:vegetarian"}), frozenset()
    labels = split_conflicting(np.array([0, 0, 0, 1, 1]), [vegan, vegetarian, vague, vegan, vegan])
    assert len({labels[0], labels[1], labels[2]}) == 3 and labels[3] == labels[4] != labels[0]


def test_new_data_repeating_a_published_text_is_dropped(sample_copy, tmp_path):
    config = load_config(sample_copy / "pipeline.yaml")
    config.dedup.semantic.enabled = False
    first = run_pipeline(config, store=tmp_path)
    store = Store(tmp_path, config.dataset)
    published = store.examples("v1").filter(pl.col("task") == "review_sentiment")
    text = published["messages"][0][1]["content"].split("Review: ", 1)[1]
    with open(sample_copy / "reviews.csv", "a", encoding="utf-8") as handle:
        handle.write(f'R9999999,2026-11-20T10:00:00+00:00,,new@example.com,5,Paleo Power Bowl,Midtown,"{text}"\n')
    second = run_pipeline(config, store=tmp_path)
    dropped = pl.read_parquet(Path(second.run_dir) / "dropped.parquet").filter(pl.col("source_line") > 0)
    new_id = record_id("review", "reviews.csv", "R9999999")
    row = dropped.filter(pl.col("record_id") == new_id)
    assert row["reason"].to_list() == ["duplicate_of_published"]
    assert second.publish["version"] == first.publish["version"]  # nothing new to publish


def test_an_earlier_eval_example_never_becomes_train(sample_copy, tmp_path):
    config = load_config(sample_copy / "pipeline.yaml")
    config.dedup.semantic.enabled = False
    run_pipeline(config, store=tmp_path)
    store = Store(tmp_path, config.dataset)
    v1 = store.examples("v1")
    config.split.seed = 999  # a new seed would reshuffle every cluster...
    again = run_pipeline(config, store=tmp_path)
    assert again.publish["version"] == "v1" and not again.publish["published"]  # ...but placed records keep their side
    with open(sample_copy / "reviews.csv", "a", encoding="utf-8") as handle:
        handle.write(
            'R9999998,2026-11-20T10:00:00+00:00,,,2,Paleo Power Bowl,Midtown,"The bowl came cold and the sauce had leaked all over the bag."\n'
        )
    second = run_pipeline(config, store=tmp_path)
    assert second.publish["version"] == "v2"
    v2 = store.examples("v2")
    joined = v1.select("id", "split").join(v2.select("id", pl.col("split").alias("later")), on="id")
    assert joined.height == v1.height and joined.filter(pl.col("split") != pl.col("later")).height == 0
    index = pl.read_parquet(store.path("v2") / "dedup" / "index.parquet")
    eval_records = set(v1.filter(pl.col("split") == "eval")["record_id"].to_list())
    assert set(index.filter(pl.col("split") == "eval")["record_id"].to_list()) >= eval_records
    signatures = index["signature"].drop_nulls().to_list()
    assert len(signatures) > 500 and {len(s) for s in signatures} == {config.dedup.num_perm}


# ------------------------------------------------------------------ agreement with datasketch, a safe index


def _unmix32(value: int) -> int:
    """The inverse of MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies
    to every input hash first: fed these, datasketch permutes exactly our shingle hashes."""
    mod = 2**32
    value ^= value >> 16
    value = value * pow(0xC2B2AE35, -1, mod) % mod
    value ^= (value >> 13) ^ (value >> 26)
    value = value * pow(0x85EBCA6B, -1, mod) % mod
    return value ^ (value >> 16)


def test_signatures_and_estimates_equal_datasketch_on_the_same_shingles():
    import numpy as np
    from datasketch import MinHash

    from etl.stages.dedup.minhash import estimated_jaccard, permutations

    texts = [
        "the keto bowl was amazing and the delivery was fast, will order again next week",
        "the keto bowl was amazing and the delivery was slow today, will order again next week",
        "Où est ma commande ? Elle devait arriver il y a une heure",
        "hi",
    ]
    ours = MinHashLSH(num_perm=128, seed=11)
    signatures = ours.signatures(pl.Series(texts))
    hashes, doc = shingle(pl.Series(texts), 3)
    a, b = permutations(128, 11)
    sketches = []
    for position in range(len(texts)):
        sketch = MinHash(num_perm=128, permutations=(a, b), scheme="affine32", hashfunc=lambda value: value)
        sketch.update_batch([_unmix32(int(h)) for h in hashes[doc == position]])
        sketches.append(sketch)
        assert (sketch.hashvalues.astype(np.uint32) == signatures[position]).all()
    pairs = np.array([(0, 1), (0, 2), (1, 3)])
    assert list(estimated_jaccard(signatures, pairs)) == [
        np.float32(sketches[i].jaccard(sketches[j])) for i, j in pairs
    ]


def test_a_changed_minhash_setting_never_mixes_signatures_in_the_index(sample_copy, tmp_path, monkeypatch):
    import pytest

    from etl.config import ConfigError
    from etl.stages.dedup import index as dedup_index
    from etl.stages.dedup.index import index_params, load_index

    config = load_config(sample_copy / "pipeline.yaml")
    config.dedup.semantic.enabled = False
    run_pipeline(config, store=tmp_path)
    store = Store(tmp_path, config.dataset)
    assert load_index(store.path("v1")).params == index_params(config.dedup) == store.manifest("v1")["dedup_index"]

    config.dedup.num_perm, config.dedup.on_index_change = 64, "stop"
    with pytest.raises(ConfigError, match=r"num_perm 128 -> 64.*on_index_change: rebuild"):
        run_pipeline(config, store=tmp_path)
    assert store.latest() == "v1"
    config.dedup.num_perm = 128
    monkeypatch.setattr(dedup_index, "HASH_SCHEME", "a-later-hashing-code")
    with pytest.raises(ConfigError, match="hash_scheme"):
        run_pipeline(config, store=tmp_path)
    monkeypatch.undo()

    config.dedup.num_perm, config.dedup.on_index_change = 64, "rebuild"
    with open(sample_copy / "reviews.csv", "a", encoding="utf-8") as handle:
        handle.write(
            'R9999997,2026-11-20T10:00:00+00:00,,,4,Paleo Power Bowl,Midtown,"Loved the sweet potato in the bowl, a bit too much sauce though."\n'
        )
    summary = run_pipeline(config, store=tmp_path)
    assert summary.publish["version"] == "v2" and any(
        "rebuilt" in notice and "num_perm 128 -> 64" in notice for notice in summary.notices
    )
    rebuilt = load_index(store.path("v2"))
    assert rebuilt.params["num_perm"] == 64 == store.manifest("v2")["dedup_index"]["num_perm"]
    widths = {len(s) for s in rebuilt.frame["signature"].drop_nulls().to_list()}
    assert widths == {64}  # never a 128-wide signature beside a 64-wide one
    assert set(rebuilt.frame["record_id"]) >= set(
        load_index(store.path("v1")).frame["record_id"]
    )  # splits and clusters remembered


def test_token_batches_pad_each_text_to_its_own_rounded_length_longest_first():
    from etl.embeddings.model import PAD_STEP, token_batches

    assert PAD_STEP == 8
    lengths = [12, 30, 14, 7, 30, 25, 29, 31, 16, 300, 32, 26]
    batches = token_batches(lengths, most=4, token_budget=100, longest=256)
    assert sorted(i for _, b in batches for i in b) == list(range(len(lengths)))
    # padded to the length rounded up to 8 (at most the model's 256), whatever the batch holds
    assert all(padded == min(-(-lengths[i] // 8) * 8, 256) for padded, b in batches for i in b)
    assert [padded for padded, _ in batches] == [256, 32, 32, 32, 32, 16, 8]
    # the seven texts of 25-32 tokens: 100 // 32 = 3 a batch with the filler, so 2 texts each;
    # the 300-token text alone with its filler (over the budget, one text at least)
    assert [len(b) for _, b in batches] == [1, 2, 2, 2, 1, 3, 1]


def test_a_filler_text_has_exactly_the_tokens_asked_for():
    from etl.embeddings.model import filler_text, load_model, token_lengths

    model = load_model(None)
    for tokens in (8, 64, 256):
        assert token_lengths(model, [filler_text(model, tokens)]) == [tokens]


def test_a_texts_vector_is_the_same_whatever_it_is_embedded_with_where_vectors_are_kept():
    """What lets a vector kept from an earlier run stand for one computed tonight: where the
    machine gives a text the same vector bit for bit in any batch, the probe says so and vectors
    are kept; where it does not (a CPU with AMX), the probe says that and none are kept."""
    from etl.embeddings import model

    texts = _real_chat_turns(400)
    together = dict(zip(texts, Embedder()(texts, None, 64)))
    same = []
    for part in (texts[::7], texts[3:5], texts[10:11]):
        alone = Embedder()(part, None, 64)  # a fresh cache: embedded again, in other batches
        same += [(together[t] == v).all() for t, v in zip(part, alone)]  # bit for bit
        assert min((together[t] * v).sum() for t, v in zip(part, alone)) > 0.9999  # the same vector all the same
    dtype = model.compute_dtype("auto", model.load_model(None).device.type)
    assert all(same) == model.batch_invariant(None, dtype)


def _real_chat_turns(n: int) -> list[str]:
    dialogs = (Path(__file__).parent / "data" / "realtext" / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()
    turns = [u["text"] for line in dialogs for u in json.loads(line)["utterances"] if u["speaker"] == "user"]
    return list(dict.fromkeys(turns))[:n]


def test_kept_vectors_are_the_ones_embedded_and_only_new_texts_are_embedded(tmp_path, caplog, monkeypatch):
    from etl.embeddings import cache, vector_store

    # the store's own workings, on any machine: whether this one may keep vectors at all is
    # batch_invariant's call, tested above against what the machine computes
    monkeypatch.setattr(cache, "batch_invariant", lambda *key: True)
    texts = _real_chat_turns(300)
    folder = tmp_path / "vectors"

    def run(texts: list[str], folder=folder) -> tuple[VectorCache, object]:
        """One run's embeddings: a fresh cache over the work folder, kept at the end."""
        vectors = VectorCache(folder)
        return vectors, Embedder(vectors)(texts, None, 64)

    night, first = run(texts[:200])
    night.keep()
    assert night.counts() == {"embedded": 200, "kept": 0}
    (stored,) = folder.glob("*.npz")  # digests only: no text in the work folder
    assert texts[0].encode() not in stored.read_bytes()

    # the next run: the 200 read back bit for bit, only the 100 new ones embedded
    night, second = run(texts)
    assert night.counts() == {"embedded": 100, "kept": 200}
    assert (second[:200] == first).all()
    night.keep()

    # a run that uses fewer texts keeps only those; a run without a folder reads nothing
    night, _ = run(texts[250:])
    night.keep()
    assert len(vector_store.StoredVectors.read(stored).index) == 50
    night, _ = run(texts[250:], folder=None)
    assert night.counts() == {"embedded": 50, "kept": 0}

    # a damaged file costs a warning and an embedding, not the run
    stored.write_bytes(b"not a numpy file")
    night, _ = run(texts[:10])
    assert night.counts() == {"embedded": 10, "kept": 0}
    assert "cannot be read" in caplog.text


def test_stored_digests_keep_their_trailing_zero_bytes(tmp_path):
    """numpy's fixed-width bytes type drops trailing NULs: about one digest in 256 ends in one."""
    import numpy as np

    from etl.embeddings import vector_store

    texts = [f"question {i}" for i in range(2000)]
    zero_ending = [t for t, d in zip(texts, vector_store.digests(texts)) if d.endswith(b"\0")]
    assert zero_ending  # the case this test is about is present
    vectors = {t: np.full(4, i, dtype=np.float32) for i, t in enumerate(texts)}
    vector_store.write(tmp_path / "v.npz", vectors)
    found = vector_store.StoredVectors.read(tmp_path / "v.npz").take(texts)
    assert len(found) == len(texts) and all((found[t] == vectors[t]).all() for t in zero_ending)
