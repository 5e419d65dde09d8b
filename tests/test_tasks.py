"""Task builders and the split, checked on every example the sample run published."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from etl.catalog import Constraint, load_catalog, needs_in
from etl.example import EXAMPLE_SCHEMA
from etl.stages.split import assign_splits
from etl.stages.tasks.review_sentiment import label_for
from etl.store import Store
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def published(sample_run) -> pl.DataFrame:
    store = Store(sample_run.store_dir, sample_run.dataset)
    return store.examples("latest")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")


def test_every_task_is_published_with_both_splits(published):
    counts = published.group_by("task", "split").len()
    assert set(counts["task"]) == {
        "menu_qa",
        "recommendation",
        "order_support",
        "review_sentiment",
        "policy_qa",
        "customer_service",
    }
    for task in counts["task"].unique():
        assert set(counts.filter(pl.col("task") == task)["split"]) == {"train", "eval"}


def test_every_recommendation_names_a_catalog_dish_that_fits_its_constraints(published, catalog):
    recommendations = published.filter(pl.col("task") == "recommendation")
    assert recommendations.height >= 50
    for row in recommendations.iter_rows(named=True):
        constraints = [Constraint.parse(c) for c in row["constraints"]]
        assert constraints, row["id"]
        if row["dish"] is None:  # a synthesised honest "none of our meals fits"
            assert row["source"] == "catalog" and "none of our meals" in row["messages"][-1]["content"]
            assert not any(catalog.fits(d, constraints) for d in catalog.dishes), row["constraints"]
            continue
        dish = catalog.by_name[row["dish"].lower()]
        assert catalog.fits(dish, constraints), (row["dish"], row["constraints"])
        user, answer = row["messages"][-2]["content"], row["messages"][-1]["content"]
        assert dish.name in answer
        # the constraints are the ones the customer stated
        assert set(needs_in(user)) >= set(constraints) or row["source"] == "review"


def test_messages_are_chat_format(published):
    for messages in published["messages"].to_list():
        roles = [m["role"] for m in messages]
        assert roles[0] == "system" and roles[1] == "user" and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles[1:], roles[2:])), roles  # alternating
        assert all(m["content"].strip() for m in messages)


def test_review_sentiment_labels_follow_the_rating_rule(sample_run, published):
    reviews = pl.read_parquet(Path(sample_run.run_dir) / "stages" / "02_clean.parquet").filter(
        pl.col("source") == "review"
    )
    ratings = dict(zip(reviews["record_id"], reviews["meta"].struct.field("rating")))
    sentiment = published.filter(pl.col("task") == "review_sentiment")
    # every review that survives dedup gives one example
    deduplicated = pl.read_parquet(next((Path(sample_run.run_dir) / "stages").glob("*_dedup.parquet"))).filter(
        pl.col("source") == "review"
    )
    assert sentiment.height == deduplicated.height
    for record_id, label in zip(sentiment["record_id"], sentiment["label"]):
        assert label == label_for(ratings[record_id])
    assert set(sentiment["label"]) == {"positive", "neutral", "negative"}
    assert [label_for(r) for r in (1, 2, 3, 4, 5)] == ["negative", "negative", "neutral", "positive", "positive"]


def test_conversations_rated_down_are_set_aside_not_published(sample_run, published):
    set_aside = pl.read_parquet(Path(sample_run.run_dir) / "set_aside" / "feedback_down.parquet")
    assert set_aside.height > 0
    assert (set_aside["meta"].struct.field("thumbs") == "down").all()
    assert published.filter(pl.col("record_id").is_in(set_aside["record_id"].implode())).height == 0


def test_no_cluster_spans_train_and_eval(published):
    spans = published.group_by("dup_cluster").agg(pl.col("split").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert spans.height == 0


def frame_with_clusters(clusters: list[str], task: str = "menu_qa") -> pl.DataFrame:
    """One example per record; records of one cluster are rephrasings of each other."""
    rows = [
        {
            **{k: None for k in EXAMPLE_SCHEMA},
            "id": f"e{i}",
            "task": task,
            "record_id": f"r{i}",
            "dup_cluster": c,
            "messages": [],
        }
        for i, c in enumerate(clusters)
    ]
    return pl.DataFrame(rows, schema=EXAMPLE_SCHEMA)


def test_split_is_seeded_deterministic_and_keeps_clusters_together():
    clusters = [f"c{i // 3}" for i in range(3000)]  # 1,000 clusters of three examples
    first, _, _ = assign_splits(frame_with_clusters(clusters), eval_share=0.2, seed=1)
    again, _, _ = assign_splits(frame_with_clusters(clusters), eval_share=0.2, seed=1)
    other, _, _ = assign_splits(frame_with_clusters(clusters), eval_share=0.2, seed=2)
    assert first["split"].to_list() == again["split"].to_list()
    assert first["split"].to_list() != other["split"].to_list()
    assert first.group_by("dup_cluster").agg(pl.col("split").n_unique()).filter(pl.col("split") > 1).height == 0
    share = (first["split"] == "eval").mean()
    assert abs(share - 0.2) <= 0.002  # placed by quota: within one cluster of the target


def test_tiny_task_gets_one_cluster_in_each_split():
    split, _, _ = assign_splits(frame_with_clusters(["a", "b", "c"]), eval_share=0.01, seed=3)
    assert set(split["split"]) == {"train", "eval"}


def test_records_placed_earlier_keep_their_side_and_new_rephrasings_of_eval_are_dropped():
    frame = frame_with_clusters(["a", "b", "c", "c"])  # r2 and r3 are rephrasings; r2 was in eval
    known = {"r0": "train", "r1": "eval", "r2": "eval"}
    split, leaking, notes = assign_splits(frame, eval_share=0.5, seed=1, known=known)
    assert split["split"].to_list()[:3] == ["train", "eval", "eval"]
    # r3 is new: whichever side the quota gives it, it never sits on the other side of its rephrasing
    side = split["split"][3]
    assert leaking.to_list() == ([] if side == "eval" else ["e3"])
    assert notes["records_remembered"] == 3 and notes["new_units"] == 1


def test_conversations_are_routed_by_what_the_customer_is_about():
    from etl.stages.tasks.intents import conversation_intent

    assert conversation_intent(["Hi, what is the address of the restaurant?"]) == "store_info"
    assert conversation_intent(["Can I get the address of the restaurant on Peachtree?"]) == "store_info"
    assert conversation_intent(["Can I get an mocha for Jean?"]) == "order"  # no "order" keyword, still an order
    assert conversation_intent(["One latte please."]) == "order"
    assert conversation_intent(["where is my order? it's HB-336575"]) == "order"
    assert conversation_intent(["please change the delivery address on my order"]) == "order"
    assert conversation_intent(["What kinds of herbal tea do you have?"]) == "service"


def test_every_sample_conversation_becomes_one_multi_turn_example(published, sample_run):
    """Each chat and call the business answered is one order_support or customer_service example."""
    conversations = published.filter(
        pl.col("task").is_in(["order_support", "customer_service"]) & pl.col("parent_id").is_null()
    )  # originals: a variant (augment) is a second example of the same conversation
    assert conversations.group_by("record_id").len()["len"].max() == 1
    assert all(
        m[-1]["role"] == "assistant" and sum(x["role"] == "user" for x in m) >= 1
        for m in conversations["messages"].to_list()
    )


def review_and_faq(question: str) -> pl.DataFrame:
    """Two records: a two-word one-star review, and an FAQ asking `question` about the Keto Salmon Caesar."""
    from etl.records import make_record, records_frame

    turns = [
        {"role": "user", "text": question},
        {"role": "assistant", "text": "The Keto Salmon Caesar has 9 g of net carbs."},
    ]
    return records_frame(
        [
            make_record("review", "r.csv", 2, "R1", [{"role": "user", "text": "Terrible service!"}], {"rating": 1}),
            make_record("faq", "faqs.md", 3, "F1", turns, {}),
        ]
    )


def test_each_task_has_its_own_minimum_length(catalog):
    """A two-word review with a clear rating is a sentiment example; a one-word question teaches
    no menu answer and its record is dropped with the reason too_short_for_task."""
    from etl.config import FormatConfig
    from etl.stages.format import FormatStage

    records = review_and_faq("Keto?")
    result = FormatStage(FormatConfig(), catalog).apply(records, lambda n: None)
    assert result.kept.filter(pl.col("task") == "review_sentiment")["label"].to_list() == ["negative"]
    assert result.dropped["reason"].to_list() == ["too_short_for_task"]
    assert result.counts["too_short_for_task"] == 1


def test_each_task_can_have_its_own_system_prompt_and_the_version_records_them(catalog, sample_run, published):
    """format.prompts (issue 38's prompt library): menu_qa speaks with its own prompt, the other
    tasks keep system_prompt; the manifest and the dataset card name each task's prompt."""
    from etl.config import ConfigError, FormatConfig, load_config
    from etl.stages.format import FormatStage

    config = FormatConfig(prompts={"menu_qa": "You answer menu questions for {business} from the catalog only."})
    records = review_and_faq("How many carbs in the Keto Salmon Caesar?")
    kept = FormatStage(config, catalog).apply(records, lambda n: None).kept
    first = {t: m[0]["content"] for t, m in zip(kept["task"], kept["messages"].to_list())}
    assert first["menu_qa"] == f"You answer menu questions for {catalog.business} from the catalog only."
    assert first["review_sentiment"] == FormatConfig().system_prompt.format(business=catalog.business)

    store = Store(sample_run.store_dir, sample_run.dataset)
    prompts = store.manifest("latest")["prompts"]
    # the sample, as a company would: every task its own prompt, in the business's voice
    assert set(prompts) == set(published["task"]) and len(set(prompts.values())) == len(prompts)
    assert all(catalog.business in prompt for prompt in prompts.values())
    card = (store.dir / store.resolve("latest") / "README.md").read_text()
    assert "## Prompts" in card and f"- `menu_qa`: {prompts['menu_qa']}" in card

    text = (SAMPLE / "pipeline.yaml").read_text() + "\nformat:\n  prompts:\n    haiku: Write a haiku.\n"
    bad = Path(sample_run.store_dir).parent / "bad_prompts.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(bad)
    assert "format.prompts" in str(error.value) and "haiku" in str(error.value)
