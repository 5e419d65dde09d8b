"""De-identification with the real presidio, spaCy model and Faker, on sample and hand-made data."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from etl.catalog import load_catalog
from etl.config import ConfigError, DeidentifyConfig, load_config
from etl.records import make_record, records_frame
from etl.stages.deidentify import DeidentifyStage
from etl.stages.deidentify.engine import build_analyzer
from etl.stages.deidentify.surrogates import load_key
from etl.store import Store
from tests.conftest import SAMPLE

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")
SAMPLE_CONFIG = load_config(SAMPLE / "pipeline.yaml").deidentify


def planted_values() -> list[str]:
    """Every personal value the sample plants: in free text, and in the structured columns."""
    values = {v for values in json.loads((SAMPLE / "planted.json").read_text())["pii"].values() for v in values}
    for name in ("reviews.csv", "reviews_legacy_export.csv"):
        encoding = "utf-8" if name == "reviews.csv" else "latin-1"
        with open(SAMPLE / name, newline="", encoding=encoding) as handle:
            for row in csv.DictReader(handle):
                values |= {row["customer_name"], row["customer_email"]}
    for line in (SAMPLE / "chat_logs.jsonl").read_text().splitlines():
        try:
            values |= {v for v in json.loads(line)["customer"].values() if v}
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return sorted(v for v in values if v and len(v) > 3)


def published_texts(sample_run) -> str:
    store = Store(sample_run.store_dir, sample_run.dataset)
    files = sorted(store.path("latest").glob("data/*/*.parquet"))
    assert files
    texts = []
    for path in files:
        frame = pl.read_parquet(path)
        # the task examples' messages, and the preference pairs' and KTO rows' messages too
        columns = [c for c in ("messages", "prompt", "chosen", "rejected", "completion") if c in frame.columns]
        assert columns, path
        texts += [m["content"] for column in columns for messages in frame[column].to_list() for m in messages]
    return "\n".join(texts)


def test_no_planted_personal_value_reaches_a_published_example(sample_run):
    text = published_texts(sample_run)
    values = planted_values()
    assert len(values) > 300
    leaked = [v for v in values if v in text]
    assert leaked == []


def test_catalog_dishes_and_store_addresses_are_unchanged(sample_run):
    stages = Path(sample_run.run_dir) / "stages"
    before = pl.read_parquet(stages / "02_clean.parquet")
    after = pl.read_parquet(stages / "03_deidentify.parquet")
    terms = [d.name for d in CATALOG.dishes] + [s.address for s in CATALOG.stores] + [CATALOG.business]
    joined = before.select("record_id", pl.col("turns").alias("before")).join(
        after.select("record_id", pl.col("turns").alias("after")), on="record_id"
    )
    checked = 0
    for old_turns, new_turns in zip(joined["before"].to_list(), joined["after"].to_list()):
        for old, new in zip(old_turns, new_turns):
            for term in terms:
                if term in old["text"]:
                    assert new["text"].count(term) == old["text"].count(term), (term, new["text"])
                    checked += 1
    assert checked > 300
    published = published_texts(sample_run)
    assert "Peachtree Power Bowl" in published and "1075 West Peachtree Street NW" in published


def conversation(*turns: tuple[str, str], record_id: str = "C1", **meta) -> pl.DataFrame:
    return records_frame(
        [make_record("chat", "t.jsonl", 1, record_id, [{"role": r, "text": t} for r, t in turns], meta)]
    )


def deidentify(frame: pl.DataFrame, key: bytes = b"k" * 32, **config) -> pl.DataFrame:
    settings = SAMPLE_CONFIG.model_copy(update=config)
    result = DeidentifyStage(settings, CATALOG, key).apply(frame, lambda n: None)
    return result


def texts_of(result) -> list[str]:
    return [t["text"] for t in result.kept["turns"].to_list()[0]]


def test_same_name_same_surrogate_within_a_conversation_and_across_runs():
    frame = conversation(
        ("user", "hi, this is Marcus Johnson, my email is marcus.j@gmail.com"),
        ("assistant", "Thanks Marcus Johnson! I see your order HB-204981."),
        ("user", "Marcus Johnson again, call me at 404-321-7788"),
    )
    first = texts_of(deidentify(frame))
    assert not any("Marcus" in t or "Johnson" in t or "404-321-7788" in t or "HB-204981" in t for t in first)
    surrogate = first[1].split("Thanks ")[1].split("!")[0]
    assert surrogate in first[0] and first[2].startswith(surrogate)
    assert texts_of(deidentify(frame)) == first  # the next night, same key: same surrogates
    other = texts_of(deidentify(frame, key=b"another-key-" * 3))
    assert other != first and surrogate not in other[0]


def test_known_customer_values_are_removed_even_in_lower_case():
    frame = conversation(
        ("user", "this is aaliyah okafor, reach me at aaliyah.o@yahoo.com"),
        customer_name="Aaliyah Okafor",
        customer_email="aaliyah.o@yahoo.com",
    )
    text = texts_of(deidentify(frame))[0]
    assert "aaliyah" not in text.lower() and "okafor" not in text.lower()
    result = deidentify(frame)
    assert result.kept["meta"].struct.field("customer_name").to_list() == [None]


def test_placeholder_and_mask_modes():
    frame = conversation(("user", "I'm Grace Kim, Grace Kim at 12 Oak St Apt 4"), ("assistant", "Thanks Grace Kim"))
    tagged = texts_of(deidentify(frame, mode="placeholder"))
    assert (
        tagged[0].count("<PERSON_1>") == 2 and "<STREET_ADDRESS_1>" in tagged[0] and tagged[1] == "Thanks <PERSON_1>"
    )
    masked = texts_of(deidentify(frame, mode="mask"))
    assert "Grace" not in masked[0] and "*****" in masked[0]


def test_business_terms_survive_and_customer_addresses_do_not():
    frame = conversation(
        ("user", "is the Peachtree Power Bowl at the West Peachtree store? I live at 12 West Peachtree Street"),
        ("assistant", "Yes! Healthy Bites Midtown at 1075 West Peachtree Street NW has it."),
    )
    user, bot = texts_of(deidentify(frame))
    assert "Peachtree Power Bowl" in user and "12 West Peachtree Street" not in user
    assert "1075 West Peachtree Street NW" in bot and "Healthy Bites Midtown" in bot


def test_fail_closed_drops_a_record_with_a_confident_leftover():
    # A first pass that keeps only near-certain hits leaves a phone number; the second scan catches it.
    frame = conversation(("user", "text me at 404-321-7788 about my order"))
    result = deidentify(frame, score_threshold=0.99, residual_threshold=0.3)
    assert result.kept.height == 0
    assert result.dropped.to_dicts() == [
        {"record_id": frame["record_id"][0], "reason": "pii_residual", "detail": "PHONE_NUMBER"}
    ]


def test_missing_key_is_a_clear_error_and_the_development_key_is_announced(monkeypatch, tmp_path):
    monkeypatch.delenv("ETL_PII_KEY", raising=False)
    with pytest.raises(ConfigError, match="ETL_PII_KEY"):
        load_key(DeidentifyConfig())
    notices: list[str] = []
    assert load_key(DeidentifyConfig(allow_dev_key=True), warn=notices.append)
    assert "DEVELOPMENT KEY" in notices[0]
    monkeypatch.setenv("ETL_PII_KEY", "s3cret-from-env-0123456789")
    assert load_key(DeidentifyConfig()) == b"s3cret-from-env-0123456789"
    monkeypatch.delenv("ETL_PII_KEY")
    key_file = tmp_path / "pii.key"
    key_file.write_text("0123456789abcdef0123456789ABCDEF\n")
    assert load_key(DeidentifyConfig(key_file=str(key_file))) == b"0123456789abcdef0123456789ABCDEF"
    with pytest.raises(ConfigError, match="deidentify.key_file"):
        load_key(DeidentifyConfig(key_file=str(tmp_path / "missing.key")))
    # issue 50: a file that is not a key (here a password file's line) is refused, its text never shown
    wrong = tmp_path / "passwd"
    wrong.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ConfigError, match="expected format") as refused:
        load_key(DeidentifyConfig(key_file=str(wrong)))
    assert "root:x" not in str(refused.value)


def test_a_missing_spacy_model_names_the_config_key():
    with pytest.raises(ConfigError, match="deidentify.spacy_model"):
        build_analyzer(DeidentifyConfig(spacy_model="xx_not_installed_model"), CATALOG)


def test_no_key_or_personal_value_in_logs_manifests_or_summaries(tmp_path, sample_copy):
    secret = "correct-horse-battery-staple-4417"
    env = {**os.environ, "ETL_PII_KEY": secret, "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.cli",
            "run",
            "--config",
            str(sample_copy / "pipeline.yaml"),
            "--store",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "DEVELOPMENT KEY" not in done.stdout + done.stderr
    run_dir = next(tmp_path.parent.glob(f"{tmp_path.name}-work/healthy-bites/runs/*"))
    version = tmp_path / "healthy-bites" / "v1"
    documents = {
        "stdout": done.stdout,
        "stderr": done.stderr,
        "summary": (run_dir / "summary.json").read_text(),
        "manifest": (version / "manifest.json").read_text(),
        "card": (version / "README.md").read_text(),
        "curation report": (version / "quality" / "curation_report.json").read_text(),
    }
    values = planted_values()
    for name, text in documents.items():
        assert secret not in text, name
        assert [v for v in values if v in text] == [], name


def test_faq_answers_hold_no_personal_data_and_stay_unchanged(sample_run):
    """The business's own FAQ text (days, states, ingredients, delivery areas) is not mistaken for names."""
    stages = Path(sample_run.run_dir) / "stages"
    before = pl.read_parquet(stages / "02_clean.parquet").filter(pl.col("source") == "faq")
    after = pl.read_parquet(stages / "03_deidentify.parquet").filter(pl.col("source") == "faq")
    joined = before.select("record_id", pl.col("turns").alias("before")).join(
        after.select("record_id", pl.col("turns").alias("after")), on="record_id"
    )
    changed = [
        (old["text"], new["text"])
        for b, a in zip(joined["before"].to_list(), joined["after"].to_list())
        for old, new in zip(b, a)
        if old["text"] != new["text"]
    ]
    assert len(joined) > 40
    assert changed == []


