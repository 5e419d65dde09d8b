"""The frozen, held-out eval set: written once per dataset, fingerprinted, kept across versions.

Two evaluations compare only on the same questions, so the set is not drawn from a version: it
is written once (`etl eval freeze`, or the first `etl eval` of a dataset) into
`<store>/<dataset>/frozen_eval/` and every later evaluation reads it and names its fingerprint.
It holds no customer text: questions written here from the catalog, and real labelled review
sentences from a public corpus.

- menu_qa: price, calories, protein, ingredients, allergen and diet yes/no questions about each
  dish, and comparisons of two, in phrasings synthesis never uses, naming the dish the ways
  customers do: in full, in lower case, in part ("the paleo bowl"), misspelt ("the Paleo Powr
  Bowl") and described by what is in it ("the steak one with chimichurri"). Each question keeps
  its canonical twin (the same words, the dish named in full) for the answer reader, and what a
  right answer must state.
- recommendation: a diet, an allergy, both, a calorie ceiling or a protein floor, in phrasings of
  its own; each request's constraints are kept and at least one dish fits them.
- review_sentiment: review sentences with the sentiment people gave them (UCI Sentiment
  Labelled Sentences, Yelp part, CC BY 4.0; packaged in train/data/), those in the version's
  train split left out.

Written only where no train question of the version it is frozen against is a rephrasing of it
(synthesis's own test: the same embedding model, cosine at `synthesis.eval_rephrase_threshold`
or more with a train question of the same task); how many were set aside is in its record.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from etl.catalog import Catalog, Constraint, Dish
from etl.errors import ConfigError
from etl.text.menu_retrieval import Bounds, fits_request

FOLDER = "frozen_eval"
QUESTIONS = "questions.parquet"
RECORD = "frozen_eval.json"
GENERATOR = "frozen_eval/1"  # names this code in the record; bump when the questions it writes change
SEED = 2026
SENTIMENT_SENTENCES = 500
YELP = Path(__file__).parent / "data" / "yelp_labelled.txt"
SENTIMENT_INSTRUCTION = (  # the review_sentiment builder's own instruction (etl/stages/tasks/review_sentiment.py)
    "Classify the sentiment of this customer review as positive, neutral or negative. "
    "Answer with one word.\n\nReview: {text}"
)

# intent -> phrasings; {m} is the dish as the customer names it, with its article ("the paleo bowl")
MENU_PHRASINGS: dict[str, list[str]] = {
    "price": [
        "What would I pay for {m}?",
        "how pricey is {m} these days",
        "Before I order: what's {m} going for?",
    ],
    "calories": [
        "Roughly how many cals am I looking at with {m}?",
        "counting calories this week, where does {m} land",
        "If I grab {m}, how many calories is that?",
    ],
    "protein": [
        "I'm tracking macros. How many grams of protein come with {m}?",
        "protein content of {m} please, in grams",
        "Does {m} pack much protein? Give me the grams.",
    ],
    "ingredients": [
        "Walk me through the components of {m}.",
        "Break down for me what {m} is made from.",
        "I'm curious what you put in {m}",
    ],
    "allergen_check": [
        "Will I find {a} anywhere in {m}?",
        "Quick allergy check: is {m} made with {a}?",
        "My partner reacts to {a}. Is there any in {m}?",
    ],
    "diet_fit": [
        "I eat {t}. Can {m} be part of that?",
        "Would {m} count as {t}?",
        "Thinking of {m} for my {t} plan. Does it qualify?",
    ],
}
COMPARISONS: dict[str, tuple[str, str, list[str]]] = {
    # attribute -> (catalog field, winner rule, phrasings)
    "protein": ("protein_g", "max", ["Between {m1} and {m2}, which one packs more protein?"]),
    "calories": ("calories", "min", ["Which is lighter on calories, {m1} or {m2}?"]),
    "price": ("price", "min", ["Which will cost me less: {m1} or {m2}?"]),
}
RECOMMENDATION_PHRASINGS: dict[str, list[str]] = {
    "diet": [
        "Got anything {t} for dinner tonight?",
        "Which of your meals would suit someone who eats {t}?",
        "I went {t} last month. What should I order?",
    ],
    "allergen": [
        "I have a {y} allergy. Which meals are safe for me?",
        "I'm allergic to {a}. Which dishes leave it out entirely?",
        "Ordering for a friend with a {y} allergy, what would be safe?",
    ],
    "diet_allergen": [
        "I'm {t} and I have a {y} allergy. What fits both?",
        "Need something {t}, and it has to be ok for a {y} allergy. Picks?",
    ],
    "diet_calories": [
        "Something {t} under {n} calories, please?",
        "What {t} meals come in under {n} calories?",
        "I'm eating {t} and want to stay under {n} calories. Suggestions?",
    ],
    "protein": [
        "Which meals give me at least {p} g of protein?",
        "Post-workout I need at least {p} grams of protein. What do you have?",
        "Anything with more than {p}g of protein for my lunch box?",
    ],
    "diet_protein": [
        "I want something {t} with at least {p} g of protein. What works?",
        "Looking for {t} food with over {p} grams of protein, ideas?",
    ],
}
STYLES = ("exact", "lower", "partial", "misspelt", "described")
NUMBERS = ("price", "calories", "protein")


@dataclass
class FrozenItem:
    id: str
    task: str
    intent: str
    style: str  # how the dish is named: exact, lower, partial, misspelt, described; "need" for requests
    question: str
    canonical: str  # the same question with every dish named in full: what the answer reader reads
    dishes: list[str] = field(default_factory=list)  # the dishes asked about (ids)
    expected: dict = field(default_factory=dict)  # what a right answer states
    label: str | None = None  # review_sentiment


# ------------------------------------------------------------------ naming a dish as customers do


def mentions(catalog: Catalog, dish: Dish) -> dict[str, str]:
    """Each style's way of naming the dish (styles that cannot name it unambiguously are left out)."""
    found = {"exact": f"the {dish.name}", "lower": f"the {dish.name.lower()}"}
    partial = _partial_name(catalog, dish)
    if partial:
        found["partial"] = f"the {partial}"
    found["misspelt"] = f"the {_misspelt(dish.name)}"
    described = _described(catalog, dish)
    if described:
        found["described"] = described
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9']+", text)


