"""spaCy's English stop words, without importing spaCy.

The word list is a file of spaCy's of its own (a set literal, no imports); importing it the
usual way (`from spacy.lang.en.stop_words import STOP_WORDS`) imports the whole spaCy package
first: 2.3 s on 2 cores, paid by every process that only wants the words (the main process
of a run, whose de-identification runs in worker processes). Read here from spaCy's own
installed file, so the words are always the installed spaCy's.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def english_stop_words() -> frozenset[str]:
    loaded = sys.modules.get("spacy.lang.en.stop_words")
    if loaded is not None:
        return frozenset(loaded.STOP_WORDS)
    spec = importlib.util.find_spec("spacy")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("spaCy is not installed: it is a dependency of this package; reinstall it")
    path = Path(next(iter(spec.submodule_search_locations))) / "lang" / "en" / "stop_words.py"
    return frozenset(runpy.run_path(str(path))["STOP_WORDS"])