def test_street_patterns_skipped_on_text_without_their_gate_find_what_all_patterns_find():
    """The street recognizers leave out the patterns that need a number (or a street line) on text
    without one; on addresses with and without numbers, and on real reviews, they find what every
    pattern finds."""
    from presidio_analyzer import PatternRecognizer

    from etl.stages.deidentify.recognizers import (
        GatedPatternRecognizer,
        InternationalAddressRecognizer,
        StreetAddressRecognizer,
    )

    reviews = (Path(__file__).parent / "data" / "realtext" / "yelp_labelled.txt").read_text().splitlines()
    texts = [line.rsplit("\t", 1)[0] for line in reviews[:300]] + [
        "meet me at the corner of Feldstrasse and Marušić Brook",
        "we live on Saint George Street now",
        "ship it to Ørbækvej 96, 2300 København S, Denmark",
        "the corner of 928 Diamond Street and Osmo Crossing",
        "46 rue Nationale\nApt. 4\nLyon",
        "P.O. Box 178",
        "send it to 1075 West Peachtree Street NW, Atlanta, GA 30309",
    ]
    street, international = StreetAddressRecognizer(), InternationalAddressRecognizer()
    planted = [False] * 7
    for recognizer in (street, international):
        found = [
            [(r.start, r.end, r.score) for r in GatedPatternRecognizer.analyze(recognizer, t, ["STREET_ADDRESS"])]
            for t in texts
        ]
        every = [
            [(r.start, r.end, r.score) for r in PatternRecognizer.analyze(recognizer, t, ["STREET_ADDRESS"])]
            for t in texts
        ]
        assert found == every, type(recognizer).__name__
        planted = [a or bool(b) for a, b in zip(planted, found[-7:])]
    assert planted[:2] == [True, True], "addresses without a number are still found"
    assert sum(planted) >= 6
    # the gates are on: text without a number, or without a street line, runs fewer patterns
    every = len(international.every_pattern)
    ungated = sum(gate is None for gate in international.GATED.values())  # GATED lists every pattern
    assert len(international.patterns_for("the soup")) == ungated
    assert ungated < len(international.patterns_for("table for 2")) < every
    assert len(international.patterns_for(texts[-5])) == every - 2  # "Ørbækvej 96": no US street line
    assert street.patterns_for("the soup") == [] and street.patterns_for("12 Oak St") == street.every_pattern