def _partial_name(catalog: Catalog, dish: Dish) -> str | None:
    """The shortest run of the name's words (not all of them) no other dish name holds, ending in
    the name's last word where it is not already in it ("paleo bowl", "tilapia tacos"), in lower
    case: how customers shorten a name."""
    words = [w.lower() for w in _words(dish.name) if w.lower() not in {"and", "in", "a", "the"}]
    others = [{w.lower() for w in _words(d.name)} for d in catalog.dishes if d.id != dish.id]
    for size in range(1, len(words) - 1):
        for start in range(len(words) - size):
            run = words[start : start + size] + [words[-1]]
            if not any(set(run) <= other for other in others):
                return " ".join(run)
    return None


def _misspelt(name: str) -> str:
    """One typo in the name's longest word: its fourth letter dropped ("Peachtree" -> "Peacree")."""
    words = name.split()
    longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
    word = words[longest]
    if len(word) >= 5:
        words[longest] = word[:3] + word[4:]
    return " ".join(words)


def _described(catalog: Catalog, dish: Dish) -> str | None:
    """ "the steak one with chimichurri": its first ingredient and one no other dish has."""
    others = {i.lower() for d in catalog.dishes if d.id != dish.id for i in d.ingredients}
    unique = [i for i in dish.ingredients[1:] if i.lower() not in others]
    if not unique:
        return None
    return f"the {dish.ingredients[0].lower()} one with {unique[0].lower()}"


# ------------------------------------------------------------------ the questions


