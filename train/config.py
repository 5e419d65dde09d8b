"""Training configuration: a pydantic model loaded from YAML (`etl train --train-config train.yaml`).

Every key has a default that trains on a laptop CPU and on a GPU alike; the
command line's `--dataset`, `--tasks` and `--base-model` fill the first mixture
source when the file names none. Errors name the file, line and key, like the
pipeline config's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from etl.config import load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Strict):
    r: int = Field(16, ge=1, description="rank of the update matrices")
    alpha: int = Field(32, ge=1, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="dropout on the adapter's input during training")
    # "all-linear" is peft's own name for every linear layer except the output head
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class PreferenceSettings(_Strict):
    """`etl train --method dpo|kto` (train/preference.py)."""

    beta: float = Field(0.1, gt=0, description="how far the policy may move from the SFT reference (TRL's beta)")
    desirable_weight: float | None = Field(None, gt=0, description="kto: weight of liked answers (null: 1)")
    undesirable_weight: float | None = Field(
        None, gt=0, description="kto: weight of disliked answers (null: liked rows / disliked rows, a 1:1 balance)"
    )


class MixtureSource(_Strict):
    """One source of training examples: tasks of a published version, or a folder `datasets.load_dataset` reads.

    A folder source must have a `messages` column (the published format); its
    `train` split is drawn for training and its `eval` or `validation` split, if
    any, is evaluated per source.
    """

    dataset: str | None = Field(None, description="a dataset in the store, as NAME or NAME@VERSION")
    tasks: list[str] | None = Field(None, description="tasks of the version to draw; null: every task")
    path: str | None = Field(None, description="a folder or file datasets.load_dataset reads")
    weight: float = Field(1.0, gt=0, description="share of the training draw, relative to the other sources")
    name: str | None = Field(None, description="how the manifest and metrics call this source")

    @model_validator(mode="after")
    def _one_kind(self) -> MixtureSource:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of `dataset` (a published version) or `path` (a folder)")
        if self.path is not None and self.tasks is not None:
            raise ValueError("`tasks` selects tasks of a published version; a `path` source has none")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        if self.dataset is not None:
            return self.dataset + (":" + ",".join(self.tasks) if self.tasks else "")
        return Path(self.path).name


class TrainConfig(_Strict):
    method: Literal["lora", "full"] = Field(
        "lora", description="lora: train adapters only; full: every weight (the baseline bench/train.py measures)"
    )
    # The adapter's shape (method: lora).
    lora: LoraSettings = LoraSettings()
    learning_rate: float = Field(2e-4, gt=0, description="peak learning rate (AdamW)")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "cosine", description="how the learning rate moves after warm-up (transformers' schedulers)"
    )
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="share of the steps spent warming the learning rate up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    epochs: float = Field(1.0, gt=0, description="passes over the training draw")
    max_steps: int = Field(-1, description="> 0 overrides epochs")
    batch_size: int = Field(8, ge=1, description="examples per device per step")
    gradient_accumulation: int = Field(1, ge=1, description="steps whose gradients add up before one optimizer step")
    max_seq_length: int = Field(1024, ge=16, description="longer examples are cut at the end (and counted)")
    seed: int = Field(42, description="seeds the draw, the adapter's initialisation and the data order")
    eval_steps: int = Field(50, ge=1, description="evaluate every N optimizer steps")
    early_stopping_patience: int | None = Field(
        3, ge=1, description="stop after N evaluations without a lower eval loss; null: never"
    )
    max_eval_examples: int = Field(512, ge=1, description="eval examples per source at most (seeded sample)")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on a GPU that has it, fp32 on CPU"
    )
    gradient_checkpointing: Literal["auto", "on", "off"] = Field("auto", description="auto: on for GPU, off on CPU")
    sentiment_eval_examples: int = Field(
        200, ge=0, description="review_sentiment eval examples scored by generating the label (0: skip)"
    )
    logging_steps: int = Field(10, ge=1, description="log the training loss every N optimizer steps")
    mixture: list[MixtureSource] = Field(default_factory=list)
    # DPO and KTO on top of an SFT adapter
    preference: PreferenceSettings = PreferenceSettings()


def load_train_config(path: str | Path | None) -> TrainConfig:
    return TrainConfig() if path is None else load_yaml_model(path, TrainConfig, "training")
