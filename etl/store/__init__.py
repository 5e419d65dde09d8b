"""The store layer: what a trainer may read, and nothing else.

    versions.py     the versioned store: atomic, immutable, reproducible versions (`Store`)
    card.py         each version's dataset card (README.md)
    report_page.py  each version's curation report (report.html)
    diff.py         what changed between two versions (`etl diff`)
    files.py        durable writes, read-only trees, files shared with the version before

Nothing here reads raw text or knows a stage: publish hands the store finished examples.
"""

from etl.store.versions import SHARD, PublishOutcome, Store, StoreError, file_sha256, fingerprint

__all__ = ["SHARD", "PublishOutcome", "Store", "StoreError", "file_sha256", "fingerprint"]
