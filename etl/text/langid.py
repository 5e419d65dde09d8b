"""Language identification with lingua (its models ship inside the wheel: nothing is downloaded).

lingua is chosen over langid/fastText-style detectors because it stays accurate
on the short, slangy texts customers write ("ngl the chkn was mid"). Detection
runs over a closed set of candidate languages, which lingua documents as the
way to get reliable answers on short texts, and in parallel (Rust threads).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder


def _language(code: str) -> Language:
    return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))


@lru_cache(maxsize=4)
def _detector(candidates: tuple[str, ...]):
    languages = [_language(code) for code in candidates]
    if len(languages) < 2:
        # lingua needs at least two languages to choose between.
        languages.append(Language.SPANISH if languages[0] != Language.SPANISH else Language.ENGLISH)
    # the models loaded as it is built, not at its first texts: `preload` can then load them
    # on a thread (lingua reads them without holding the GIL); the answers are the same
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


# candidates -> the thread loading their detector (`preload`), until a detection waits for it
_loading: dict[tuple[str, ...], threading.Thread] = {}


def _key(candidates: list[str]) -> tuple[str, ...]:
    return tuple(sorted(set(candidates)))


def preload(candidates: list[str]) -> None:
    """Load the candidates' models on a thread now, while the run does other work: a night's
    few new records would otherwise wait 0.7-0.9 s for them (2 cores)."""
    key = _key(candidates)
    if key not in _loading:
        _loading[key] = threading.Thread(target=_detector, args=(key,), name="lingua-models", daemon=True)
        _loading[key].start()


def detect_languages(texts: list[str], candidates: list[str]) -> list[str | None]:
    """ISO 639-1 code of each text, or None where lingua cannot decide."""
    key = _key(candidates)
    if (loading := _loading.pop(key, None)) is not None:
        loading.join()  # the detector is then in `_detector`'s cache
    detector = _detector(key)
    results = detector.detect_languages_in_parallel_of(texts)
    return [lang.iso_code_639_1.name.lower() if lang is not None else None for lang in results]
