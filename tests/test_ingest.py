"""Each reader on small real files, including every malformed case the sample data plants."""

from __future__ import annotations

import json

from etl.records import records_frame
from etl.stages.ingest.calls import read_calls
from etl.stages.ingest.chats import read_chats
from etl.stages.ingest.faqs import read_faqs
from etl.stages.ingest.reviews import read_reviews
from tests.conftest import write

HEADER = "review_id,created_at,customer_name,customer_email,rating,item,store,text\n"


def codes(result):
    return [(q["source_line"], q["error_code"]) for q in result.quarantine]


# ---------------------------------------------------------------- reviews


def test_reviews_rows_become_single_user_turns(tmp_path):
    path = write(
        tmp_path / "r.csv",
        HEADER + 'R1,2026-03-01T10:00:00,Ann Lee,ann@x.com,5,Paleo Power Bowl,Midtown,"Great bowl, loved it"\n',
    )
    result = read_reviews(path, "r.csv")
    assert result.quarantine == []
    record = result.records[0]
    assert record["source"] == "review" and record["source_line"] == 2
    assert record["turns"] == [{"role": "user", "text": "Great bowl, loved it"}]
    assert record["meta"]["rating"] == 5 and record["meta"]["item"] == "Paleo Power Bowl"
    assert record["record_id"] == read_reviews(path, "r.csv").records[0]["record_id"]  # stable


def test_reviews_malformed_rows_are_quarantined_with_their_line(tmp_path):
    text = (
        HEADER
        + 'R1,2026-03-01,A,a@x.com,5,Bowl,Midtown,"first line\nsecond line"\n'  # lines 2-3
        + "R2,2026-03-01,B,b@x.com,4,Midtown,too few fields\n"  # line 4
        + "R3,2026-03-01,C,c@x.com,4,Bowl,Midtown,text,extra\n"  # line 5
        + "R4,2026-03-01,D,d@x.com,five,Bowl,Midtown,rating is not a number\n"  # line 6
        + "R5,not-a-date,E,e@x.com,3,Bowl,Midtown,bad date\n"  # line 7
        + "R1,2026-03-02,F,f@x.com,2,Bowl,Midtown,same id again\n"  # line 8
        + "R6,2026-03-01,G,g@x.com,9,Bowl,Midtown,rating out of range\n"  # line 9
        + "\n"
        + "R7,2026-03-01,H,,3,Bowl,,fine\n"  # line 11
    )
    result = read_reviews(write(tmp_path / "r.csv", text), "r.csv")
    assert codes(result) == [
        (4, "wrong_column_count"),
        (5, "wrong_column_count"),
        (6, "invalid_field"),
        (7, "invalid_field"),
        (8, "duplicate_id"),
        (9, "invalid_field"),
    ]
    assert [r["source_line"] for r in result.records] == [2, 11]
    assert result.records[0]["turns"][0]["text"] == "first line\nsecond line"
    assert result.records[1]["meta"]["customer_email"] is None
    assert result.units == 8
    # error text names the field but never echoes the input value
    invalid = result.quarantine[2]
    assert invalid["error"].startswith("rating:") and "five" not in invalid["error"]
    assert "five" in invalid["raw"]


def test_reviews_latin1_and_bom_files_are_decoded(tmp_path):
    row = "R1,2026-03-01,José Peña,j@x.com,5,Bowl,Decatur,Crème brûlée oats were great\n"
    latin = read_reviews(write(tmp_path / "l.csv", HEADER + row, "latin-1"), "l.csv")
    assert latin.encoding == "cp1252"
    assert latin.records[0]["meta"]["customer_name"] == "José Peña"
    assert latin.records[0]["turns"][0]["text"] == "Crème brûlée oats were great"
    bom = read_reviews(write(tmp_path / "b.csv", "\ufeff" + HEADER + row), "b.csv")
    assert bom.had_bom and bom.quarantine == [] and bom.records[0]["meta"]["native_id"] == "R1"


def test_reviews_bad_header_quarantines_the_file(tmp_path):
    result = read_reviews(write(tmp_path / "r.csv", "id,text\n1,hello\n"), "r.csv")
    assert codes(result) == [(1, "missing_columns")]
    assert codes(read_reviews(write(tmp_path / "e.csv", ""), "e.csv")) == [(1, "empty_file")]


# ---------------------------------------------------------------- chats


def chat(cid="CH-1", **changes):
    obj = {
        "conversation_id": cid,
        "started_at": "2026-03-01T10:00:00Z",
        "customer": {"name": "Ann Lee", "email": "ann@x.com", "phone": "404-201-3344"},
        "messages": [
            {"role": "customer", "text": "is the keto bowl spicy?", "ts": "2026-03-01T10:00:05Z"},
            {"role": "bot", "text": "It's mild.", "ts": "2026-03-01T10:00:09Z"},
            {"role": "agent", "text": "Happy to help further!", "ts": None},
        ],
        "feedback": {"rating": "down", "comment": "meh"},
    }
    obj.update(changes)
    return json.dumps(obj)


