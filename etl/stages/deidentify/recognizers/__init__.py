"""Recognizers presidio lacks for this job, one module per kind of personal data, and the
catalog allow-list. A new recognizer goes in the module of its kind and into
`engine.build_analyzer`'s registry; each module's examples are in tests/test_recognizers.py.

- us_address, address (address_parts: what both share): street addresses, US and elsewhere,
  with the unit, town, postal-code and country lines that follow; labelled address lines.
- phones: numbers by shape, by national trunk prefix (libphonenumber), by label.
- cards, banking: card numbers (Luhn, or after their cue), bank accounts and IBAN shapes.
- dates: dates of birth next to their cue.
- person: names spaCy misses (lexicon names in lower case, rare capitalised words, signatures).
- handles: social handles and profile links that carry a name.
- identifiers: the business's order and loyalty numbers, from its configured formats.
- allow: the catalog allow-list (dishes, the business, its stores and contacts).
- common: a pattern recognizer whose costly patterns run only where a cheap gate matches.
"""

from etl.stages.deidentify.recognizers.address import (
    AddressLineRecognizer,
    InternationalAddressRecognizer,
    complete_addresses,
)
from etl.stages.deidentify.recognizers.allow import CatalogAllowList
from etl.stages.deidentify.recognizers.banking import BankAccountRecognizer, IbanShapeRecognizer
from etl.stages.deidentify.recognizers.cards import CuedCardRecognizer, LuhnCardRecognizer
from etl.stages.deidentify.recognizers.common import GatedPatternRecognizer
from etl.stages.deidentify.recognizers.dates import BirthDateRecognizer
from etl.stages.deidentify.recognizers.handles import SocialHandleRecognizer
from etl.stages.deidentify.recognizers.identifiers import identifier_recognizer
from etl.stages.deidentify.recognizers.person import (
    NameLexiconRecognizer,
    RareCapitalisedNameRecognizer,
    SignatureNameRecognizer,
)
from etl.stages.deidentify.recognizers.phones import (
    LabelledPhoneRecognizer,
    PhoneFormatRecognizer,
    TrunkPrefixPhoneRecognizer,
)
from etl.stages.deidentify.recognizers.us_address import StreetAddressRecognizer

__all__ = [
    "AddressLineRecognizer",
    "BankAccountRecognizer",
    "BirthDateRecognizer",
    "CatalogAllowList",
    "CuedCardRecognizer",
    "GatedPatternRecognizer",
    "IbanShapeRecognizer",
    "InternationalAddressRecognizer",
    "LabelledPhoneRecognizer",
    "LuhnCardRecognizer",
    "NameLexiconRecognizer",
    "PhoneFormatRecognizer",
    "RareCapitalisedNameRecognizer",
    "SignatureNameRecognizer",
    "SocialHandleRecognizer",
    "StreetAddressRecognizer",
    "TrunkPrefixPhoneRecognizer",
    "complete_addresses",
    "identifier_recognizer",
]
