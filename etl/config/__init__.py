"""Pipeline configuration: pydantic models loaded from YAML.

    common.py    what every model shares (unknown keys are errors)
    sources.py   where the inputs are, and each export's column mapping
    stages.py    clean, de-identify, dedup, split, validate, publish, Ray
    examples.py  format (tasks, prompts, grounding), augmentation, synthesis
    pipeline.py  the whole pipeline.yaml (`PipelineConfig`)
    loading.py   `load_config`: errors that name the file, the line and the key

Relative paths in the file are resolved against the folder that holds the config, so
`etl run --config sample_data/pipeline.yaml` works from anywhere. Validation errors name the
file, the line and the key, e.g.
`pipeline.yaml:7: clean.min_words: Input should be greater than or equal to 0`.
"""

from etl.config.common import DATASET_NAME
from etl.config.examples import AUGMENT_DEFAULTS, AugmentConfig, FormatConfig, GroundingConfig, SynthesisConfig
from etl.config.loading import load_config, load_yaml_model
from etl.config.pipeline import PipelineConfig
from etl.config.preference import PreferenceConfig
from etl.config.sources import CHAT_FIELDS, REVIEW_FIELDS, ChatSource, FileSource, ReviewSource
from etl.config.stages import (
    DEFAULT_ENTITIES,
    CleanConfig,
    DedupConfig,
    DeidentifyConfig,
    RayConfig,
    SemanticConfig,
    SplitConfig,
    ValidateConfig,
)
from etl.errors import ConfigError

__all__ = [
    "AUGMENT_DEFAULTS",
    "CHAT_FIELDS",
    "DATASET_NAME",
    "DEFAULT_ENTITIES",
    "REVIEW_FIELDS",
    "AugmentConfig",
    "ChatSource",
    "CleanConfig",
    "ConfigError",
    "DedupConfig",
    "DeidentifyConfig",
    "FileSource",
    "FormatConfig",
    "GroundingConfig",
    "PipelineConfig",
    "RayConfig",
    "ReviewSource",
    "SemanticConfig",
    "SplitConfig",
    "SynthesisConfig",
    "PreferenceConfig",
    "ValidateConfig",
    "load_config",
    "load_yaml_model",
]
