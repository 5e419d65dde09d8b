"""A night costs what is new (issue 53): what a run keeps for the next one, and what a night
no longer loads. The whole nights (incremental against --full, same fingerprint) are in
tests/test_operations.py; their cost is measured by bench/nights.py."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import polars as pl
import pytest

from etl.memo import Memo, digest
from tests.test_dedup import _real_chat_turns


def test_a_memo_keeps_what_a_run_used_and_a_new_namespace_starts_empty(tmp_path, caplog, monkeypatch):
    # a library an earlier test started (Ray) may have disabled the loggers that existed then
    monkeypatch.setattr(logging.getLogger("etl"), "disabled", False)
    first = Memo(tmp_path, "augment", {"seed": 1})
    first.put(digest("p1", ["hi"], "swap"), ["hi there"])
    first.put(digest("p2", ["bye"], "swap"), ["bye now"])
    first.keep()
    assert (tmp_path / "augment").stat().st_mode & 0o777 == 0o700

    night = Memo(tmp_path, "augment", {"seed": 1})
    assert night.get(digest("p1", ["hi"], "swap")) == ["hi there"]
    assert night.get(digest("p1", ["hi"], "delete")) is None  # another method: another key
    night.put(digest("p3", ["ok"], "swap"), ["okay"])
    night.keep()  # p2 was not used tonight: let go
    assert night.counts() == {"reused": 1, "computed": 1}
    kept = Memo(tmp_path, "augment", {"seed": 1})
    assert kept.get(digest("p2", ["bye"], "swap")) is None and kept.get(digest("p3", ["ok"], "swap")) == ["okay"]

    other = Memo(tmp_path, "augment", {"seed": 2})  # another seed: nothing of the old one
    assert other.get(digest("p3", ["ok"], "swap")) is None
    other.keep()
    assert len(list((tmp_path / "augment").iterdir())) == 1  # the old namespace's file removed
    # --full reads nothing kept
    assert Memo(tmp_path, "augment", {"seed": 2}, read=False).get(digest("p3", ["ok"], "swap")) is None

    # a damaged file is computed again, never trusted
    (path,) = (tmp_path / "augment").iterdir()
    path.write_bytes(b"not parquet")
    assert Memo(tmp_path, "augment", {"seed": 2}).get(digest("p3", ["ok"], "swap")) is None
    assert "cannot be read" in caplog.text


def _fresh_process(code: str) -> dict:
    """What a fresh Python process reports as JSON on its last line (nothing loaded before)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_stop_words_are_spacys_own_without_importing_spacy():
    from spacy.lang.en.stop_words import STOP_WORDS

    report = _fresh_process(
        "import json, sys\n"
        "from etl.text.stop_words import english_stop_words\n"
        "words = english_stop_words()\n"
        "print(json.dumps({'words': sorted(words), 'spacy': 'spacy' in sys.modules}))"
    )
    assert set(report["words"]) == set(STOP_WORDS) and not report["spacy"]


def test_a_night_whose_texts_all_have_kept_vectors_loads_neither_the_model_nor_torch(tmp_path):
    """The vectors, the compute type and the batch-invariance verdict come from the work folder."""
    from etl.embeddings import Embedder, VectorCache
    from etl.embeddings.model import batch_invariant, compute_dtype, model_device

    if not batch_invariant(None, compute_dtype("auto", model_device())):
        pytest.skip("this machine's vectors depend on their batch: none are kept, every run embeds")
    texts = _real_chat_turns(40)
    cache = VectorCache(tmp_path)
    vectors = Embedder(cache)(texts, None, 64)
    cache.keep()
    report = _fresh_process(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from etl.embeddings import Embedder, VectorCache\n"
        f"texts = json.loads({json.dumps(json.dumps(texts))})\n"
        f"cache = VectorCache(Path({str(tmp_path)!r}))\n"
        "vectors = Embedder(cache)(texts, None, 64)\n"
        "cache.keep()\n"
        "print(json.dumps({'vectors': vectors.tolist(), 'counts': cache.counts(), 'not_kept': cache.not_kept(),\n"
        "    'loaded': sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)}))"
    )
    assert report["counts"] == {"embedded": 0, "kept": len(set(texts))} and report["not_kept"] == []
    assert report["loaded"] == []
    assert (vectors == report["vectors"]).all()  # bit for bit: float32 through JSON's doubles


