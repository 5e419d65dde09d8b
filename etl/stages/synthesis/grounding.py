"""Does an answer agree with the catalog? A reader of the answer's text, independent of the templates that wrote it.

The synthesis stage writes answers from menu.yaml; this module reads them
back as a customer would and checks every claim it can parse against the
catalog, so a template bug (a price of the wrong dish, a "No" that should be
"Yes", a recommended dish that breaks the customer's diet) is caught, not
published. It knows nothing of the templates: it reads dish names, prices,
calories, protein, allergens, diet tags, ingredient lists, comparisons and
yes/no answers wherever they appear.

Each claim belongs to a dish (its *owner*): the nearest dish named before it
in its sentence, else the nearest one after it ("For a keto meal, try the
X"), else the dish the previous sentences were about, else the one the
question names. A claim after a list of dishes ("the X and the Y are keto")
belongs to every dish of the list. A claim is negative when its clause holds
a negation ("doesn't contain dairy", "isn't keto", "has no egg") or the word
carries "-free" ("dairy-free"), not both ("isn't dairy-free" says it has dairy).
A menu description copied verbatim is right
only for its own dish, and is then taken as read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.catalog import Catalog, Dish, needs_in

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
CLAUSE_BOUNDARY = re.compile(r"[,;:]")
NEGATION = re.compile(r"\b(no|not|isn't|aren't|doesn't|don't|does not|without|none|free of)\b", re.IGNORECASE)
# dishes in a list share the claim that follows the list
LIST_GLUE = re.compile(r"^,? (?:and |or )?(?:the )?$|^, (?:the )?$", re.IGNORECASE)
PRICE = re.compile(r"\$(\d+(?:\.\d\d)?)|\b(\d+\.\d\d) ?[A-Z]{3}\b")
CALORIES = re.compile(r"\b(\d+) calories\b", re.IGNORECASE)
PROTEIN = re.compile(r"\b(\d+(?:\.\d+)?) ?(?:g|grams?)\b(?: of protein)?", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:\.\d+)?")
NO_ALLERGENS = re.compile(r"none of the major allergens", re.IGNORECASE)
NOTHING_FITS = re.compile(r"\bnone of our (?:meals|dishes)\b", re.IGNORECASE)
MADE_WITH = re.compile(r"\bmade with (.+?)(?=\.\s|\.$|$)", re.IGNORECASE)
INGREDIENT_GLUE = re.compile(r"^(?:\s*(?:,|and|\s)\s*)*$", re.IGNORECASE)
# comparative -> (attribute, direction the dish named before it wins in)
COMPARATIVES = {
    "more protein": ("protein_g", max),
    "less protein": ("protein_g", min),
    "fewer calories": ("calories", min),
    "more calories": ("calories", max),
    "cheaper": ("price", min),
    "more expensive": ("price", max),
}
COMPARATIVE = re.compile(r"\b(" + "|".join(COMPARATIVES) + r")\b", re.IGNORECASE)
SAME = re.compile(r"\bthe same (protein|calories|price)\b", re.IGNORECASE)
SAME_ATTRIBUTE = {"protein": "protein_g", "calories": "calories", "price": "price"}
YES_NO_QUESTION = re.compile(r"^\s*(?:is|does|do|would|can|are)\b|\b(?:contain|have)\b.*\?$", re.IGNORECASE)


@dataclass
class Mention:
    start: int
    end: int
    dish: Dish


def stem(word: str) -> str:
    return word.lower().rstrip("s")


class Grounding:
    """The claim reader for one catalog (patterns compiled once)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.allergen_pattern = _words_pattern(
            [rf"{re.escape(stem(a))}s?" for a in catalog.allergens], suffix=r"(-free)?"
        )
        self.tag_pattern = _words_pattern([re.escape(t) for t in catalog.diet_tags])
        self.descriptions = sorted(
            {
                d.description: [e for e in catalog.dishes if e.description == d.description] for d in catalog.dishes
            }.items(),
            key=lambda item: -len(item[0]),
        )

    def problems(self, question: str, answer: str, task: str) -> list[str]:
        """Every claim of the answer the catalog contradicts, in words; empty when it agrees."""
        asked = self.catalog.dishes_in(question)
        found: list[str] = []
        text = self._mask_descriptions(answer, asked, found)
        subject = asked[0] if len(asked) == 1 else None
        named: list[Dish] = []
        for sentence in SENTENCE_END.split(text):
            mentions = [Mention(s, e, d) for s, e, d in self.catalog.mentions(sentence)]
            found += self._sentence_problems(sentence, mentions, subject)
            named += [m.dish for m in mentions]
            subject = mentions[0].dish if mentions else subject
        found += self._answer_problems(question, answer, task, asked, named)
        return found

    # ------------------------------------------------------------------ whole answer

    def _answer_problems(
        self, question: str, answer: str, task: str, asked: list[Dish], named: list[Dish]
    ) -> list[str]:
        found = []
        named_ids = {d.id for d in named}
        if task == "menu_qa":
            # "they aren't dairy-free" is about the dish asked about; "the Y is $12.95" is not
            if asked and named and not named_ids & {d.id for d in asked}:
                found.append(f"asked about {', '.join(d.name for d in asked)}, the answer is about {named[0].name}")
            found += self._yes_no_problems(question, answer, asked)
        if task == "recommendation":
            needs = needs_in(question)
            fitting = [d for d in self.catalog.dishes if self.catalog.fits(d, needs)]
            if NOTHING_FITS.search(answer):
                found += [f"says nothing fits {[str(n) for n in needs]}, but {d.name} does" for d in fitting[:1]]
            else:
                if not named:
                    found.append("recommends no catalog dish")
                found += [
                    f"recommends {d.name}, which does not fit {[str(n) for n in needs]}"
                    for d in named
                    if not self.catalog.fits(d, needs)
                ]
        return found

    def _yes_no_problems(self, question: str, answer: str, asked: list[Dish]) -> list[str]:
        """ "Does the X contain dairy?" / "Is the X keto?": the leading Yes or No must be the truth."""
        opening = re.match(r"\s*(yes|no)\b", answer, re.IGNORECASE)
        if len(asked) != 1 or not opening or not YES_NO_QUESTION.search(question):
            return []
        dish, said = asked[0], opening.group(1).lower() == "yes"
        bare = self._without_names(question)
        # "dairy-free" is the tag asked about, not the allergen
        allergens = [
            m.group(0) for m in self.allergen_pattern.finditer(bare) if not m.group(0).lower().endswith("-free")
        ]
        tags = [m.group(0) for m in self.tag_pattern.finditer(bare)]
        if len(allergens) + len(tags) != 1:
            return []
        if allergens:
            truth = stem(allergens[0]) in {stem(a) for a in dish.allergens}
        else:
            truth = tags[0].lower() in dish.diet_tags
        asked_about = (allergens + tags)[0]
        return (
            [] if said == truth else [f"answers {opening.group(1)!r} to whether {dish.name} is/contains {asked_about}"]
        )

    def _mask_descriptions(self, answer: str, asked: list[Dish], found: list[str]) -> str:
        """Blank out verbatim menu descriptions, after checking each is its own dish's."""
        text = answer
        for description, dishes in self.descriptions:
            for match in re.finditer(re.escape(description), text):
                before = self.catalog.mentions(text[: match.start()])
                about = before[-1][2] if before else (asked[0] if len(asked) == 1 else None)
                if about is None or about.id not in {d.id for d in dishes}:
                    found.append(
                        f"the description of {dishes[0].name} is given for {about.name if about else 'no dish'}"
                    )
                text = text[: match.start()] + " " * len(description) + text[match.end() :]
        return text

    def _without_names(self, text: str) -> str:
        """Dish names blanked out: "Keto Egg Roll" claims no egg and no keto."""
        for start, end, _ in self.catalog.mentions(text):
            text = text[:start] + " " * (end - start) + text[end:]
        return text

    # ------------------------------------------------------------------ one sentence

    def _sentence_problems(self, sentence: str, mentions: list[Mention], subject: Dish | None) -> list[str]:
        text = self._without_names(sentence)
        found: list[str] = []
        used: list[tuple[int, int]] = []

        def owners(position: int) -> list[Dish]:
            return self._owners(sentence, mentions, subject, position)

        for pattern, attribute, unit in (
            (PRICE, "price", "price"),
            (CALORIES, "calories", "calories"),
            (PROTEIN, "protein_g", "g of protein"),
        ):
            for match in pattern.finditer(text):
                value = float(next(g for g in match.groups() if g is not None))
                used.append(match.span())
                for dish in owners(match.start()) or [None]:
                    if dish is None:
                        found.append(f"{match.group(0)!r} belongs to no dish")
                    elif abs(getattr(dish, attribute) - value) > 1e-9:
                        found.append(
                            f"{dish.name}: {match.group(0)!r}, the catalog says {getattr(dish, attribute):g} {unit}"
                        )
        for match in NUMBER.finditer(text):
            if not any(a <= match.start() < b for a, b in used):
                found.append(f"the number {match.group(0)} is not a price, calorie or protein figure of the catalog")
        found += self._allergen_problems(text, owners)
        found += self._tag_problems(text, owners)
        found += self._ingredient_problems(text, owners)
        found += self._comparison_problems(text, mentions)
        return found

    def _owners(self, sentence: str, mentions: list[Mention], subject: Dish | None, position: int) -> list[Dish]:
        before = [m for m in mentions if m.end <= position]
        if before:
            group = [before[-1]]
            for earlier in reversed(before[:-1]):
                if not LIST_GLUE.match(sentence[earlier.end : group[0].start]):
                    break
                group.insert(0, earlier)
            return [m.dish for m in group]
        after = [m for m in mentions if m.start >= position]
        if after:
            return [after[0].dish]
        return [subject] if subject else []

    def _negative(self, text: str, start: int, word: str) -> bool:
        clause_start = max((m.end() for m in CLAUSE_BOUNDARY.finditer(text, 0, start)), default=0)
        # "isn't dairy-free" says it contains dairy
        return bool(NEGATION.search(text[clause_start:start])) != word.lower().endswith("-free")

    def _allergen_problems(self, text: str, owners) -> list[str]:
        found = []
        if NO_ALLERGENS.search(text):
            for dish in owners(NO_ALLERGENS.search(text).start()):
                if dish.allergens:
                    found.append(
                        f"{dish.name} is said to have no major allergen, but lists {', '.join(dish.allergens)}"
                    )
        for match in self.allergen_pattern.finditer(text):
            word = match.group(0)
            allergen = stem(word.removesuffix("-free"))
            negative = self._negative(text, match.start(), word)
            for dish in owners(match.start()):
                has = allergen in {stem(a) for a in dish.allergens}
                if has == negative:
                    found.append(
                        f"{dish.name} {'contains' if has else 'does not contain'} {allergen}, the answer says otherwise"
                    )
        return found

    def _tag_problems(self, text: str, owners) -> list[str]:
        found = []
        for match in self.tag_pattern.finditer(text):
            tag = match.group(0).lower()
            negative = self._negative(text, match.start(), "")
            for dish in owners(match.start()):
                if (tag in dish.diet_tags) == negative:
                    found.append(
                        f"{dish.name} {'is' if tag in dish.diet_tags else 'is not'} tagged {tag}, the answer says otherwise"
                    )
        return found

    def _ingredient_problems(self, text: str, owners) -> list[str]:
        found = []
        for match in MADE_WITH.finditer(text):
            listed = match.group(1)
            for dish in owners(match.start()):
                missing = [i for i in dish.ingredients if not re.search(rf"\b{re.escape(i)}\b", listed, re.IGNORECASE)]
                rest = listed
                for ingredient in sorted(dish.ingredients, key=len, reverse=True):
                    rest = re.sub(rf"\b{re.escape(ingredient)}\b", " ", rest, flags=re.IGNORECASE)
                if missing or not INGREDIENT_GLUE.match(rest):
                    found.append(f"{dish.name}: ingredients {listed!r} differ from the catalog's {dish.ingredients}")
        return found

    def _comparison_problems(self, text: str, mentions: list[Mention]) -> list[str]:
        found = []
        for match in COMPARATIVE.finditer(text):
            attribute, best = COMPARATIVES[match.group(1).lower()]
            winners = [m.dish for m in mentions if m.end <= match.start()][-1:]
            others = [m.dish for m in mentions if m.start >= match.end()]
            if not winners or not others:
                found.append(f"{match.group(0)!r} compares no two dishes")
                continue
            values = {d.id: getattr(d, attribute) for d in winners + others}
            winner = winners[0]
            if any(values[winner.id] == values[o.id] for o in others) or best(values.values()) != values[winner.id]:
                found.append(
                    f"{winner.name} is said to have {match.group(1)} than {', '.join(o.name for o in others)}"
                )
        for match in SAME.finditer(text):
            attribute = SAME_ATTRIBUTE[match.group(1).lower()]
            if len({getattr(m.dish, attribute) for m in mentions}) > 1:
                found.append(f"{', '.join(m.dish.name for m in mentions)} do not have the same {match.group(1)}")
        return found


def _words_pattern(alternatives: list[str], suffix: str = "") -> re.Pattern[str]:
    if not alternatives:
        return re.compile(r"(?!x)x")  # matches nothing
    ordered = sorted(alternatives, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(ordered) + r")" + suffix + r"(?![\w-])", re.IGNORECASE)
