"""Shared by the pattern recognizers: a recognizer whose costly patterns run only where a cheap gate matches."""

from __future__ import annotations

import re

import regex
from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

DIGIT = re.compile(r"\d")


class GatedPatternRecognizer(PatternRecognizer):
    """A pattern named in GATED matches only text that holds a match of its gate: a number, or
    the street line it starts with (gates given to `set_gates`, each holding a number itself).
    A text without the gate's match is not searched for the pattern. Street patterns are the
    recognizers' costliest, most customer sentences hold no number, and one search for a
    street line stands in for the five patterns that start with it. Exact: the gated part of
    a match is itself a match of the gate, in the same text."""

    # every pattern by name: its gate, or None for a pattern that always runs. Every pattern is
    # listed, so a renamed pattern is an error at start, never a gate silently dropped.
    GATED: dict[str, str | None] = {}

    def set_gates(self, gates: dict[str, str]) -> None:
        gates = {"number": r"\d", **gates}
        # compiled as presidio compiles the patterns
        self.gates = {name: regex.compile(gate, flags=self.global_regex_flags) for name, gate in gates.items()}
        names = {p.name for p in self.patterns}
        if set(self.GATED) != names or not set(self.GATED.values()) - {None} <= set(gates):
            unlisted, unknown = sorted(names - set(self.GATED)), sorted(set(self.GATED) - names)
            raise ValueError(
                f"{self.name}: GATED must list every pattern once (unlisted {unlisted}, unknown {unknown})"
            )
        self.every_pattern = list(self.patterns)

    def patterns_for(self, text: str) -> list[Pattern]:
        """The patterns whose gates this text opens."""
        open_gates: set[str | None] = {None}
        if DIGIT.search(text):  # every gate needs a number
            open_gates |= {g for g, gate in self.gates.items() if g == "number" or gate.search(text)}
        return [p for p in self.every_pattern if self.GATED.get(p.name) in open_gates]

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None, regex_flags=None) -> list[RecognizerResult]:
        """presidio's pattern loop, over the patterns whose gates this text opens."""
        self.patterns = self.patterns_for(text)
        try:
            return super().analyze(text, entities, nlp_artifacts, regex_flags)
        finally:
            self.patterns = self.every_pattern