def test_texts_a_suite_passed_before_are_not_scanned_again_and_the_outcome_is_the_whole_scans(tmp_path):
    """A night's gate hands GX the texts the last run's suite passed as "": the same rows, counts
    and outcome as scanning every text, and a leak in a new text is still caught by its id."""
    from etl.stages.validate import gx_suites
    from etl.stages.validate.clean_texts import CleanTexts

    suite = gx_suites.load_suite(gx_suites.default_suites_dir() / "deidentified.json")
    texts = _real_chat_turns(300)
    history = pl.DataFrame({"record_id": [f"r{i}" for i in range(len(texts))], "text": texts})
    first = CleanTexts(tmp_path, "deidentified", suite, [], read=True)
    assert first.validate(history, {}, "fail").success
    first.memo.keep()

    tonight = pl.concat(
        [history, pl.DataFrame({"record_id": ["new1", "new2"], "text": ["write to jane.doe@gmail.com", "thanks!"]})]
    )
    night = CleanTexts(tmp_path, "deidentified", suite, [], read=True)
    scanned = night.validate(tonight, {}, "fail")
    whole = gx_suites.validate("deidentified", tonight, suite, {}, "fail")
    assert night.memo.counts() == {"reused": len(set(texts)), "computed": 0}  # a failed suite remembers nothing
    assert not scanned.success and scanned.failing_rows == whole.failing_rows
    assert list(scanned.failing_rows.values()) == [["new1"]]
    assert [r.result["element_count"] for r in scanned.result.results] == [len(texts) + 2]
    assert [f.describe() for f in scanned.failures] == [f.describe() for f in whole.failures]


def test_a_card_whose_schemas_a_run_described_is_written_without_importing_datasets(tmp_path):
    """The card's features come from the work folder's memo when an earlier run described the
    same Arrow schemas: the same header, and a night never imports `datasets` (1.3 s)."""
    from etl.example import EXAMPLE_SCHEMA
    from etl.store.card import card_header, card_memo

    question = [{"role": "user", "content": "Is the salmon gluten free?"}, {"role": "assistant", "content": "Yes."}]
    review = [{"role": "user", "content": "Cold food, late delivery."}, {"role": "assistant", "content": "negative"}]
    examples = (
        pl.DataFrame(
            {
                "id": ["a", "b"],
                "task": ["menu_qa", "review_sentiment"],
                "messages": [question, review],
                "split": ["train", "eval"],
                "source": ["faq", "review"],
                "record_id": ["r1", "r2"],
                "label": [None, "negative"],
            },
            schema_overrides={"messages": EXAMPLE_SCHEMA["messages"]},
        )
        .with_columns(
            pl.lit(None, dtype=EXAMPLE_SCHEMA[c]).alias(c)
            for c in EXAMPLE_SCHEMA
            if c not in ("id", "task", "messages", "split", "source", "record_id", "label")
        )
        .select(list(EXAMPLE_SCHEMA))
    )
    examples.write_parquet(tmp_path / "examples.parquet")
    first = card_memo(tmp_path)
    described = card_header(examples, memo=first)
    assert first.counts() == {"reused": 0, "computed": 2}
    first.keep()
    report = _fresh_process(
        "import json, sys\n"
        "from pathlib import Path\n"
        "import polars as pl\n"
        "from etl.store.card import card_header, card_memo\n"
        f"memo = card_memo(Path({str(tmp_path)!r}))\n"
        f"header = card_header(pl.read_parquet(Path({str(tmp_path)!r}) / 'examples.parquet'), memo=memo)\n"
        "print(json.dumps({'header': header, 'counts': memo.counts(), 'datasets': 'datasets' in sys.modules}))"
    )
    assert report["header"] == described and report["counts"] == {"reused": 2, "computed": 0}
    assert not report["datasets"]
    assert card_header(examples) == described  # no memo: what datasets says, as before
