"""review_sentiment scored the way the assistant will be used: generate the label, compare.

Accuracy and macro-F1 (scikit-learn's) over the labels the task defines; a
generation that names no label counts as wrong (`unparsed`), never dropped.
"""

from __future__ import annotations

import re

import torch
from sklearn.metrics import accuracy_score, f1_score

from etl.example import SENTIMENT_LABELS as LABELS


def parse_label(text: str) -> str | None:
    """The first label word in the generated text (case-insensitive), else None."""
    found = re.search(r"\b(" + "|".join(LABELS) + r")\b", text.lower())
    return found.group(1) if found else None


@torch.no_grad()
def score_sentiment(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int = 16) -> dict:
    """pairs: (chat up to the assistant's turn, gold label)."""
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues the right end of every row
    predicted: list[str | None] = []
    try:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            prompts = [
                tokenizer.apply_chat_template(
                    [{"role": m["role"], "content": m["content"]} for m in chat],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for chat, _ in batch
            ]
            inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            output = model.generate(
                **inputs,
                max_new_tokens=6,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            predicted.extend(parse_label(t) for t in texts)
    finally:
        tokenizer.padding_side = side
    gold = [label for _, label in pairs]
    guesses = [p or "unparsed" for p in predicted]
    return {
        "label_examples": len(pairs),
        "accuracy": float(accuracy_score(gold, guesses)),
        "macro_f1": float(f1_score(gold, guesses, labels=list(LABELS), average="macro", zero_division=0)),
        "unparsed": sum(p is None for p in predicted),
    }
