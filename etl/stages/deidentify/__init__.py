"""De-identification: presidio analysis with evidence for names, consistent surrogates, a fail-closed rescan."""

from etl.stages.deidentify.stage import CHUNK_RECORDS, DeidentifyStage, WorkerPool, WorkerSetup

__all__ = ["CHUNK_RECORDS", "DeidentifyStage", "WorkerPool", "WorkerSetup"]
