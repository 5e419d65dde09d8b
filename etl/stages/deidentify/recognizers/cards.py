"""Payment cards: Luhn-valid numbers presidio's pattern misses, and card numbers after their cue."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer


class LuhnCardRecognizer(PatternRecognizer):
    """Card numbers presidio's pattern misses: 12-19 digits (Maestro, 2-series
    Mastercard, 19-digit Visa), kept only when the Luhn checksum holds, as
    presidio's own credit card recognizer does."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="LuhnCardRecognizer",
            patterns=[Pattern("12-19 digits", r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])", 0.3)],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "charged", "cc"],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = [int(c) for c in pattern_text if c.isdigit()]
        total = 0
        for index, digit in enumerate(reversed(digits)):
            doubled = digit * 2 if index % 2 else digit
            total += doubled - 9 if doubled > 9 else doubled
        return total % 10 == 0 and len(set(digits)) > 2


CARD_CUE = (
    r"\b(?:card|visa|mastercard|amex|credit card|debit card|cc)(?:\s+(?:number|no\.?|num|#))?"
    r"(?:\s+(?:is|was))?\s*[:#]?\s*"
)


class CuedCardRecognizer(PatternRecognizer):
    """A card number after a word that says it is one, in its groups of four, even when its
    checksum fails ("my card 4716 2210 9988 1234 got charged twice"): a mistyped or made-up
    card is still the customer's, and the published gate stops any 13-19 digits anyway, so
    leaving it would lose the row. Replaced with a test-prefix card like any other."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="CuedCardRecognizer",
            patterns=[
                Pattern(
                    "card after its cue",
                    rf"(?<={CARD_CUE})\d{{4}}(?:[ -]?\d{{4}}){{2,3}}(?:[ -]?\d{{1,3}})?(?![\d-])",
                    0.6,
                )
            ],
        )
