"""A company's own exports run without code changes: column mappings in the config, `etl init`, `--dry-run`.

The exports are held-out text (tests/heldout_exports.py: Yelp sentences and Taskmaster-4 dialogs
with planted personal data) in shapes other than the sample's.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from etl.cli import app
from etl.config import ChatSource, ReviewSource, load_config
from etl.stages.ingest import ingest
from etl.stages.ingest.chats import read_chats
from etl.stages.ingest.common import SourceMapping
from etl.stages.ingest.reviews import read_reviews
from tests.conftest import SAMPLE, published_text, write
from tests.heldout_exports import REALTEXT, write_exports

KEY = "d" * 64


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("exports")
    planted = write_exports(folder)
    # the business's own menu and stores, in the sample's format
    shutil.copy(SAMPLE / "menu.yaml", folder / "menu.yaml")
    shutil.copy(SAMPLE / "stores.yaml", folder / "stores.yaml")
    return folder, planted


@pytest.fixture(scope="module")
def initialised(exports, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("initialised")
    shutil.copytree(exports[0], folder, dirs_exist_ok=True)
    result = CliRunner().invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_init_guesses_each_export_and_marks_only_the_ambiguous_date(initialised):
    text = (initialised / "pipeline.yaml").read_text()
    unsure = [line for line in text.splitlines() if "UNSURE:" in line]
    assert len(unsure) == 1 and "date_format" in unsure[0] and "%m/%d/%Y" in unsure[0]
    config = load_config(initialised / "pipeline.yaml")
    (reviews,) = [spec for _, spec in config.sources.specs("reviews")]
    assert reviews.columns.model_dump(exclude_none=True) == {
        "review_id": "id",
        "created_at": "date",
        "rating": "stars",
        "item": "product",
        "store": "location",
        "text": "comment",
    }
    assert reviews.date_format == "%d/%m/%Y" and reviews.rating_scale == 10
    chats = {spec.path: spec for _, spec in config.sources.specs("chats")}
    assert chats["helpdesk_messages.csv"].layout == "rows"
    assert chats["helpdesk_messages.csv"].columns.model_dump(exclude_none=True) == {
        "conversation_id": "ticket",
        "role": "author",
        "text": "body",
        "ts": "sent",
    }
    assert chats["assistant_logs.jsonl"].columns.model_dump(exclude_none=True) == {}  # OpenAI-style reads as it is
    assert config.catalog.menu == "menu.yaml" and config.catalog.stores == "stores.yaml"


def test_init_writes_no_customer_text(initialised, exports):
    written = (initialised / "pipeline.yaml").read_text()
    assert not [value for value in exports[1] if value in written]
    assert "Loved" not in written and "coffee" not in written.lower()


def test_init_reads_a_nested_dialog_shape(tmp_path):
    """Taskmaster-4's own shape: `utterances` of {speaker, text}; init maps both."""
    lines = (REALTEXT / "taskmaster4_coffee_dev.jsonl").read_text().splitlines()[:30]
    write(tmp_path / "dialogs.jsonl", "\n".join(lines) + "\n")
    assert CliRunner().invoke(app, ["init", str(tmp_path)]).exit_code == 0
    config = load_config(tmp_path / "pipeline.yaml")
    ((_, chats),) = config.sources.specs("chats")
    assert chats.columns.model_dump(exclude_none=True) == {"messages": "utterances", "role": "speaker"}
    records = ingest(config).records
    assert records.height == 30 and records["turns"].list.len().min() >= 2