def menu_items(catalog: Catalog, seed: int = SEED) -> list[FrozenItem]:
    rng = random.Random(seed)
    items: list[FrozenItem] = []
    turn = 0
    for dish in catalog.dishes:
        names = mentions(catalog, dish)
        styles = [s for s in STYLES if s in names]
        for intent, fills in _dish_intents(catalog, dish):
            # a number is asked twice, in two phrasings and two namings; yes/no once each way
            phrasings = rng.sample(MENU_PHRASINGS[intent], 2 if intent in NUMBERS else 1)
            for fill, expected in fills:
                for phrasing in phrasings:
                    style = styles[turn % len(styles)]
                    turn += 1
                    question = _sentence(phrasing.format(m=names[style], **fill))
                    canonical = _sentence(phrasing.format(m=names["exact"], **fill))
                    items.append(_item("menu_qa", intent, style, question, canonical, [dish.id], expected))
    items += _comparisons(catalog, rng)
    return items


def _dish_intents(catalog: Catalog, dish: Dish):
    """(intent, [(format fields, expected answer)]) for one dish: a yes and a no where they exist."""
    yield "price", [({}, {"price": dish.price})]
    yield "calories", [({}, {"calories": dish.calories})]
    yield "protein", [({}, {"protein_g": dish.protein_g})]
    yield "ingredients", [({}, {"ingredients": dish.ingredients})]
    has = dish.allergens[:1]
    lacks = [a for a in catalog.allergens if a not in dish.allergens][:1]
    yield "allergen_check", [({"a": a}, {"yes": a in dish.allergens}) for a in has + lacks]
    tags = dish.diet_tags[:1]
    missing = [t for t in catalog.diet_tags if t not in dish.diet_tags][:1]
    yield "diet_fit", [({"t": t}, {"yes": t in dish.diet_tags}) for t in tags + missing]


def _comparisons(catalog: Catalog, rng: random.Random) -> list[FrozenItem]:
    items = []
    dishes = catalog.dishes
    for i, first in enumerate(dishes):
        second = dishes[(i + 7) % len(dishes)]
        for attribute, (column, rule, phrasings) in COMPARISONS.items():
            a, b = getattr(first, column), getattr(second, column)
            if a == b:
                continue
            winner = first if (a > b) == (rule == "max") else second
            names_a, names_b = mentions(catalog, first), mentions(catalog, second)
            style = rng.choice([s for s in ("exact", "lower", "partial") if s in names_a and s in names_b])
            phrasing = phrasings[0]
            question = _sentence(phrasing.format(m1=names_a[style], m2=names_b[style]))
            canonical = _sentence(phrasing.format(m1=names_a["exact"], m2=names_b["exact"]))
            expected = {"winner": winner.id, "attribute": attribute, "winner_mentions": _said(winner, catalog)}
            items.append(
                _item(
                    "menu_qa", f"comparison_{attribute}", style, question, canonical, [first.id, second.id], expected
                )
            )
    return items


def _said(dish: Dish, catalog: Catalog) -> list[str]:
    """The ways an answer may name the dish: in full, and the styles a question could use."""
    names = mentions(catalog, dish)
    return sorted({n.removeprefix("the ").lower() for key, n in names.items() if key != "described"})


def recommendation_items(catalog: Catalog, seed: int = SEED) -> list[FrozenItem]:
    rng = random.Random(seed + 1)
    items = []
    for kind, fill, constraints in _requests(catalog):
        diets, allergens = constraints.get("diets", []), constraints.get("allergens", [])
        bounds = Bounds(constraints.get("max_calories"), constraints.get("min_protein"))
        needs = [*_constraints(diets, "diet"), *_constraints(allergens, "allergen")]
        if not any(fits_request(catalog, d, needs, bounds) for d in catalog.dishes):
            continue  # a request nothing fits asks for an honest "none": not this set's question
        for phrasing in RECOMMENDATION_PHRASINGS[kind]:
            question = _sentence(phrasing.format(**fill))
            items.append(_item("recommendation", kind, "need", question, question, [], constraints))
    rng.shuffle(items)
    return sorted(items, key=lambda i: i.id)


def _constraints(values: list[str], kind: str) -> list[Constraint]:
    return [Constraint(kind=kind, value=v) for v in values]


