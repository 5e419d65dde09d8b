"""The business's own identifiers (order and loyalty numbers) from its configured formats."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer


def identifier_recognizer(entity: str, patterns: list[str], context: list[str]) -> PatternRecognizer:
    """An order or loyalty number recognizer from the business's own formats (config)."""
    return PatternRecognizer(
        supported_entity=entity,
        name=f"{entity.title().replace('_', '')}Recognizer",
        patterns=[Pattern(f"{entity.lower()} {i}", p, 0.85) for i, p in enumerate(patterns)],
        context=context,
    )
