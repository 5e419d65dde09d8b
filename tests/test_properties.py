"""Property tests (hypothesis) for the dedup and split invariants, against plain-Python oracles."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.config import DedupConfig
from etl.example import EXAMPLE_SCHEMA
from etl.records import make_record, records_frame
from etl.stages.dedup import DedupStage
from etl.stages.split import assign_splits
from etl.text.clusters import components
from etl.text.normalise import normalise

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = ["bowl", "Keto", "salmon", "late", "order", "refund", "great", "cold", "!", "  "]


def union_find_labels(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return [find(x) for x in range(n)]


@SETTINGS
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    )
)
def test_components_match_union_find(case):
    n, pairs = case
    labels = components(n, np.array(pairs, dtype=np.int64).reshape(-1, 2))
    oracle = union_find_labels(n, pairs)
    for i in range(n):
        for j in range(n):
            assert (labels[i] == labels[j]) == (oracle[i] == oracle[j])


@SETTINGS
@given(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join), min_size=1, max_size=25))
def test_exact_dedup_keeps_one_record_per_normalised_text(texts):
    frame = records_frame(
        [
            make_record("review", "r.csv", i + 2, f"R{i}", [{"role": "user", "text": t}], {"rating": 3})
            for i, t in enumerate(texts)
        ]
    )
    result = DedupStage(DedupConfig(near=False)).apply(frame, lambda n: None)
    groups: dict[str, list[str]] = {}
    for rid, text in zip(frame["record_id"], normalise(pl.Series(texts)).to_list()):
        groups.setdefault(text, []).append(rid)
    assert result.kept.height + result.dropped.height == frame.height
    assert result.kept.height == len(groups)
    kept = set(result.kept["record_id"])
    assert all(len(kept & set(ids)) == 1 for ids in groups.values())
    assert set(result.dropped["reason"]) <= {"exact_duplicate"}


example_rows = st.lists(
    st.tuples(st.integers(0, 12), st.sampled_from(["menu_qa", "review_sentiment", "policy_qa"]), st.integers(0, 8)),
    min_size=1,
    max_size=40,
)


@SETTINGS
@given(
    example_rows,
    st.integers(0, 5),
    st.dictionaries(st.integers(0, 12).map(lambda r: f"rec{r}"), st.sampled_from(["train", "eval"]), max_size=5),
)
def test_split_keeps_records_and_clusters_on_one_side_and_remembers_earlier_sides(rows, seed, known):
    examples = pl.DataFrame(
        [
            {
                **{k: None for k in EXAMPLE_SCHEMA},
                "id": f"ex{i}",
                "task": task,
                "record_id": f"rec{record}",
                "dup_cluster": f"c{cluster}",
                "source": "review",
            }
            for i, (record, task, cluster) in enumerate(rows)
        ],
        schema=EXAMPLE_SCHEMA,
    )
    split, leaking, _ = assign_splits(examples, 0.3, seed, known)
    assert split.height == examples.height and set(split["split"]) <= {"train", "eval"}
    kept = split.filter(~pl.col("id").is_in(leaking.implode()))
    sides_of_record: dict[str, set[str]] = {}
    sides_of_cluster: dict[str, set[str]] = {}
    for row in split.iter_rows(named=True):
        sides_of_record.setdefault(row["record_id"], set()).add(row["split"])
    for row in kept.iter_rows(named=True):
        sides_of_cluster.setdefault(row["dup_cluster"], set()).add(row["split"])
    assert all(len(sides) == 1 for sides in sides_of_record.values())  # a record is on one side
    assert all(len(sides) == 1 for sides in sides_of_cluster.values())  # no rephrasing crosses sides
    for record, side in known.items():
        assert sides_of_record.get(record, {side}) == {side}  # an earlier record keeps its side
