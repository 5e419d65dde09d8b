"""Bank details are found and replaced, and no surrogate of any kind looks like a leak to the gate.

Originals come from Faker in the locales customers write from (phones with extensions, second
address lines, IBANs of several countries); each is replaced by the pipeline's own surrogate
generator and the result is scanned with the gate's own leak patterns (expectations/) and once
through Great Expectations itself.
"""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from faker import Faker

from etl.config import DeidentifyConfig
from etl.records import make_record, records_frame
from etl.stages.deidentify import DeidentifyStage
from etl.stages.deidentify.surrogates import Surrogates
from etl.stages.validate import gx_suites

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_IN"]
PATTERNS = gx_suites.leak_patterns(gx_suites.load_suite(gx_suites.default_suites_dir() / "deidentified.json"))
PUBLISHED = gx_suites.leak_patterns(gx_suites.load_suite(gx_suites.default_suites_dir() / "published.json"))


def originals(per_locale: int = 25) -> list[tuple[str, str]]:
    """(entity, value) pairs of every kind the surrogate generator replaces."""
    out = []
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(3)
        for _ in range(per_locale):
            out += [
                ("PHONE_NUMBER", fake.phone_number()),
                ("IBAN_CODE", fake.iban()),
                # as printed on a statement: groups of four (a GB one's 14 digits look like a card)
                ("IBAN_CODE", " ".join(re.findall(".{1,4}", fake.iban()))),
                ("STREET_ADDRESS", fake.street_address()),
                ("STREET_ADDRESS", fake.address()),
                ("EMAIL_ADDRESS", fake.email()),
                ("CREDIT_CARD", fake.credit_card_number()),
                ("IP_ADDRESS", fake.ipv4_public()),
                ("BANK_ACCOUNT", str(fake.random_number(digits=8, fix_len=True))),
                ("PERSON", fake.name()),
            ]
    us = Faker("en_US")
    us.seed_instance(5)
    out += [("US_SSN", us.ssn()) for _ in range(50)]
    out += [("PHONE_NUMBER", f"{us.numerify('(###) ###-####')} x{us.numerify('####')}") for _ in range(50)]
    out += [("BANK_ACCOUNT", us.aba()) for _ in range(50)]
    return out


def surrogate_texts() -> list[str]:
    surrogates = Surrogates(b"s" * 32)
    cues = {"BANK_ACCOUNT": "account number ", "IBAN_CODE": "IBAN ", "PHONE_NUMBER": "call "}
    return [
        f"Please use {cues.get(entity, '')}{surrogates.replace(entity, value)} for the order, thanks"
        for entity, value in originals()
    ]


def test_every_surrogate_passes_the_gate_leak_patterns():
    """Both gates, the de-identified one and the published one: a surrogate that trips either
    would drop a good example (issue 50: a spaced GB IBAN's surrogate read as a card)."""
    for patterns in (PATTERNS, PUBLISHED):
        flagged = [t for t in surrogate_texts() if any(re.search(p, t) for p in patterns)]
        assert flagged == []


def test_the_gate_itself_flags_no_surrogate_and_does_flag_the_originals():
    texts = surrogate_texts()
    suite = gx_suites.load_suite(gx_suites.default_suites_dir() / "deidentified.json")
    batch = pl.DataFrame({"record_id": [f"r{i}" for i in range(len(texts))], "text": texts})
    result = gx_suites.validate("deidentified", batch, suite, {}, "fail")
    assert result.success, [f.describe() for f in result.failures]
    # the same gate on the real values: IBANs, account numbers and US phones are caught
    leaks = ["Refund to IBAN GB38ESZY14177763170669 please", "my account number is 12345678", "call 404-872-1234 x12"]
    caught = gx_suites.validate(
        "deidentified", pl.DataFrame({"record_id": ["a", "b", "c"], "text": leaks}), suite, {}, "fail"
    )
    assert not caught.success and "3 of 3" in caught.failures[0].observed
    # every failing row by id, and nothing of the text in the message or the stored result
    assert caught.failing_rows == {"no_personal_data": ["a", "b", "c"]}
    stored = json.dumps(caught.result.to_json_dict(), default=str) + caught.failures[0].describe()
    assert not any(value in stored for value in ("GB38", "12345678", "872-1234", "Refund")), stored


