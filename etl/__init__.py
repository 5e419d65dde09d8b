"""Curated, de-identified, versioned instruction datasets from customer text."""

from etl.version import __version__

__all__ = ["__version__", "load"]


def load(dataset: str, version: str = "latest", task: str | None = None, store=None):
    """A published dataset version as a `datasets.DatasetDict` (see etl.api.load)."""
    from etl.api import load as _load

    return _load(dataset, version=version, task=task, store=store)
