"""menu_qa questions synthesised from menu.yaml, several phrasings per intent, answers built from the catalog.

Intents per dish: ingredients, allergens (what it contains), allergen_check
(does it contain this one: a yes and a no), diet_fit (is it keto: a yes and a
no, the no pointing at a dish that is), price, nutrition, description (the
menu description in several answer forms), and comparison (two dishes on
protein, calories or price). Each intent has several question phrasings and
several answer forms; which ones a dish gets is a seeded choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from etl.catalog import Catalog, Dish
from etl.stages.tasks.common import stable_pick

TASK = "menu_qa"


@dataclass
class Candidate:
    """One synthesised example before it is judged: a question, its answer and where they come from."""

    task: str
    intent: str
    key: str  # what the example is about (dish ids, constraints): the id and record_id come from it
    question: str
    answer: str
    phrasing: int
    extras: dict = field(default_factory=dict)


def plural(dish: Dish) -> bool:
    """ "the Blackened Tilapia Tacos are", "the Shrimp & Grits are", "the Paleo Power Bowl is"."""
    last = dish.name.split()[-1]
    return last.endswith("s") and not last.endswith("ss")


def verb(dish: Dish, singular: str, plural_form: str) -> str:
    return plural_form if plural(dish) else singular


def it_is(dish: Dish) -> str:
    return verb(dish, "It's", "They're")


def listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def allergen_sentence(dish: Dish) -> str:
    if not dish.allergens:
        return f"The {dish.name} {verb(dish, 'contains', 'contain')} none of the major allergens listed on our menu."
    return f"The {dish.name} {verb(dish, 'contains', 'contain')} {listing(dish.allergens)}."


def tag_sentence(dish: Dish) -> str:
    if not dish.diet_tags:
        return verb(dish, "It has", "They have") + " no special diet tags."
    return f"{it_is(dish)} {listing(dish.diet_tags)}."


# intent -> question phrasings; {name} is the dish, {what} the allergen or tag asked about
QUESTIONS: dict[str, list[str]] = {
    "ingredients": [
        "What's in the {name}?",
        "What are the ingredients of the {name}?",
        "what comes in the {name}",
        "Can you tell me what the {name} is made of?",
        "ingredients for the {name}?",
    ],
    "allergens": [
        "Does the {name} have any allergens?",
        "what allergens are in the {name}",
        "Any allergy info for the {name}?",
        "I have food allergies. What allergens does the {name} have?",
    ],
    "allergen_check": [
        "Does the {name} contain {what}?",
        "Is there {what} in the {name}?",
        "does the {name} have {what} in it",
        "Quick question, does the {name} contain any {what}?",
    ],
    "diet_fit": [
        "Is the {name} {what}?",
        "Is the {name} ok for a {what} diet?",
        "would the {name} work if I'm eating {what}?",
        "Can I get the {name} if I'm doing {what}?",
    ],
    "price": [
        "How much is the {name}?",
        "What does the {name} cost?",
        "price of the {name}?",
        "How much would one {name} be?",
    ],
    "nutrition": [
        "How many calories are in the {name}?",
        "What are the macros for the {name}?",
        "how much protein does the {name} have",
        "calories and protein in the {name}?",
    ],
    "description": [
        "Tell me about the {name}.",
        "What is the {name} like?",
        "Can you describe the {name}?",
        "what's the {name}?",
    ],
}

# intent -> answer forms: each is a function of the catalog, the dish and what was asked
Answer = Callable[[Catalog, Dish, str], str]


def _ingredients(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        made = f"The {dish.name} {verb(dish, 'is', 'are')} made with {listing(dish.ingredients)}."
        return made if form == 0 else f"{made} {dish.description}"

    return answer


def _nutrition(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        if form == 0:
            return f"The {dish.name} {verb(dish, 'has', 'have')} {dish.calories} calories and {dish.protein_g:g}g of protein."
        return f"The {dish.name} {verb(dish, 'comes', 'come')} to {dish.calories} calories, with {dish.protein_g:g}g of protein."

    return answer


def _price(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        if form == 0:
            return f"The {dish.name} {verb(dish, 'is', 'are')} {catalog.money(dish.price)}."
        return f"The {dish.name} {verb(dish, 'costs', 'cost')} {catalog.money(dish.price)}."

    return answer


def _description(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        if form == 0:
            return f"The {dish.name}: {dish.description} {tag_sentence(dish)}"
        if form == 1:
            return (
                f"The {dish.name}: {dish.description} It has {dish.calories} calories and "
                f"{dish.protein_g:g}g of protein, for {catalog.money(dish.price)}."
            )
        return f"The {dish.name}: {dish.description} {allergen_sentence(dish)}"

    return answer


def _allergens(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        return allergen_sentence(dish)

    return answer


def _allergen_check(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        contains = verb(dish, "contains", "contain")
        if what in dish.allergens:
            others = [a for a in dish.allergens if a != what]
            also = f" {verb(dish, 'It also contains', 'They also contain')} {listing(others)}." if others else ""
            return f"Yes, the {dish.name} {contains} {what}.{also}"
        does = (
            f" {verb(dish, 'It does contain', 'They do contain')} {listing(dish.allergens)}."
            if dish.allergens
            else f" {verb(dish, 'It contains', 'They contain')} none of the major allergens listed on our menu."
        )
        doesnt = verb(dish, "doesn't", "don't")
        return f"No, the {dish.name} {doesnt} contain {what}.{does}"

    return answer


def _diet_fit(form: int) -> Answer:
    def answer(catalog: Catalog, dish: Dish, what: str) -> str:
        if what in dish.diet_tags:
            return f"Yes, the {dish.name} {verb(dish, 'is', 'are')} {what}. {tag_sentence(dish)}"
        others = [d for d in catalog.dishes if what in d.diet_tags]
        alternative = f" For a {what} meal, try the {stable_pick(dish.id + what, others).name}." if others else ""
        isnt = verb(dish, "isn't", "aren't")
        return f"No, the {dish.name} {isnt} {what}. {tag_sentence(dish)}{alternative}"

    return answer


ANSWERS: dict[str, list[Answer]] = {
    "ingredients": [_ingredients(0), _ingredients(1)],
    "allergens": [_allergens(0)],
    "allergen_check": [_allergen_check(0)],
    "diet_fit": [_diet_fit(0)],
    "price": [_price(0), _price(1)],
    "nutrition": [_nutrition(0), _nutrition(1)],
    "description": [_description(0), _description(1), _description(2)],
}


def asked_about(intent: str, dish: Dish, catalog: Catalog, pick: Callable[[str, list], object]) -> list[str]:
    """What a yes/no intent asks about: one thing the dish has and one it has not (a yes and a no)."""
    if intent == "allergen_check":
        has, lacks = dish.allergens, [a for a in catalog.allergens if a not in dish.allergens]
    elif intent == "diet_fit":
        has, lacks = dish.diet_tags, [t for t in catalog.diet_tags if t not in dish.diet_tags]
    else:
        return [""]
    return [pick(f"{dish.id}:{intent}:{side}", options) for side, options in (("yes", has), ("no", lacks)) if options]


def dish_questions(
    catalog: Catalog, intents: list[str], phrasings: int, pick: Callable[[str, list], object], sample: Callable
) -> Iterator[Candidate]:
    """Every dish, every per-dish intent, `phrasings` distinct phrasings each."""
    for dish in catalog.dishes:
        for intent in (i for i in intents if i in QUESTIONS):
            for what in asked_about(intent, dish, catalog, pick):
                for number in sample(f"{dish.id}:{intent}:{what}", len(QUESTIONS[intent]), phrasings):
                    question = QUESTIONS[intent][number].format(name=dish.name, what=what)
                    form = pick(f"{dish.id}:{intent}:{what}:{number}", ANSWERS[intent])
                    yield Candidate(
                        TASK, intent, f"{dish.id}:{intent}:{what}", question, form(catalog, dish, what), number
                    )


COMPARISONS: dict[str, tuple[list[str], str, str]] = {
    # attribute -> (phrasings, answer, answer when equal); {a} and {b} are the dishes asked about
    "protein_g": (
        [
            "Which has more protein, the {a} or the {b}?",
            "{a} or {b}: which one has more protein?",
            "I want the most protein. The {a} or the {b}?",
        ],
        "The {w} {has} more protein ({wv:g}g) than the {l} ({lv:g}g).",
        "They have the same protein: the {a} and the {b} both have {av:g}g.",
    ),
    "calories": (
        [
            "Which has fewer calories, the {a} or the {b}?",
            "{a} or {b}, which is lighter on calories?",
            "Is the {a} or the {b} lower in calories?",
        ],
        "The {w} {has} fewer calories ({wv} calories) than the {l} ({lv} calories).",
        "They have the same calories: the {a} and the {b} both have {av} calories.",
    ),
    "price": (
        [
            "Which is cheaper, the {a} or the {b}?",
            "{a} vs {b}, which costs less?",
            "What's the better deal, the {a} or the {b}?",
        ],
        "The {w} {is_} cheaper ({wv}) than the {l} ({lv}).",
        "They have the same price: the {a} and the {b} are both {av}.",
    ),
}
# the comparison winner: the dish with the highest protein, the fewest calories, the lowest price
WINS_HIGH = {"protein_g": True, "calories": False, "price": False}


def comparisons(
    catalog: Catalog, per_dish: int, phrasings: int, pick: Callable[[str, list], object], sample: Callable
) -> Iterator[Candidate]:
    """Each dish against `per_dish` others (a seeded choice), on a seeded attribute."""
    dishes = catalog.dishes
    for a in dishes:
        others = [d for d in dishes if d.id != a.id]
        for number in sample(f"{a.id}:compare", len(others), min(per_dish, len(others))):
            b = others[number]
            attribute = pick(f"{a.id}:{b.id}:attribute", list(COMPARISONS))
            asks, wins, same = COMPARISONS[attribute]
            for phrasing in sample(f"{a.id}:{b.id}:{attribute}", len(asks), phrasings):
                yield Candidate(
                    TASK,
                    "comparison",
                    f"{a.id}+{b.id}:{attribute}",
                    asks[phrasing].format(a=a.name, b=b.name),
                    compare(catalog, a, b, attribute, wins, same),
                    phrasing,
                )


def compare(catalog: Catalog, a: Dish, b: Dish, attribute: str, wins: str, same: str) -> str:
    def shown(dish: Dish):
        value = getattr(dish, attribute)
        return catalog.money(value) if attribute == "price" else value

    if getattr(a, attribute) == getattr(b, attribute):
        return same.format(a=a.name, b=b.name, av=shown(a))
    high = getattr(a, attribute) > getattr(b, attribute)
    winner, loser = (a, b) if high == WINS_HIGH[attribute] else (b, a)
    return wins.format(
        w=winner.name,
        l=loser.name,
        wv=shown(winner),
        lv=shown(loser),
        has=verb(winner, "has", "have"),
        is_=verb(winner, "is", "are"),
    )
