"""MinHash with LSH banding, vectorised over whole batches in numpy and polars.

Shingles
    Texts are lower-cased and cut into words (runs of letters and digits) and
    word n-grams (or byte n-grams). Each word gets a stable 32-bit polynomial
    hash of its UTF-8 bytes, computed for all words at once by Horner's rule,
    one byte position at a time (word_hashes_and_docs), and an n-gram's hash combines its words' hashes
    polynomially mod 2**32, so signatures stored with one version compare with
    those of the next on any machine (no process-seeded hashing anywhere).

MinHash
    num_perm affine permutations of the 32-bit hash space,

        pi_i(x) = (a_i * x + b_i) mod 2**32,   a_i odd, b_i any, from a seeded generator

    (an odd a_i makes pi_i a bijection: a collision would need 2**32 to divide
    a_i * (x - y), and an odd a_i contributes no factor of two). This is
    datasketch's default "affine32" scheme, so the benchmark can hand both
    implementations the very same permutations. numpy's uint32 arithmetic
    wraps modulo 2**32, so the whole (shingles x num_perm) block is two array
    operations. sig_i(A) = min over A's shingles of pi_i(x), and
    P[sig_i(A) == sig_i(B)] ~ J(A, B), the Jaccard similarity.

LSH banding
    The signature is cut into b bands of r rows (b * r <= num_perm). Two texts
    become candidates when all r rows of at least one band agree:

        P(candidate | J = s) = 1 - (1 - s**r)**b

    an S-curve whose steepest point is near (1/b)**(1/r) (Leskovec, Rajaraman and
    Ullman, Mining of Massive Datasets, ch. 3.4). For a threshold t we
    pick (b, r) minimising the weighted error areas (datasketch's
    `_optimal_param`, which text-dedup reuses), weighting misses far more than false candidates (0.9 / 0.1),
    since every candidate is verified afterwards and a miss is lost for good
    (at t = 0.7 and 128 permutations: b = 20, r = 6, so P = 0.92 at J = 0.7,
    0.98 at 0.75 and 0.27 at 0.5):

        false positives  FP(b, r) = integral_0^t     P(s) ds
        false negatives  FN(b, r) = integral_t^1 1 - P(s) ds
        (b, r) = argmin  w_fp * FP + w_fn * FN      over b * r <= num_perm

    Candidates are then verified: a pair is kept only when the share of equal
    signature rows (the estimate of J) reaches t.

Clusters
    Verified pairs are edges; clusters are the connected components of that
    graph (scipy's union-find based connected_components).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from etl.stages.base import HERE, Parallel
from etl.text.normalise import normalise

MAX32 = np.uint64(0xFFFFFFFF)
POLY = np.uint64(1_000_003)
MAX_WORD_BYTES = 32
SHINGLE_CHUNK = 65_536  # shingles per block of the (num_perm x shingles) matrix: 32 MB of uint32 at 128 perms
TEXTS_PER_TASK = 4_096  # texts a thread shingles and signs at a time (about 200,000 word shingles of reviews)


@lru_cache(maxsize=16)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and false negative areas."""
    best, best_error = (1, num_perm), float("inf")
    grid_low, grid_high = np.linspace(0.0, threshold, 200), np.linspace(threshold, 1.0, 200)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(1 - (1 - grid_low**rows) ** bands, grid_low)
            fn = np.trapezoid((1 - grid_high**rows) ** bands, grid_high)
            error = fp_weight * fp + fn_weight * fn
            if error < best_error:
                best, best_error = (bands, rows), error
    return best


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the affine32 permutations: a odd, both uint32."""
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 1 << 31, size=num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
    b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def word_hashes_and_docs(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every word, index of its text), in order, computed on the UTF-8 bytes.

    Words are runs of ASCII letters and digits and of non-ASCII bytes (letters
    outside ASCII), after lower-casing. A word's hash is the polynomial

        h(w) = sum_k w_k * P**(len(w) - 1 - k)   mod 2**32

    over its bytes (the first MAX_WORD_BYTES of them; a longer word's hash also
    takes in its length), evaluated for all words at once by Horner's rule:
    h <- h * P + byte, one byte position at a time over the words still that
    long. Nothing is seeded per process, so the same word hashes the same on
    every machine and in every version (HASH_SCHEME in index.py names this).
    """
    cleaned = texts.fill_null("").str.to_lowercase().str.replace_all("\x00", " ", literal=True)
    joined = cleaned.str.join("\x00").item() if len(cleaned) else ""
    data = np.frombuffer(joined.encode(), dtype=np.uint8)
    if data.size == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    is_word = (data >= 128) | ((data >= 48) & (data <= 57)) | ((data >= 97) & (data <= 122))
    starts = np.flatnonzero(is_word & ~np.r_[False, is_word[:-1]])
    ends = np.flatnonzero(is_word & ~np.r_[is_word[1:], False]) + 1
    doc = np.searchsorted(np.flatnonzero(data == 0), starts)  # separators before each word
    # Horner's rule, one byte position at a time. With the words sorted longest
    # first (a radix sort on the uint8 length), the words still that long are a
    # prefix of the array at every step: in-place work on slices of one array,
    # no temporaries the size of the corpus.
    lengths = np.minimum(ends - starts, MAX_WORD_BYTES).astype(np.uint8)
    order = np.argsort(MAX_WORD_BYTES - lengths, kind="stable")
    sorted_starts = starts[order]
    longer_than = np.bincount(lengths, minlength=MAX_WORD_BYTES + 1)[::-1].cumsum()[::-1]  # words with length >= k
    sorted_hashes = np.zeros(len(starts), dtype=np.uint64)
    byte = np.empty(len(starts), dtype=np.uint8)
    for position in range(int(lengths.max()) if len(lengths) else 0):
        n = int(longer_than[position + 1])  # words with more than `position` bytes
        head = sorted_hashes[:n]
        np.take(data, sorted_starts[:n] + position, out=byte[:n])
        head *= POLY
        head += byte[:n]  # uint8 widens to uint64
        head &= MAX32
    hashes = np.empty_like(sorted_hashes)
    hashes[order] = sorted_hashes
    # a word cut at MAX_WORD_BYTES is told apart by its full length
    long_words = (ends - starts) > MAX_WORD_BYTES
    hashes[long_words] = (hashes[long_words] * POLY + (ends - starts)[long_words].astype(np.uint64)) & MAX32
    return hashes, doc.astype(np.int64)


