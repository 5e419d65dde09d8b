"""The `preference:` section: pairs and rated answers from the business's own feedback
(etl/stages/preference/), published as a version's `preference` and `kto` configs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from etl.config.common import Strict

PairKind = Literal["agent_correction", "thumbs_contrast", "fact_changed"]


class PreferenceConfig(Strict):
    """Chosen and rejected answers for DPO, rated answers for KTO."""

    # Build the preference and kto configs of every version.
    enabled: bool = True
    # the most pairs of each kind a version holds (the rest are counted as `over_cap`)
    max_pairs: dict[PairKind, int] = Field(
        default_factory=lambda: {"agent_correction": 20_000, "thumbs_contrast": 20_000, "fact_changed": 20_000}
    )
    # thumbs_contrast: a thumbs-up answer pairs with a thumbs-down one when their customer turns
    # are this close (cosine of the semantic-dedup model's sentence embeddings) and state the
    # same facts (etl/text/question_facts.py: "vegan" and "vegetarian" never pair)
    similarity: float = Field(0.9, gt=0, le=1)
    # customer turns shorter than this ("ok thanks", "yo") say too little to compare answers by
    min_customer_words: int = Field(4, ge=1)
    # fact_changed pairs are made up (a catalog answer with one fact changed): train only, and at
    # most this share of a version's train pairs
    fact_changed_share: float = Field(0.5, ge=0, le=1)
    # the share of thumbs-down chats whose pairs go to eval (null: split.eval_share); they gave no
    # example, so the split stage never placed them. A business with few rated chats may raise it
    # to have enough eval pairs to measure a preference-trained adapter on.
    eval_share: float | None = Field(None, ge=0, le=1)
    # Seeds which fact a fact_changed pair changes, and the side of a chat no example placed.
    seed: int = 23
