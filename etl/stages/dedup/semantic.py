"""Semantic dedup of examples: rephrasings of one customer question ("what's in the
Paleo Power Bowl?" / "what are the ingredients of the Paleo Power Bowl") found
with sentence embeddings, so that they do not flood a task.

Per task (`dedup.semantic.tasks`: the single-question tasks menu_qa,
policy_qa and recommendation), the last user message of every example is embedded
(sentence-transformers; by default the packaged all-MiniLM-L6-v2 copy, on the
GPU when there is one). Neighbours are searched without an all-pairs matrix
over the corpus, as SemDeDup does: k-means splits the embeddings into blocks
of about `block_size`, and only pairs inside a block are compared (cosine of
normalised vectors). Pairs at or above the threshold are edges unless the two
questions state different facts (etl/text/question_facts.py: "a vegan meal" and "a
vegetarian meal" score 0.909); connected components are clusters of rephrasings,
split where members still conflict. Every example of a cluster gets one
`dup_cluster`, the smallest of its kept members' (so the split keeps them together), and at most
`keep_per_cluster` of them are kept, preferring examples the latest
version published (so new data never displaces them), then FAQ and catalog answers (the
business's own words), then chats, calls and reviews, then the smallest id.
The others are dropped with the reason `semantic_duplicate`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from etl.config import SemanticConfig
from etl.embeddings import Embedder
from etl.stages.base import Filter, Progress, Rule
from etl.text.clusters import components
from etl.text.question_facts import QuestionFacts, consistent_pairs, split_conflicting

SOURCE_PRIORITY = {"faq": 0, "catalog": 1, "chat": 2, "call": 3, "review": 4}


def neighbour_pairs(vectors: np.ndarray, threshold: float, block_size: int, seed: int = 0) -> np.ndarray:
    """(k, 2) pairs with cosine >= threshold, compared only within k-means blocks."""
    n = len(vectors)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    n_blocks = max(1, n // block_size)
    if n_blocks == 1:
        blocks = np.zeros(n, dtype=np.int64)
    else:
        from sklearn.cluster import MiniBatchKMeans

        blocks = MiniBatchKMeans(n_clusters=n_blocks, random_state=seed, n_init=3, batch_size=4096).fit_predict(
            vectors
        )
    pairs = []
    for block in np.unique(blocks):
        members = np.flatnonzero(blocks == block)
        if len(members) < 2:
            continue
        similarity = vectors[members] @ vectors[members].T
        left, right = np.nonzero(np.triu(similarity >= threshold, k=1))
        pairs.append(np.column_stack([members[left], members[right]]))
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)


def semantic_labels(texts: list[str], config: SemanticConfig, embedder: Embedder, facts=None) -> np.ndarray:
    """Cluster labels of rephrasings, the texts embedded by the run's `embedder`.
    With `facts` (a QuestionFacts), questions that state different facts are never grouped."""
    vectors = embedder(texts, config.model, config.batch_size, config.precision)
    pairs = neighbour_pairs(vectors, config.threshold, config.block_size)
    return components(len(texts), pairs) if facts is None else rephrasing_labels(texts, pairs, facts)


def rephrasing_labels(texts: list[str], pairs: np.ndarray, facts) -> np.ndarray:
    """Connected components of the neighbour pairs whose questions state no conflicting facts,
    split where members still conflict."""
    stated = [frozenset()] * len(texts)
    for i in np.unique(pairs).tolist():  # only questions with a neighbour need their facts read
        stated[i] = facts.of(texts[i])
    return split_conflicting(components(len(texts), consistent_pairs(pairs, stated)), stated)


class SemanticDedupStage(Filter):
    name = "semantic"
    unit = "examples"
    id_column = "id"

    def __init__(
        self,
        config: SemanticConfig,
        published_ids: set[str] | None = None,
        embedder: Embedder | None = None,
        catalog=None,
    ) -> None:
        self.config, self.embedder = config, embedder or Embedder()  # the run's, from the registry
        self.facts = QuestionFacts(catalog) if catalog is not None else None
        # ids of the examples the latest version holds: kept first, so new rephrasings
        # never displace published examples (and a rerun is a fixed point)
        self.published_ids = published_ids or set()

    def total_work(self, df: pl.DataFrame) -> int:
        return max(df["task"].n_unique(), 1)

    def transform(self, df: pl.DataFrame, progress: Progress) -> pl.DataFrame:
        """The examples with their rephrasing cluster, its size and whether they are among the kept members."""
        parts = []
        for (task,), part in df.group_by(["task"], maintain_order=True):
            if task not in self.config.tasks:
                parts.append(part.with_columns(pl.col("id").alias("semantic")))  # every example its own cluster
                progress(1)
                continue
            questions = (
                part["messages"]
                .list.eval(pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content"))
                .list.last()
                .fill_null("")
            )
            labels = semantic_labels(questions.to_list(), self.config, self.embedder, self.facts)
            parts.append(
                part.with_columns(pl.Series("semantic", [f"{task}:{label}" for label in labels], dtype=pl.Utf8))
            )
            progress(1)
        labelled = pl.concat(parts) if parts else df.with_columns(pl.lit(None, dtype=pl.Utf8).alias("semantic"))
        ranked = labelled.with_columns(
            (~pl.col("id").is_in(list(self.published_ids))).alias("new"),
            pl.col("source").replace_strict(SOURCE_PRIORITY, default=9, return_dtype=pl.Int32).alias("priority"),
        ).sort("semantic", "new", "priority", "id")
        ranked = ranked.with_columns(
            pl.int_range(pl.len()).over("semantic").alias("rank"), pl.len().over("semantic").alias("cluster_size")
        )
        ranked = ranked.with_columns((pl.col("rank") < self.config.keep_per_cluster).alias("keep"))
        # one dup_cluster per cluster of rephrasings: the smallest of its *kept* members'
        # clusters (a dropped member's id would tie unrelated records together in the split)
        ranked = ranked.with_columns(
            pl.when("keep").then(pl.col("dup_cluster")).min().over("semantic").alias("dup_cluster")
        )
        return ranked.sort("task", "id")

    def compute_stats(self, rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select("id", "semantic", "cluster_size", "keep")

    def rules(self) -> list[Rule]:
        return [Rule(~pl.col("keep"), "semantic_duplicate", pl.format("cluster_size={}", "cluster_size"))]

    def counts(self, stats: pl.DataFrame) -> dict[str, int]:
        return {"examples_in_rephrasing_clusters": int((stats["cluster_size"] > 1).sum())}
