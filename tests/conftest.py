from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from etl.config import load_config
from etl.run.runner import run_pipeline

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"


def without_model_stages(config: Path) -> Path:
    """The pipeline at `config` with the stages that load the sentence-embedding model switched
    off (semantic dedup, augmentation, synthesis, preference pairs): for tests about running and publishing that
    run the pipeline several times (each load costs seconds), not about those stages."""
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings.setdefault("dedup", {}).setdefault("semantic", {})["enabled"] = False
    settings.setdefault("augment", {})["enabled"] = False
    settings.setdefault("synthesis", {})["enabled"] = False
    settings.setdefault("preference", {})["enabled"] = False
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return config


@pytest.fixture()
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of sample_data/ a test may change."""
    target = tmp_path / "sample_data"
    shutil.copytree(SAMPLE, target)
    return target


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """One pipeline run over the checked-in sample data, shared by the tests that only read it."""
    store = tmp_path_factory.mktemp("store")
    summary = run_pipeline(load_config(SAMPLE / "pipeline.yaml"), store=store)
    return summary


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def file_text(path: Path) -> str:
    """A file of a store as text: parquet decoded (its pages are compressed, so a search of its
    bytes finds nothing), any other file as it is."""
    if path.suffix == ".parquet":
        return pl.read_parquet(path).write_ndjson()
    return path.read_bytes().decode("utf-8", errors="replace")


def published_text(store: Path) -> str:
    """Everything in a store as text, file by file (file_text)."""
    return "\n".join(file_text(p) for p in sorted(store.rglob("*")) if p.is_file())
