"""Chat logs: a conversation a line (JSON Lines), or one message a row (CSV or JSONL).

Each line is parsed on its own, so a broken line is quarantined with its line
number and the rest of the file is kept. The shape of a conversation is checked
with a pydantic model, which names the offending field (`messages.3.role`).

The sample's shape is the default; an OpenAI-style `messages` list of
{role, content} reads with no config. Another helpdesk's export is described
in `sources.chats`: `columns` maps each of our fields to a dotted JSON path
("thread.posts", "requester.email") or, with `layout: rows`, to the column of a
one-message-a-row file, whose rows are grouped into conversations by
`conversation_id` in file order; `values.role` names the export's roles.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from etl.config import ChatSource
from etl.stages.ingest.common import (
    EMPTY_FIX,
    ReadResult,
    SourceMapping,
    decode_file,
    describe_validation_error,
    mapped_value,
    parse_json,
    parse_time,
)

# customer -> user; both the website bot and a human agent speak for the business.
ROLE_MAP = {"customer": "user", "bot": "assistant", "agent": "assistant"}
# the roles exports use for the same three speakers (and system prompts, which no one typed)
KNOWN_ROLES = {
    "customer": "customer",
    "user": "customer",
    "human": "customer",
    "client": "customer",
    "requester": "customer",
    "bot": "bot",
    "assistant": "bot",
    "ai": "bot",
    "agent": "agent",
    "staff": "agent",
    "support": "agent",
    "system": "system",
}
# where the sample's shape keeps each field (our field -> its JSON path)
DEFAULT_PATHS = {
    "conversation_id": "conversation_id",
    "started_at": "started_at",
    "customer_name": "customer.name",
    "customer_email": "customer.email",
    "customer_phone": "customer.phone",
    "messages": "messages",
    "role": "role",
    "text": "text",
    "ts": "ts",
    "feedback_rating": "feedback.rating",
    "feedback_comment": "feedback.comment",
}
# the key a rated turn is marked with among the messages (never a key of an export's own)
RATED = "\x00rated"
# the role of a rated answer that was a tool call, not text (never a role an export can name)
TOOL_CALL = "\x00tool"
# an OpenAI-style message says `content`; many exports call the conversation `id`
FALLBACK_PATHS = {"text": ("content", "body", "message"), "conversation_id": ("id",)}


class Customer(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class Message(BaseModel):
    # TOOL_CALL only for a rated tool call the reader left out (skip_messages_without_text)
    role: Literal["customer", "bot", "agent", "\x00tool"]
    text: str
    ts: datetime | None = None
    rated: bool = False  # the turn a reward file's rating judges (columns.rated_turn)


class Feedback(BaseModel):
    rating: Literal["up", "down"] | None = None
    comment: str | None = None


class ChatLog(BaseModel):
    conversation_id: str = Field(min_length=1)
    started_at: datetime | None
    customer: Customer = Field(default_factory=Customer)
    messages: list[Message] = Field(min_length=1)
    feedback: Feedback | None = None


def read_chats(path: Path, source_file: str, source: SourceMapping | None = None) -> ReadResult:
    source = source or SourceMapping("chats", ChatSource(path=source_file))
    decoded = decode_file(path)
    result = ReadResult("chat", source_file, decoded.encoding, decoded.had_bom)
    if _layout(path, decoded.text, source) == "rows":
        _read_rows(path, decoded.text, source, result)
    else:
        _read_conversations(decoded.text, source, result)
    if result.units == 0 and result.file_error is None:
        result.fail_file("empty_file", "the file holds no conversation (no non-blank line)", EMPTY_FIX, "")
    result.check_some_rows("lines")
    return result


def _layout(path: Path, text: str, source: SourceMapping) -> str:
    """rows for a CSV or where the config says so; else a conversation a line, unless the first
    object has no message list but a conversation id (a JSONL export of one message a line)."""
    if source.spec.layout:
        return source.spec.layout
    if path.suffix.lower() == ".csv":
        return "rows"
    first = next((line for line in text.splitlines() if line.strip()), "")
    obj, problem = parse_json(first)
    if problem:
        return "conversations"
    messages = source.column("messages") if "messages" in source.mapped else DEFAULT_PATHS["messages"]
    if isinstance(obj, dict) and not isinstance(lookup(obj, messages), list) and "conversation_id" in source.mapped:
        return "rows"
    return "conversations"


def _read_conversations(text: str, source: SourceMapping, result: ReadResult) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        obj, problem = parse_json(line)
        if problem:
            result.reject(number, "invalid_json", problem, line)
            continue
        if not isinstance(obj, dict):
            result.reject(number, "invalid_schema", "(row): a line must be a JSON object", line)
            continue
        _add(result, number, partial(_conversation, obj, _messages_of(obj, source), number, source), line)


def _messages_of(obj: dict, source: SourceMapping) -> Any:
    """The conversation's messages (a list, or a JSON list written as a string), then the rated
    turn when `columns.rated_turn` names one, marked so the record knows which turn was judged."""
    messages = _decoded(field_value(obj, "messages", source))
    if "rated_turn" not in source.mapped or not isinstance(messages, list):
        return messages
    rated = _decoded(field_value(obj, "rated_turn", source))
    return [*messages, {**rated, RATED: True}] if isinstance(rated, dict) else messages


def _decoded(value: Any) -> Any:
    """A list or object an export wrote as a JSON string ("[{\"role\": ...}]") is read as one."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        decoded, problem = parse_json(value)
        return value if problem else decoded
    return value