def test_dry_run_reads_every_file_and_publishes_nothing(initialised, monkeypatch):
    monkeypatch.setenv("ETL_PII_KEY", KEY)
    result = CliRunner().invoke(app, ["run", "--config", str(initialised / "pipeline.yaml"), "--dry-run"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "reviews │ 1 │ 420 │ 420 │ 0" in flat and "chats │ 2 │ 120 │ 120 │ 0" in flat
    assert "every file reads: 540 records" in flat
    assert not (initialised / "store").exists()


def test_dry_run_shows_the_first_problems_by_file_and_line_without_their_text(initialised, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(initialised, folder)
    reviews = folder / "reviews_export.csv"
    reviews.write_text(reviews.read_text() + 'RV-99999,01/02/2026,lots,"Secret sauce recipe inside",,Midtown,web\n')
    bad_line = len(reviews.read_text().splitlines())
    logs = folder / "assistant_logs.jsonl"
    logs.write_text(logs.read_text() + '{"id": "broken", "messages": [\n')
    result = CliRunner().invoke(app, ["run", "--config", str(folder / "pipeline.yaml"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"reviews_export.csv:{bad_line}  invalid_field: rating" in result.output
    assert "assistant_logs.jsonl:61  invalid_json" in result.output
    assert "Secret sauce" not in result.output and "lots" not in result.output


def test_a_mapped_column_the_export_lacks_is_a_source_error_naming_the_config_line(initialised, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(initialised, folder)
    config = folder / "pipeline.yaml"
    config.write_text(config.read_text().replace('text: "comment"', 'text: "commentary"'))
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if "commentary" in text)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--dry-run"])
    assert result.exit_code == 5
    flat = " ".join(result.output.split())
    assert (
        f"reviews_export.csv: the header has no column 'commentary', which pipeline.yaml:{line} maps to text" in flat
    )


def test_an_unknown_field_in_a_mapping_is_a_config_error_naming_its_line(initialised, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(initialised, folder)
    config = folder / "pipeline.yaml"
    config.write_text(config.read_text().replace('text: "comment"', 'txt: "comment"'))
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if "txt:" in text)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--dry-run"])
    assert result.exit_code == 2
    assert f"pipeline.yaml:{line}: sources.reviews" in result.output and "txt" in result.output


def test_values_map_ratings_and_roles(tmp_path):
    reviews = write(tmp_path / "r.csv", "comment,verdict\nGreat bowl,Thumbs Up\nCold,thumbs_down\nFine,3\n")
    spec = ReviewSource(path="r.csv", columns={"text": "comment", "rating": "verdict"})
    spec.values.rating.update({"thumbs up": 5, "thumbs_down": 1})
    result = read_reviews(reviews, "r.csv", SourceMapping("reviews", spec))
    assert [r["meta"]["rating"] for r in result.records] == [5, 1, 3]
    chats = write(
        tmp_path / "c.jsonl",
        json.dumps({"thread": {"posts": [{"who": "Caller", "says": "hi"}, {"who": "Rep", "says": "hello"}]}}) + "\n",
    )
    spec = ChatSource(path="c.jsonl", columns={"messages": "thread.posts", "role": "who", "text": "says"})
    spec.values.role.update({"caller": "customer", "rep": "agent"})
    (record,) = read_chats(chats, "c.jsonl", SourceMapping("chats", spec)).records
    assert [(t["role"], t["text"]) for t in record["turns"]] == [("user", "hi"), ("assistant", "hello")]


def test_held_out_exports_publish_after_init_and_no_planted_value_appears_anywhere(initialised, exports, monkeypatch):
    """Names, foreign phones with extensions, second address lines, IBANs and account numbers
    planted in real reviews and dialogs: a version is published and none of them is in the store,
    the terminal output, the JSON log or the JSON summary."""
    monkeypatch.setenv("ETL_PII_KEY", KEY)
    config = initialised / "pipeline.yaml"
    summary_file = initialised.parent / "summary.json"
    result = CliRunner().invoke(
        app, ["run", "--config", str(config), "--log-format", "json", "--json", str(summary_file)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(summary_file.read_text())
    assert summary["publish"]["published"] and summary["invariant_holds"]
    store = initialised / "store"
    published = published_text(store)
    shown = result.output + summary_file.read_text()
    planted = exports[1]
    assert len(planted) >= 150
    assert [v for v in planted if v in published] == []
    assert [v for v in planted if v in shown] == []
    dropped = pl.read_parquet(Path(summary["run_dir"]) / "dropped.parquet").filter(pl.col("stage") == "validate")
    assert all(re.fullmatch(r"gate:[a-z_]+", reason) for reason in dropped["reason"])
    published = sum(sum(splits.values()) for splits in summary["examples"].values())
    assert published >= 500
    assert yaml.safe_load(config.read_text())["dataset"] == initialised.name


def test_a_message_row_file_without_its_conversation_column_names_the_mapping_line(initialised, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(initialised, folder)
    config = folder / "pipeline.yaml"
    config.write_text(config.read_text().replace('conversation_id: "ticket"', 'conversation_id: "ticket_no"'))
    line = next(i for i, text in enumerate(config.read_text().splitlines(), 1) if "ticket_no" in text)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--dry-run"])
    assert result.exit_code == 5
    flat = " ".join(result.output.split())
    assert (
        f"helpdesk_messages.csv: the first row has no column 'ticket_no', which pipeline.yaml:{line} maps to conversation_id"
        in flat
    )
