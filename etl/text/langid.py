"""Language identification with lingua (its models ship inside the wheel: nothing is downloaded).

lingua is chosen over langid/fastText-style detectors because it stays accurate
on the short, slangy texts customers write ("ngl the chkn was mid"). Detection
runs over a closed set of candidate languages, which lingua documents as the
way to get reliable answers on short texts, and in parallel (Rust threads).
"""

from __future__ import annotations

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
    return LanguageDetectorBuilder.from_languages(*languages).build()


def detect_languages(texts: list[str], candidates: list[str]) -> list[str | None]:
    """ISO 639-1 code of each text, or None where lingua cannot decide."""
    detector = _detector(tuple(sorted(set(candidates))))
    results = detector.detect_languages_in_parallel_of(texts)
    return [lang.iso_code_639_1.name.lower() if lang is not None else None for lang in results]
