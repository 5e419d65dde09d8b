"""What a run counts: a report per stage, the run's summary (summary.json), and the hooks a
progress display gets. The runner fills them; etl/run/summary.py shows them; the publish
stage records the summary in the version's manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class StageReport:
    stage: str
    unit: str
    rows_in: int
    kept: int
    dropped: int
    dropped_by_reason: dict[str, int]
    seconds: float
    # what the next stage receives, in `produces` units when the stage changes the unit
    handed_on: int = 0
    produces: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    output: str | None = None
    # what the stage took from earlier runs and what it computed tonight, by what it counts:
    # {"records": {"reused": 9400, "computed": 95}, "vectors": {...}, "rewrites": {...}}
    reuse: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class RunSummary:
    run_id: str
    dataset: str
    run_dir: str
    store_dir: str
    config_hash: str
    code_version: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    # raw rows read; records that gave examples; raw rows and records dropped
    rows_in: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    invariant_holds: bool = False
    invariant_errors: list[str] = field(default_factory=list)
    # one report per stage, in run order, whatever its unit
    stages: list[StageReport] = field(default_factory=list)
    examples_built: int = 0
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    # variants per task and method, rejections by reason (the augment stage)
    augmentation: dict = field(default_factory=dict)
    # examples synthesised from the catalog per task and intent, rejections by reason
    synthesis: dict = field(default_factory=dict)
    # preference pairs per kind and split, KTO balance, why candidates gave no pair (etl/stages/preference/)
    preference: dict = field(default_factory=dict)
    # catalog entries put into prompts: settings, retrieval code, examples grounded per task (etl/stages/ground.py)
    grounding: dict = field(default_factory=dict)
    # per quality suite: success, severity, expectations run, failures (etl/stages/validate/stage.py)
    quality: dict = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    # incremental or full; the files read tonight; files and records carried from the cache
    inputs: dict = field(default_factory=dict)
    # distinct texts given sentence vectors: embedded tonight, or kept from the last run
    embeddings: dict = field(default_factory=dict)
    # whole input files that could not be used: {file, kind, code, problem, fix}
    source_errors: list[dict[str, str]] = field(default_factory=list)
    quarantine: dict = field(default_factory=dict)
    publish: dict = field(default_factory=dict)
    # warnings for the operator (e.g. the development key is in use); never a secret or a raw value
    notices: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False)

    def absorb(self, fields: dict) -> None:
        """What a stage tells the summary: lists are appended to, anything else is set."""
        for name, value in fields.items():
            if isinstance(value, list):
                getattr(self, name).extend(value)
            else:
                setattr(self, name, value)


class ProgressHooks:
    """What the runner tells a progress display; the default says nothing."""

    def start(self, stage: str, total: int) -> Callable[[int], None]:
        return lambda n: None

    def finish(self, stage: str) -> None:
        pass
