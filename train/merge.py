"""`etl train merge`: the base model with the adapter folded into its weights, for serving without peft."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from etl.errors import ConfigError
from train.trainer import load_model, load_tokenizer
from train.training_record import MANIFEST, read_manifest


def merge_adapter(adapter: Path, out: Path, base_model: str | None = None) -> dict:
    from peft import PeftModel

    manifest = read_manifest(adapter)
    if manifest.get("method") != "lora":
        raise ConfigError(f"{adapter} holds a fully fine-tuned model, not an adapter: there is nothing to merge.")
    base = base_model or manifest["base_model"]
    tokenizer = load_tokenizer(str(adapter))  # the adapter folder's copy, with the chat template used in training
    model = load_model(base, dtype="auto")
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    shutil.copyfile(adapter / MANIFEST, out / MANIFEST)
    record = {"base_model": base, "adapter": str(Path(adapter).resolve())}
    (out / "merge.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record
