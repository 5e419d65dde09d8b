"""The business catalog (menu.yaml, stores.yaml): the ground truth task builders answer from.

A recommended dish must exist here and fit the customer's stated diet and
allergies; menu answers synthesised from it are right by construction.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from etl.errors import ConfigError


class Dish(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    description: str
    ingredients: list[str]
    diet_tags: list[str] = Field(default_factory=list)
    allergens: list[str] = Field(default_factory=list)
    calories: int
    protein_g: float
    price: float


class Store(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    address: str
    city: str
    state: str
    zip: str
    phone: str | None = None
    hours: str | None = None

    @property
    def full_address(self) -> str:
        return f"{self.address}, {self.city}, {self.state} {self.zip}"


class Constraint(BaseModel):
    """A customer need: a diet tag the dish must carry, or an allergen it must not contain."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "diet" | "allergen"
    value: str

    def __str__(self) -> str:
        return self.value if self.kind == "diet" else f"no {self.value}"

    @classmethod
    def parse(cls, text: str) -> Constraint:
        return cls(kind="allergen", value=text[3:]) if text.startswith("no ") else cls(kind="diet", value=text)


# What customers say -> the constraint it states. Ordered: the first match of
# an allergen phrase wins over the diet word inside it ("dairy allergy").
NEED_PATTERNS: list[tuple[str, str]] = [
    (r"\bpeanut", "no peanuts"),
    (r"\btree[- ]?nuts?\b|\bnut[- ]?(allergy|free)\b|\ballergic to nuts\b", "no tree nuts"),
    (r"\bshellfish|\bshrimp allergy", "no shellfish"),
    (r"\blactose|\bdairy|\bno cheese\b", "no dairy"),
    (r"\bwheat\b", "no wheat"),
    (r"\bsoy\b", "no soy"),
    (r"\begg allergy|\ballergic to eggs?\b", "no egg"),
    (r"\bsesame\b", "no sesame"),
    (r"\bfish allergy|\ballergic to fish\b", "no fish"),
    (r"\bketo\b", "keto"),
    (r"\bvegan\b", "vegan"),
    (r"\bvegetarian\b|\bveggie\b", "vegetarian"),
    (r"\bpaleo\b", "paleo"),
    (r"\bpescatarian\b", "pescatarian"),
    (r"\bgluten\b|\bceliac\b|\bcoeliac\b", "gluten-free"),
    (r"\blow[- ]?carb\b", "low-carb"),
    (r"\bhigh[- ]?protein\b|\bworkout\b|\bgym\b|\bbulking\b|\bpost[- ]?run\b", "high-protein"),
]
_NEEDS = [(re.compile(p, re.IGNORECASE), c) for p, c in NEED_PATTERNS]


class Catalog(BaseModel):
    business: str = "our restaurant"
    currency: str = "USD"
    dishes: list[Dish]
    stores: list[Store] = Field(default_factory=list)

    @cached_property
    def by_name(self) -> dict[str, Dish]:
        return {d.name.lower(): d for d in self.dishes}

    @cached_property
    def _dish_pattern(self) -> re.Pattern[str]:
        # longest names first, so "Keto Salmon Caesar" wins over a shorter name inside it
        names = sorted((re.escape(d.name) for d in self.dishes), key=len, reverse=True)
        return re.compile(r"(?<!\w)(" + "|".join(names) + r")(?!\w)", re.IGNORECASE)

    def dishes_in(self, text: str) -> list[Dish]:
        """Catalog dishes named in a text, in order of first mention."""
        seen: dict[str, Dish] = {}
        for _, _, dish in self.mentions(text):
            seen.setdefault(dish.id, dish)
        return list(seen.values())

    def mentions(self, text: str) -> list[tuple[int, int, Dish]]:
        """(start, end, dish) of every dish name in a text, in order."""
        return [(m.start(), m.end(), self.by_name[m.group(1).lower()]) for m in self._dish_pattern.finditer(text)]

    def money(self, amount: float) -> str:
        """A price as answers write it: $13.95, or 13.95 EUR in another currency."""
        return f"${amount:.2f}" if self.currency == "USD" else f"{amount:.2f} {self.currency}"

    @cached_property
    def allergens(self) -> list[str]:
        """Every allergen some dish lists, sorted."""
        return sorted({a for d in self.dishes for a in d.allergens})

    @cached_property
    def diet_tags(self) -> list[str]:
        return sorted({t for d in self.dishes for t in d.diet_tags})

    def fits(self, dish: Dish, constraints: list[Constraint]) -> bool:
        for constraint in constraints:
            if constraint.kind == "diet" and constraint.value not in dish.diet_tags:
                return False
            if constraint.kind == "allergen" and constraint.value.rstrip("s") in {
                a.rstrip("s") for a in dish.allergens
            }:
                return False
        return True


def needs_in(text: str) -> list[Constraint]:
    """Constraints a customer states in a text ("I'm doing keto", "my son has a peanut allergy")."""
    found: list[Constraint] = []
    for pattern, constraint in _NEEDS:
        if pattern.search(text):
            parsed = Constraint.parse(constraint)
            if parsed not in found:
                found.append(parsed)
    # "dairy-free" is a tag on the menu, but a customer avoiding dairy states an allergen
    return found


def load_catalog(menu: Path | None, stores: Path | None) -> Catalog:
    if menu is None:
        raise ConfigError("catalog.menu is required to build instruction examples: point it at the menu YAML.")
    menu_doc = _read_yaml(menu, "catalog.menu")
    store_doc = _read_yaml(stores, "catalog.stores") if stores else {"stores": []}
    try:
        return Catalog(
            business=menu_doc.get("business", "our restaurant"),
            currency=menu_doc.get("currency", "USD"),
            dishes=menu_doc.get("dishes", []),
            stores=store_doc.get("stores", []),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigError(
            f"catalog files {menu}{', ' + str(stores) if stores else ''} are invalid: {problems}"
        ) from None


def _read_yaml(path: Path, key: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{key}: {path} must hold a mapping at the top level")
    return data