def _read_rows(path: Path, text: str, source: SourceMapping, result: ReadResult) -> None:
    """One message a row, grouped into conversations by conversation_id in file order."""
    rows, problem = _message_rows(path, text)
    if problem:
        result.fail_file(*problem, raw="")
        return
    for name in ("conversation_id", "text"):
        if rows and lookup(rows[0][1], column_of(rows[0][1], name, source)) is None:
            mapped = f", which {source.line(name)} maps to {name}" if name in source.mapped else ""
            result.fail_file(
                "missing_columns",
                f"the first row has no column '{source.column(name)}'{mapped}",
                f"a one-message-a-row file needs one; map the export's column under sources.chats.columns.{name}",
                raw="",
            )
            return
    groups: dict[str, list[tuple[int, dict, str]]] = {}
    for number, row, raw in rows:
        key = field_value(row, "conversation_id", source)
        groups.setdefault(str(key) if key not in (None, "") else f"line-{number}", []).append((number, row, raw))
    for key, members in groups.items():
        first_line, first, _ = members[0]
        obj = {**first, "conversation_id": key}
        messages = [row for _, row, _ in members]
        raw = "\n".join(raw for _, _, raw in members)
        _add(result, first_line, partial(_conversation, obj, messages, first_line, source), raw)


def _message_rows(path: Path, text: str) -> tuple[list[tuple[int, dict, str]], tuple[str, str, str] | None]:
    """(line, row, raw) for every row of a CSV or JSONL file of messages."""
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            return [], ("empty_file", "the file is empty (no header row)", EMPTY_FIX)
        rows, lines = [], text.splitlines()
        for row in reader:
            number = reader.line_num
            rows.append(
                (
                    number,
                    {k.strip().lower(): v for k, v in row.items() if k},
                    lines[number - 1] if number <= len(lines) else "",
                )
            )
        return rows, None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            obj, _ = parse_json(line)
            rows.append((number, obj if isinstance(obj, dict) else {}, line))
    return rows, None


def _conversation(obj: dict, messages: Any, line: int, source: SourceMapping) -> dict:
    """The conversation in the sample's shape, ready for ChatLog, from an object of any mapped
    shape (a messages value that is not a list is left for ChatLog to name)."""
    spec: ChatSource = source.spec
    turns = _turns(messages, source) if isinstance(messages, list) else messages
    started = parse_time(field_value(obj, "started_at", source), spec.date_format)
    if started is None and isinstance(turns, list):  # an export without a start: its first message's time
        started = next((t["ts"] for t in turns if t["ts"]), None)
    key = field_value(obj, "conversation_id", source)
    rating = mapped_value(field_value(obj, "feedback_rating", source), spec.values.feedback_rating)
    comment = field_value(obj, "feedback_comment", source)
    return {
        "conversation_id": str(key) if key not in (None, "") else f"line-{line}",
        "started_at": started,
        "customer": {
            "name": field_value(obj, "customer_name", source),
            "email": field_value(obj, "customer_email", source),
            "phone": field_value(obj, "customer_phone", source),
        },
        "messages": turns,
        "feedback": {"rating": rating or None, "comment": comment or None} if rating or comment else None,
    }


