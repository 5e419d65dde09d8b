"""Rebuild food_drink.txt and companies.txt from a checkout of Darius Kazemi's Corpora
project (CC0), which the project does not depend on at run time:

    python etl/text/lexicons/make_lists.py PATH/TO/corpora

Food and drink names come from its data/foods lists (the New York Public Library's
"What's on the menu?" top 1,000 dishes, fish and shellfish, fruit, vegetables, herbs and
spices, condiments, breads and pastries, pizza toppings, sandwiches, sausages, cheeses,
teas, IBA cocktails, beer styles, poultry, hot peppers, hams); company names from
data/corporations (Fortune 500, NASDAQ, DJIA). Entries are lower-cased, one a line, sorted.
The reviewed supplements (*_extra.txt) are kept by hand and read beside these files.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOODS = [
    "menuItems",
    "fish",
    "shellfish",
    "fruits",
    "vegetables",
    "herbs_n_spices",
    "condiments",
    "breads_and_pastries",
    "pizzaToppings",
    "sandwiches",
    "sausages",
    "curds",
    "tea",
    "iba_cocktails",
    "beer_styles",
    "poultry",
    "hot_peppers",
    "ham",
]
COMPANIES = ["fortune500", "nasdaq", "djia"]
# One-word entries that are people's names before they are a dish or a company (a cocktail
# "Alexander", the "Williams" companies, "Peter", "Kurt"): as a lexicon entry each one made a
# real first name or surname pass as food or a company ("Remember me, Peter?").
NAMES_FIRST = {
    "alexander",
    "bernardo",
    "burrell",
    "chaka",
    "desmond",
    "kurt",
    "peter",
    "andersons",
    "harris",
    "williams",
}


def strings(value) -> list[str]:
    """Every name in a Corpora JSON value (lists of strings or of objects with a name)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    if isinstance(value, dict):
        if "name" in value:
            return strings(value["name"])
        return [s for key, item in value.items() if key != "description" for s in strings(item)]
    return []


def cleaned(name: str) -> str:
    name = re.sub(r"\s*\(.*?\)", "", name).strip().lower()
    return re.sub(r"\s+", " ", name)


COMPANY_SUFFIX = re.compile(
    r"[,\s]+(?:inc|corp|corporation|co|company|companies|holdings|group|ltd|plc|llc|n\.?v|s\.?a|& co)\.?$"
)


def company(name: str) -> str:
    name = cleaned(name)
    while (shorter := COMPANY_SUFFIX.sub("", name)) != name:
        name = shorter
    return name.removeprefix("the ")


def write(path: Path, names: set[str]) -> None:
    kept = sorted(n for n in names - NAMES_FIRST if len(n) > 2)
    path.write_text("".join(f"{n}\n" for n in kept), encoding="utf-8")


def main(corpora: Path) -> None:
    data = corpora / "data"
    foods = {
        cleaned(s)
        for f in FOODS
        for s in strings(json.loads((data / "foods" / f"{f}.json").read_text(encoding="utf-8")))
    }
    companies = {
        company(s)
        for f in COMPANIES
        for s in strings(json.loads((data / "corporations" / f"{f}.json").read_text(encoding="utf-8")))
    }
    write(HERE / "food_drink.txt", foods)
    write(HERE / "companies.txt", companies)
    print(f"{len(foods)} food and drink names, {len(companies)} company names")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
