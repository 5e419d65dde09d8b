"""The file-system steps of publishing a version (etl/store/versions.py): durable writes, a
read-only tree, and the files a new version shares with the one before it (hard links to the
files it holds byte for byte)."""

from __future__ import annotations

import filecmp
import os
import stat
from pathlib import Path


def share_unchanged(folder: Path, earlier: Path) -> int:
    """Every file of the version being written (`folder`) equal, byte for byte, to the earlier
    version's at the same place becomes a hard link to that file: a night that changes one task
    stores the other tasks' shards, and the Data Docs' scripts and styles, once. Each version
    stays complete on its own: a link is one more name of the same read-only file, and removing
    either version (gc) leaves the other's. A file that differs, or one on a file system without
    hard links, is kept as written. Returns the files shared."""
    shared = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        before = earlier / path.relative_to(folder)
        shared += _same_bytes(path, before) and _link(before, path)
    return shared


def _same_bytes(path: Path, other: Path) -> bool:
    try:
        return other.is_file() and other.stat().st_size == path.stat().st_size and filecmp.cmp(path, other, False)
    except OSError:
        return False


def _link(source: Path, target: Path) -> bool:
    """`target` replaced by a hard link to `source` in one step (a link beside it, renamed over it)."""
    spare = target.with_name(target.name + ".link")
    try:
        os.link(source, spare)
    except OSError:
        return False
    try:
        os.replace(spare, target)
    except OSError:
        spare.unlink(missing_ok=True)
        return False
    return True


def write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_read_only(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    folder.chmod(folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(folder: Path) -> None:
    """The folders made writable, to remove the tree; never its files: one may be shared (share_unchanged)."""
    for path in [folder, *folder.rglob("*")]:
        try:
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        except OSError:
            pass
