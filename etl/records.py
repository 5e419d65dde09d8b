"""The canonical record every reader produces (DESIGN.md, "Canonical record").

One row per conversation-like unit. `meta` is one struct for every source, so
the four sources concatenate into a single frame; fields a source does not have
are null. `meta.customer_*` and `meta.agent_name` are personal data kept only so
that de-identification can use them as known values; they never reach a
published example.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

SOURCES = ("review", "chat", "faq", "call")

TURN = pl.Struct({"role": pl.Utf8, "text": pl.Utf8})

META = pl.Struct(
    {
        "created_at": pl.Utf8,
        "rating": pl.Int8,
        "item": pl.Utf8,
        "store": pl.Utf8,
        "thumbs": pl.Utf8,
        "feedback_comment": pl.Utf8,
        "category": pl.Utf8,
        "native_id": pl.Utf8,
        "customer_name": pl.Utf8,
        "customer_email": pl.Utf8,
        "customer_phone": pl.Utf8,
        "agent_name": pl.Utf8,
        "encoding": pl.Utf8,
        # chats: the turns a human agent wrote (the bot's and the agent's are both "assistant");
        # an agent replying right after a thumbs-down bot answer corrects it (preference data)
        "agent_turns": pl.List(pl.Int32),
        # a reward file's rated answer (sources.chats columns.rated_turn): `thumbs` rates this
        # turn alone; null: the rating is the whole conversation's
        "judged_turn": pl.Int32,
    }
)

SCHEMA = pl.Schema(
    {
        "record_id": pl.Utf8,
        "source": pl.Utf8,
        "turns": pl.List(TURN),
        "meta": META,
        "source_file": pl.Utf8,
        "source_line": pl.Int64,
    }
)

QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.Utf8,
        "source_file": pl.Utf8,
        "source_line": pl.Int64,
        # short machine-readable code, safe to print (never contains input text)
        "error_code": pl.Utf8,
        # human-readable detail; built without echoing input values
        "error": pl.Utf8,
        # the raw line or block as read: may hold personal data, never logged
        "raw": pl.Utf8,
    }
)


def record_text(records: pl.DataFrame) -> pl.Series:
    """All turns of each record, one text per record (what filters and dedup judge)."""
    return records["turns"].list.eval(pl.element().struct.field("text")).list.join("\n")


def record_id(source: str, source_file: str, native_key: str) -> str:
    """Stable id from source kind + source file name + native key (DESIGN.md)."""
    digest = hashlib.sha256(f"{source}\x1f{source_file}\x1f{native_key}".encode()).hexdigest()
    return f"{source}-{digest[:16]}"


def make_record(
    source: str,
    source_file: str,
    source_line: int,
    native_key: str,
    turns: list[dict[str, str]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    full_meta = {name: None for name in META.to_schema()}
    full_meta.update(meta)
    full_meta["native_id"] = native_key
    return {
        "record_id": record_id(source, source_file, native_key),
        "source": source,
        "turns": turns,
        "meta": full_meta,
        "source_file": source_file,
        "source_line": source_line,
    }


def records_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row") if rows else SCHEMA.to_frame()


def quarantine_row(source: str, source_file: str, line: int, code: str, error: str, raw: str) -> dict[str, Any]:
    return {
        "source": source,
        "source_file": source_file,
        "source_line": line,
        "error_code": code,
        "error": error,
        "raw": raw,
    }


def quarantine_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA, orient="row") if rows else QUARANTINE_SCHEMA.to_frame()
