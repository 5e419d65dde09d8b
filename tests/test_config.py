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


def test_a_file_two_entries_match_takes_the_first_entry_and_each_pattern_is_globbed_once(tmp_path, monkeypatch):
    import glob

    from etl.stages.ingest import plan_sources

    for name in ("a.csv", "b.csv", "legacy_c.csv"):
        write(tmp_path / "exports" / name, "review_id,text\n")
    path = write(
        tmp_path / "p.yaml",
        "dataset: d\nsources:\n  reviews:\n    - path: exports/legacy_*.csv\n      rating_scale: 10\n"
        "    - path: exports/*.csv\n",
    )
    config = load_config(path)
    calls = []
    real_glob = glob.glob
    monkeypatch.setattr(glob, "glob", lambda *a, **k: calls.append(a[0]) or real_glob(*a, **k))
    planned, mappings = plan_sources(config)
    assert [name for _, _, name in planned] == ["exports/a.csv", "exports/b.csv", "exports/legacy_c.csv"]
    assert {p.name: m.key for p, m in mappings.items()} == {
        "a.csv": "reviews.1",
        "b.csv": "reviews.1",
        "legacy_c.csv": "reviews.0",
    }
    assert mappings[tmp_path / "exports" / "legacy_c.csv"].spec.rating_scale == 10
    assert len(calls) == 2  # one glob a pattern, however many files
