"""Task metrics a person can trust: what the chatbot's answers get right, per task, each
figure with the number of answers behind it and a 95% interval.

- review_sentiment: accuracy, per-class precision / recall / F1, macro-F1 and the confusion
  matrix (scikit-learn's metrics);
- menu_qa: fact accuracy, the share of answers whose every claim (price, calories, protein,
  allergens, ingredients, diet tags, yes/no) the catalog confirms, read back by the grounding
  code synthesis checks its own answers with; and the share naming a dish the menu lacks;
- recommendation: the share of answers that recommend menu dishes fitting the request's
  constraints (diet, allergen, protein and calorie bounds), none of them invented;
- order_support, policy_qa, customer_service: chrF against the reference reply (sacrebleu),
  the share of replies matching a personal-data pattern of the published suite, and the share
  that state an order number the conversation never gave (an invented one).

Intervals: Wilson's for shares (scipy's binomtest), a seeded bootstrap for means and F1
(scipy.stats.bootstrap), so the same answers always give the same figures. Pure functions
over lists of strings: the generation is elsewhere, and a test can hand in any answers.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from etl.catalog import Catalog, Constraint
from etl.example import SENTIMENT_LABELS
from etl.stages.synthesis.grounding import Grounding
from etl.text.menu_retrieval import Bounds, fits_request
from train.frozen_questions import mentions

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
# the words a made-up dish name ends in, beyond the last words of the menu's own dish names
DISH_NOUNS = {"bowl", "salad", "wrap", "plate", "burger", "sandwich", "soup", "tacos", "pasta", "curry", "stew", "pie"}
TITLE_PHRASE = re.compile(r"\b(?:[A-Z][a-z'’-]+ ){1,4}[A-Z][a-z'’-]+\b")
# each task's figure a promotion is decided on (higher is better for all of them)
MAIN_METRIC = {
    "review_sentiment": "macro_f1",
    "menu_qa": "fact_accuracy",
    "recommendation": "fitting_share",
    "order_support": "chrf",
    "policy_qa": "chrf",
    "customer_service": "chrf",
    # not a task of the version: a public set's questions (`etl eval --general`), asked to see
    # whether training on the business's data costs the model what it knew
    "general": "answer_contained",
}


@dataclass(frozen=True)
class Figure:
    """A metric's value, the answers it was computed on, and its 95% interval."""

    value: float
    n: int
    low: float
    high: float

    def as_dict(self) -> dict:
        return asdict(self)


