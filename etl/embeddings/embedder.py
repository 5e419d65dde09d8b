"""The one way stages embed text: an `Embedder` the runner builds for a run (its VectorCache,
its executor) and hands to semantic dedup, augmentation and synthesis alike, so every one of
them reads the kept vectors, counts what it embedded, and spreads new texts over the
executor's workers where there are many."""

from __future__ import annotations

from functools import partial

import numpy as np

from etl.embeddings.cache import VectorCache
from etl.embeddings.model import encode_padded, load_model

# texts an embedding block holds when the work is spread (Ray); below SPREAD_EMBED_MIN new
# texts, starting the spread costs more than embedding them here
EMBED_BLOCK = 512
SPREAD_EMBED_MIN = 64


class Embedder:
    """`embedder(texts, model_name, batch_size, precision)` -> normalised float32 vectors, one
    row a text; each distinct text embedded once a run."""

    def __init__(self, cache: VectorCache | None = None, parallel=None) -> None:
        # parallel: the run's executor (the stage contract's `Parallel`, etl/stages/base.py);
        # None embeds in this process. Duck-typed so that this layer stays below the stages.
        self.cache = cache if cache is not None else VectorCache()
        self.parallel = parallel

    def __call__(
        self, texts: list[str], model_name: str | None, batch_size: int, precision: str = "auto"
    ) -> np.ndarray:
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        dtype = self.cache.compute_type(precision)[1]
        fresh = self.cache.missing(texts, model_name, dtype)
        if getattr(self.parallel, "distributed", False) and len(fresh) >= SPREAD_EMBED_MIN:
            self.cache.remember(fresh, self._spread(fresh, model_name, batch_size, precision), model_name, dtype)
        elif fresh:
            self.cache.remember(
                fresh, encode_padded(load_model(model_name), fresh, dtype, batch_size), model_name, dtype
            )
        known = self.cache.known(model_name, dtype)
        return np.stack([known[t] for t in texts])

    def unknown(self, texts: list[str], model_name: str | None, precision: str = "auto") -> list[str]:
        """The distinct texts, in order, that this run has no vector for yet."""
        if not texts:
            return []
        return self.cache.missing(texts, model_name, self.cache.compute_type(precision)[1])

    def _spread(self, fresh: list[str], model_name: str | None, batch_size: int, precision: str) -> np.ndarray:
        """The new texts embedded by workers that load the model once each (`TextEmbedder`), in
        blocks of EMBED_BLOCK, in order."""
        import pyarrow as pa

        table = pa.table({"text": pa.array(fresh, pa.string())})
        rows = self.parallel.map_blocks(TextEmbedder, (model_name, batch_size, precision), table, EMBED_BLOCK)
        return np.stack([np.frombuffer(r["vector"], dtype=np.float32) for r in rows])


class TextEmbedder:
    """One worker's copy of the embedding model: a block of texts in, their vectors out
    (float32 bytes, one row a text, in the block's order)."""

    def __init__(self, model_name: str | None, batch_size: int, precision: str) -> None:
        self.embedder = partial(Embedder(), model_name=model_name, batch_size=batch_size, precision=precision)
        load_model(model_name)

    def __call__(self, batch):
        import pyarrow as pa

        vectors = self.embedder(batch.column("text").to_pylist())
        return pa.table({"vector": pa.array([v.tobytes() for v in vectors], pa.binary())})
