"""Training data: mixture sources drawn by weight, chats rendered with the tokenizer's template,
loss masked to the assistant's tokens, batches padded to their longest row.

A published version is read through the store API (`etl.store.Store`), so the
manifest can name its exact version and fingerprint; any other source is a folder
`datasets.load_dataset` reads, with a `messages` column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import polars as pl
import torch

from etl.errors import ConfigError, StoreError
from etl.store import Store
from train.config import MixtureSource

IGNORE = -100  # label of a token the loss skips (transformers' convention)

# Used only when the tokenizer has no chat template of its own: plain role headers, and
# the end-of-sequence token after each assistant turn so the model learns where to stop.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass
class SourceData:
    """One mixture source, read: its train and eval conversations and where they came from."""

    source: MixtureSource
    train: list[list[dict]]
    eval: dict[str, list[list[dict]]]  # eval conversations per task (version) or per source (folder)
    lineage: dict  # dataset, version, fingerprint, tasks / path
    sentiment_eval: list[tuple[list[dict], str]] = field(default_factory=list)  # (prompt messages, gold label)


def read_source(source: MixtureSource, store_root: Path) -> SourceData:
    if source.dataset is not None:
        return _read_version(source, store_root)
    return _read_folder(source)


def _read_version(source: MixtureSource, store_root: Path) -> SourceData:
    name, _, version = source.dataset.partition("@")
    store = Store(store_root, name)
    if not store.versions():
        raise StoreError(
            f"no published dataset '{name}' in store {store_root}. Run `etl run` first, or pass --store with the store"
            " that holds it."
        )
    resolved = store.resolve(version or "latest")
    examples = store.examples(resolved)
    available = sorted(examples["task"].unique().to_list())
    tasks = source.tasks or available
    missing = [t for t in tasks if t not in available]
    if missing:
        raise ConfigError(
            f"{name} {resolved} has no task {', '.join(missing)}; its tasks are {', '.join(available)}. "
            "Pass --tasks with some of those."
        )
    chosen = examples.filter(pl.col("task").is_in(tasks)).sort("id")
    train = chosen.filter(pl.col("split") == "train")
    held_out = chosen.filter(pl.col("split") == "eval")
    evals = {task: part["messages"].to_list() for (task,), part in held_out.group_by(["task"], maintain_order=True)}
    sentiment = held_out.filter(pl.col("task") == "review_sentiment")
    manifest = store.manifest(resolved)
    return SourceData(
        source=source,
        train=train["messages"].to_list(),
        eval=dict(sorted(evals.items())),
        lineage={
            "dataset": name,
            "version": resolved,
            "fingerprint": manifest["fingerprint"],
            "tasks": tasks,
        },
        sentiment_eval=[(m[:-1], label) for m, label in zip(sentiment["messages"], sentiment["label"])],
    )


EVAL_SPLITS = ("eval", "validation", "test")  # what a folder's held-out split may be called


def load_folder(path: Path, what: str, fix: str) -> datasets.DatasetDict:
    """A folder or file `datasets.load_dataset` reads; `what` names it in errors ("mixture source
    'x'"), `fix` says what to change when it is missing."""
    if not path.exists():
        raise ConfigError(f"{what} does not exist. {fix}")
    try:
        return datasets.load_dataset(str(path))
    except Exception as exc:  # datasets raises many kinds; the user needs the path and the reason
        raise ConfigError(f"{what} cannot be read by datasets.load_dataset: {exc}") from None


def _read_folder(source: MixtureSource) -> SourceData:
    path = Path(source.path)
    loaded = load_folder(path, f"mixture source path '{source.path}'", "Fix `mixture[].path` in the config.")
    if "train" not in loaded:
        raise ConfigError(f"mixture source '{source.path}' has no train split (it has {', '.join(loaded)}).")
    if "messages" not in loaded["train"].column_names:
        raise ConfigError(
            f"mixture source '{source.path}' has no `messages` column (columns: "
            f"{', '.join(loaded['train'].column_names)}); it needs chat messages [{{role, content}}, ...]."
        )
    eval_split = next((s for s in EVAL_SPLITS if s in loaded), None)
    label = source.label()
    return SourceData(
        source=source,
        train=list(loaded["train"]["messages"]),
        eval={label: list(loaded[eval_split]["messages"])} if eval_split else {},
        lineage={"path": str(path.resolve()), "eval_split": eval_split},
    )


def draw_mixture(sources: list[SourceData], seed: int) -> tuple[list[list[dict]], list[int]]:
    """The training draw: as many examples as all sources hold together, shared by weight.

    A source asked for more than it holds is repeated (whole passes first, then a
    seeded sample), one asked for less is sampled without replacement, so the
    draw follows the weights however unequal the sources' sizes are.
    """
    total = sum(len(s.train) for s in sources)
    weights = np.array([s.source.weight for s in sources], dtype=float)
    wanted = _largest_remainder(weights / weights.sum() * total)
    rng = np.random.default_rng(seed)
    drawn: list[list[dict]] = []
    for source, n in zip(sources, wanted):
        size = len(source.train)
        if size == 0 or n == 0:
            continue
        whole, rest = divmod(n, size)
        picks = np.concatenate([np.tile(np.arange(size), whole), rng.choice(size, rest, replace=False)])
        drawn.extend(source.train[i] for i in picks)
    order = rng.permutation(len(drawn))
    return [drawn[i] for i in order], [int(n) for n in wanted]


def _largest_remainder(shares: np.ndarray) -> np.ndarray:
    """Integers summing to round(sum(shares)), each the floor or ceiling of its share."""
    floors = np.floor(shares).astype(int)
    left = int(round(shares.sum())) - floors.sum()
    floors[np.argsort(-(shares - floors), kind="stable")[:left]] += 1
    return floors


def sample(conversations: list, limit: int, seed: int) -> list:
    if len(conversations) <= limit:
        return conversations
    picks = np.sort(np.random.default_rng(seed).choice(len(conversations), limit, replace=False))
    return [conversations[i] for i in picks]


@dataclass
class EncodeStats:
    examples: int = 0
    truncated: int = 0
    no_target: int = 0  # nothing left to learn after truncation (or no assistant turn at all)
    target_tokens: int = 0
    tokens: int = 0


def ensure_chat_template(tokenizer) -> str:
    """The template in use: the tokenizer's own, else the fallback (recorded in the manifest)."""
    if getattr(tokenizer, "chat_template", None):
        return "tokenizer"
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return "fallback"


def encode(conversation: list[dict], tokenizer) -> tuple[list[int], list[int]]:
    """Token ids and labels for one chat; labels are IGNORE except on the assistant's turns.

    The assistant's spans are found as characters: the chat rendered up to each
    assistant turn (with the generation prompt) is a prefix of the whole chat,
    and the text it lacks up to the end of that turn is the target. Token offsets
    map characters to tokens, which holds across any tokenizer's merges at the
    boundary (token-count prefixes do not).
    """
    messages = [{"role": m["role"], "content": m["content"]} for m in conversation]
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False).rstrip()
        if not full.startswith(through):
            raise ConfigError(
                "the tokenizer's chat template renders earlier turns differently once later turns follow, so the"
                " assistant's tokens cannot be found; use a template that renders a chat incrementally."
            )
        spans.append((start, len(through)))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    labels = [IGNORE] * len(ids)
    for k, (a, b) in enumerate(encoded["offset_mapping"]):
        if any(start <= a < end for start, end in spans) and b > a:
            labels[k] = ids[k]
    return ids, labels


def encode_all(conversations: list[list[dict]], tokenizer, max_length: int) -> tuple[datasets.Dataset, EncodeStats]:
    stats = EncodeStats()
    rows: dict[str, list] = {"input_ids": [], "labels": [], "length": []}
    for conversation in conversations:
        stats.examples += 1
        ids, labels = encode(conversation, tokenizer)
        if len(ids) > max_length:
            stats.truncated += 1
            ids, labels = ids[:max_length], labels[:max_length]
        targets = sum(1 for t in labels if t != IGNORE)
        if targets == 0:
            stats.no_target += 1
            continue
        stats.target_tokens += targets
        stats.tokens += len(ids)
        rows["input_ids"].append(ids)
        rows["labels"].append(labels)
        rows["length"].append(len(ids))
    return datasets.Dataset.from_dict(rows), stats


@dataclass
class PadCollator:
    """Pads a batch to its longest row (rounded up to a multiple of 8 for tensor cores).

    Batches are formed from rows of similar length (the trainer's length-grouped
    sampler), so padding stays small without packing rows together, which would
    need per-row attention masks to keep chats from seeing each other.
    """

    pad_token_id: int
    multiple: int = 8

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        width = int(math.ceil(longest / self.multiple) * self.multiple)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