def share(hits: int, n: int) -> Figure:
    """hits / n with Wilson's 95% interval (empty: nan)."""
    if n == 0:
        return Figure(float("nan"), 0, float("nan"), float("nan"))
    from scipy.stats import binomtest

    interval = binomtest(hits, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Figure(hits / n, n, float(interval.low), float(interval.high))


def mean(values: list[float]) -> Figure:
    """The mean with a seeded bootstrap 95% interval (one value: the interval is the value)."""
    values = [float(v) for v in values]
    if not values:
        return Figure(float("nan"), 0, float("nan"), float("nan"))
    centre = float(np.mean(values))
    if len(set(values)) < 2:
        return Figure(centre, len(values), centre, centre)
    from scipy.stats import bootstrap

    result = bootstrap(
        (np.asarray(values),), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES, random_state=0
    )
    return Figure(centre, len(values), float(result.confidence_interval.low), float(result.confidence_interval.high))


# ------------------------------------------------------------------ review_sentiment


def parse_label(text: str) -> str | None:
    """The first label word in the generated text (case-insensitive), else None."""
    found = re.search(r"\b(" + "|".join(SENTIMENT_LABELS) + r")\b", text.lower())
    return found.group(1) if found else None


def sentiment_label(answer: str) -> str:
    """The label an answer gives, "other" where it gives none."""
    return parse_label(answer) or "other"


def score_sentiment(answers: list[str], labels: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    predicted = [sentiment_label(a) for a in answers]
    classes = list(SENTIMENT_LABELS)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    correct = int(round(accuracy_score(labels, predicted) * len(labels))) if labels else 0
    return {
        "accuracy": share(correct, len(labels)).as_dict(),
        "macro_f1": _macro_f1(labels, predicted, f1_score).as_dict(),
        "per_class": {
            c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        # rows: the reference label, columns: the answer's ("other" last: no label given)
        "confusion": {
            "labels": [*classes, "other"],
            "matrix": confusion_matrix(labels, predicted, labels=[*classes, "other"]).tolist() if labels else [],
        },
    }


def _f1_on(labels: list[str], predicted: list[str], indices, f1_score) -> float:
    """Macro-F1 over the three sentiment labels of the items at `indices` (a bootstrap resample)."""
    return f1_score(
        [labels[i] for i in indices],
        [predicted[i] for i in indices],
        labels=list(SENTIMENT_LABELS),
        average="macro",
        zero_division=0,
    )


def _macro_f1(labels: list[str], predicted: list[str], f1_score) -> Figure:
    if not labels:
        return Figure(float("nan"), 0, float("nan"), float("nan"))

    def statistic(indices):
        return _f1_on(labels, predicted, np.asarray(indices, dtype=int), f1_score)

    centre = float(statistic(range(len(labels))))
    rng = np.random.default_rng(0)
    draws = [statistic(rng.integers(0, len(labels), len(labels))) for _ in range(BOOTSTRAP_RESAMPLES)]
    low, high = np.quantile(draws, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Figure(centre, len(labels), float(min(low, centre)), float(max(high, centre)))


# ------------------------------------------------------------------ menu_qa and recommendation


class MenuReader:
    """Reads answers against one catalog: contradicted claims, and dishes the menu lacks."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.grounding = Grounding(catalog)
        self.dish_nouns = DISH_NOUNS | {d.name.split()[-1].lower() for d in catalog.dishes}

    def invented_dishes(self, answer: str, question: str = "") -> list[str]:
        """Title-case phrases ending in a dish word ("Moonlight Mango Bowl") that are no menu
        dish: the known dishes are blanked first, so "the Peachtree Power Bowl" is not one, and
        so is the question's own way of naming one (an answer echoing "the Keto Salon Caesar"
        invents nothing)."""
        text = answer
        for start, end, _ in sorted(self.catalog.mentions(answer), reverse=True):
            text = text[:start] + " " * (end - start) + text[end:]
        asked = question.lower()
        return [
            m.group()
            for m in TITLE_PHRASE.finditer(text)
            if m.group().split()[-1].lower() in self.dish_nouns and m.group().lower() not in asked
        ]

    def problems(self, question: str, answer: str, task: str) -> list[str]:
        return self.grounding.problems(question, answer, task)

    def catalog_dish(self, dish_id: str):
        return next(d for d in self.catalog.dishes if d.id == dish_id)


def _judged(questions: list[str], answers: list[str], reader: MenuReader, task: str) -> tuple[int, int]:
    """(answers the catalog confirms and that invent no dish, answers inventing a dish)."""
    invented = [bool(reader.invented_dishes(a)) for a in answers]
    right = sum(not made_up and not reader.problems(q, a, task) for q, a, made_up in zip(questions, answers, invented))
    return right, sum(invented)


def score_menu_qa(questions: list[str], answers: list[str], reader: MenuReader) -> dict:
    right, invented = _judged(questions, answers, reader, "menu_qa")
    return {
        "fact_accuracy": share(right, len(answers)).as_dict(),
        "invented_dish_share": share(invented, len(answers)).as_dict(),
    }


def score_recommendation(questions: list[str], answers: list[str], reader: MenuReader) -> dict:
    fitting, invented = _judged(questions, answers, reader, "recommendation")
    return {
        "fitting_share": share(fitting, len(answers)).as_dict(),
        "invented_dish_share": share(invented, len(answers)).as_dict(),
    }


# ------------------------------------------------------------------ replies


def score_replies(
    answers: list[str],
    references: list[str],
    prompts: list[str],
    leak_patterns: list[str],
    order_number_patterns: list[str],
) -> dict:
    """chrF of each reply against its reference; the shares leaking a personal-data pattern
    and stating an order number the prompt (the conversation so far) does not hold."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    scores = [chrf.sentence_score(a, [r]).score / 100 for a, r in zip(answers, references)]
    leaks = [re.compile(p) for p in leak_patterns]
    orders = [re.compile(p) for p in order_number_patterns]
    leaked = sum(any(p.search(a) for p in leaks) for a in answers)
    invented = sum(
        any(m.group() not in prompt for p in orders for m in p.finditer(a)) for a, prompt in zip(answers, prompts)
    )
    return {
        "chrf": mean(scores).as_dict(),
        "personal_data_share": share(leaked, len(answers)).as_dict(),
        "invented_order_number_share": share(invented, len(answers)).as_dict(),
        "_per_item": scores,  # for paired differences; not written to a manifest
    }


# ------------------------------------------------------------------ a general check

ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = re.compile(r"[^\w\s]")


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(ARTICLES.sub(" ", PUNCTUATION.sub(" ", text.lower())).split())


def score_general(answers: list[str], references: list[str]) -> dict:
    """A public question set's short references: the share of answers that state the reference
    (normalised as SQuAD does; a chat model's answers are sentences, so containment, not exact
    match), and chrF against it."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    contained = [
        bool(normalise_answer(r)) and f" {normalise_answer(r)} " in f" {normalise_answer(a)} "
        for a, r in zip(answers, references)
    ]
    return {
        "answer_contained": share(sum(contained), len(answers)).as_dict(),
        "chrf": mean([chrf.sentence_score(a, [r]).score / 100 for a, r in zip(answers, references)]).as_dict(),
        "_per_item": contained,
    }


# ------------------------------------------------------------------ promotion


def not_worse(new: dict, current: dict) -> tuple[bool, list[str]]:
    """Whether `new` (task -> metrics, as the score functions return them) may replace
    `current` on the same eval set: no task's main metric falls below the current value by
    more than the current figure's interval allows (its low end). The reasons name each
    task that fell, with both figures and their counts."""
    fell = []
    for task, metric in MAIN_METRIC.items():
        if task not in current or task not in new:
            continue
        before, after = current[task][metric], new[task][metric]
        if after["value"] < before["low"]:
            fell.append(
                f"{task} {metric} fell from {before['value']:.3f} (n={before['n']}, 95% interval "
                f"{before['low']:.3f}-{before['high']:.3f}) to {after['value']:.3f} (n={after['n']})"
            )
    return not fell, fell


# ------------------------------------------------------------------ the frozen set (train/frozen_eval.py)

YES_NO = re.compile(r"\b(yes|yeah|yep|no|nope)\b", re.IGNORECASE)
NUMBER_TOKEN = re.compile(r"\d+(?:\.\d+)?")


def frozen_menu_right(item, answer: str, reader: MenuReader) -> bool:
    """Whether an answer states what the frozen menu question asks, right, and nothing the catalog
    contradicts (read against the question's canonical twin, which names the dish in full)."""
    if reader.invented_dishes(answer, item.question) or reader.problems(item.canonical, answer, "menu_qa"):
        return False
    dish = reader.catalog_dish(item.dishes[0])
    expected = item.expected
    numbers = {float(n) for n in NUMBER_TOKEN.findall(answer.replace(",", ""))}
    if "price" in expected:
        return float(expected["price"]) in numbers
    if "calories" in expected:
        return float(expected["calories"]) in numbers
    if "protein_g" in expected:
        return float(expected["protein_g"]) in numbers
    if "ingredients" in expected:
        named = sum(ingredient.lower() in answer.lower() for ingredient in dish.ingredients)
        return named >= min(2, len(dish.ingredients))
    if "yes" in expected:
        said = YES_NO.search(answer)
        return bool(said) and (said.group(1).lower() in ("yes", "yeah", "yep")) == expected["yes"]
    if "winner" in expected:
        return _names_winner_first(item, answer, reader)
    raise ValueError(f"frozen item {item.id} expects nothing this reader knows: {sorted(expected)}")


def _names_winner_first(item, answer: str, reader: MenuReader) -> bool:
    """The winner of a comparison is named, before the other dish if both are."""
    text = answer.lower()
    winner = reader.catalog_dish(item.expected["winner"])
    loser = reader.catalog_dish(next(d for d in item.dishes if d != winner.id))
    at = [text.find(name) for name in [winner.name.lower(), *item.expected["winner_mentions"]] if name in text]
    if not at:
        return False
    other = [text.find(n) for n in {loser.name.lower(), *_mentions_of(loser, reader)} if n in text]
    return not other or min(at) < min(other)


def _mentions_of(dish, reader: MenuReader) -> set[str]:
    return {n.removeprefix("the ").lower() for k, n in mentions(reader.catalog, dish).items() if k != "described"}


def frozen_recommendation_fits(item, answer: str, reader: MenuReader) -> bool:
    """The answer recommends at least one menu dish, every one it names fits every constraint of
    the request (diets, allergens, calorie ceiling, protein floor), and it invents none."""
    expected = item.expected
    needs = [Constraint(kind="diet", value=v) for v in expected.get("diets", [])]
    needs += [Constraint(kind="allergen", value=v) for v in expected.get("allergens", [])]
    bounds = Bounds(expected.get("max_calories"), expected.get("min_protein"))
    named = reader.catalog.dishes_in(answer)
    if not named or reader.invented_dishes(answer, item.question):
        return False
    return all(fits_request(reader.catalog, dish, needs, bounds) for dish in named)


def score_frozen(task: str, items: list, answers: list[str], reader: MenuReader) -> dict:
    """menu_qa fact accuracy or recommendation fitting share on frozen questions, overall and by
    how the question names its dish (style) or what it asks (intent); per-item outcomes kept
    (`correct`, booleans in item order) for paired differences."""
    judge = frozen_menu_right if task == "menu_qa" else frozen_recommendation_fits
    correct = [judge(item, answer, reader) for item, answer in zip(items, answers)]
    invented = sum(bool(reader.invented_dishes(a, i.question)) for i, a in zip(items, answers))
    main = MAIN_METRIC[task]
    groups: dict[str, dict[str, list[bool]]] = {"style": {}, "intent": {}}
    for item, right in zip(items, correct):
        groups["style"].setdefault(item.style, []).append(right)
        groups["intent"].setdefault(item.intent, []).append(right)
    return {
        main: share(sum(correct), len(correct)).as_dict(),
        "invented_dish_share": share(invented, len(answers)).as_dict(),
        "by_style": {k: share(sum(v), len(v)).as_dict() for k, v in sorted(groups["style"].items())},
        "by_intent": {k: share(sum(v), len(v)).as_dict() for k, v in sorted(groups["intent"].items())},
        "correct": correct,
    }


def paired_difference(after: list[float], before: list[float]) -> Figure:
    """The mean of after - before over the same items, with a seeded bootstrap 95% interval:
    the two models answered the same questions, so the items are resampled in pairs."""
    return mean([float(a) - float(b) for a, b in zip(after, before)])


def macro_f1_difference(labels: list[str], after: list[str], before: list[str]) -> Figure:
    """Macro-F1 of `after`'s labels minus `before`'s on the same reviews, paired bootstrap 95% interval."""
    from sklearn.metrics import f1_score

    def f1(indices, predicted):
        return _f1_on(labels, predicted, indices, f1_score)

    everything = range(len(labels))
    centre = float(f1(everything, after) - f1(everything, before))
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        chosen = rng.integers(0, len(labels), len(labels))
        draws.append(f1(chosen, after) - f1(chosen, before))
    low, high = np.quantile(draws, [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2])
    return Figure(centre, len(labels), float(min(low, centre)), float(max(high, centre)))
