"""The package's version, recorded in every run summary, manifest and adapter (a module of
its own so that the layers below `etl.api` can name it without importing the package's API)."""

__version__ = "0.1.0"
