"""Sentence vectors kept between runs, so that a nightly run embeds only texts it has not embedded before.

Every night the published history goes through the global stages again with
the new records (etl/run/incremental.py), and semantic dedup, augmentation's
meaning check and synthesis embed the same texts as the night before: on a
5,361-row corpus, a rerun with nothing new spent 24 of its 37 seconds there.
After a run, the vectors it used are written to the work folder:

    <work>/<dataset>/vectors/<executor>/<model key>.npz     digests (sha256 of each text), vectors

The text itself is not stored, only its digest. The model key covers what a
vector depends on: the model's files, the compute type, the device, the
libraries that run it and `encode_padded`'s own code, so any change to them embeds
again. A run keeps only the vectors it used, so the folder holds one night's
texts at most, and `etl purge-runs --cache` removes it.

A vector read back is bit for bit the one this run would compute: `encode_padded`
pads each text to its own rounded length, and on most machines a text's
vector is then the same in any batch (model.token_batches). So a fresh
work folder and one with a long history publish the same fingerprint from the
same inputs, and `--full` (which reads the same vectors) the same as an
incremental run. Where a machine's kernels make a vector depend on the size of
its batch (a CPU with AMX), `model.batch_invariant` finds it at the first
use and no vector is kept or read: every run embeds again, in the batches a
full run uses, and the run's notices say so.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from etl.memo import text_digests as digests  # the sha256 of each text: all a kept vector is looked up by

logger = logging.getLogger("etl")

# small model files (configs, vocabularies) are hashed whole; weights by name and size
WHOLE_FILE_LIMIT = 1 << 20


def machine_identity() -> str:
    """The CPU's model, its instruction sets and the thread count: what decides which matrix
    kernels compute a vector, and so whether it is the same in any batch (model.batch_invariant).
    A work folder moved to another kind of machine then embeds again instead of trusting vectors
    another CPU computed."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
        cpu = "\n".join(dict.fromkeys(line for line in lines if line.startswith(("model name", "flags"))))
    except OSError:
        pass  # not Linux: the platform's own name of the processor
    threads = [os.environ.get(name, "") for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")]
    gpus = Path("/proc/driver/nvidia/gpus")
    gpus = sorted(p.name for p in gpus.iterdir()) if gpus.is_dir() else []
    return f"{cpu}\0{os.cpu_count()}\0{threads}\0{gpus}\0torch={metadata.version('torch')}"


def model_key(model_path: str, dtype: str, device: str, *embed_code) -> str:
    """A name for everything a text's vector depends on besides the text, the machine included."""
    digest = hashlib.sha256(f"{dtype}\0{device}\0{machine_identity()}\0".encode())
    for package in ("torch", "transformers", "sentence-transformers"):
        digest.update(f"{package}={metadata.version(package)}\0".encode())
    for code in embed_code:
        digest.update(inspect.getsource(code).encode())
    root = Path(model_path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.relative_to(root).as_posix()}\0{size}\0".encode())
        if size <= WHOLE_FILE_LIMIT:
            digest.update(path.read_bytes())
    if not files:
        digest.update(model_path.encode())  # a name the library resolves itself
    return digest.hexdigest()[:32]


class StoredVectors:
    """One model key's vectors from the last run: looked up by text, handed out as views."""

    def __init__(self, index: dict[bytes, int], matrix: np.ndarray) -> None:
        self.index, self.matrix = index, matrix

    @classmethod
    def empty(cls) -> StoredVectors:
        return cls({}, np.empty((0, 0), dtype=np.float32))

    @classmethod
    def read(cls, path: Path) -> StoredVectors:
        """The vectors at `path`; none when it is missing or unreadable (they are embedded again)."""
        if not path.is_file():
            return cls.empty()
        try:
            with np.load(path, allow_pickle=False) as stored:
                keys, matrix = stored["digests"], stored["vectors"]
            if len(keys) != len(matrix):
                raise ValueError("digests and vectors differ in length")
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("the stored sentence vectors %s cannot be read (%s): embedding again", path, exc)
            return cls.empty()
        if keys.dtype != np.uint8 or keys.shape[1:] != (32,):
            logger.warning("the stored sentence vectors %s are of another format: embedding again", path)
            return cls.empty()
        return cls({k.tobytes(): row for row, k in enumerate(keys)}, matrix.astype(np.float32, copy=False))

    def take(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vectors held for these texts."""
        if not self.index:
            return {}
        found = {}
        for text, key in zip(texts, digests(texts)):
            row = self.index.get(key)
            if row is not None:
                found[text] = self.matrix[row]
        return found


def write(path: Path, vectors: dict[str, np.ndarray]) -> None:
    """The run's vectors, whole or not at all (written beside, then renamed)."""
    for folder in (path.parent.parent, path.parent):  # vectors/ and vectors/<executor>/, owner-only
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    texts = list(vectors)
    # digests as rows of 32 bytes: numpy's fixed-width bytes type would drop a digest's trailing zero bytes
    keys = np.frombuffer(b"".join(digests(texts)), dtype=np.uint8).reshape(-1, 32)
    matrix = np.stack([vectors[t] for t in texts]) if texts else np.empty((0, 0), dtype=np.float32)
    np.savez(partial, digests=keys, vectors=matrix)
    partial.replace(path)


def prune(folder: Path, keep: set[Path]) -> None:
    """Vectors of other model keys (another model or compute type) are not used again."""
    if folder.is_dir():
        for other in folder.iterdir():
            if other not in keep and other.name != MACHINE_FILE:
                other.unlink()


# where the model runs on this machine and in what compute type, by machine identity: known
# without importing torch (1.3 s) on a night whose texts all have kept vectors
MACHINE_FILE = "machine.json"


def read_machine(folder: Path) -> dict[str, list[str]]:
    try:
        return json.loads((folder / MACHINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_machine(folder: Path, known: dict[str, list[str]]) -> None:
    try:
        for place in (folder.parent, folder):  # vectors/ and vectors/<executor>/, owner-only
            place.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = folder / (MACHINE_FILE + ".partial")
        partial.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(folder / MACHINE_FILE)
    except OSError as exc:
        logger.warning("cannot keep what this machine computes in, in %s (%s)", folder, exc.strerror)
