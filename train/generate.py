"""Greedy, batched, bounded generation of the assistant's next turn: what `etl eval` and the
training run's sentiment check score. Deterministic: no sampling, left padding, prompts of
similar length batched together (less padding, the same replies in the caller's order)."""

from __future__ import annotations

from collections.abc import Callable

import torch


@torch.no_grad()
def generate_replies(
    model,
    tokenizer,
    chats: list[list[dict]],
    max_new_tokens: int,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """The model's reply to each chat (the messages up to the turn it is to write), in order."""
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues the right end of every row
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m["content"]} for m in chat], tokenize=False, add_generation_prompt=True
        )
        for chat in chats
    ]
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
    replies: list[str] = [""] * len(prompts)
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer(
                [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(model.device)
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            texts = tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            for i, text in zip(batch, texts):
                replies[i] = text.strip()
            if progress is not None:
                progress(len(batch))
    finally:
        tokenizer.padding_side = side
    return replies
