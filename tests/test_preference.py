"""Preference data from the sample's rated chats (etl/stages/preference/): the pairs, their
sides, the KTO rows, and the Great Expectations suite that guards them."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import polars as pl
import pytest

from etl.catalog import load_catalog
from etl.config import PreferenceConfig
from etl.embeddings import Embedder
from etl.example import PAIR_SCHEMA
from etl.records import records_frame
from etl.stages.preference.conversations import build_conversation_pairs
from etl.stages.preference.facts_changed import changed_answers
from etl.stages.validate import gx_suites
from etl.store import Store
from etl.text.question_facts import QuestionFacts
from tests.conftest import SAMPLE

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")


def _version(sample_run):
    return Store(sample_run.store_dir, sample_run.dataset).path("latest")


def test_the_sample_gives_pairs_of_every_kind_loadable_with_datasets(sample_run):
    counts = sample_run.preference["pairs"]
    assert counts["agent_correction"].get("train", 0) >= 5
    assert counts["thumbs_contrast"].get("train", 0) >= 3
    assert counts["fact_changed"].get("train", 0) >= 5 and "eval" not in counts["fact_changed"]
    preference = datasets.load_dataset(str(_version(sample_run)), "preference")
    assert sum(sum(sides.values()) for sides in counts.values()) == sum(len(s) for s in preference.values())
    row = preference["train"][0]
    assert row["prompt"][0]["role"] == "system" and row["prompt"][-1]["role"] == "user"
    assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]
    kto = datasets.load_dataset(str(_version(sample_run)), "kto")
    labels = [label for split in kto.values() for label in split["label"]]
    assert labels.count(True) == sample_run.preference["kto"]["desirable"] > labels.count(False) > 0


def test_no_pair_spans_splits_and_every_pair_differs_only_in_the_judged_turn(sample_run):
    folder = _version(sample_run)
    pairs = pl.read_parquet(folder / "data" / "preference" / "*.parquet")
    assert pairs.group_by("record_id").agg(pl.col("split").n_unique())["split"].max() == 1
    examples = Store(sample_run.store_dir, sample_run.dataset).examples("latest")
    example_sides = dict(examples.group_by("record_id").agg(pl.col("split").first()).iter_rows())
    # a fact_changed pair sits on its example's side (train); a chat pair's record gave no example
    for record_id, split in pairs.select("record_id", "split").iter_rows():
        assert example_sides.get(record_id, split) == split
    for row in pairs.iter_rows(named=True):
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert chosen.strip() and rejected.strip() and chosen.strip() != rejected.strip()
    # a fact_changed pair changes one fact: the two answers differ in one place only
    for row in pairs.filter(pl.col("pair_kind") == "fact_changed").iter_rows(named=True):
        a, b = row["chosen"][0]["content"], row["rejected"][0]["content"]
        prefix = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        suffix = next((i for i, (x, y) in enumerate(zip(a[::-1], b[::-1])) if x != y), 0)
        assert len(a) - prefix - suffix < 40, (row["id"], a[prefix : len(a) - suffix])


def test_published_pairs_carry_no_personal_data_of_the_sample(sample_run):
    text = pl.read_parquet(_version(sample_run) / "data" / "preference" / "*.parquet").write_ndjson()
    text += pl.read_parquet(_version(sample_run) / "data" / "kto" / "*.parquet").write_ndjson()
    for name in ("Emily Greene", "emily_greene50@aol.com", "404-917-6931", "Omar Okafor"):
        assert name not in text


def _chat(record_id: str, thumbs: str, turns: list[tuple[str, str]], agent: list[int] | None = None) -> dict:
    return {
        "record_id": record_id,
        "source": "chat",
        "turns": [{"role": r, "text": t} for r, t in turns],
        "meta": {"thumbs": thumbs, "agent_turns": agent},
        "source_file": "chats.jsonl",
        "source_line": 1,
    }


def _pairs(chats: list[dict], **settings):
    config = PreferenceConfig(**settings)
    embedder = Embedder()
    return build_conversation_pairs(
        records_frame(chats),
        {},
        config,
        0.0,
        "You answer for Healthy Bites.",
        QuestionFacts(CATALOG),
        lambda texts: embedder(texts, None, 64),
    )


def test_vegan_and_vegetarian_never_pair_though_their_questions_score_close():
    liked = _chat(
        "chat-up",
        "up",
        [("user", "I'm looking for a vegan meal, what do you suggest?"), ("assistant", "Try the Vegan Buddha Bowl.")],
    )
    disliked = _chat(
        "chat-down",
        "down",
        [("user", "I'm looking for a vegetarian meal, what do you suggest?"), ("assistant", "Please call the store.")],
    )
    built = _pairs([liked, disliked])
    assert built.pairs == [] and built.not_paired["no_close_thumbs_up_turn"] == 1
    same = _chat(
        "chat-down-2",
        "down",
        [("user", "I'm looking for a vegan meal, what would you suggest?"), ("assistant", "Please call the store.")],
    )
    built = _pairs([liked, same])
    assert [(p["pair_kind"], p["chosen"][0]["content"]) for p in built.pairs] == [
        ("thumbs_contrast", "Try the Vegan Buddha Bowl.")
    ]


def test_a_liked_turn_stating_facts_no_disliked_turn_states_is_never_embedded():
    """It could never be the match (the facts must be equal), so its vector is not computed: at
    100,000 records the pool embedded 23,516 liked turns for 410 pairs."""
    chats = [
        _chat(
            "up-1", "up", [("user", "Which vegan meal do you suggest this week?"), ("assistant", "The Buddha Bowl.")]
        ),
        _chat("up-2", "up", [("user", "Which gluten-free meal do you suggest today?"), ("assistant", "The salmon.")]),
        _chat("down", "down", [("user", "Which vegan meal would you suggest this week?"), ("assistant", "Call us.")]),
    ]
    embedder, embedded = Embedder(), []

    def embed(texts: list[str]):
        embedded.extend(texts)
        return embedder(texts, None, 64)

    built = build_conversation_pairs(
        records_frame(chats),
        {},
        PreferenceConfig(),
        0.0,
        "You answer for Healthy Bites.",
        QuestionFacts(CATALOG),
        embed,
    )
    assert [p["chosen"][0]["content"] for p in built.pairs] == ["The Buddha Bowl."]
    assert sorted(embedded) == [
        "Which vegan meal do you suggest this week?",
        "Which vegan meal would you suggest this week?",
    ]


def test_an_agent_stepping_in_corrects_the_bot_and_a_liked_answer_is_never_rejected():
    turns = [
        ("user", "does the Tofu Scramble Bowl have any allergens?"),
        ("assistant", "I can only help with orders. Please call the store."),
        ("assistant", "The Tofu Scramble Bowl contains soy."),
        ("user", "how many calories is the tofu scramble bowl?"),
        ("assistant", "It has 410 calories."),
    ]
    disliked = _chat("chat-down", "down", turns, agent=[2])
    liked = _chat(
        "chat-up",
        "up",
        [("user", "how many calories is the tofu scramble bowl?"), ("assistant", "It has 410 calories.")],
    )
    built = _pairs([disliked, liked])
    assert [(p["pair_kind"], p["rejected"][0]["content"]) for p in built.pairs] == [
        ("agent_correction", "I can only help with orders. Please call the store.")
    ]
    assert built.pairs[0]["chosen"][0]["content"] == "The Tofu Scramble Bowl contains soy."
    assert built.not_paired["answer_also_rated_up"] == 1  # the calorie answer was fine
    assert sorted(row["label"] for row in built.kto) == [False, True]


def test_a_fact_changed_answer_changes_a_catalog_fact():
    dish = CATALOG.dishes[0]
    answer = f"The {dish.name} has {dish.calories} calories and costs {CATALOG.money(dish.price)}."
    changes = changed_answers(answer, CATALOG)
    assert changes and all(c != answer for c in changes)
    assert any(CATALOG.money(dish.price) not in c for c in changes)
    assert any(str(dish.calories) not in c for c in changes)
    assert any(dish.name not in c for c in changes)


def _planted(rows: list[dict]) -> pl.DataFrame:
    base = {"source": "chat", "synthetic": False, "split": "train", "pair_kind": "agent_correction"}
    return pl.DataFrame([base | r for r in rows], schema=PAIR_SCHEMA)


def _pair(
    pair_id: str, prompt_roles=("system", "user"), chosen="Yes, it is gluten free.", rejected="Call us.", **extra
):
    prompt = [{"role": role, "content": f"{role} says something"} for role in prompt_roles]
    return {
        "id": pair_id,
        "record_id": f"rec-{pair_id}",
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        **extra,
    }


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (_pair("same", chosen="Call us.", rejected="Call us."), "chosen_differs_from_rejected"),
        (_pair("empty", chosen="  "), "chosen_not_empty"),
        (_pair("ends-with-bot", prompt_roles=("system", "user", "assistant")), "prompt_ends_with_user"),
        (_pair("leak", chosen="Write to jane.roe@gmail.com for a refund."), "no_personal_data_in_pairs"),
    ],
)
def test_the_preference_suite_fails_a_planted_bad_pair(bad, rule):
    suites = gx_suites.default_suites_dir()
    suite = gx_suites.load_suite(suites / "preference.json")
    good = [_pair("good-1"), _pair("good-2", chosen="It has 410 calories.")]
    result = gx_suites.validate("preference", gx_suites.preference_batch(_planted(good), []), suite, {}, "fail")
    assert result.success
    result = gx_suites.validate(
        "preference", gx_suites.preference_batch(_planted([*good, bad]), []), suite, {}, "fail"
    )
    assert not result.success and result.failing_rows == {rule: [bad["id"]]}
    assert "jane.roe" not in str(result.result.to_json_dict())


def test_the_preference_suite_blocks_a_made_up_pair_in_eval_and_a_record_on_two_sides():
    suite = gx_suites.load_suite(gx_suites.default_suites_dir() / "preference.json")
    made_up = _pair("made-up", synthetic=True, split="eval", pair_kind="fact_changed")
    two_sides = [_pair("a", split="train"), _pair("b", split="eval")]
    two_sides[1]["record_id"] = two_sides[0]["record_id"]
    for rows in ([_pair("ok"), made_up], two_sides):
        result = gx_suites.validate("preference", gx_suites.preference_batch(_planted(rows), []), suite, {}, "fail")
        assert not result.success and result.blocking


REWARD = Path(__file__).parent / "data" / "realtext" / "taskmaster4_reward_sample.jsonl"


def _reward_records():
    """The real reward rows read by config mapping alone, as bench/preference_real.py maps them."""
    from etl.config import ChatSource
    from etl.stages.ingest.chats import read_chats
    from etl.stages.ingest.common import SourceMapping

    spec = ChatSource(
        path="reward.jsonl",
        columns={"messages": "context", "rated_turn": "generation", "feedback_rating": "reward"},
        values={
            "role": {"agent": "bot", "user": "customer", "api": "system"},
            "feedback_rating": {"1.0": "up", "0.0": "down"},
        },
        skip_messages_without_text=True,
    )
    return read_chats(REWARD, "reward.jsonl", SourceMapping("chats", spec))


def test_a_reward_file_rates_one_turn_and_is_read_by_mapping_alone():
    lines = [json.loads(line) for line in REWARD.read_text().splitlines()]
    result = _reward_records()
    assert result.quarantine == [] and len(result.records) == len(lines)  # one record a rated turn
    for line, record in zip(lines, result.records):
        generation = json.loads(line["generation"])
        judged = record["meta"]["judged_turn"]
        assert record["meta"]["thumbs"] == ("up" if line["reward"] == 1.0 else "down")
        if "text" in generation:  # the rated reply is the record's last turn, said by the business
            assert judged == len(record["turns"]) - 1
            assert record["turns"][judged] == {"role": "assistant", "text": generation["text"]}
        else:  # a rated API call: rated, but no reply to judge
            assert judged == -1
        # API calls and their results are left out; every turn has text
        assert all(t["text"] for t in record["turns"])


def test_real_ratings_of_one_context_pair_and_every_rated_reply_is_a_kto_row():
    read = _reward_records().records
    records = records_frame(read)
    built = _pairs(records.to_dicts())
    lines = [json.loads(line) for line in REWARD.read_text().splitlines()]
    replies = [r for r in lines if "text" in json.loads(r["generation"])]
    kto_ids = {row["id"] for row in built.kto}  # the stage keeps one row an id
    assert len(kto_ids) == len({(r["context"], json.loads(r["generation"])["text"], r["reward"]) for r in replies})
    assert built.not_paired["rated_turn_not_a_reply"] == len(lines) - len(replies)
    # the first context: one good reply, six bad ones (three the same words): each bad one pairs with the good
    contexts = {}
    for r in replies:
        contexts.setdefault(r["context"], []).append(r)
    first = next(iter(contexts.values()))
    good = next(json.loads(r["generation"])["text"] for r in first if r["reward"] == 1.0)
    bad = {json.loads(r["generation"])["text"] for r in first if r["reward"] == 0.0}
    bad_records = {record["record_id"] for line, record in zip(lines, read) if line in first and line["reward"] == 0.0}
    mine = [p for p in built.pairs if p["record_id"] in bad_records]
    assert {p["rejected"][0]["content"] for p in mine} == bad and {p["chosen"][0]["content"] for p in mine} == {good}
    assert all(p["pair_kind"] == "thumbs_contrast" for p in built.pairs)


def test_rated_turns_of_one_real_conversation_are_not_near_duplicates_of_each_other():
    """Taskmaster-4 rates several replies to one context: MinHash sees the shared context, not the
    rated answers; each rating is kept, only an exact copy (same context, same answer) goes."""
    from etl.config import DedupConfig
    from etl.stages.dedup import DedupStage

    records = records_frame(_reward_records().records)
    replies = records.filter(pl.col("meta").struct.field("judged_turn") >= 0)
    result = DedupStage(DedupConfig()).apply(replies, lambda n: None)
    texts = replies.select(
        "record_id", text=pl.col("turns").list.eval(pl.element().struct.field("text")).list.join("\n")
    )
    distinct = texts.unique("text").height
    assert result.kept.height == distinct and set(result.dropped["reason"]) <= {"exact_duplicate"}
    # without the reward-file rule the shared contexts would have merged them
    plain = replies.with_columns(pl.col("meta").struct.with_fields(pl.lit(None, dtype=pl.Int32).alias("judged_turn")))
    assert DedupStage(DedupConfig()).apply(plain, lambda n: None).kept.height < distinct


def test_etl_show_lists_the_pairs_per_kind_and_the_kto_balance(sample_run):
    from typer.testing import CliRunner

    from etl.cli import app

    result = CliRunner().invoke(app, ["show", sample_run.dataset, "--store", sample_run.store_dir])
    assert result.exit_code == 0, result.output
    pairs = sample_run.preference["pairs"]["agent_correction"]
    assert "preference pairs" in result.output and f"{pairs.get('train', 0)}" in result.output
    kto = sample_run.preference["kto"]
    assert f"kto rows: {kto['desirable']:,} desirable, {kto['undesirable']:,} undesirable" in result.output