def shingle(texts: pl.Series, size: int = 3, kind: str = "word") -> tuple[np.ndarray, np.ndarray]:
    """(shingle hashes, index of the text each belongs to), texts in order.

    Word shingles are `size` consecutive words; character shingles `size`
    consecutive bytes of the normalised text. A text shorter than one shingle
    contributes one shingle of all it has; an empty text contributes none (it
    can match nothing).
    """
    if kind == "word":
        hashed, doc = word_hashes_and_docs(texts)
    else:
        normal = normalise(texts.fill_null(""))
        joined = normal.str.join("\x00").item() if len(normal) else ""
        data = np.frombuffer(joined.encode(), dtype=np.uint8)
        keep = np.flatnonzero(data != 0)
        hashed, doc = data[keep].astype(np.uint64), np.searchsorted(np.flatnonzero(data == 0), keep).astype(np.int64)
    n_docs = len(texts)
    if len(doc) == 0:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    # combine `size` consecutive token hashes; a window is valid when it stays inside one text
    n = len(doc)
    combined = hashed.copy()
    valid = np.ones(n, dtype=bool)
    for offset in range(1, size):
        shifted = np.zeros(n, dtype=np.uint64)
        shifted[: n - offset] = hashed[offset:]
        combined = (combined * POLY + shifted) & MAX32
        same = np.zeros(n, dtype=bool)
        same[: n - offset] = doc[offset:] == doc[: n - offset]
        valid &= same
    # texts with fewer tokens than `size`: one shingle of everything they have
    counts = np.bincount(doc, minlength=n_docs)
    short = np.flatnonzero((counts > 0) & (counts < size))
    if len(short):
        starts = np.searchsorted(doc, short)
        whole = np.zeros(len(short), dtype=np.uint64)
        for position in range(size - 1):
            take = position < counts[short]
            whole[take] = (whole[take] * POLY + hashed[starts[take] + position]) & MAX32
        valid[starts] = True
        combined[starts] = whole
    return combined[valid], doc[valid]