def test_chats_map_roles_and_keep_feedback(tmp_path):
    result = read_chats(write(tmp_path / "c.jsonl", chat() + "\n"), "c.jsonl")
    record = result.records[0]
    assert [t["role"] for t in record["turns"]] == ["user", "assistant", "assistant"]
    assert record["meta"]["thumbs"] == "down" and record["meta"]["customer_phone"] == "404-201-3344"


def test_chats_malformed_lines_are_quarantined(tmp_path):
    bad_role = json.loads(chat("CH-4"))
    bad_role["messages"][1]["role"] = "system"
    lines = [
        chat("CH-1"),
        chat("CH-2")[:40],  # cut off
        "",  # blank lines are not rows
        "CH-3 | asked about keto | resolved",
        json.dumps(bad_role),
        chat("CH-5", messages=[]),
        json.dumps({k: v for k, v in json.loads(chat("CH-6")).items() if k != "messages"}),
        chat("CH-1"),
        "{'conversation_id': 'x'}",
    ]
    result = read_chats(write(tmp_path / "c.jsonl", "\n".join(lines)), "c.jsonl")
    assert codes(result) == [
        (2, "invalid_json"),
        (4, "invalid_json"),
        (5, "invalid_schema"),
        (6, "invalid_schema"),
        (7, "invalid_schema"),
        (8, "duplicate_id"),
        (9, "invalid_json"),
    ]
    assert "messages.1.role" in result.quarantine[2]["error"]
    assert "messages" in result.quarantine[4]["error"]
    assert len(result.records) == 1 and result.units == 8


# ---------------------------------------------------------------- FAQs

FAQ_MD = """\ufeff# FAQ

Intro text that is not a question.

## Ordering

### How do I order?

Online or in the app.

Or call any store.

### Is there a kids menu?

## Delivery

### Where do you deliver?
Inside I-285,
plus Decatur.
### How do I order?
Online or in the app!
"""


def test_faq_markdown_questions_answers_categories(tmp_path):
    result = read_faqs(write(tmp_path / "faqs.md", FAQ_MD), "faqs.md")
    assert result.had_bom
    assert codes(result) == [(13, "missing_answer")]
    first, second, third = result.records
    assert first["turns"] == [
        {"role": "user", "text": "How do I order?"},
        {"role": "assistant", "text": "Online or in the app.\n\nOr call any store."},
    ]
    assert first["meta"]["category"] == "Ordering" and first["source_line"] == 7
    assert second["turns"][1]["text"] == "Inside I-285, plus Decatur." and second["meta"]["category"] == "Delivery"
    # a repeated question is kept (dedup's job) under its own id
    assert third["record_id"] != first["record_id"]


def test_faq_csv(tmp_path):
    text = 'question,answer,category\n"Do you deliver?","Yes, inside I-285.",Delivery\nNo answer here,,Misc\n"a","b","c","d"\n'
    result = read_faqs(write(tmp_path / "faqs.csv", text), "faqs.csv")
    assert [r["turns"][0]["text"] for r in result.records] == ["Do you deliver?"]
    assert codes(result) == [(3, "missing_answer"), (4, "wrong_column_count")]


# ---------------------------------------------------------------- calls

CALL = """Call-ID: C-1
Date: 2026-06-02 10:14
Agent: Dana

[00:00:02] AGENT: Thanks for calling Healthy Bites, this is Dana.
[00:00:05] CUSTOMER: hi, my order never showed up and I
    waited all morning
AGENT: Sorry about that, let me check.
[00:00:40] Customer: thanks
"""


def test_call_header_turns_and_wrapped_lines(tmp_path):
    result = read_calls(write(tmp_path / "calls" / "c1.txt", CALL), "calls/c1.txt")
    record = result.records[0]
    assert record["meta"]["agent_name"] == "Dana" and record["meta"]["native_id"] == "C-1"
    assert record["turns"] == [
        {"role": "assistant", "text": "Thanks for calling Healthy Bites, this is Dana."},
        {"role": "user", "text": "hi, my order never showed up and I waited all morning"},
        {"role": "assistant", "text": "Sorry about that, let me check."},
        {"role": "user", "text": "thanks"},
    ]


def test_malformed_calls_are_quarantined_whole(tmp_path):
    cases = {
        "empty.txt": ("", "empty_file"),
        "nohead.txt": ("Date: 2026-06-02\n\nAGENT: hi\nCUSTOMER: hello\n", "missing_header"),
        "noturns.txt": ("Call-ID: C-9\nAgent: Leon\n\n(call dropped)\n", "no_turns"),
    }
    for name, (text, code) in cases.items():
        result = read_calls(write(tmp_path / name, text), name)
        assert codes(result) == [(1, code)] and result.records == []
    bom = read_calls(write(tmp_path / "bom.txt", "\ufeff" + CALL), "bom.txt")
    assert bom.had_bom and bom.records[0]["meta"]["native_id"] == "C-1"


def test_records_frame_has_the_canonical_schema(tmp_path):
    result = read_calls(write(tmp_path / "c.txt", CALL), "c.txt")
    frame = records_frame(result.records)
    assert frame.columns == ["record_id", "source", "turns", "meta", "source_file", "source_line"]
    assert frame["turns"][0][1]["role"] == "user"
