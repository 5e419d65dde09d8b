"""What every configuration model shares: unknown keys are errors, names that are folders."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel, ConfigDict

# a dataset's name is a folder of the store: letters, digits, _ . - and no path separator, so
# no name (from the config or the command line) reaches outside the store
DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


@lru_cache(maxsize=1)
def known_iso_codes() -> frozenset[str]:
    """The ISO 639-1 codes lingua (the clean stage's language detector) knows."""
    from lingua import Language

    return frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())


class Strict(BaseModel):
    # A typo in a key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")
