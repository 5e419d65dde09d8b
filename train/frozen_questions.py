"""The frozen set's questions, written from the catalog as customers ask: dishes named in
full, partly, in lower case, misspelt or described; comparisons; requests by diet and
allergy; reviews to label. train/frozen_eval.py freezes them once per dataset."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from etl.catalog import Catalog, Constraint, Dish
from etl.text.menu_retrieval import Bounds, fits_request

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
        if text.strip() and normal_review(text) not in train_texts:
            rows.append((text.strip(), "positive" if label.strip() == "1" else "negative"))
    random.Random(seed).shuffle(rows)
    items = []
    for text, label in rows[:n]:
        prompt = SENTIMENT_INSTRUCTION.format(text=text)
        items.append(_item("review_sentiment", "sentiment", "real", prompt, prompt, [], {}, label))
    return items


def normal_review(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _item(task, intent, style, question, canonical, dishes, expected, label=None) -> FrozenItem:
    digest = hashlib.sha256(f"{task}|{intent}|{question}".encode()).hexdigest()[:16]
    return FrozenItem(f"frozen-{task}-{digest}", task, intent, style, question, canonical, dishes, expected, label)
