"""recommendation examples synthesised from menu.yaml: a stated need, and a dish that fits it, or an honest "none".

Needs are every diet tag on the menu, every allergen, and each diet with each
allergen some of that diet's dishes contain (a keto customer with a dairy
allergy). The constraints an example carries are the ones `needs_in` reads
from its question, exactly as for recommendations found in real chats, so a
phrasing the reader does not understand never becomes an example. The
recommended dish is a seeded choice among the dishes that fit; when none
fits, the answer says so and names the diet's dishes with the allergen they
contain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from etl.catalog import Catalog, Constraint, Dish, needs_in
from etl.stages.synthesis.menu_questions import Candidate, it_is, listing, verb

TASK = "recommendation"

DIET_ASKS = [
    "Can you recommend something {tag}?",
    "I'm looking for a {tag} meal, what do you suggest?",
    "What's a good {tag} option on your menu?",
    "any {tag} meals you'd recommend?",
]
ALLERGY_ASKS = [
    "I have a {allergy} allergy, what can I order?",
    "What would you recommend for someone allergic to {allergen}?",
    "my kid has a {allergy} allergy, which meal should we get?",
    "I'm allergic to {allergen}. What's safe for me?",
]
BOTH_ASKS = [
    "I'm looking for a {tag} meal, but I have a {allergy} allergy. Any ideas?",
    "Can you recommend something {tag}? I have a {allergy} allergy.",
    "any {tag} meals that are ok with a {allergy} allergy?",
]


def allergy_word(allergen: str) -> str:
    """The allergen as it reads before "allergy": peanuts -> peanut, tree nuts -> tree nut."""
    return allergen[:-1] if allergen.endswith("s") and not allergen.endswith("ss") else allergen


def needs(catalog: Catalog) -> Iterator[tuple[str, list[str], dict]]:
    """(key, phrasings, format fields) for every need worth asking about."""
    for tag in catalog.diet_tags:
        yield f"diet:{tag}", DIET_ASKS, {"tag": tag}
    for allergen in catalog.allergens:
        yield f"allergen:{allergen}", ALLERGY_ASKS, {"allergen": allergen, "allergy": allergy_word(allergen)}
    for tag in catalog.diet_tags:
        in_diet = [d for d in catalog.dishes if tag in d.diet_tags]
        for allergen in sorted({a for d in in_diet for a in d.allergens}):
            yield f"diet:{tag}+allergen:{allergen}", BOTH_ASKS, {"tag": tag, "allergy": allergy_word(allergen)}


def recommendations(
    catalog: Catalog, phrasings: int, pick: Callable[[str, list], object], sample: Callable
) -> Iterator[Candidate]:
    for key, asks, fields in needs(catalog):
        for number in sample(key, len(asks), phrasings):
            question = asks[number].format(**fields)
            stated = needs_in(question)
            if not stated:
                continue  # the catalog names a need no reader understands: not an example
            fitting = [d for d in catalog.dishes if catalog.fits(d, stated)]
            if fitting:
                dish = pick(f"{key}:{number}:dish", fitting)
                also = [d for d in fitting if d.id != dish.id]
                second = pick(f"{key}:{number}:also", also) if also else None
                form = pick(f"{key}:{number}:form", ANSWER_FORMS)
                answer = form(catalog, dish, second, stated)
            else:
                dish, answer = None, nothing_fits(catalog, stated)
            yield Candidate(
                TASK,
                kind_of(key) if fitting else "nothing_fits",
                key,
                question,
                answer,
                number,
                {"dish": dish.name if dish else None, "constraints": [str(c) for c in stated]},
            )


def kind_of(key: str) -> str:
    """The intent a need's examples are counted under: diet, allergy or diet_and_allergy."""
    return {"diet": "diet", "allergen": "allergy"}[key.split(":")[0]] if "+" not in key else "diet_and_allergy"


def fit_phrase(stated: list[Constraint]) -> str:
    """ "keto and free of dairy": what the dish is, in the customer's terms."""
    parts = [c.value for c in stated if c.kind == "diet"] + [
        f"free of {c.value}" for c in stated if c.kind == "allergen"
    ]
    return listing(parts)


def _recommend(catalog: Catalog, dish: Dish, second: Dish | None, stated: list[Constraint]) -> str:
    return (
        f"I'd recommend the {dish.name}: {dish.description} {it_is(dish)} {fit_phrase(stated)}, with {dish.calories} "
        f"calories and {dish.protein_g:g}g of protein, for {catalog.money(dish.price)}."
    )


def _try(catalog: Catalog, dish: Dish, second: Dish | None, stated: list[Constraint]) -> str:
    also = f" The {second.name} {verb(second, 'is', 'are')} another good choice." if second else ""
    return f"Try the {dish.name}. {dish.description} {it_is(dish)} {fit_phrase(stated)}.{also}"


def _fit(catalog: Catalog, dish: Dish, second: Dish | None, stated: list[Constraint]) -> str:
    return f"The {dish.name} would be a great fit: {it_is(dish).lower()} {fit_phrase(stated)}. {dish.description}"


ANSWER_FORMS = [_recommend, _try, _fit]


def nothing_fits(catalog: Catalog, stated: list[Constraint]) -> str:
    answer = f"Sorry, none of our meals is {fit_phrase(stated)} right now."
    diets = [c.value for c in stated if c.kind == "diet"]
    allergens = [c.value for c in stated if c.kind == "allergen"]
    if len(diets) == 1 and len(allergens) == 1:
        in_diet = [d for d in catalog.dishes if diets[0] in d.diet_tags][:3]
        if in_diet:
            names = listing([f"the {d.name}" for d in in_diet])
            answer += f" Our {diets[0]} meals, {names}, all contain {allergens[0]}."
    return answer
