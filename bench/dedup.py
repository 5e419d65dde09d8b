"""Dedup benchmark: our MinHash LSH against rensa and datasketch, and the semantic stage.

    python bench/dedup.py [--texts 100000] [--planted 0.1] [--seed 7] [--semantic 4000] [--datasketch-runs 2]

Corpus: `--texts` texts of 25-70 words drawn from wordfreq's 30,000 most
frequent English words (Zipf-weighted, as words occur in real text), of which
a share `--planted` are near-duplicates of other texts in the corpus made by
light edits (one word replaced, dropped or inserted per 25 words, case and
punctuation changed). Template-generated customer text would be full of
accidental near-duplicates; this corpus keeps the truth clean.

Near-duplicate: word 3-gram shingles, 128 permutations, Jaccard threshold 0.7,
bands and rows solved from the threshold (etl/stages/dedup/minhash.py). Both
implementations get the same shingles (the same word 3-grams of the same
normalised text), the same affine32 permutations (a, b) and the same
(bands, rows); datasketch hashes shingle strings with its default SHA-1
hash, we hash words with our polynomial byte hash (minhash.py). Both verify LSH candidates against the
estimated Jaccard and cluster with the same connected components.
rensa (the Rust MinHash on the package index, full-set R-MinHash, its batch
sketching on every core and its own LSH index) gets the same shingle strings
and 128 permutations; its LSH needs a band count that divides 128, so it runs
16 bands of 8 rows, the nearest to our 20 x 6 (its S-curve's steepest point is
at 0.707). Its candidates are verified the same way (estimated Jaccard at or
above the threshold) and clustered with the same connected components. Its
shingles are built in Python (shingle_set), as a user of it would; the time
spent there is printed on its own.
Throughput counts everything from texts to clusters.

Truth: a planted pair whose exact 3-gram Jaccard is at or above the threshold
must end in one cluster (recall). Precision: the share of asserted pairs
(verified LSH pairs) whose exact Jaccard is at or above the threshold.

Semantic: user questions about the menu, in several phrasings each
(`--semantic` texts); texts/s of embedding plus blocked neighbour search, and
pair precision/recall against the phrasing groups, for a few thresholds.

Peak memory of our near-duplicate stage is measured in a child process that
runs only it (peak RSS, which includes the interpreter and libraries).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

THRESHOLD, NUM_PERM, SHINGLE = 0.7, 128, 3


def corpus(n: int, planted_share: float, seed: int) -> tuple[list[str], list[tuple[int, int]]]:
    from wordfreq import top_n_list, zipf_frequency

    rng = random.Random(seed)
    vocabulary = top_n_list("en", 30_000)
    weights = [10 ** zipf_frequency(w, "en") for w in vocabulary]
    n_planted = int(n * planted_share)
    texts = []
    for _ in range(n - n_planted):
        words = rng.choices(vocabulary, weights=weights, k=rng.randint(25, 70))
        texts.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ""]))
    pairs = []
    for _ in range(n_planted):
        original = rng.randrange(len(texts))
        pairs.append((original, len(texts)))
        texts.append(light_edit(texts[original], rng, vocabulary))
    return texts, pairs


def light_edit(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 25)):
        i = rng.randrange(len(words))
        kind = rng.randrange(3)
        if kind == 0:
            words[i] = rng.choice(vocabulary[:3000])
        elif kind == 1 and len(words) > 10:
            del words[i]
        else:
            words.insert(i, rng.choice(vocabulary[:3000]))
    edited = " ".join(words)
    return edited.upper() if rng.random() < 0.1 else edited + rng.choice(["", "!!", " :)", "."])


def shingle_set(text: str) -> set[str]:
    words = re.sub(r"[^\w]+", " ", text.lower()).split()
    if len(words) < SHINGLE:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = shingle_set(a), shingle_set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def ours(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from etl.stages.dedup.minhash import MinHashLSH
    from etl.text.clusters import components

    minhash = MinHashLSH(THRESHOLD, NUM_PERM, SHINGLE, "word", seed=42)
    sig = minhash.signatures(pl.Series(texts))
    pairs, _ = minhash.similar_pairs(sig)
    return pairs, components(len(texts), pairs)


def with_datasketch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash
    from datasketch import MinHashLSH as DatasketchLSH

    from etl.stages.dedup.minhash import optimal_bands, permutations
    from etl.text.clusters import components

    a, b = permutations(NUM_PERM, 42)
    index = DatasketchLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=optimal_bands(THRESHOLD, NUM_PERM))
    sketches = []
    for position, text in enumerate(texts):
        sketch = MinHash(num_perm=NUM_PERM, permutations=(a, b), scheme="affine32")
        sketch.update_batch([s.encode() for s in shingle_set(text)])
        index.insert(position, sketch)
        sketches.append(sketch)
    pairs = []
    for position, sketch in enumerate(sketches):
        for other in index.query(sketch):
            if other > position and sketch.jaccard(sketches[other]) >= THRESHOLD:
                pairs.append((position, other))
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs, components(len(texts), pairs)


RENSA_BANDS = 16  # rensa's LSH takes only band counts that divide num_perm


def with_rensa(texts: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """Pairs, clusters and the seconds spent building shingles in Python."""
    from rensa import RMinHash, RMinHashLSH

    from etl.text.clusters import components

    clock = time.perf_counter()
    shingles = [list(shingle_set(text)) for text in texts]
    shingling = time.perf_counter() - clock
    sketches = RMinHash.from_token_sets(shingles, NUM_PERM, 42)
    index = RMinHashLSH(THRESHOLD, NUM_PERM, RENSA_BANDS)
    index.insert_pairs(list(enumerate(sketches)))
    pairs = [
        (position, other)
        for position, candidates in enumerate(index.query_all(sketches))
        for other in candidates
        if other > position and sketches[position].jaccard(sketches[other]) >= THRESHOLD
    ]
    pairs = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return pairs, components(len(texts), pairs), shingling


def quality(texts, planted, pairs, labels) -> tuple[float, float, int]:
    truth = [(i, j) for i, j in planted if jaccard(texts[i], texts[j]) >= THRESHOLD]
    recall = sum(labels[i] == labels[j] for i, j in truth) / len(truth) if truth else float("nan")
    sample = (
        pairs if len(pairs) <= 20_000 else pairs[np.random.default_rng(0).choice(len(pairs), 20_000, replace=False)]
    )
    precision = (
        float(np.mean([jaccard(texts[i], texts[j]) >= THRESHOLD for i, j in sample])) if len(sample) else float("nan")
    )
    return precision, recall, len(truth)


def _peak_child(texts: list[str], queue) -> None:
    clock = time.perf_counter()
    ours(texts)
    queue.put((time.perf_counter() - clock, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def peak_memory_of_ours(texts: list[str]) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_child, args=(texts, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


PHRASINGS = [
    ["What's in the {d}?", "What are the ingredients of the {d}?", "what comes in the {d}", "whats in the {d}??"],
    [
        "How many calories are in the {d}?",
        "how many calories does the {d} have",
        "What's the calorie count of the {d}?",
    ],
    ["How much is the {d}?", "What does the {d} cost?", "price of the {d}?", "how much does the {d} cost"],
    ["Does the {d} have any allergens?", "what allergens are in the {d}", "Is the {d} safe for food allergies?"],
]


def semantic_benchmark(n: int, seed: int) -> None:
    from etl.catalog import load_catalog
    from etl.config import SemanticConfig
    from etl.embeddings import Embedder
    from etl.stages.dedup.semantic import neighbour_pairs, rephrasing_labels
    from etl.text.clusters import components
    from etl.text.question_facts import QuestionFacts

    embed = Embedder()

    rng = random.Random(seed)
    catalog = load_catalog(ROOT / "sample_data" / "menu.yaml", ROOT / "sample_data" / "stores.yaml")
    dishes, facts = [d.name for d in catalog.dishes], QuestionFacts(catalog)
    texts, groups = [], []
    while len(texts) < n:
        dish, kind = rng.randrange(len(dishes)), rng.randrange(len(PHRASINGS))
        phrasing = rng.choice(PHRASINGS[kind])
        text = phrasing.format(d=dishes[dish] if rng.random() < 0.7 else dishes[dish].lower())
        texts.append(text)
        groups.append((dish, kind))
    config = SemanticConfig()
    embed(texts[:8], config.model, config.batch_size)  # load the model before the clock starts
    clock = time.perf_counter()
    vectors = embed(texts, config.model, config.batch_size)
    embed_seconds = time.perf_counter() - clock
    print(f"\nsemantic: {n:,} menu questions in {len(dishes) * len(PHRASINGS)} phrasing groups (dish x question kind)")
    groups = np.array([g[0] * 10 + g[1] for g in groups])
    for threshold in (0.85, 0.90, 0.93, 0.95):
        clock = time.perf_counter()
        pairs = neighbour_pairs(vectors, threshold, config.block_size)
        labels = components(n, pairs)
        seconds = embed_seconds + time.perf_counter() - clock
        same_truth = groups[pairs[:, 0]] == groups[pairs[:, 1]] if len(pairs) else np.array([])
        precision = float(same_truth.mean()) if len(pairs) else float("nan")
        # recall over all truth pairs, counted per group from cluster co-membership
        co_precision, recall = _co_membership(groups, labels)
        print(
            f"  threshold {threshold:.2f}{' (default)' if threshold == config.threshold else ''}: {n / seconds:,.0f} texts/s, "
            f"pair precision {precision:.3f}, cluster-pair precision {co_precision:.3f}, pair recall {recall:.3f}"
        )
        # what the stage does: pairs whose questions state different facts are no rephrasings
        clock = time.perf_counter()
        labels = rephrasing_labels(texts, pairs, facts)
        seconds += time.perf_counter() - clock
        co_precision, recall = _co_membership(groups, labels)
        print(
            f"    with question facts: {n / seconds:,.0f} texts/s, cluster-pair precision {co_precision:.3f}, "
            f"pair recall {recall:.3f}"
        )


def _co_membership(groups: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Of the pairs sharing a cluster, the share from one phrasing group (precision); of the
    pairs sharing a phrasing group, the share in one cluster (recall)."""
    frame = pl.DataFrame({"g": groups, "c": labels})

    def pairs_within(*keys: str) -> float:
        return frame.group_by(*keys).len().select((pl.col("len") * (pl.col("len") - 1) / 2).sum()).item()

    found = pairs_within("g", "c")
    return found / max(pairs_within("c"), 1), found / pairs_within("g")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--planted", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--semantic", type=int, default=4000)
    parser.add_argument("--datasketch-runs", type=int, default=2, help="0 leaves datasketch out (it is the slow one)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    texts, planted = corpus(args.texts, args.planted, args.seed)
    print(
        f"machine: {os.cpu_count()} cores; corpus: {len(texts):,} texts, {len(planted):,} planted near-duplicates, "
        f"mean {np.mean([len(t.split()) for t in texts]):.0f} words"
    )
    from etl.stages.dedup.minhash import optimal_bands

    print(
        f"word {SHINGLE}-grams, {NUM_PERM} permutations, threshold {THRESHOLD}, (bands, rows) = {optimal_bands(THRESHOLD, NUM_PERM)}"
    )

    ours(texts[:1000])  # imports
    with_rensa(texts[:1000])
    our_runs, rensa_runs, ds_runs = [], [], []
    for _ in range(3):
        clock = time.perf_counter()
        our_pairs, our_labels = ours(texts)
        our_runs.append(time.perf_counter() - clock)
    for _ in range(3):
        clock = time.perf_counter()
        rensa_pairs, rensa_labels, rensa_shingling = with_rensa(texts)
        rensa_runs.append(time.perf_counter() - clock)
    for _ in range(args.datasketch_runs):
        clock = time.perf_counter()
        ds_pairs, ds_labels = with_datasketch(texts)
        ds_runs.append(time.perf_counter() - clock)
    our_seconds, rensa_seconds = min(our_runs), min(rensa_runs)
    print(
        f"runs (s): ours {', '.join(f'{t:.2f}' for t in our_runs)}; rensa {', '.join(f'{t:.2f}' for t in rensa_runs)} "
        f"(of which its Python shingles {rensa_shingling:.2f} in the last); "
        f"datasketch {', '.join(f'{t:.2f}' for t in ds_runs) or 'not run'}; the best of each is used"
    )
    results = [
        ("ours", our_pairs, our_labels, our_seconds),
        (f"rensa {RENSA_BANDS}x{NUM_PERM // RENSA_BANDS}", rensa_pairs, rensa_labels, rensa_seconds),
    ]
    if ds_runs:
        results.append(("datasketch", ds_pairs, ds_labels, min(ds_runs)))
    for name, pairs, labels, seconds in results:
        precision, recall, truth = quality(texts, planted, pairs, labels)
        print(
            f"{name:<11} {len(texts) / seconds:>10,.0f} texts/s ({seconds:.2f} s)  pairs {len(pairs):,}  precision {precision:.3f}  "
            f"recall {recall:.3f} (of {truth:,} planted pairs with Jaccard >= {THRESHOLD})"
        )
    print(f"ratio ours/rensa: {rensa_seconds / our_seconds:.2f}x best-of (goal >= 2x)")
    if ds_runs:
        print(
            f"ratio ours/datasketch: {min(ds_runs) / our_seconds:.2f}x best-of (first runs: {ds_runs[0] / our_runs[0]:.2f}x) (goal >= 10x)"
        )
    seconds, peak = peak_memory_of_ours(texts)
    print(
        f"our near-duplicate stage alone, in a fresh process: {seconds:.2f} s, peak RSS {peak:,.0f} MiB (goal < 2048 MiB)"
    )
    if args.semantic:
        semantic_benchmark(args.semantic, args.seed)


if __name__ == "__main__":
    main()
