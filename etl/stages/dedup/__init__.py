"""Dedup: exact and MinHash near-duplicates of records (stage.py, minhash.py), the
cross-version index (index.py), and semantic dedup of examples (semantic.py)."""

from etl.stages.dedup.stage import INDEX_FILE, DedupStage, load_index

__all__ = ["INDEX_FILE", "DedupStage", "load_index"]
