"""The catalog allow-list: business terms, store addresses and contacts are not personal data."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from etl.catalog import Catalog

# A link, from its scheme or "www." to the first space (trailing punctuation is the sentence's).
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


class CatalogAllowList:
    """Spans of business terms (dishes, business, stores, store addresses and phones, the
    business's own contacts) in a text, and links, which are never cut."""

    def __init__(
        self, catalog: Catalog | None, extra_terms: list[str] | None = None, contacts: list[str] | None = None
    ) -> None:
        terms: set[str] = set(extra_terms or []) | set(contacts or [])
        described: set[str] = set()
        if catalog is not None:
            terms.add(catalog.business)
            for dish in catalog.dishes:
                terms.add(dish.name)
                # "jasmine rice" is an ingredient, not Jasmine Rice
                terms |= {i for i in dish.ingredients if len(i) > 3}
                described |= set(
                    re.findall(r"[^\W\d_]+", " ".join([dish.description, *dish.diet_tags, *dish.allergens]))
                )
            for store in catalog.stores:
                terms |= {store.name, store.address, store.full_address, f"{store.address}, {store.city}", store.city}
                if store.phone:
                    terms.add(store.phone)
        ordered = sorted((t for t in terms if t), key=len, reverse=True)
        self.words = {w.lower() for t in ordered for w in re.findall(r"[^\W\d_]+", t)} | {w.lower() for w in described}
        # words of dish names only: what a misspelt dish name is made of
        self.dish_words = {
            w.lower()
            for d in (catalog.dishes if catalog else [])
            for w in re.findall(r"[^\W\d_]+", d.name)
            if len(w) > 2
        }
        self.pattern = re.compile("|".join(re.escape(t) for t in ordered), re.IGNORECASE) if ordered else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.pattern.finditer(text)] if self.pattern else []

    def filter(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        """Drop detections that lie mostly (>= half their length) inside a business term, and
        any that touches a link: a link is kept whole, never cut mid-path."""
        if not results:
            return results
        spans = self.spans(text)
        links = [m.span() for m in URL.finditer(text)] if "www." in text.lower() or "://" in text else []
        kept = []
        for result in results:
            covered = sum(max(0, min(result.end, e) - max(result.start, s)) for s, e in spans)
            # a profile link is found whole (SocialHandleRecognizer) and replaced whole
            whole_link = result.entity_type == "SOCIAL_HANDLE" and "/" in text[result.start : result.end]
            in_link = not whole_link and any(result.start < e and s < result.end for s, e in links)
            if (
                covered * 2 < (result.end - result.start)
                and not in_link
                and not self._mostly_business_words(text, result)
            ):
                kept.append(result)
        return kept

    def _mostly_business_words(self, text: str, result: RecognizerResult) -> bool:
        """A "name" made mostly of menu words is a misspelt dish ("Tai Peanut Noodle Bowl")."""
        if result.entity_type != "PERSON":
            return False
        words = re.findall(r"[^\W\d_]+", text[result.start : result.end].lower())
        return bool(words) and 2 * sum(w in self.dish_words for w in words) > len(words)
