"""The whole pipeline.yaml: every section, and the paths it resolves against its own folder."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field

from etl.config.common import DATASET_NAME, Strict
from etl.config.examples import AugmentConfig, FormatConfig, SynthesisConfig
from etl.config.preference import PreferenceConfig
from etl.config.sources import CatalogFiles, FileSource, Sources
from etl.config.stages import (
    CleanConfig,
    DedupConfig,
    DeidentifyConfig,
    PublishConfig,
    RayConfig,
    SplitConfig,
    ValidateConfig,
)
from etl.errors import ConfigError


class PipelineConfig(Strict):
    # `validate` is the YAML key; the attribute is validate_ (BaseModel has a validate method)
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # The dataset's name in the store (letters, digits, _ . -).
    dataset: str = Field(pattern=DATASET_NAME)
    # The store folder, relative to this file (etl run --store overrides).
    store: str = "store"
    sources: Sources
    # A whole input file that cannot be used (missing or unknown columns, empty,
    # unreadable): `fail` stops the run before publishing (exit 5); `skip` publishes
    # without that file's rows and says so in the run's notices.
    on_source_error: Literal["fail", "skip"] = "fail"
    # A source kind whose records fall by more than this share against the previous
    # version gets a notice (a truncated export is not an error a reader can see).
    warn_source_fall: float = Field(0.5, gt=0, le=1)
    # Run folders (raw text per stage, quarantine, dropped rows, summaries: personal
    # data) live here, never in the store that is synced to trainers. Default: a
    # sibling of the store, `<store>-work`. Folders are owner-only.
    work_dir: str | None = None
    # Run folders kept per dataset; older ones are removed when a run starts.
    keep_runs: int = Field(20, ge=1)
    # local: every stage in this process (its own worker processes); ray: the per-record
    # stages (clean, de-identify) as Ray Data map_batches, the same code on each batch, and
    # embeddings, rewriting, dedup bucketing and the split's group-bys on Ray (etl/run/executors.py)
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)
    # The business's own facts: what the examples are grounded in and de-identification keeps.
    catalog: CatalogFiles = Field(default_factory=CatalogFiles)
    # The clean stage: normalisation, language, length and junk rules (docs/stages.md).
    clean: CleanConfig = Field(default_factory=CleanConfig)
    # Personal data: what is found and what replaces it.
    deidentify: DeidentifyConfig = Field(default_factory=DeidentifyConfig)
    # Exact and near-duplicate records, and rephrased questions (semantic).
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    # Records into chat examples, one builder a task.
    format: FormatConfig = Field(default_factory=FormatConfig)
    # The train/eval decision, one per record, kept across versions.
    split: SplitConfig = Field(default_factory=SplitConfig)
    # Rewritten variants of train examples (off by default; the sample turns it on).
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    # preference pairs and rated answers from thumbs and agent corrections (etl/stages/preference/)
    preference: PreferenceConfig = Field(default_factory=PreferenceConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    # Writing the version into the store.
    publish: PublishConfig = Field(default_factory=PublishConfig)

    # Set by the loader, not by the YAML: where relative paths are anchored.
    base_dir: Path = Field(default=Path("."), exclude=True)
    # Set by the loader: "reviews.columns.text" (or "reviews.1.columns.text") -> "pipeline.yaml:12",
    # so a mapped column that is not in the file is an error naming the line that maps it.
    mapping_lines: dict[str, str] = Field(default_factory=dict, exclude=True)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def source_files(self, kind: str) -> list[Path]:
        """Files of one source kind, sorted; a configured pattern that matches nothing fails fast."""
        return list(self.source_entries(kind))

    def source_entries(self, kind: str) -> dict[Path, tuple[str, FileSource]]:
        """Each file of one source kind, sorted, with the (config key, source) of the first entry
        whose pattern matches it. Each pattern is globbed once: a call centre exports one file a
        call, so anything per file that looked at every file again would be quadratic."""
        entries: dict[Path, tuple[str, FileSource]] = {}
        for key, spec in self.sources.specs(kind):
            for path in self._matches(key, spec.path):
                entries.setdefault(path, (key, spec))
        return dict(sorted(entries.items()))

    def _matches(self, key: str, pattern: str) -> list[Path]:
        full = str(self.resolve(pattern))
        matches = [Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p)]
        if not matches:
            raise ConfigError(
                f"sources.{key}: '{pattern}' matches no file (looked for {full}). "
                f"Fix the path in the config, or remove sources.{key} to skip that source."
            )
        return matches

    def catalog_file(self, kind: str) -> Path | None:
        relative = getattr(self.catalog, kind)
        if relative is None:
            return None
        path = self.resolve(relative)
        if not path.is_file():
            raise ConfigError(f"catalog.{kind}: file '{relative}' not found (looked for {path}).")
        return path

    def store_dir(self, override: str | Path | None = None) -> Path:
        return (Path(override).expanduser() if override else self.resolve(self.store)).resolve()

    def work_root(self, store: Path, override: str | Path | None = None) -> Path:
        """Where run folders go: --work, else `work_dir`, else `<store>-work` beside the store.
        Never inside the store (it is synced to trainers) and never around it."""
        work = (
            Path(override).expanduser()
            if override
            else self.resolve(self.work_dir)
            if self.work_dir
            else store.parent / f"{store.name}-work"
        ).resolve()
        if work == store or work.is_relative_to(store) or store.is_relative_to(work):
            key = "--work" if override else "work_dir"
            raise ConfigError(
                f"{key}: {work} overlaps the store {store}; run folders hold raw personal data and must live outside the store."
            )
        return work