def _torch_imported(_: int = 0) -> bool:
    return sys.modules.get("torch") is not None or sys.modules.get("transformers") is not None


def test_worker_processes_give_the_same_text_without_importing_torch():
    """The analyzer on two worker processes (as on any corpus of PARALLEL_MIN_TURNS turns or
    more) writes what it writes in this process, and its workers never load torch."""
    from etl.stages.deidentify import WorkerPool, WorkerSetup
    from etl.stages.deidentify.stage import model_needs_torch

    frames = [
        conversation(
            ("user", f"hi, I'm Marcus Johnson, call me at 404-321-77{n:02d}"), ("assistant", "Thanks!")
        ).with_columns(pl.lit(f"C{n}").alias("record_id"))
        for n in range(12)
    ]
    frame = pl.concat(frames)
    in_process = DeidentifyStage(SAMPLE_CONFIG, CATALOG, b"k" * 32)
    expected = in_process.apply(frame, lambda n: None).kept
    stage = DeidentifyStage(SAMPLE_CONFIG.model_copy(update={"workers": 2}), CATALOG, b"k" * 32)
    stage.pool = WorkerPool(WorkerSetup(stage.config, CATALOG, b"k" * 32), 2).__enter__()
    try:
        assert stage.pool.pool is not None  # two processes, not this one
        assert not any(stage.pool.pool.map(_torch_imported, range(4)))
        assert stage.apply(frame, lambda n: None).kept.equals(expected)
    finally:
        stage.teardown()
    # started as a run begins (`prepare`, the CLI's runs): one worker for a night's few new
    # bytes, loading while the files are read, kept by setup for a small input: the same text
    early = DeidentifyStage(SAMPLE_CONFIG, CATALOG, b"k" * 32)
    early.prepare(incoming=2_000)
    try:
        started = early.pool
        assert started.workers == 1 and started.pool is not None  # a process of its own
        early.setup(frame)
        assert early.pool is started
        assert early.apply(frame, lambda n: None).kept.equals(expected)
    finally:
        early.teardown()
    # a night whose every record came from the cache starts nothing and loads nothing
    idle = DeidentifyStage(SAMPLE_CONFIG, CATALOG, b"k" * 32)
    idle.prepare(incoming=0)
    idle.setup(frame.clear())
    assert idle.pool is None and idle.apply(frame.clear(), lambda n: None).kept.height == 0
    assert not model_needs_torch(SAMPLE_CONFIG.spacy_model)
    assert model_needs_torch("no_such_model")  # unsure: torch stays importable


