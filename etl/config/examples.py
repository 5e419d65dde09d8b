"""The settings of the stages that build examples: format (tasks, prompts, grounding),
augmentation and synthesis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from etl.config.common import Strict
from etl.example import TASKS


def _registered_tasks() -> list[str]:
    return list(TASKS)


def check_task_names(names) -> None:
    unknown = sorted(set(names) - set(_registered_tasks()))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known tasks are {_registered_tasks()}")


class GroundingConfig(Strict):
    # Tasks whose examples carry, in their system prompt, the catalog entries their question is
    # about (etl/text/menu_retrieval.py; `etl eval` grounds its questions the same way). Empty:
    # closed book, the model answers from its weights.
    tasks: list[str] = Field(default_factory=list)
    # Catalog entries a prompt holds at most.
    max_entries: int = Field(3, ge=1, le=10)

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        check_task_names(tasks)
        return tasks


class FormatConfig(Strict):
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
        check_task_names(prompts)
        if any(not p.strip() for p in prompts.values()):
            raise ValueError("a task's prompt is empty; leave the task out to use system_prompt")
        return prompts

    def prompts_for(self, business: str) -> dict[str, str]:
        """Every task's system prompt, {business} filled in."""
        return {task: self.prompts.get(task, self.system_prompt).format(business=business) for task in TASKS}

    @field_validator("min_customer_words")
    @classmethod
    def _known_task_minimums(cls, minimums: dict[str, int]) -> dict[str, int]:
        check_task_names(minimums)
        if any(n < 0 for n in minimums.values()):
            raise ValueError("minimums are word counts, 0 or more")
        return minimums

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, tasks: list[str]) -> list[str]:
        check_task_names(tasks)
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


class AugmentMethod(Strict):
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


class AugmentConfig(Strict):
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
        check_task_names(tasks)
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


class SynthesisConfig(Strict):
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