def signatures(hashes: np.ndarray, doc: np.ndarray, n_docs: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_docs, num_perm) uint32 MinHash signatures; a text with no shingle gets all 0xFFFFFFFF.

    Shingles go through the permutations in blocks of at most SHINGLE_CHUNK,
    cut on text boundaries, reusing one buffer."""
    out = np.full((n_docs, len(a)), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    buffer = np.empty((len(a), min(SHINGLE_CHUNK, max(len(hashes), 1))), dtype=np.uint32)
    start = 0
    while start < len(hashes):
        end = min(start + SHINGLE_CHUNK, len(hashes))
        if end < len(hashes):
            boundary = int(np.searchsorted(doc, doc[end], side="left"))
            end = boundary if boundary > start else int(np.searchsorted(doc, doc[end], side="right"))
        if end - start > buffer.shape[1]:  # one text longer than a block
            buffer = np.empty((len(a), end - start), dtype=np.uint32)
        # permutation-major (num_perm x shingles): reduceat then runs along contiguous rows
        matrix = buffer[:, : end - start]
        np.multiply.outer(a, hashes[start:end].astype(np.uint32), out=matrix)  # wraps mod 2**32
        matrix += b[:, None]
        firsts = np.flatnonzero(np.r_[True, doc[start + 1 : end] != doc[start : end - 1]])
        out[doc[start:end][firsts]] = np.minimum.reduceat(matrix, firsts, axis=1).T
        start = end
    return out


def text_signatures(texts: pl.Series, a: np.ndarray, b: np.ndarray, size: int = 3, kind: str = "word") -> np.ndarray:
    """(len(texts), num_perm) signatures, shingling and hashing a slice of TEXTS_PER_TASK texts
    at a time on a thread per core: polars and numpy release the GIL in their loops, so both
    cores work, and a slice's shingle arrays stay small. A text's signature depends on it
    alone, so slicing changes no value."""
    n_docs = len(texts)
    out = np.empty((n_docs, len(a)), dtype=np.uint32)

    def run(start: int) -> None:
        part = texts.slice(start, TEXTS_PER_TASK)
        hashes, doc = shingle(part, size, kind)
        out[start : start + len(part)] = signatures(hashes, doc, len(part), a, b)

    starts = range(0, n_docs, TEXTS_PER_TASK)
    workers = min(os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for start in starts:
            run(start)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, starts))
    return out


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64 key of each band's rows."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    for band in range(bands):
        part = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
        key = np.zeros(sig.shape[0], dtype=np.uint64)
        for column in range(rows):
            key = key * np.uint64(0x100000001B3) ^ part[:, column]
        keys[:, band] = key
    return keys


def candidate_pairs(keys: np.ndarray, max_bucket: int = 64) -> np.ndarray:
    """(k, 2) distinct pairs of texts sharing a band bucket, found by sorting each
    band's keys. In buckets larger than max_bucket every member pairs with the
    bucket's lowest-numbered text only (a star: still one connected component,
    without the quadratic blow-up)."""
    n_docs, bands = keys.shape

    def band_pairs(band: int) -> list[np.ndarray]:
        # any sort will do: members come out in no set order, and every pair is normalised below
        column = np.ascontiguousarray(keys[:, band])
        order = np.argsort(column)
        sorted_keys = column[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        sizes = np.diff(np.r_[starts, n_docs])
        return _bucket_pairs(order, starts, sizes, max_bucket)

    # a thread per core: numpy's sort releases the GIL
    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, bands)) as pool:
        found = [pairs for band in pool.map(band_pairs, range(bands)) for pairs in band]
    both = np.concatenate(found).astype(np.int64) if found else np.empty((0, 2), dtype=np.int64)
    return distinct_pairs(both, n_docs)


def _bucket_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, max_bucket: int) -> list[np.ndarray]:
    """Every pair within each bucket (positions `order[start : start + size]`), one array
    operation per bucket size rather than a Python step per bucket."""
    found = []
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_bucket)]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]  # (buckets, size)
        left, right = np.triu_indices(size, k=1)
        found.append(np.column_stack([members[:, left].ravel(), members[:, right].ravel()]))
    for start, size in zip(starts[sizes > max_bucket], sizes[sizes > max_bucket]):
        members = np.sort(order[start : start + size])
        found.append(np.column_stack([np.full(size - 1, members[0]), members[1:]]))
    return found


def distinct_pairs(pairs: np.ndarray, n_docs: int) -> np.ndarray:
    """(k, 2) distinct pairs, smaller first, sorted: each pair as the one number
    low * n_docs + high, so np.unique runs on a flat int64 array (unique over rows is
    several times slower)."""
    if len(pairs) == 0:
        return np.empty((0, 2), dtype=np.int64)
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    codes = np.unique(low * np.int64(n_docs) + high)
    return np.column_stack(np.divmod(codes, np.int64(n_docs)))


PAIRS_SCHEMA = {"a": pl.Int64, "b": pl.Int64}


def spread_pairs(keys: np.ndarray, parallel: Parallel = HERE) -> np.ndarray:
    """`candidate_pairs` of a band-key matrix, the bands spread where `parallel` runs work:
    each band's (record, key) rows grouped by band (every row of a band meets in one call),
    bucketed by the same code, so the same pairs come back (pairs of a band are the band's
    alone). Here, the whole matrix at once."""
    n_docs, bands = keys.shape
    if not parallel.distributed or n_docs < 2:
        return candidate_pairs(keys)
    rows = pl.DataFrame(
        {
            "band": np.repeat(np.arange(bands), n_docs),
            "doc": np.tile(np.arange(n_docs), bands),
            "key": keys.T.reshape(-1),
        }
    )
    return unique_pairs(parallel.group_by(rows, "band", _band_bucket_pairs))


def _band_bucket_pairs(rows: pl.DataFrame) -> pl.DataFrame:
    """The candidate pairs of every band among `rows` (band, doc, key), as record numbers."""
    found = []
    for band in rows.partition_by("band", maintain_order=True):
        band = band.sort("doc")  # a group arrives in no set order
        docs = band["doc"].to_numpy()
        pairs = candidate_pairs(band["key"].to_numpy().reshape(-1, 1))
        found.append(pairs_frame(docs, pairs).with_columns(pl.lit(band["band"][0], dtype=pl.Int64).alias("band")))
    schema = {"band": pl.Int64, **PAIRS_SCHEMA}
    return pl.concat(found).select(list(schema)) if found else pl.DataFrame(schema=schema)


def pairs_frame(docs: np.ndarray, pairs: np.ndarray) -> pl.DataFrame:
    """Pairs of positions in a group as pairs of record numbers, smaller first."""
    a, b = docs[pairs[:, 0]], docs[pairs[:, 1]]
    return pl.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b)}, schema=PAIRS_SCHEMA)


def unique_pairs(frame: pl.DataFrame) -> np.ndarray:
    """(k, 2) distinct pairs, sorted, from a frame of a and b."""
    if frame.height == 0:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(frame.select("a", "b").to_numpy().astype(np.int64), axis=0)


def estimated_jaccard(sig: np.ndarray, pairs: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float32)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        out[start : start + chunk] = (sig[part[:, 0]] == sig[part[:, 1]]).mean(axis=1)
    return out


@dataclass
class MinHashLSH:
    threshold: float = 0.7
    num_perm: int = 128
    shingle_size: int = 3
    shingle_kind: str = "word"
    seed: int = 42

    def __post_init__(self) -> None:
        self.bands, self.rows = optimal_bands(self.threshold, self.num_perm)
        self.a, self.b = permutations(self.num_perm, self.seed)

    def signatures(self, texts: pl.Series) -> np.ndarray:
        return text_signatures(texts, self.a, self.b, self.shingle_size, self.shingle_kind)

    def similar_pairs(self, sig: np.ndarray, bucket=None) -> tuple[np.ndarray, np.ndarray]:
        """Verified pairs (estimated Jaccard >= threshold) and their estimates. `bucket`
        finds the pairs sharing a band bucket (by default `candidate_pairs`, here;
        `spread_pairs` spreads the bands over a cluster with the same result)."""
        pairs = (bucket or candidate_pairs)(band_keys(sig, self.bands, self.rows))
        if len(pairs) == 0:
            return pairs, np.empty(0, dtype=np.float32)
        estimate = estimated_jaccard(sig, pairs)
        keep = estimate >= self.threshold
        return pairs[keep], estimate[keep]
