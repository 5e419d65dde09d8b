"""Curated, de-identified, versioned instruction datasets from customer text."""

__version__ = "0.1.0"
