"""review_sentiment scored the way the assistant will be used: generate the label, compare.

Accuracy and macro-F1 (scikit-learn's) over the labels the task defines; a
generation that names no label counts as wrong (`unparsed`), never dropped.
"""

from __future__ import annotations

from sklearn.metrics import accuracy_score, f1_score

from etl.example import SENTIMENT_LABELS as LABELS
from train.generate import generate_replies
from train.metrics import parse_label


def score_sentiment(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int = 16) -> dict:
    """pairs: (chat up to the assistant's turn, gold label)."""
    texts = generate_replies(model, tokenizer, [chat for chat, _ in pairs], max_new_tokens=6, batch_size=batch_size)
    predicted = [parse_label(t) for t in texts]
    gold = [label for _, label in pairs]
    guesses = [p or "unparsed" for p in predicted]
    return {
        "label_examples": len(pairs),
        "accuracy": float(accuracy_score(gold, guesses)),
        "macro_f1": float(f1_score(gold, guesses, labels=list(LABELS), average="macro", zero_division=0)),
        "unparsed": sum(p is None for p in predicted),
    }
