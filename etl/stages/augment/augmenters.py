"""The rewriting methods: nlpaug's augmenters built from the config (keyboard and OCR slips,
spelling, swaps, deletions, synonyms, optional word vectors), each told which words it must
never touch (the protected facts), and seeded per parent and method."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from etl.errors import ConfigError
from etl.text.facts import ProtectedFacts
from etl.text.phrases import thesaurus


def build_augmenter(method: str, params: dict, facts: ProtectedFacts, base_dir: Path | None = None):
    """The nlpaug augmenter for a method, with the protected facts as stop words."""
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    if method in ("contextual", "word_vectors"):
        return _model_augmenter(method, params, facts, base_dir)
    # tokens are what whitespace separates: nlpaug's own tokenizer cuts "6:30pm" into three and
    # glues them back as "6: 30pm"
    words = {"tokenizer": str.split, "reverse_tokenizer": " ".join}
    protect = {"stopwords": facts.stopwords, "stopwords_regex": facts.stopwords_regex, **words}
    if method == "keyboard":
        return nac.KeyboardAug(
            include_numeric=False, include_special_char=False, include_upper_case=False, **protect, **params
        )
    if method == "ocr":
        return nac.OcrAug(**protect, **params)
    if method == "spelling":
        augmenter = naw.SpellingAug(**protect, **params)
        # nlpaug dedups each word's misspellings through a set: its order, and so the random
        # pick, changes with Python's hash seed; sorted, one seed gives one result everywhere
        augmenter.model.dict = {word: sorted(options) for word, options in augmenter.model.dict.items()}
        return augmenter
    if method in ("swap", "delete"):
        return naw.RandomWordAug(action=method, **protect, **params)
    if method == "synonyms":
        return phrase_safe_reserved_aug()(thesaurus(), **words, **params)
    raise ValueError(f"unknown augmentation method {method!r}")


def phrase_safe_reserved_aug():
    """nlpaug's ReservedAug with its phrases kept whole. To treat "can I" as one token it glues
    every thesaurus phrase it finds with a connector ("cannnnnnI"), matched in any case and inside
    other words, and leaves the glued form of the phrases it does not replace in its output: a
    real chat turn "Can I get a Matcha Latte" came out "cannnnnnI get a Matcha Latte". Here a
    phrase is glued only where it stands as written and as whole words, and the glue of those
    left alone is undone."""
    import nlpaug.augmenter.word as naw

    class PhraseSafeReservedAug(naw.ReservedAug):
        def __init__(self, reserved_tokens, **options) -> None:
            super().__init__(reserved_tokens, **options)
            phrases = {tuple(self.tokenizer(p)) for group in reserved_tokens for p in group}
            self.phrase_patterns = [
                (
                    re.compile(r"(?<!\S)" + r"\s+".join(map(re.escape, words)) + r"(?!\S)"),
                    self.CONNECT_TOKEN.join(words),
                )
                for words in sorted((w for w in phrases if len(w) > 1), key=len, reverse=True)
            ]

        def preprocess(self, data: str) -> str:
            for pattern, concat in self.phrase_patterns:
                data = pattern.sub(concat, data)
            return data

        def substitute(self, data):
            if self.CONNECT_TOKEN in (data or ""):
                return data  # a text that holds the connector itself is left as it is
            result = super().substitute(data)
            if isinstance(result, list):
                return [r.replace(self.CONNECT_TOKEN, " ") for r in result]
            return result.replace(self.CONNECT_TOKEN, " ")

    return PhraseSafeReservedAug


def model_path(method: str, params: dict, base_dir: Path | None) -> Path:
    """A model method's `model_path`, relative to the config like every path in it; it must exist."""
    path = Path(params["model_path"]).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise ConfigError(
            f"augment.methods: {method} params.model_path '{path}' does not exist. Point it at "
            + ("a masked language model folder (save_pretrained)" if method == "contextual" else "a word-vectors file")
            + ", or remove the method."
        )
    return path


def _model_augmenter(method: str, params: dict, facts: ProtectedFacts, base_dir: Path | None):
    """An augmenter that reads a model of the user's: the path checked first, a clear error if it cannot be read."""
    import nlpaug.augmenter.word as naw

    path = model_path(method, params, base_dir)
    options = {k: v for k, v in params.items() if k not in ("model_path", "model_type")}
    try:
        if method == "contextual":
            # its stop words are set line by line (_protect_line): nlpaug compiles them into one
            # regex group per word, and all of ours (over 100,000) take minutes a line
            return naw.ContextualWordEmbsAug(
                model_path=str(path), model_type=params["model_type"], device="cpu", use_custom_api=False, **options
            )
        protect = {"stopwords": facts.stopwords, "stopwords_regex": facts.stopwords_regex}
        words = {"tokenizer": str.split, "reverse_tokenizer": " ".join}
        return naw.WordEmbsAug(model_type=params["model_type"], model_path=str(path), **protect, **words, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"augment.methods: {method} cannot load '{path}': {exc}") from None


def variant_seed(seed: int, parent_id: str, method: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{parent_id}:{method}".encode()).digest()[:4], "big")
