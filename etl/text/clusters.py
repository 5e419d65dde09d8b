"""Groups of texts from pairs judged alike: near-duplicate clusters (dedup), rephrasing
clusters (semantic dedup), the units a split keeps together."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(n_docs: int, pairs: np.ndarray) -> np.ndarray:
    """Cluster label per text: connected components of the verified pairs."""
    if len(pairs) == 0:
        return np.arange(n_docs)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n_docs, n_docs))
    return connected_components(graph, directed=False)[1]
