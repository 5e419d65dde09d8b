"""The work folder: everything a run keeps that must never be published.

    <work>/<dataset>/
      runs/<run_id>/   one folder a run: stage outputs, dropped rows, quarantine, summary
                       (raw customer text: owner-only, never printed)
      cache/           each input file's de-identified records (etl/run/incremental.py)
      vectors/         sentence vectors kept for the next run's semantic dedup
      memo/            what stages computed, kept for the next run (etl/memo.py)

`<work>` is `work_dir`, by default `<store>-work` beside the store, never inside it.
This class alone knows the layout; the runner, the incremental cache, semantic dedup's
vector store and `etl purge-runs` ask it for their folders.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path


class WorkFolder:
    def __init__(self, root: Path, dataset: str) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.folder = self.root / dataset

    @property
    def runs(self) -> Path:
        return self.folder / "runs"

    @property
    def cache(self) -> Path:
        return self.folder / "cache"

    @property
    def vectors(self) -> Path:
        return self.folder / "vectors"

    @property
    def memo(self) -> Path:
        return self.folder / "memo"

    def new_run(self) -> tuple[str, Path]:
        """A fresh, owner-only run folder (with its stages/ folder): (run id, folder)."""
        # microseconds: run ids sort in the order runs started (retention keeps the newest by name)
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)
        run_dir = self.runs / run_id
        for folder in (self.root, self.folder, self.runs, run_dir, run_dir / "stages"):
            if folder == run_dir or not folder.exists():
                folder.mkdir(mode=0o700, parents=True, exist_ok=False)
                folder.chmod(0o700)  # owner-only whatever the umask (only folders made here: never a shared /tmp)
        return run_id, run_dir

    def run_folders(self) -> list[Path]:
        """The dataset's run folders, oldest first (run ids start with their UTC time)."""
        return sorted(p for p in self.runs.iterdir() if p.is_dir()) if self.runs.is_dir() else []

    def purge_runs(self, keep: int) -> list[Path]:
        """Remove all but the newest `keep` run folders; returns what was removed."""
        folders = self.run_folders()
        removed = folders[: max(len(folders) - keep, 0)]
        for folder in removed:
            shutil.rmtree(folder)
        return removed

    def purge_cache(self) -> bool:
        """Remove the incremental cache (the next run reads every file); whether there was one."""
        return _remove(self.cache)

    def purge_vectors(self) -> bool:
        """Remove the kept sentence vectors (the next run embeds every text); whether there were any."""
        return _remove(self.vectors)

    def purge_memo(self) -> bool:
        """Remove what stages kept for the next run (it computes everything); whether there was any."""
        return _remove(self.memo)


def _remove(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True