def test_a_worker_whose_run_is_killed_while_it_is_still_loading_ends_too():
    """A scheduler's SIGKILL can land while a worker is still importing presidio: the worker must
    not outlive its run (it would hold the run's stderr open and its models in memory)."""
    import time

    parent = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            "from etl.config import load_config\n"
            "from etl.run.registry import prepare_inputs\n"
            "from etl.stages.deidentify import WorkerPool, WorkerSetup\n"
            "if __name__ == '__main__':\n"
            f"    config = load_config({str(SAMPLE / 'pipeline.yaml')!r})\n"
            "    planned, catalog, key, _ = prepare_inputs(config)\n"
            "    pool = WorkerPool(WorkerSetup(config.deidentify, catalog, key), 1, in_process=False).__enter__()\n"
            "    pool.start()\n"
            "    print(*pool.pool._processes, flush=True)\n"
            "    time.sleep(0.3)\n"
            "    os._exit(9)\n",  # as a SIGKILL: no clean-up, the worker still importing
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert parent.returncode == 9, parent.stderr
    (worker,) = [int(pid) for pid in parent.stdout.split()]

    def alive() -> bool:
        try:
            state = Path(f"/proc/{worker}/status").read_text()
        except FileNotFoundError:
            return False
        return "State:\tZ" not in state  # a zombie has ended; its reaper may be slow

    deadline = time.monotonic() + 60
    while alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive()
