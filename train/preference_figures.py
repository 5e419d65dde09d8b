"""What a preference-trained adapter is judged by, on a version's eval pairs.

For a pair (prompt, chosen, rejected) and a model, log p(answer | prompt) is the sum of the
log-probabilities of the answer's tokens (the last assistant turn, found as `encode` finds it
for training). Two figures follow, each with its 95% interval:

- **prefers chosen**: the share of pairs where the model gives the chosen answer the higher
  log-probability. It needs no reference, so the SFT adapter and the DPO adapter are compared
  on it directly.
- **reward accuracy** and **mean margin** (DPO's implicit reward, as TRL logs them):
  r(answer) = beta * (log p_policy(answer) - log p_reference(answer)), the reference being the
  SFT adapter; accuracy is the share of pairs with r(chosen) > r(rejected), the margin the mean
  of r(chosen) - r(rejected). Before any step the policy is the reference, every reward is 0, and
  the accuracy is 0 by construction: it measures what the preference training moved.
"""

from __future__ import annotations

import torch

from train.data import IGNORE, encode
from train.metrics import mean, share


def answer_logps(model, tokenizer, pairs: list[dict], side: str, max_length: int) -> list[float]:
    """log p(pair[side] | pair["prompt"]) for every pair, one forward pass a pair."""
    model.eval()
    device = next(model.parameters()).device
    values = []
    with torch.no_grad():
        for pair in pairs:
            ids, labels = encode(list(pair["prompt"]) + list(pair[side]), tokenizer)
            ids, labels = ids[-max_length:], labels[-max_length:]
            last = _last_turn(labels)
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float()
            logp = torch.log_softmax(logits[:-1], dim=-1)
            targets = torch.tensor(ids[1:], device=device)
            token_logps = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
            values.append(float(token_logps[[k - 1 for k in last]].sum()) if last else 0.0)
    return values


def _last_turn(labels: list[int]) -> list[int]:
    """Positions of the last assistant turn's tokens (the last run of trained labels)."""
    positions = [k for k, label in enumerate(labels) if label != IGNORE and k > 0]
    run: list[int] = []
    for k in reversed(positions):
        if run and k != run[-1] - 1:
            break
        run.append(k)
    return sorted(run)


def model_logps(model, tokenizer, pairs: list[dict], max_length: int) -> dict[str, list[float]]:
    return {side: answer_logps(model, tokenizer, pairs, side, max_length) for side in ("chosen", "rejected")}


def preference_figures(policy: dict[str, list[float]], reference: dict[str, list[float]], beta: float) -> dict:
    """The figures of one policy against its reference, from their log-probabilities."""
    chosen = [beta * (p - r) for p, r in zip(policy["chosen"], reference["chosen"])]
    rejected = [beta * (p - r) for p, r in zip(policy["rejected"], reference["rejected"])]
    n = len(chosen)
    return {
        "pairs": n,
        "prefers_chosen": share(sum(c > r for c, r in zip(policy["chosen"], policy["rejected"])), n).as_dict(),
        "reference_prefers_chosen": share(
            sum(c > r for c, r in zip(reference["chosen"], reference["rejected"])), n
        ).as_dict(),
        "reward_accuracy": share(sum(c > r for c, r in zip(chosen, rejected)), n).as_dict(),
        "mean_margin": mean([c - r for c, r in zip(chosen, rejected)]).as_dict(),
    }
