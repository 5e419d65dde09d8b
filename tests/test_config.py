from __future__ import annotations

import pytest

from etl.config import ConfigError, load_config
from tests.conftest import SAMPLE, write


def test_sample_config_loads_and_resolves_paths_next_to_the_file():
    config = load_config(SAMPLE / "pipeline.yaml")
    assert config.dataset == "healthy-bites"
    assert config.base_dir == SAMPLE
    assert [p.name for p in config.source_files("chats")] == ["chat_logs.jsonl"]
    assert config.catalog_file("menu") == SAMPLE / "menu.yaml"


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = write(tmp_path / "p.yaml", "dataset: d\nsources:\n  reviews: r.csv\nclean:\n  min_wrods: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:5: clean.min_wrods: Extra inputs are not permitted" in str(err.value)
    assert "check its spelling" in str(err.value)


def test_invalid_value_names_its_line(tmp_path):
    path = write(
        tmp_path / "p.yaml", "dataset: d\nsources: {}\nclean:\n  languages: [en, english]\n  max_symbol_ratio: 2\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}:4: clean.languages" in message and "'english'" in message
    assert f"{path}:5: clean.max_symbol_ratio" in message


def test_missing_required_key_and_bad_yaml(tmp_path):
    path = write(tmp_path / "p.yaml", "sources: {}\n")
    with pytest.raises(ConfigError, match="dataset: Field required"):
        load_config(path)
    broken = write(tmp_path / "b.yaml", "dataset: d\nsources:\n  reviews: [unclosed\n")
    with pytest.raises(ConfigError, match=r"b.yaml:\d+: not valid YAML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_source_that_matches_nothing_fails_fast_naming_the_key(tmp_path):
    path = write(tmp_path / "p.yaml", "dataset: d\nsources:\n  calls: transcripts/*.txt\n")
    config = load_config(path)
    with pytest.raises(ConfigError, match=r"sources.calls: 'transcripts/\*.txt' matches no file"):
        config.source_files("calls")