@pytest.fixture(scope="module")
def replaced() -> dict[str, str]:
    texts = {
        "iban": "Please refund by wire transfer using this IBAN GB38ESZY14177763170669, thanks",
        "iban_spaced": "My IBAN is DE89 3704 0044 0532 0130 00 for the refund",
        "account": "my account number is 31926819 and the routing number 021000021",
        "sort_code": "Sort code 20-00-00, account no. 55779911",
        "phone_ext": "Reach me at 001-507-843-9150x00806 or (990)431-4914x848 after six",
        "foreign": "or on my mobile +44 118 496 0890, or +49 (0)3915 00080",
        # a mistyped or made-up IBAN is still someone's bank detail (presidio keeps only valid ones)
        "iban_bad_checksum": "Refund it by wire transfer to IBAN GB27GXLS4000007638261 thanks",
        "batch_code": "The label said batch AB12 CDEF GHIJ KLM on the lid",
        "plain": "I ordered 12 meals for 3 people at 5:30pm, 2 of them the Paleo Power Bowl for $12.50",
    }
    records = [
        make_record("review", "r.csv", i + 2, key, [{"role": "user", "text": t}], {})
        for i, (key, t) in enumerate(texts.items())
    ]
    result = DeidentifyStage(DeidentifyConfig(workers=1), None, b"k" * 32).apply(
        records_frame(records), lambda n: None
    )
    assert result.dropped.height == 0
    out = {r["record_id"]: r["turns"][0]["text"] for r in result.kept.iter_rows(named=True)}
    return {key: out[r["record_id"]] for key, r in zip(texts, records)} | {"_original": texts}


def test_ibans_and_bank_numbers_are_replaced_and_the_rest_kept(replaced):
    originals = replaced["_original"]
    for value in [
        "GB38ESZY14177763170669",
        "DE89 3704 0044 0532 0130 00",
        "31926819",
        "021000021",
        "20-00-00",
        "55779911",
    ]:
        assert not any(value in text for key, text in replaced.items() if key != "_original"), value
    assert replaced["plain"] == originals["plain"]
    assert re.search(r"IBAN GB00[A-Z]{4}\d{14}, thanks", replaced["iban"])
    assert re.search(r"IBAN is DE00 \d{4} \d{4} \d{4} \d{4} \d{2} for", replaced["iban_spaced"])
    assert "account number is 00" in replaced["account"] and "routing number 00" in replaced["account"]


def test_phones_with_extensions_and_foreign_phones_are_replaced(replaced):
    text = replaced["phone_ext"]
    for value in ["507-843-9150", "00806", "431-4914", "x848"]:
        assert value not in text
    assert re.search(r"555-01\d\dx\d{5} or \(\d{3}\)555-01\d\dx\d{3} after six", text), text
    assert "118 496 0890" not in replaced["foreign"] and "3915 00080" not in replaced["foreign"]


def test_an_iban_with_a_wrong_checksum_is_replaced_and_a_code_with_few_digits_is_not(replaced):
    assert "GB27GXLS4000007638261" not in replaced["iban_bad_checksum"]
    assert re.search(r"IBAN GB00[A-Z0-9]{17} thanks", replaced["iban_bad_checksum"]), replaced["iban_bad_checksum"]
    assert replaced["batch_code"] == replaced["_original"]["batch_code"]


def test_a_phone_surrogate_never_keeps_the_real_last_four_digits():
    """Issue 50: 470.555.0148 became 785.555.0148; a number already in the fictional exchange
    must still get other last digits (the surrogate's last seven are always 555-01xx)."""
    surrogates = Surrogates(b"k" * 32)
    for number in [f"470.555.01{n:02d}" for n in range(100)] + [f"(404) 555-01{n:02d}" for n in range(100)]:
        replaced = surrogates.replace("PHONE_NUMBER", number)
        assert re.sub(r"\D", "", replaced)[-4:] != re.sub(r"\D", "", number)[-4:], (number, replaced)


def test_a_name_surrogate_never_hands_back_a_real_name_word():
    """Issue 50 (held-out letters): the surrogate draws from Faker's weighted name lists, so a
    common surname is drawn often and "Conor N. Johnson" became "Olivia F. Johnson". Across keys,
    no word of the commonest names comes back in its place."""
    fake = Faker("en_US")
    fake.seed_instance(3)
    names = [f"{fake.first_name()} {fake.last_name()}" for _ in range(400)]
    names += ["James Smith", "Mary Johnson", "Robert Williams", "Patricia Brown", "John Jones", "Linda Garcia"]
    for key in (b"k" * 32, b"bench-key-0123456789abcdef012345", b"s" * 32):
        surrogates = Surrogates(key)
        for name in names:
            replaced = surrogates.replace("PERSON", name).split()
            assert all(r.lower() != w.lower() for r, w in zip(replaced, name.split())), (name, replaced)
