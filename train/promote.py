"""`etl promote`: move the `latest` pointer of a models folder to a new adapter only when it
is not worse than the current one on the same eval set (train/metrics.py `not_worse`).

Both adapters must have been evaluated (`etl eval --adapter DIR` writes DIR/eval_manifest.json)
on the same examples of the same version: figures from different eval sets cannot be
compared, and the command says so instead of guessing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from etl.errors import ConfigError
from train.evaluate import EVAL_MANIFEST, check_adapter
from train.metrics import not_worse

POINTER = "latest"


def read_eval(adapter: Path) -> dict:
    path = adapter / EVAL_MANIFEST
    if not path.is_file():
        raise ConfigError(f"{adapter}: no {EVAL_MANIFEST}; run `etl eval --adapter {adapter} ...` first.")
    return json.loads(path.read_text(encoding="utf-8"))


def same_eval_set(new: dict, current: dict) -> None:
    """Raise unless both were scored on the same version and the same examples of each task."""
    for key in ("dataset", "version", "fingerprint"):
        if new.get(key) != current.get(key):
            raise ConfigError(
                f"the two evaluations are of different data ({key}: {current.get(key)} against {new.get(key)}); "
                "evaluate both adapters on the same version, e.g. the current one's."
            )
    frozen = [((m.get("eval_set") or {}).get("frozen") or {}).get("fingerprint") for m in (current, new)]
    if frozen[0] != frozen[1]:
        raise ConfigError(
            f"the two evaluations used different frozen sets ({frozen[0] or 'none'} against {frozen[1] or 'none'}); "
            "evaluate both on the same one."
        )
    for task in set(new["tasks"]) & set(current["tasks"]):
        if new["tasks"][task].get("example_ids") != current["tasks"][task].get("example_ids"):
            raise ConfigError(f"{task}: the two evaluations scored different examples; use the same --limit.")


def current_adapter(models: Path) -> Path | None:
    pointer = models / POINTER
    return Path(pointer.read_text(encoding="utf-8").strip()) if pointer.is_file() else None


def move_pointer(models: Path, adapter: Path) -> None:
    models.mkdir(parents=True, exist_ok=True)
    temporary = models / f".{POINTER}.tmp"
    temporary.write_text(str(adapter.resolve()) + "\n", encoding="utf-8")
    os.replace(temporary, models / POINTER)  # atomic: a reader sees the old adapter or the new


def promote(adapter: Path, over: Path | None, models: Path) -> tuple[bool, list[str]]:
    """(promoted, reasons): the pointer moves to `adapter` when `over` (default: the adapter the
    pointer names) is absent or no task's main metric fell beyond its interval."""
    check_adapter(adapter)
    new = read_eval(adapter)
    over = over if over is not None else current_adapter(models)
    if over is None:
        move_pointer(models, adapter)
        return True, ["no current adapter"]
    current = read_eval(over)
    same_eval_set(new, current)
    promoted, reasons = not_worse(new["tasks"], current["tasks"])
    if promoted:
        move_pointer(models, adapter)
    return promoted, reasons