def _requests(catalog: Catalog):
    """(phrasing kind, format fields, constraints) for every request worth asking."""
    tags, allergens = catalog.diet_tags, catalog.allergens
    for t in tags:
        yield "diet", {"t": t}, {"diets": [t]}
    for a in allergens:
        yield "allergen", {"y": _allergy_word(a), "a": a}, {"allergens": [a]}
    for t in tags:
        for a in allergens:
            yield "diet_allergen", {"t": t, "y": _allergy_word(a)}, {"diets": [t], "allergens": [a]}
    for t in tags:
        for n in (450, 550, 650):
            yield "diet_calories", {"t": t, "n": n}, {"diets": [t], "max_calories": n}
    for p in (25, 30, 35, 40, 45):
        yield "protein", {"p": p}, {"min_protein": float(p)}
    for t in tags:
        for p in (20, 30, 40):
            yield "diet_protein", {"t": t, "p": p}, {"diets": [t], "min_protein": float(p)}


def _allergy_word(allergen: str) -> str:
    return allergen[:-1] if allergen.endswith("s") and not allergen.endswith("ss") else allergen


def sentiment_items(train_texts: set[str], n: int = SENTIMENT_SENTENCES, seed: int = SEED) -> list[FrozenItem]:
    """Labelled real review sentences, none that is a train text of the version, a seeded sample."""
    rows = []
    for line in YELP.read_text(encoding="utf-8").splitlines():
        text, _, label = line.rpartition("\t")
        if text.strip() and _normal(text) not in train_texts:
            rows.append((text.strip(), "positive" if label.strip() == "1" else "negative"))
    random.Random(seed).shuffle(rows)
    items = []
    for text, label in rows[:n]:
        prompt = SENTIMENT_INSTRUCTION.format(text=text)
        items.append(_item("review_sentiment", "sentiment", "real", prompt, prompt, [], {}, label))
    return items


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _item(task, intent, style, question, canonical, dishes, expected, label=None) -> FrozenItem:
    digest = hashlib.sha256(f"{task}|{intent}|{question}".encode()).hexdigest()[:16]
    return FrozenItem(f"frozen-{task}-{digest}", task, intent, style, question, canonical, dishes, expected, label)


# ------------------------------------------------------------------ writing and reading


def items_frame(items: list[FrozenItem]) -> pl.DataFrame:
    rows = [asdict(i) | {"expected": json.dumps(i.expected, sort_keys=True)} for i in items]
    schema = {
        "id": pl.Utf8,
        "task": pl.Utf8,
        "intent": pl.Utf8,
        "style": pl.Utf8,
        "question": pl.Utf8,
        "canonical": pl.Utf8,
        "dishes": pl.List(pl.Utf8),
        "expected": pl.Utf8,
        "label": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema).unique("id", keep="first", maintain_order=True).sort("task", "id")


