"""A SQuAD file (v1.1 or v2.0 JSON) as a chat dataset folder `etl train` mixes in and
`etl eval --general` asks: train.jsonl and eval.jsonl, one conversation a line.

    python bench/squad_messages.py SQUAD.json OUT_FOLDER [--eval-share 0.2]

Each answerable question becomes [system, user: passage + question, assistant: the first
reference answer]; unanswerable ones (v2.0) are left out. Whole paragraphs go to one split
(a seeded hash of the passage), so no eval question's passage is trained on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

SYSTEM = "Answer the question from the passage in a few words."


def conversations(squad: dict) -> list[tuple[str, list[dict]]]:
    """(passage, messages) for every answerable question, in file order."""
    out = []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                user = f"{paragraph['context']}\n\nQuestion: {qa['question'].strip()}"
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": qa["answers"][0]["text"].strip()},
                ]
                out.append((paragraph["context"], messages))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--eval-share", type=float, default=0.2)
    args = parser.parse_args()
    splits: dict[str, list[str]] = {"train": [], "eval": []}
    for passage, messages in conversations(json.loads(args.squad.read_text(encoding="utf-8"))):
        bucket = int(hashlib.sha256(passage.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        splits["eval" if bucket < args.eval_share else "train"].append(json.dumps({"messages": messages}))
    args.out.mkdir(parents=True, exist_ok=True)
    for split, lines in splits.items():
        (args.out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: train {len(splits['train'])}, eval {len(splits['eval'])} questions")


if __name__ == "__main__":
    main()
