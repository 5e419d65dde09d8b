"""Sentence embeddings, a service the stages share (semantic dedup, augmentation's meaning
check, synthesis's rephrasing test) and the runner owns:

    model.py         loading the model, the compute type, batches that keep a vector bit-stable
    cache.py         one run's vectors (`VectorCache`), the last run's read back
    vector_store.py  the vectors kept in the work folder between runs
    embedder.py      `Embedder`: what a stage calls; spreads new texts over the executor

A stage receives its Embedder from the runner (etl/run/registry.py) and never builds a
cache of its own.
"""

from etl.embeddings.cache import VectorCache
from etl.embeddings.embedder import Embedder
from etl.embeddings.model import EMBED_BATCH

__all__ = ["EMBED_BATCH", "Embedder", "VectorCache"]
