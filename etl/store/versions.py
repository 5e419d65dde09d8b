"""The versioned store: `<store>/<dataset>/v<N>/`, immutable, atomic, reproducible.

    <store>/<dataset>/
      v1/ v2/ ...        published versions, read-only once written
      latest             text file naming the newest published version ("v2")
      .publish.lock      held while a run publishes
      .tmp-v3-<token>/   a version being written; never read, removed by the next publish

The store holds only what may be published: run folders, with their raw
text, live in a separate work folder (etl.run.runner). A version is written into a temporary folder, `manifest.json` last, then
renamed into place in one `rename`, and only then does `latest` move (an
atomic `os.replace` of a small file). A crash at any moment leaves either the
old state or the new one. The fingerprint is a sha256 over the examples'
content (not over Parquet bytes), so the same inputs and config give the same
fingerprint on any machine, and a run whose fingerprint a version already
holds publishes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import filelock
import polars as pl

from etl.config import DATASET_NAME
from etl.errors import ConfigError, StoreAccessError, StoreError, StoreLockedError, describe_os_error
from etl.example import EXTRA_CONFIGS, task_columns
from etl.store.files import fsync_dir, fsync_file, make_read_only, make_writable, share_unchanged, write_durably

__all__ = ["PublishOutcome", "Store", "StoreError", "fingerprint", "file_sha256"]

VERSION_DIR = re.compile(r"^v(\d+)$")
SHARD = "{split}-00000-of-00001.parquet"
PINS = "pins.json"  # versions `etl gc` keeps, beside `latest`


@dataclass
class PublishOutcome:
    version: str
    fingerprint: str
    published: bool  # False: an existing version already holds this fingerprint
    path: Path


def fingerprint(examples: pl.DataFrame, extras: dict[str, pl.DataFrame] | None = None) -> str:
    """sha256 over every example's content, in a fixed order, independent of file encoding, then
    over each non-empty extra config's rows (preference pairs, KTO rows) under its name: a version
    without them keeps the fingerprint it had before they existed."""
    digest = hashlib.sha256()
    _digest_rows(digest, examples.sort("task", "split", "id"))
    for name, rows in sorted((extras or {}).items()):
        if rows.height:
            digest.update(f"\x1econfig:{name}\n".encode())
            _digest_rows(digest, rows.sort("split", "id"))
    return digest.hexdigest()


def _digest_rows(digest, ordered: pl.DataFrame) -> None:
    for row in ordered.select(sorted(ordered.columns)).iter_rows():
        digest.update(json.dumps(row, ensure_ascii=False, default=str).encode())
        digest.update(b"\n")


def file_sha256(path: Path) -> str:
    """The file's content hash. A run asks for each input file twice (the incremental plan and
    the manifest): a file whose size and modification time are unchanged is read once."""
    info = Path(path).stat()
    return _content_sha256(str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=4096)
def _content_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Store:
    def __init__(self, root: str | Path, dataset: str) -> None:
        if not re.fullmatch(DATASET_NAME, dataset):
            raise ConfigError(
                f"'{dataset[:80]}' is not a dataset name (letters, digits, _ . - and no /); "
                "name the dataset as the config's `dataset:` does and the store with --store."
            )
        self.root = Path(root)
        self.dataset = dataset
        self.dir = self.root / dataset

    # ------------------------------------------------------------ reading

    def versions(self) -> list[str]:
        """Published versions, oldest first (a folder without a manifest is not a version)."""
        self.check_readable()
        if not self.dir.is_dir():
            return []
        found = [
            (int(m.group(1)), p.name)
            for p in self.dir.iterdir()
            if (m := VERSION_DIR.match(p.name)) and (p / "manifest.json").is_file()
        ]
        return [name for _, name in sorted(found)]

    def latest(self) -> str | None:
        pointer = self.dir / "latest"
        if not pointer.is_file():
            return None
        name = pointer.read_text().strip()
        return name if name in self.versions() else None

    def resolve(self, version: str | None) -> str:
        """'latest', 'v3', '3' or None -> 'v3'; a clear error when there is no such version."""
        available = self.versions()
        if version in (None, "latest"):
            latest = self.latest()
            if latest is None:
                raise StoreError(
                    f"dataset '{self.dataset}' has no published version in {self.root}. Run `etl run` first."
                )
            return latest
        name = version if version.startswith("v") else f"v{version}"
        if name not in available:
            raise StoreError(
                f"dataset '{self.dataset}' has no version {name} in {self.root}; versions: {', '.join(available) or 'none'}."
            )
        return name

    def path(self, version: str | None = "latest") -> Path:
        return self.dir / self.resolve(version)

    def manifest(self, version: str | None = "latest") -> dict:
        return json.loads((self.path(version) / "manifest.json").read_text())

    def examples(self, version: str | None = "latest") -> pl.DataFrame:
        """Every example of a version, all tasks and splits, as one frame (not the extra configs)."""
        files = self._task_files(version)
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()

    def example_ids(self, version: str | None = "latest") -> set[str]:
        """The ids of every example of a version (reads one column)."""
        files = self._task_files(version)
        return set(pl.concat([pl.read_parquet(f, columns=["id"]) for f in files])["id"].to_list()) if files else set()

    def extra(self, name: str, version: str | None = "latest") -> pl.DataFrame:
        """An extra config of a version (`preference`, `kto`), both splits; empty with its schema if it has none."""
        files = sorted((self.path(version) / "data" / name).glob("*.parquet"))
        return pl.concat([pl.read_parquet(f) for f in files]) if files else EXTRA_CONFIGS[name].to_frame()

    def _task_files(self, version: str | None) -> list[Path]:
        files = sorted((self.path(version) / "data").glob("*/*.parquet"))
        return [f for f in files if f.parent.name not in EXTRA_CONFIGS]

    def find_fingerprint(self, value: str) -> str | None:
        for version in self.versions():
            if json.loads((self.dir / version / "manifest.json").read_text()).get("fingerprint") == value:
                return version
        return None

    # ------------------------------------------------------------ writing

    def check_readable(self) -> None:
        """A store path that is a file (or a dataset path that is) is an error, not an empty store."""
        for path in (self.root, self.dir):
            if path.exists() and not path.is_dir():
                raise StoreAccessError(
                    f"store {path} is a file, not a folder. Pass --store with a folder (it is made if missing)."
                )

    @contextmanager
    def lock(self, timeout: float = 0) -> Iterator[None]:
        """Hold the store's publish lock; re-entrant in one process (a run holds it from its
        start, so a second run fails in seconds, and publishing inside the run re-enters it)."""
        self.check_readable()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            # is_singleton: one lock object per path in this process, so re-entry counts up instead of deadlocking
            lock = filelock.FileLock(str(self.dir / ".publish.lock"), is_singleton=True)
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise StoreLockedError(
                f"another run is publishing to {self.dir} (lock {self.dir / '.publish.lock'} is held). "
                "Wait for it to finish, or set publish.lock_timeout to wait longer."
            ) from None
        except OSError as exc:
            raise StoreAccessError(describe_os_error(exc, "cannot write to the store:")) from None
        try:
            yield
        finally:
            lock.release()

    def publish(
        self,
        examples: pl.DataFrame,
        write_extras,
        manifest: dict,
        lock_timeout: float = 0,
        extras: dict[str, pl.DataFrame] | None = None,
    ) -> PublishOutcome:
        """Publish `examples` as the next version unless one already holds their fingerprint.

        `write_extras(folder, version, parent, fingerprint)` writes the dataset card and quality
        files into the temporary folder; `manifest` gets version, parent and
        fingerprint added and is written last. `extras` are configs beside the tasks
        (`data/<name>/<split>-...parquet`), part of the fingerprint.
        """
        extras = {name: rows for name, rows in (extras or {}).items() if rows.height}
        value = fingerprint(examples, extras)
        with self.lock(lock_timeout):
            self._remove_leftovers()
            existing = self.find_fingerprint(value)
            if existing is not None:
                if self.latest() is None or _number(existing) > _number(self.latest()):
                    self._move_latest(existing)  # a crash after the rename left latest behind
                return PublishOutcome(existing, value, False, self.dir / existing)
            parent = self.latest()
            version = f"v{max((_number(v) for v in self.versions()), default=0) + 1}"
            temporary = self.dir / f".tmp-{version}-{secrets.token_hex(4)}"
            temporary.mkdir()
            self._write_data(temporary, examples, extras)
            _checkpoint("data_written")
            write_extras(temporary, version, parent, value)
            _checkpoint("card_written")
            if parent is not None:
                share_unchanged(temporary, self.dir / parent)
            full_manifest = {
                "version": version,
                "dataset": self.dataset,
                "fingerprint": value,
                "parent": parent,
                **manifest,
            }
            write_durably(temporary / "manifest.json", json.dumps(full_manifest, indent=2, ensure_ascii=False))
            _checkpoint("manifest_written")
            make_read_only(temporary)
            os.rename(temporary, self.dir / version)
            fsync_dir(self.dir)
            _checkpoint("renamed")
            self._move_latest(version)
            _checkpoint("latest_moved")
            return PublishOutcome(version, value, True, self.dir / version)

    # ------------------------------------------------------------ retention

    def pins(self) -> list[str]:
        """Versions `etl gc` never removes, oldest first."""
        path = self.dir / PINS
        if not path.is_file():
            return []
        return sorted(json.loads(path.read_text())["pinned"], key=_number)

    def pin(self, version: str, remove: bool = False) -> list[str]:
        """Pin (or unpin) a version; returns the pins after the change."""
        with self.lock():
            name = self.resolve(version) if not remove else (version if version.startswith("v") else f"v{version}")
            pinned = set(self.pins())
            if remove and name not in pinned:
                raise StoreError(f"{self.dataset} {name} is not pinned; pinned: {', '.join(self.pins()) or 'none'}.")
            pinned = pinned - {name} if remove else pinned | {name}
            ordered = sorted(pinned, key=_number)
            temporary = self.dir / f".pins-{secrets.token_hex(4)}"
            write_durably(temporary, json.dumps({"pinned": ordered}, indent=2) + "\n")
            os.replace(temporary, self.dir / PINS)
            fsync_dir(self.dir)
            return ordered

    def gc(self, keep: int, manifest_folders: list[Path] = (), dry_run: bool = False) -> dict[str, list]:
        """Remove old versions: all but the newest `keep`, `latest`, pinned versions and versions a
        training manifest under `manifest_folders` names. Returns {"removed": [...], "kept": [(version, why)]}.

        Each version is renamed out of sight first (one atomic step: it stops being a version),
        then deleted; a crash in between leaves a hidden folder the next publish or gc clears.
        The dedup index lives in every version and the next run reads latest's, so removing
        older versions loses no dedup history."""
        if keep < 1:
            raise ConfigError("etl gc --keep must be 1 or more: the newest version is always kept.")
        with self.lock():
            self._remove_leftovers()
            versions = self.versions()
            reasons: dict[str, list[str]] = {v: [] for v in versions}
            for v in versions[-keep:]:
                reasons[v].append(f"one of the newest {keep}")
            if self.latest():
                reasons[self.latest()].append("latest")
            for v in self.pins():
                if v in reasons:
                    reasons[v].append("pinned")
            for v, where in self._trained_on(manifest_folders):
                if v in reasons:
                    reasons[v].append(f"trained on ({where})")
            removed = [v for v in versions if not reasons[v]]
            if not dry_run:
                for version in removed:
                    hidden = self.dir / f".gc-{version}-{secrets.token_hex(4)}"
                    os.rename(self.dir / version, hidden)
                    fsync_dir(self.dir)
                    make_writable(hidden)
                    shutil.rmtree(hidden)
            return {"removed": removed, "kept": [(v, why) for v, why in reasons.items() if why]}

    def _trained_on(self, folders: list[Path]) -> list[tuple[str, str]]:
        """(version, manifest path) for every training manifest under the folders that used this dataset."""
        found = []
        for folder in folders:
            if not Path(folder).is_dir():
                raise ConfigError(f"--manifests {folder}: not a folder. Pass the folder holding training outputs.")
            for path in sorted(Path(folder).rglob("training_manifest.json")):
                try:
                    sources = json.loads(path.read_text(encoding="utf-8")).get("sources", [])
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"{path}: not a readable training manifest ({exc}).") from None
                found += [(s["version"], str(path)) for s in sources if s.get("dataset") == self.dataset]
        return found

    def _write_data(self, folder: Path, examples: pl.DataFrame, extras: dict[str, pl.DataFrame]) -> None:
        parts = [
            (task, split, part.select(task_columns(task)))
            for (task, split), part in examples.sort("id").group_by(["task", "split"], maintain_order=True)
        ]
        for name, rows in extras.items():
            parts += [(name, split, part) for (split,), part in rows.sort("id").group_by("split", maintain_order=True)]
        for config, split, part in parts:
            target = folder / "data" / config / SHARD.format(split=split)
            target.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(target)
            fsync_file(target)

    def _move_latest(self, version: str) -> None:
        temporary = self.dir / f".latest-{secrets.token_hex(4)}"
        write_durably(temporary, version + "\n")
        os.replace(temporary, self.dir / "latest")
        fsync_dir(self.dir)

    def _remove_leftovers(self) -> None:
        """Folders and pointer files of runs that died mid-publish (only ever touched under the lock)."""
        for path in self.dir.glob(".tmp-v*"):
            make_writable(path)
            shutil.rmtree(path, ignore_errors=True)
        for path in self.dir.glob(".gc-v*"):
            make_writable(path)
            shutil.rmtree(path, ignore_errors=True)
        for path in [*self.dir.glob(".latest-*"), *self.dir.glob(".pins-*")]:
            path.unlink(missing_ok=True)


def _number(version: str) -> int:
    return int(version.lstrip("v"))


def _checkpoint(name: str) -> None:
    # Crash-test hook: ETL_CRASH_AT=<name> kills the process right here, as a
    # power cut would. tests/test_store.py uses it to prove publishing is atomic.
    if os.environ.get("ETL_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
