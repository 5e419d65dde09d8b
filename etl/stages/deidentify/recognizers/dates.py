"""Dates of birth next to their cue."""

from __future__ import annotations

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult

MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
A_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2}"
    rf"|{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS},?\s+\d{{4}})"
)
# a date right after what says it is a birth date: "born 03/14/1987", "DOB: 14.03.1987",
# "date of birth is March 14, 1987"; a date alone is a delivery, an order, a visit
BIRTH_DATE = regex.compile(
    r"\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday)(?:\s+(?:is|was))?\s*[:=-]?\s*"
    rf"(?P<date>{A_DATE})(?!\d)",
    regex.IGNORECASE,
)


class BirthDateRecognizer(EntityRecognizer):
    """Dates of birth: a date next to its cue (the cue stays, the date is replaced)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["DATE_OF_BIRTH"], name="BirthDateRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list[RecognizerResult]:
        return [
            RecognizerResult(
                "DATE_OF_BIRTH",
                match.start("date"),
                match.end("date"),
                0.85,
                analysis_explanation=None,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for match in BIRTH_DATE.finditer(text)
        ]
