"""One run's sentence vectors: text -> vector per model and compute type, each distinct text
embedded once (semantic dedup, augmentation's meaning check and synthesis embed many of the
same customer questions), and the vectors the last run kept in the work folder
(vector_store.py), read on first use and written back at the end of the run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from etl.embeddings import vector_store
from etl.embeddings.model import (
    batch_invariant,
    compute_dtype,
    default_model_path,
    encode_padded,
    filler_text,
    model_device,
    token_batches,
)
from etl.embeddings.vector_store import StoredVectors

# distinct texts a model's vectors may hold before they are let go (a very long run's memory)
VECTOR_CACHE_LIMIT = 1_000_000


class VectorCache:
    """The vectors of one run. `folder` is where the last run kept its vectors and where this
    run keeps its own (None: nothing read or kept, as for a run of chosen stages)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._vectors: dict[tuple[str | None, str], dict[str, np.ndarray]] = {}
        self._stored: dict[tuple[str | None, str], tuple[Path, StoredVectors]] = {}
        self._types: dict[str, tuple[str, str]] = {}  # precision -> (device, compute type)
        # distinct texts embedded by this run, and those whose vector the last run kept
        self._counts = {"embedded": 0, "kept": 0}

    def counts(self) -> dict[str, int]:
        """This run's sentence vectors: distinct texts embedded, and those read from the work folder."""
        return dict(self._counts)

    def known(self, model_name: str | None, dtype: str) -> dict[str, np.ndarray]:
        """text -> vector for one model and compute type (emptied past VECTOR_CACHE_LIMIT texts)."""
        known = self._vectors.setdefault((model_name, dtype), {})
        if len(known) > VECTOR_CACHE_LIMIT:
            known.clear()
        return known

    def missing(self, texts: list[str], model_name: str | None, dtype: str) -> list[str]:
        """The distinct texts, in order, with no vector in this run nor among the kept ones."""
        known = self.known(model_name, dtype)
        fresh = [t for t in dict.fromkeys(texts) if t not in known]
        if fresh and self.folder is not None:
            kept = self._stored_for(model_name, dtype)[1].take(fresh)
            known.update(kept)
            self._counts["kept"] += len(kept)
            fresh = [t for t in fresh if t not in known]
        return fresh

    def remember(self, texts: list[str], vectors: np.ndarray, model_name: str | None, dtype: str) -> None:
        """Vectors this run computed (here or in an executor's workers)."""
        self.known(model_name, dtype).update(zip(texts, vectors.astype(np.float32)))
        self._counts["embedded"] += len(texts)

    def not_kept(self) -> list[str]:
        """The models (and compute types) whose vectors this run cannot keep, as `batch_invariant`
        found: a kept vector would not be the one a run computes."""
        if self.folder is None:
            return []  # this run keeps none anyway
        return sorted(
            f"{name or 'the default model'} ({dtype})"
            for (name, dtype) in self._vectors
            if not self._invariant(name, dtype)
        )

    def keep(self) -> None:
        """The vectors this run used, written to `folder` (if any); older files there removed."""
        if self.folder is None:
            return
        written = set()
        for cache_key, known in self._vectors.items():
            if self._invariant(*cache_key):
                path = self._stored_for(*cache_key)[0]
                vector_store.write(path, known)
                written.add(path)
        vector_store.prune(self.folder, written)

    def compute_type(self, precision: str) -> tuple[str, str]:
        """(device, compute type) of the model here for `precision`: probed (with torch) once a
        machine identity and kept beside the vectors, so a night that embeds nothing needs no torch."""
        if precision not in self._types:
            identity = hashlib.sha256(f"{vector_store.machine_identity()}\0{precision}".encode()).hexdigest()[:32]
            known = vector_store.read_machine(self.folder) if self.folder is not None else {}
            if identity not in known:
                device = model_device()
                known[identity] = [device, compute_dtype(precision, device)]
                if self.folder is not None:
                    vector_store.write_machine(self.folder, known)
            self._types[precision] = tuple(known[identity])
        return self._types[precision]

    def _device(self) -> str:
        """Where the model runs here, as `compute_type` found it (it runs first)."""
        return next(iter(self._types.values()))[0] if self._types else model_device()

    def _invariant(self, model_name: str | None, dtype: str) -> bool:
        """Whether a text's vector is the same in any batch here: known without loading the model
        when the last run kept vectors, which it did only where its probe held on a machine of
        the same identity (the model key names the CPU); otherwise probed (batch_invariant)."""
        if (model_name, dtype) in self._stored and self._stored[(model_name, dtype)][1].index:
            return True
        return batch_invariant(model_name, dtype)

    def _stored_for(self, model_name: str | None, dtype: str) -> tuple[Path, StoredVectors]:
        """Where this model's vectors are kept and what the last run left there (read once a run,
        without loading the model: a file exists only where `keep` found the machine invariant)."""
        if (model_name, dtype) not in self._stored:
            key = vector_store.model_key(
                model_name or default_model_path(), dtype, self._device(), encode_padded, token_batches,
                filler_text.__wrapped__,
            )  # fmt: skip
            path = self.folder / f"{key}.npz"
            self._stored[(model_name, dtype)] = (path, StoredVectors.read(path))
        return self._stored[(model_name, dtype)]