def _turns(messages: list, source: SourceMapping) -> list[dict]:
    messages = [m if isinstance(m, dict) else {} for m in messages]
    raw_roles = [str(field_value(m, "role", source) or "").strip().casefold() for m in messages]
    # a system prompt is the bot's set-up, not what anyone said: skipped where the export speaks
    # OpenAI's roles (user, assistant) or the config names a role system; in the sample's shape
    # (customer, bot, agent) a "system" message is a mislabelled turn, rejected by name
    skip_system = bool({"user", "assistant"} & set(raw_roles)) or "system" in source.spec.values.role.values()
    turns = []
    for message in messages:
        role = _role(field_value(message, "role", source), source.spec)
        if role == "system" and skip_system:
            continue
        text = field_value(message, "text", source)
        if text in (None, "") and source.spec.skip_messages_without_text:
            if message.get(RATED):  # the rated answer was a tool call: rated, but no reply to judge
                turns.append({"role": TOOL_CALL, "text": "", "ts": None, "rated": True})
            continue
        ts = parse_time(field_value(message, "ts", source), source.spec.date_format)
        turns.append({"role": role, "text": text, "ts": ts, "rated": bool(message.get(RATED))})
    return turns


def _role(value: Any, spec: ChatSource) -> Any:
    mapped = mapped_value(value, spec.values.role)
    if isinstance(mapped, str):
        return KNOWN_ROLES.get(mapped.strip().casefold(), mapped)
    return mapped


def _add(result: ReadResult, number: int, conversation: Callable[[], dict], raw: str) -> None:
    try:
        chat = ChatLog.model_validate(conversation())
    except (ValidationError, ValueError) as exc:
        detail = (
            describe_validation_error(exc)
            if isinstance(exc, ValidationError)
            else "a date does not match sources.chats.date_format"
        )
        result.reject(number, "invalid_schema", detail, raw)
        return
    turns = [{"role": ROLE_MAP[m.role], "text": m.text} for m in chat.messages if m.role != TOOL_CALL]
    feedback = chat.feedback or Feedback()
    meta = {
        "created_at": chat.started_at.isoformat() if chat.started_at else None,
        "thumbs": feedback.rating,
        "feedback_comment": feedback.comment,
        "customer_name": chat.customer.name,
        "customer_email": chat.customer.email,
        "customer_phone": chat.customer.phone,
        "agent_turns": [i for i, m in enumerate(chat.messages) if m.role == "agent"] or None,
        "judged_turn": _judged_turn(chat),
    }
    # a reward file rates several turns of one conversation: each rated turn is its own record
    key = chat.conversation_id if meta["judged_turn"] is None else f"{chat.conversation_id}@{meta['judged_turn']}"
    result.add(number, key, turns, meta, raw)


def _judged_turn(chat: ChatLog) -> int | None:
    """The rated turn's position among the record's turns; -1 when the rated answer was a tool
    call (left out: nothing to judge); None when the rating is the conversation's."""
    rated = next((i for i, m in enumerate(chat.messages) if m.rated), None)
    if rated is None:
        return None
    return -1 if chat.messages[rated].role == TOOL_CALL else rated


def column_of(obj: dict, name: str, source: SourceMapping) -> str:
    """The path our field is read from in this object: the config's, else the sample's, else the
    first fallback the object has (`content` for an OpenAI-style message)."""
    if name in source.mapped:
        return source.mapped[name]
    path = DEFAULT_PATHS[name]
    if lookup(obj, path) is None:
        for fallback in FALLBACK_PATHS.get(name, ()):
            if lookup(obj, fallback) is not None:
                return fallback
    return path


def field_value(obj: dict, name: str, source: SourceMapping) -> Any:
    """Our field's value in an object; an empty CSV cell is no value, except for a message's text
    (an empty message is the model's to reject, by name)."""
    value = lookup(obj, column_of(obj, name, source))
    return None if value == "" and name != "text" else value


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted JSON path ("customer.email"); a CSV row's column by its own name."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    if isinstance(obj, dict) and path.lower() in obj:
        return obj[path.lower()]
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj
