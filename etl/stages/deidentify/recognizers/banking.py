"""Bank account, routing and sort-code numbers after their cue, and IBAN-shaped codes."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

# An account, routing or sort-code number is only a bank detail where the text says so: the
# same digits elsewhere are an order, a quantity or a price.
BANK_CUE = r"\b(?:bank\s+)?(?:account|acct|a/c|checking|savings|routing|aba|sort\s+code|bsb)\b"
BANK_NUMBER = (
    rf"(?<={BANK_CUE}(?:\s*(?:number|num|no\.?|#|code))?(?:\s+(?:is|was))?\s*[:=#-]?\s*)"
    r"\d(?:[\s-]?\d){5,16}(?![\d-])"
)


class BankAccountRecognizer(PatternRecognizer):
    """Account, routing and sort-code numbers written after a word that says what they are
    ("account number 12345678", "routing: 021000021", "sort code 20-00-00"). IBANs are
    presidio's own IbanRecognizer (checksum-validated)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="BANK_ACCOUNT",
            name="BankAccountRecognizer",
            patterns=[Pattern("bank number after its cue", BANK_NUMBER, 0.85)],
        )


# An IBAN as a person types it: country letters, two check digits, then 11 to 30 letters and
# digits, in groups or not. presidio's IbanRecognizer keeps only checksum-valid ones, but a
# mistyped or made-up account is still someone's bank detail: the shape alone is enough here
# (the gate's leak scan looks for the same shape).
IBAN_SHAPE = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"


class IbanShapeRecognizer(PatternRecognizer):
    """IBAN-shaped strings with at least eight digits, valid checksum or not."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="IBAN_CODE",
            name="IbanShapeRecognizer",
            patterns=[Pattern("iban shape", IBAN_SHAPE, 0.85)],
            # case matters: presidio's default flags ignore it, and "for the" would read as letters of an IBAN
            global_regex_flags=re.DOTALL | re.MULTILINE,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        # a product or batch code ("AB12 CDEF GHIJ KLM") has few digits; an account number many
        return None if sum(c.isdigit() for c in pattern_text) >= 8 else False