def fingerprint(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256()
    for row in frame.iter_rows():
        digest.update(json.dumps(row, sort_keys=True, default=list).encode() + b"\n")
    return digest.hexdigest()


def folder(store_root: Path, dataset: str) -> Path:
    return Path(store_root) / dataset / FOLDER


def load(store_root: Path, dataset: str) -> tuple[list[FrozenItem], dict] | None:
    """The dataset's frozen set and its record, or None when none was written."""
    where = folder(store_root, dataset)
    if not (where / RECORD).is_file():
        return None
    frame = pl.read_parquet(where / QUESTIONS)
    record = json.loads((where / RECORD).read_text(encoding="utf-8"))
    if fingerprint(frame) != record["fingerprint"]:
        raise ConfigError(
            f"{where / QUESTIONS} does not match its recorded fingerprint: the frozen set was changed. "
            "Restore it, or write a new one with `etl eval freeze --new` (evaluations before it no longer compare)."
        )
    items = [FrozenItem(**{**row, "expected": json.loads(row["expected"])}) for row in frame.iter_rows(named=True)]
    return items, record


def write(store_root: Path, dataset: str, frame: pl.DataFrame, record: dict) -> dict:
    """Write the set and its record (the record last: a set without one is not a set)."""
    where = folder(store_root, dataset)
    where.mkdir(parents=True, exist_ok=True)
    (where / RECORD).unlink(missing_ok=True)
    partial = where / f".{QUESTIONS}.partial"
    frame.write_parquet(partial)
    partial.replace(where / QUESTIONS)
    record = {**record, "fingerprint": fingerprint(frame)}
    (where / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


# ------------------------------------------------------------------ freezing against a version


def train_questions(examples: pl.DataFrame, task: str) -> list[str]:
    """The customer's last question of each train example of a task."""
    chosen = examples.filter((pl.col("task") == task) & (pl.col("split") == "train"))
    return [
        next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        for messages in chosen["messages"].to_list()
    ]


def closest_train(items: list[FrozenItem], examples: pl.DataFrame, semantic) -> list[float]:
    """Each item's highest cosine with a train question of its task (the semantic dedup model);
    0 for tasks whose questions are not compared (review_sentiment is checked by text)."""
    from etl.stages.dedup.semantic import embed

    closest = [0.0] * len(items)
    for task in ("menu_qa", "recommendation"):
        rows = [i for i, item in enumerate(items) if item.task == task]
        seen = train_questions(examples, task)
        if not rows or not seen:
            continue
        vectors = embed(
            [items[i].question for i in rows] + seen, semantic.model, semantic.batch_size, semantic.precision
        )
        best = (vectors[: len(rows)] @ vectors[len(rows) :].T).max(axis=1)
        for i, value in zip(rows, best):
            closest[i] = float(value)
    return closest


def freeze(config, catalog: Catalog, store, version: str) -> dict:
    """Write the dataset's frozen set, checked against `version`'s train split; returns its record."""
    examples = store.examples(version)
    semantic = config.dedup.semantic
    candidates = menu_items(catalog) + recommendation_items(catalog)
    closest = closest_train(candidates, examples, semantic)
    rephrasing = semantic.threshold
    kept = [item for item, value in zip(candidates, closest) if value < rephrasing]
    reviews = {
        _normal(m[1]["content"].split("Review: ", 1)[-1])
        for m in examples.filter((pl.col("task") == "review_sentiment") & (pl.col("split") == "train"))[
            "messages"
        ].to_list()
    }
    kept += sentiment_items(reviews)
    frame = items_frame(kept)
    set_aside: dict[str, int] = {}
    for item, value in zip(candidates, closest):
        if value >= rephrasing:
            set_aside[item.task] = set_aside.get(item.task, 0) + 1
    strict = config.synthesis.eval_rephrase_threshold
    manifest = store.manifest(version)
    record = {
        "generator": GENERATOR,
        "seed": SEED,
        "frozen_against": {"dataset": store.dataset, "version": version, "fingerprint": manifest["fingerprint"]},
        "catalog_sha256": _catalog_hash(catalog),
        "sizes": {t: int(n) for t, n in frame.group_by("task").len().sort("task").iter_rows()},
        "styles": {
            f"{t}:{s}": int(n) for t, s, n in frame.group_by("task", "style").len().sort("task", "style").iter_rows()
        },
        "rephrasing_check": {
            "test": "cosine of sentence embeddings with every train question of the same task "
            "(dedup.semantic.model), at dedup.semantic.threshold or more: a rephrasing",
            "model": semantic.model or "packaged all-MiniLM-L6-v2",
            "threshold": rephrasing,
            "candidates": len(candidates),
            "set_aside": set_aside,
            # synthesis's stricter contamination threshold flags nearly every question about the
            # same dish and fact, which this set asks by design: counted, not set aside
            "at_or_above_synthesis_threshold": {
                "threshold": strict,
                "kept_questions": sum(1 for item, v in zip(candidates, closest) if strict <= v < rephrasing),
            },
        },
        "review_sentiment_source": "UCI Sentiment Labelled Sentences, Yelp part (CC BY 4.0), train texts left out",
    }
    return write(store.root, store.dataset, frame, record)


def _catalog_hash(catalog: Catalog) -> str:
    return hashlib.sha256(catalog.model_dump_json().encode()).hexdigest()
