"""What a training run records about itself in training_manifest.json: time per step, losses,
the best checkpoint, peak memory, the code version, each source drawn, and reading a
manifest back."""

from __future__ import annotations

import json
import resource
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from etl.errors import ConfigError
from etl.version import __version__

MANIFEST = "training_manifest.json"


class StepTimer(TrainerCallback):
    """Wall seconds of each optimizer step (evaluations excluded): the first one pays for warm-up."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._began = 0.0

    def on_step_begin(self, *args, **kwargs) -> None:
        self._began = time.perf_counter()

    def on_step_end(self, *args, **kwargs) -> None:
        self.seconds.append(time.perf_counter() - self._began)


def step_seconds(trainer) -> list[float]:
    timer = next(c for c in trainer.callback_handler.callbacks if isinstance(c, StepTimer))
    return [round(s, 4) for s in timer.seconds]


def source_entry(source, drawn: int) -> dict:
    return {
        "name": source.source.label(),
        "weight": source.source.weight,
        **source.lineage,
        "train_available": len(source.train),
        "train_drawn": drawn,
        "eval_available": {k: len(v) for k, v in source.eval.items()},
    }


def first_loss(trainer) -> float | None:
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return losses[0] if losses else None


def last_loss(trainer) -> float | None:
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    return losses[-1] if losses else None


def best_step(trainer) -> int | None:
    best = trainer.state.best_model_checkpoint
    return int(best.rsplit("-", 1)[-1]) if best else None


def peak_memory(device: str) -> dict:
    """Peak GPU memory allocated by torch on a GPU; on CPU the process's peak resident set."""
    if device == "cuda":
        return {"kind": "cuda_max_allocated", "bytes": int(torch.cuda.max_memory_allocated())}
    return {"kind": "process_peak_rss", "bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def code_version() -> str:
    """The package version, and the git commit when the code runs from a checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+g{commit}" if commit else __version__


def json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder} holds no {MANIFEST}; pass the folder `etl train --out` wrote.")
    return json.loads(path.read_text(encoding="utf-8"))
