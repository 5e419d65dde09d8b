"""What a stage computed, kept for the next run: a night costs what is new.

A stage whose work on an item is a pure function of that item and of settings that
change rarely (augmentation's rewrite of a parent by one method, synthesis from the
catalog) asks a `Memo` before computing. The memo is keyed twice:

- its *namespace*: everything the results depend on besides the item (the stage's
  config, the catalog, the seed, the library versions, the stage's own code), hashed
  into the file name, so any change to them starts an empty memo;
- each entry's *key*: the sha256 of the item itself (a parent's id and texts, a method).

    <work>/<dataset>/memo/<kind>/<namespace>.parquet      key (32 bytes), value (JSON)

A run keeps only the entries it used (so the file holds one night's worth at most) and
removes the files of other namespaces. The values are de-identified customer text at
most, the operator's working data: they stay in the owner-only work folder, never in
the store, and `etl purge-runs --cache` removes them. A memo without a folder (a run of
chosen stages, tests of a stage alone) remembers nothing between runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import polars as pl

logger = logging.getLogger("etl")


def text_digests(texts: list[str]) -> list[bytes]:
    """The sha256 of each text (what the vector store and the gate keep instead of the text)."""
    return [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]


def digest(*parts: Any) -> bytes:
    """One entry's key: the sha256 of its parts, JSON-encoded (so ("a", "b") and ("ab",) differ)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).digest()


# the files a code digest reads: source, and the word lists and lexicons it loads
CODE_SUFFIXES = (".py", ".txt", ".json", ".yaml")


def code_digest(*paths: Path, root: Path | None = None) -> str:
    """The code (files, or folders of them) whose results a memo or a cache holds: an edit to
    any of it, released or not, starts afresh. Each file is named by its path under `root`
    (by default its folder's parent), so a file moved is a change too."""
    h = hashlib.sha256()
    for path in paths:
        base = root or (path if path.is_dir() else path.parent).parent
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and file.suffix in CODE_SUFFIXES:
                h.update(file.relative_to(base).as_posix().encode() + b"\0" + file.read_bytes())
    return h.hexdigest()


def files_digest(path: Path) -> str:
    """A user's model file or folder by names, sizes and modification times (weights are large)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stats = [
        (p.relative_to(path).as_posix() if path.is_dir() else p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in files
        if p.exists()
    ]
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()


class Memo:
    """key -> JSON value for one namespace; `counts` says how many were reused and computed."""

    def __init__(self, folder: Path | None, kind: str, namespace: dict, read: bool = True) -> None:
        # read=False (`etl run --full`): everything computed again, and kept for the next night
        self.read = read
        self.path = None
        if folder is not None:
            name = hashlib.sha256(json.dumps(namespace, sort_keys=True, default=str).encode()).hexdigest()[:32]
            self.path = Path(folder) / kind / f"{name}.parquet"
        self._kept: dict[bytes, str] | None = None  # read on first use
        self._used: dict[bytes, str] = {}
        self.reused = self.computed = 0

    def get(self, key: bytes) -> Any | None:
        """The value kept for `key` (by this run or the last one), or None."""
        if key in self._used:
            return json.loads(self._used[key])
        value = self._read().get(key)
        if value is None:
            return None
        self._used[key] = value
        self.reused += 1
        return json.loads(value)

    def put(self, key: bytes, value: Any) -> None:
        self._used[key] = json.dumps(value, ensure_ascii=False)
        self.computed += 1

    def counts(self) -> dict[str, int]:
        return {"reused": self.reused, "computed": self.computed}

    def keep(self) -> None:
        """The entries this run used, written whole or not at all; other namespaces' files removed.
        A work folder that cannot take them costs the next run time, not this run its result."""
        if self.path is None:
            return
        try:
            for folder in (self.path.parent.parent, self.path.parent):  # memo/ and memo/<kind>/, owner-only
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = self.path.with_suffix(".partial")
            pl.DataFrame(
                {"key": list(self._used), "value": list(self._used.values())},
                schema={"key": pl.Binary, "value": pl.Utf8},
            ).write_parquet(partial)
            partial.replace(self.path)
            for other in self.path.parent.iterdir():
                if other != self.path:
                    other.unlink()
        except OSError as exc:
            logger.warning("cannot keep the %s memo in the work folder (%s)", self.path.parent.name, exc.strerror)

    def _read(self) -> dict[bytes, str]:
        if self._kept is None:
            self._kept = {}
            if self.read and self.path is not None and self.path.is_file():
                try:
                    frame = pl.read_parquet(self.path)
                    self._kept = dict(zip(frame["key"].to_list(), frame["value"].to_list()))
                except Exception as exc:  # an unreadable memo is computed again, never trusted
                    logger.warning("the %s memo cannot be read (%s): computing again", self.path.parent.name, exc)
        return self._kept
